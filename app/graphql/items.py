"""Line items of an opportunity (Overplane's Opportunity Item child table)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from app import models as m
from app import money
from app.graphql.common import DecimalFilter, IntFilter, Node, StringFilter
from app.graphql.registry import entity
from app.graphql.relations import one_root, rel


@strawberry.type(description="One product or service line of a deal.")
class OpportunityItem(Node):
    position: int = strawberry.field(description="Place in the deal's list, 1 first; always dense.")
    item_code: str | None = strawberry.field(description="Product code.")
    item_name: str = strawberry.field(description="Product name.")
    item_group: str | None = strawberry.field(description="Product group.")
    brand: str | None = strawberry.field(description="Brand.")
    uom: str | None = strawberry.field(description="Unit of measure.")
    description: str | None = strawberry.field(description="Free text.")
    image_url: str | None = strawberry.field(description="Picture URL.")
    quantity: Decimal = strawberry.field(description="How many units.")
    rate: Decimal = strawberry.field(description="Price of one unit, in the deal's currency.")
    base_rate: Decimal | None = strawberry.field(description="Price of one unit in the base currency.")
    opportunity_id: strawberry.Private[int]
    opportunity = rel(m.OpportunityItem.opportunity_id, "Opportunity", "The deal this line belongs to.")

    @strawberry.field(description="quantity × rate, computed by the server.")
    def amount(self) -> Decimal:
        return money.product(self.quantity, self.rate)

    @strawberry.field(description="quantity × baseRate, when a base rate is known.")
    def base_amount(self) -> Decimal | None:
        return None if self.base_rate is None else money.product(self.quantity, self.base_rate)


ITEM = entity(
    OpportunityItem,
    m.OpportunityItem,
    filters={
        "item_code": (StringFilter, "By product code."),
        "item_name": (StringFilter, "By product name."),
        "item_group": (StringFilter, "By product group."),
        "brand": (StringFilter, "By brand."),
        "quantity": (DecimalFilter, "By quantity."),
        "rate": (DecimalFilter, "By unit price."),
        "position": (IntFilter, "By position."),
    },
    filter_doc="Which line items match. Fields are combined with AND.",
    orders=["ID", "POSITION", "ITEM_NAME", "RATE"],
    default_order=(("POSITION", False),),
)
OpportunityItemFilter = ITEM.filter


@strawberry.type
class ItemQueries:
    opportunity_item = one_root(OpportunityItem, "One line item by id.")
