"""Input types of the deal mutations. Update inputs use `Maybe`: omitted leaves a field, null clears it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry import Maybe

from app.graphql.enums import BidType, LeadSource, Priority

ID = strawberry.ID


def f(description: str) -> Any:
    return strawberry.field(default=None, description=description)


@strawberry.input(description="Campaign tracking parameters; set as a whole, an omitted part is cleared.")
class UtmInput:
    source: str | None = f("utm_source, at most 255 characters.")
    medium: str | None = f("utm_medium, at most 255 characters.")
    campaign: str | None = f("utm_campaign, at most 255 characters.")
    content: str | None = f("utm_content, at most 255 characters.")


@strawberry.input(description="One custom field's value, as text in the definition's format.")
class CustomFieldValueInput:
    definition_id: ID = strawberry.field(description="Which custom field (a CustomFieldDefinition id).")
    value: str | None = f(
        'The value: ISO date for DATE, one of the options for SELECT_BOX, "true"/"false" for CHECK_BOX; '
        "null clears it. A HEADING takes none."
    )


@strawberry.input(description="A new line item.")
class OpportunityItemInput:
    item_name: str = strawberry.field(description="Product name, 1–255 characters.")
    item_code: str | None = f("Product code, at most 140 characters.")
    item_group: str | None = f("Product group, at most 140 characters.")
    brand: str | None = f("Brand, at most 140 characters.")
    uom: str | None = f("Unit of measure, at most 32 characters.")
    description: str | None = f("Free text, at most 4000 characters.")
    image_url: str | None = f("Picture URL.")
    quantity: Decimal | None = f("How many units, ≥ 0, at most 4 decimals; default 1.")
    rate: Decimal | None = f(
        "Price of one unit (negative for a discount line), at most 4 decimals; default 0."
    )
    base_rate: Decimal | None = f("Price of one unit in the base currency.")
    position: int | None = f(
        "Place in the list, 1 first; omitted or past the end: last. In createOpportunity the list order counts."
    )


@strawberry.input(description="Changes to a line item: an omitted field stays, null clears it.")
class OpportunityItemUpdateInput:
    item_name: Maybe[str | None] = f("Product name; cannot be null.")
    item_code: Maybe[str | None] = f("Product code.")
    item_group: Maybe[str | None] = f("Product group.")
    brand: Maybe[str | None] = f("Brand.")
    uom: Maybe[str | None] = f("Unit of measure.")
    description: Maybe[str | None] = f("Free text.")
    image_url: Maybe[str | None] = f("Picture URL.")
    quantity: Maybe[Decimal | None] = f("How many units; cannot be null.")
    rate: Maybe[Decimal | None] = f("Price of one unit; cannot be null.")
    base_rate: Maybe[Decimal | None] = f("Price of one unit in the base currency.")
    position: Maybe[int | None] = f("Move to this place, 1 first; the others close ranks.")


@strawberry.input(
    description="A new deal. Links are global ids; an unknown or invisible one is a NOT_FOUND error."
)
class CreateOpportunityInput:
    title: str = strawberry.field(description="Name of the deal, 1–255 characters after trimming.")
    description: str | None = f("Free text, at most 20000 characters.")
    type_id: ID | None = f("Kind of deal (OpportunityType).")
    stage_id: ID | None = f(
        "Board column; the status and the default probability follow it. Omitted or null: the first "
        "open stage of the organization's oldest pipeline (none when it has no open stage)."
    )
    position: int | None = f("Place in the stage's column, 1 first; omitted: last.")
    amount: Decimal | None = f("Deal value: finite, ≥ 0, at most 4 decimals.")
    currency: str | None = f("ISO 4217 code; defaults to the organization's when an amount is given.")
    bid_type: BidType | None = f("FIXED (default) or per period.")
    per_period_value: int | None = f("Number of periods; only for non-FIXED bids.")
    probability: int | None = f("0–100; defaults to the stage's probability.")
    expected_revenue: Decimal | None = f("Override of the weighted value amount × probability / 100.")
    conversion_rate: Decimal | None = f("Rate from currency to the base currency, at most 6 decimals.")
    expected_close_date: date | None = f("When it should close.")
    close_reason_id: ID | None = f("Why it was won or lost; only for a deal created in a WON/LOST stage.")
    customer_id: ID | None = f("The customer.")
    contact_id: ID | None = f("Primary contact.")
    referrer_id: ID | None = f("Who referred it (a Contact).")
    agent_id: ID | None = f("Who brokers it (a Contact).")
    owner_id: ID | None = f("Responsible user; defaults to the caller.")
    lead_id: ID | None = f("The lead it was qualified from.")
    lead_source: LeadSource | None = f("Where it came from.")
    utm: UtmInput | None = f("Campaign tracking parameters.")
    channel_id: ID | None = f("Data channel.")
    priority: Priority | None = f("How urgent it is.")
    interaction_count: int | None = f("Calls, mails and meetings so far; default 0.")
    last_activity_at: datetime | None = f("Last activity.")
    last_contacted_at: datetime | None = f("Last contact with the customer.")
    is_private: bool | None = f(
        "Visible only to its owner, accessUserIds and admins; default false. Admins only (else FORBIDDEN)."
    )
    access_user_ids: list[ID] | None = f("Users who may see it while private. Admins only (else FORBIDDEN).")
    contact_ids: list[ID] | None = f("Participants, in order.")
    tags: list[str] | None = f("Labels: trimmed, unique ignoring case, at most 20 of at most 64 characters.")
    custom_fields: list[CustomFieldValueInput] | None = f(
        "Custom field values; required fields must be given."
    )
    items: list[OpportunityItemInput] | None = f("Line items, in order (at most 500).")


@strawberry.input(
    description="Changes to a deal: an omitted field is left as it is; an explicit null clears it "
    "(a REQUIRED error for title, bidType and interactionCount, which cannot be empty)."
)
class UpdateOpportunityInput:
    title: Maybe[str | None] = f("Name of the deal, 1–255 characters.")
    description: Maybe[str | None] = f("Free text.")
    type_id: Maybe[ID | None] = f("Kind of deal.")
    stage_id: Maybe[ID | None] = f(
        "Board column: the deal goes last in it, status follows the stage's type and probability "
        "its default (unless probability is given too); null takes it off the board."
    )
    amount: Maybe[Decimal | None] = f("Deal value.")
    currency: Maybe[str | None] = f("ISO 4217 code.")
    bid_type: Maybe[BidType | None] = f("FIXED or per period; becoming FIXED clears perPeriodValue.")
    per_period_value: Maybe[int | None] = f("Number of periods; only for non-FIXED bids.")
    probability: Maybe[int | None] = f("0–100.")
    expected_revenue: Maybe[Decimal | None] = f(
        "Override of the weighted value; null returns to the computed one."
    )
    conversion_rate: Maybe[Decimal | None] = f("Rate from currency to the base currency.")
    expected_close_date: Maybe[date | None] = f("When it should close.")
    close_reason_id: Maybe[ID | None] = f("Why it was won or lost; must be of the deal's status's kind.")
    customer_id: Maybe[ID | None] = f("The customer.")
    contact_id: Maybe[ID | None] = f("Primary contact.")
    referrer_id: Maybe[ID | None] = f("Who referred it.")
    agent_id: Maybe[ID | None] = f("Who brokers it.")
    owner_id: Maybe[ID | None] = f("Responsible user.")
    lead_id: Maybe[ID | None] = f("The lead it was qualified from.")
    lead_source: Maybe[LeadSource | None] = f("Where it came from.")
    utm: Maybe[UtmInput | None] = f("Campaign tracking parameters, replaced as a whole.")
    channel_id: Maybe[ID | None] = f("Data channel.")
    priority: Maybe[Priority | None] = f("How urgent it is.")
    interaction_count: Maybe[int | None] = f("Calls, mails and meetings so far.")
    last_activity_at: Maybe[datetime | None] = f("Last activity.")
    last_contacted_at: Maybe[datetime | None] = f("Last contact with the customer.")
