"""Line items of an opportunity (Overplane's Opportunity Item child table)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import func, select
from sqlmodel import col

from app import models as m
from app import money
from app.base_currency import deal_rate, in_base, in_base_exact
from app.graphql.common import READS, DecimalFilter, IntFilter, Node, StringFilter
from app.graphql.registry import entity
from app.graphql.relations import one_root, rel
from app.sqltypes import ExactDecimal


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
    base_rate: Decimal | None = strawberry.field(
        description="Price of one unit in the base currency: as given, else rate × the deal's rate to the "
        "base currency (see `opportunityAggregate.baseAmount`), 4 decimals half even; null when the deal "
        "has no rate."
    )
    opportunity_id: strawberry.Private[int]
    opportunity = rel(m.OpportunityItem.opportunity_id, "Opportunity", "The deal this line belongs to.")

    @strawberry.field(
        description="quantity × rate, computed by the server.", metadata={READS: ("quantity", "rate")}
    )
    def amount(self) -> Decimal:
        return money.product(self.quantity, self.rate)

    @strawberry.field(
        description="quantity × baseRate (4 decimals, half even); null without a baseRate.",
        metadata={READS: ("quantity", "base_rate")},
    )
    def base_amount(self) -> Decimal | None:
        return in_base_exact(self.quantity, self.base_rate)


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


def _base_rate() -> Any:
    """The stored base rate, else rate × the deal's rate, read as the item's `base_rate` column."""
    item, deal = m.OpportunityItem, m.Opportunity
    rate = select(deal_rate()).where(col(deal.id) == item.opportunity_id).correlate(item).scalar_subquery()
    return func.coalesce(item.base_rate, in_base(item.rate, rate), type_=ExactDecimal()).label("base_rate")


ITEM.columns = tuple(_base_rate() if c.key == "base_rate" else c for c in ITEM.columns)


@strawberry.type
class ItemQueries:
    opportunity_item = one_root(OpportunityItem, "One line item by id.")
