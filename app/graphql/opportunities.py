"""Opportunities (deals): the type, its relations, its filter and ordering, and its root queries."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import func, select

from app import models as m
from app import query
from app.changes import history as changes_history
from app.changes.types import OpportunityChange, StageVisit
from app.enums import Role
from app.graphql import base_totals
from app.graphql.common import (
    READS,
    Connection,
    DateFilter,
    DateTimeFilter,
    DecimalFilter,
    IntFilter,
    Node,
    OpportunityStatusFilter,
    StringFilter,
    enum_filter,
)
from app.graphql.context import Info
from app.graphql.custom_fields import CustomFieldDefinition, CustomFieldValue
from app.graphql.customers import Contact, Customer
from app.graphql.deal_filters import CustomFieldFilter, TagFilter, check_custom_fields
from app.graphql.enums import BidType, LeadSource, OpportunityStatus, Priority
from app.graphql.external_ids import ExternalId, ExternalIdFilter
from app.graphql.items import OpportunityItem
from app.graphql.lookups import Channel, CloseReason, Lead, OpportunityType
from app.graphql.pipelines import Pipeline, Stage
from app.graphql.registry import NEEDS, entity
from app.graphql.relations import children, list_root, one_root, rel, rel_path, then, through, values
from app.graphql.users import Organization, User
from app.money import weighted
from app.sqltypes import weighted_amount


@strawberry.type(description="Campaign tracking parameters the deal arrived with.")
class Utm:
    source: str | None = strawberry.field(description="utm_source.")
    medium: str | None = strawberry.field(description="utm_medium.")
    campaign: str | None = strawberry.field(description="utm_campaign.")
    content: str | None = strawberry.field(description="utm_content.")


_ITEMS_KEY = "opportunity.items"  # itemsTotal shares the `items` loader


@strawberry.type(description="A sales deal: a probable or actual sale to a customer.")
class Opportunity(Node):
    title: str = strawberry.field(description="Name of the deal, 1–255 characters.")
    description: str | None = strawberry.field(description="Free text.")
    status: OpportunityStatus = strawberry.field(description="OPEN, WON or LOST; follows the stage.")
    position: int | None = strawberry.field(description="Place in its stage's board column, 1 first.")
    amount: Decimal | None = strawberry.field(description="Deal value, exact, in `currency`.")
    currency: str | None = strawberry.field(description="ISO 4217 code of `amount`.")
    bid_type: BidType = strawberry.field(description="FIXED, or billed per period.")
    per_period_value: int | None = strawberry.field(description="Number of periods of a non-fixed bid.")
    probability: int | None = strawberry.field(description="Chance of winning, 0–100.")
    conversion_rate: Decimal | None = strawberry.field(
        description="Rate from `currency` to the organization's base currency."
    )
    expected_close_date: date | None = strawberry.field(description="When the deal should close.")
    closed_at: datetime | None = strawberry.field(description="When it became WON or LOST.")
    lead_source: LeadSource | None = strawberry.field(description="Where the deal came from.")
    priority: Priority | None = strawberry.field(description="How urgent it is.")
    is_private: bool = strawberry.field(
        description="Visible only to its owner, the users on its access list and admins."
    )
    interaction_count: int = strawberry.field(description="Calls, mails and meetings logged on it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it or one of its children last changed.")
    stage_changed_at: datetime | None = strawberry.field(description="When it last moved stage.")
    last_activity_at: datetime | None = strawberry.field(description="Last activity on it.")
    last_contacted_at: datetime | None = strawberry.field(description="Last contact with the customer.")
    version: int = strawberry.field(
        description="Rises by one on every change; pass it as `expectedVersion` to update safely."
    )
    deleted_at: datetime | None = strawberry.field(
        description="When it went to the trash (see `trashedOpportunities`); null outside the trash."
    )

    expected_revenue: strawberry.Private[Decimal | None]
    utm_source: strawberry.Private[str | None]
    utm_medium: strawberry.Private[str | None]
    utm_campaign: strawberry.Private[str | None]
    utm_content: strawberry.Private[str | None]
    stage_id: strawberry.Private[int | None]
    organization_id: strawberry.Private[int]

    @strawberry.field(
        name="expectedRevenue",
        description="Weighted value: amount × probability / 100, unless set explicitly.",
        metadata={READS: ("expected_revenue", "amount", "probability")},
    )
    def weighted_revenue(self) -> Decimal | None:
        if self.expected_revenue is not None:
            return self.expected_revenue
        return weighted(self.amount, self.probability)

    @strawberry.field(
        description="The amount in the organization's base currency: amount × the deal's rate (its "
        "conversionRate, else the organization's latest exchange rate for its currency valid today, else 1 "
        "in the base currency), 4 decimals half even, as `opportunityAggregate.baseAmount` counts it; null "
        "without an amount or a rate.",
        metadata={READS: ("amount", "currency", "conversion_rate")},
    )
    async def base_amount(self, info: Info) -> Decimal | None:
        return await base_totals.deal_amount(info, self.amount, self.currency, self.conversion_rate)

    @strawberry.field(
        description="Campaign tracking parameters.",
        metadata={READS: ("utm_source", "utm_medium", "utm_campaign", "utm_content")},
    )
    def utm(self) -> Utm:
        return Utm(
            source=self.utm_source,
            medium=self.utm_medium,
            campaign=self.utm_campaign,
            content=self.utm_content,
        )

    @strawberry.field(description="Whether the caller may change this deal.", metadata={READS: ()})
    def can_edit(self, info: Info) -> bool:
        return info.context.principal.has(Role.EDITOR)

    @strawberry.field(
        description="Sum of the line items' amounts (0 without items).",
        metadata={NEEDS: ("items",), READS: ()},
    )
    def items_total(self, info: Info) -> Decimal:
        items = OPPORTUNITY.relations["items"].get(info.context.loaders, self)
        return then(items, lambda rows: sum((item.amount() for item in rows), Decimal(0)))

    @strawberry.field(
        description="Every committed change of this deal, oldest first (`last:` for the newest).",
        metadata={READS: ()},
    )
    async def history(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size from the start (or `after`).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Return changes after this cursor.")
        ] = None,
        last: Annotated[
            int | None, strawberry.argument(description="Page size from the end: the newest.")
        ] = None,
        before: Annotated[
            str | None, strawberry.argument(description="Return changes before this cursor.")
        ] = None,
    ) -> Connection[OpportunityChange]:
        return await changes_history.history(info, self.pk, first, after, last, before)

    @strawberry.field(description="Each stay of this deal in a stage, in time order.", metadata={READS: ()})
    async def stage_history(self, info: Info) -> list[StageVisit]:
        return await changes_history.stage_history(info, self.pk)

    pipeline = rel_path(
        [(m.Opportunity.stage_id, Stage), (m.Stage.pipeline_id, Pipeline)], "The stage's pipeline (board)."
    )
    tags = values(
        m.OpportunityTag.tag,
        m.OpportunityTag.opportunity_id,
        m.OpportunityTag.position,
        "Labels, in the order they were set.",
    )
    type = rel(m.Opportunity.type_id, OpportunityType, "Kind of deal.")
    stage = rel(m.Opportunity.stage_id, Stage, "Pipeline stage (board column).")
    customer = rel(m.Opportunity.customer_id, Customer, "The B2B customer.")
    contact = rel(m.Opportunity.contact_id, Contact, "Primary person on the customer side.")
    referrer = rel(m.Opportunity.referrer_id, Contact, "Who referred the deal.")
    agent = rel(m.Opportunity.agent_id, Contact, "Who brokers the deal.")
    owner = rel(m.Opportunity.owner_id, User, "Responsible user.")
    created_by = rel(m.Opportunity.created_by_id, User, "Who created it.")
    updated_by = rel(m.Opportunity.updated_by_id, User, "Who changed it last.")
    lead = rel(m.Opportunity.lead_id, Lead, "The prospect it was qualified from.")
    channel = rel(m.Opportunity.channel_id, Channel, "The data channel it came through.")
    close_reason = rel(m.Opportunity.close_reason_id, CloseReason, "Why it was won or lost.")
    organization = rel(m.Opportunity.organization_id, Organization, "The tenant that owns it.", required=True)
    contacts = through(
        m.OpportunityContact.opportunity_id,
        m.OpportunityContact.contact_id,
        Contact,
        "All participants, in the order they were added.",
        order=m.OpportunityContact.position,
        quantifier=("OpportunityContactsFilter", "participants"),
    )
    lost_reasons = through(
        m.OpportunityLostReason.opportunity_id,
        m.OpportunityLostReason.close_reason_id,
        CloseReason,
        "Ordered reasons it was lost.",
        order=m.OpportunityLostReason.position,
        quantifier=("LostReasonsFilter", "lost reasons"),
    )
    access_list = through(
        m.OpportunityAccess.opportunity_id,
        m.OpportunityAccess.user_id,
        User,
        "Users who may see it while it is private.",
        order=m.OpportunityAccess.user_id,
    )
    items = children(
        m.OpportunityItem.opportunity_id,
        OpportunityItem,
        "Line items in their order.",
        order=(m.OpportunityItem.position,),
        quantifier=("OpportunityItemsFilter", "line items"),
    )
    external_ids = children(
        m.ExternalId.opportunity_id,
        ExternalId,
        "Its ids in other systems (imports, upsertOpportunities), by source.",
        order=(m.ExternalId.source, m.ExternalId.external_id),
    )
    custom_fields = children(
        m.CustomFieldValue.opportunity_id,
        CustomFieldValue,
        "Custom field values, in the definitions' order.",
        order=(
            select(m.CustomFieldDefinition.position)
            .where(m.CustomFieldDefinition.id == m.CustomFieldValue.definition_id)
            .scalar_subquery(),
        ),
    )


def expected_revenue_expr() -> Any:
    """SQL for `expectedRevenue`, so filters, sorts and sums agree with the field."""
    return func.coalesce(
        m.Opportunity.expected_revenue, weighted_amount(m.Opportunity.amount, m.Opportunity.probability)
    )


LeadSourceFilter = enum_filter("LeadSourceFilter", LeadSource)
PriorityFilter = enum_filter("PriorityFilter", Priority)
BidTypeFilter = enum_filter("BidTypeFilter", BidType)


OPPORTUNITY = entity(
    Opportunity,
    m.Opportunity,
    filters={
        "title": (StringFilter, "By title."),
        "description": (StringFilter, "By description."),
        "status": (OpportunityStatusFilter, "By status."),
        "amount": (DecimalFilter, "By amount (from/to with gte/lte)."),
        "currency": (StringFilter, "By currency code."),
        "probability": (IntFilter, "By probability."),
        "expected_revenue": (DecimalFilter, "By weighted value."),
        "expected_close_date": (DateFilter, "By expected close date."),
        "closed_at": (DateTimeFilter, "By close time."),
        "created_at": (DateTimeFilter, "By creation time."),
        "updated_at": (DateTimeFilter, "By last change."),
        "position": (IntFilter, "By position in the board column."),
        "tags": (TagFilter, "By tags."),
        "is_private": (bool, "Private or public deals."),
        "priority": (PriorityFilter, "By priority."),
        "lead_source": (LeadSourceFilter, "By lead source."),
        "stage": "By stage (any of the stage's fields).",
        "pipeline": "By the stage's pipeline.",
        "customer": "By customer.",
        "contact": "By primary contact.",
        "referrer": "By who referred the deal.",
        "agent": "By who brokers the deal.",
        "created_by": "By who created it.",
        "updated_by": "By who changed it last.",
        "lost_reasons": "By lost reasons: some, none or every.",
        "bid_type": (BidTypeFilter, "By bid type."),
        "per_period_value": (IntFilter, "By number of periods of a non-fixed bid."),
        "conversion_rate": (DecimalFilter, "By conversion rate to the base currency."),
        "interaction_count": (IntFilter, "By number of logged interactions."),
        "stage_changed_at": (DateTimeFilter, "By last stage change."),
        "last_activity_at": (DateTimeFilter, "By last activity."),
        "last_contacted_at": (DateTimeFilter, "By last contact with the customer."),
        "version": (IntFilter, "By version."),
        "utm_source": (StringFilter, "By utm_source."),
        "utm_medium": (StringFilter, "By utm_medium."),
        "utm_campaign": (StringFilter, "By utm_campaign."),
        "utm_content": (StringFilter, "By utm_content."),
        "contacts": "By participants: some, none or every.",
        "items": "By line items: some, none or every.",
        "owner": "By owner.",
        "lead": "By lead.",
        "channel": "By channel.",
        "close_reason": "By close reason.",
        "type": "By opportunity type.",
        "custom_field": (list[CustomFieldFilter], "By custom field values; all must match."),
        "external_id": (ExternalIdFilter, "By an id in another system (source and id)."),
        "search": (
            str,
            "Words (at most 16) that must each begin a word of the title, the description or the "
            "customer's name, ignoring case; PostgreSQL full-text search (on SQLite, a word may "
            "also match inside a longer word).",
        ),
    },
    filter_doc="Which deals to return. Fields are combined with AND; relation fields take the related type's filter.",
    orders=[
        "ID",
        "TITLE",
        "AMOUNT",
        "PROBABILITY",
        "EXPECTED_REVENUE",
        "EXPECTED_CLOSE_DATE",
        "CLOSED_AT",
        "CREATED_AT",
        "UPDATED_AT",
        "POSITION",
        "STATUS",
        "STAGE_POSITION",
        "CUSTOMER_NAME",
        "OWNER_NAME",
    ],
    columns={"expected_revenue": expected_revenue_expr},
    custom={
        "tags": query.tags,
        "custom_field": query.custom_fields,
        "search": query.search,
        "external_id": query.external_ids,
    },
    checks={"custom_field": check_custom_fields},
    order_exprs={
        "EXPECTED_REVENUE": expected_revenue_expr,
        "STAGE_POSITION": lambda: (
            select(m.Stage.position).where(m.Stage.id == m.Opportunity.stage_id).scalar_subquery()
        ),
        "CUSTOMER_NAME": lambda: (
            select(m.Customer.name).where(m.Customer.id == m.Opportunity.customer_id).scalar_subquery()
        ),
        "OWNER_NAME": lambda: (
            select(m.User.display_name).where(m.User.id == m.Opportunity.owner_id).scalar_subquery()
        ),
    },
)
if TYPE_CHECKING:
    # made at run time from the registry's filter spec: no class for mypy to see
    OpportunityFilter = Any
else:
    OpportunityFilter = OPPORTUNITY.filter
_ = CustomFieldDefinition  # registered through CustomFieldValue.definition


@strawberry.type
class OpportunityQueries:
    opportunity = one_root(Opportunity, "One deal by id; null when it does not exist or is not visible.")
    opportunities = list_root(Opportunity, "Deals, newest first unless `orderBy` says otherwise.")
