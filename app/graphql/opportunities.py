"""Opportunities (deals): the type, its filter and ordering, and its root queries."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import and_, func, or_, select, true

from app import models as m
from app import query
from app.enums import Role
from app.errors import BadUserInput
from app.graphql.common import (
    DateFilter,
    DateTimeFilter,
    DecimalFilter,
    GlobalID,
    IntFilter,
    Node,
    OpportunityStatusFilter,
    StringFilter,
    enum_filter,
)
from app.graphql.context import Info
from app.graphql.custom_fields import CustomFieldDefinition, CustomFieldValue
from app.graphql.customers import Contact, ContactFilter, Customer, CustomerFilter
from app.graphql.enums import BidType, LeadSource, OpportunityStatus, Priority
from app.graphql.items import OpportunityItem, OpportunityItemFilter
from app.graphql.lists import order_input, quantifier_input
from app.graphql.lookups import (
    Channel,
    ChannelFilter,
    CloseReason,
    CloseReasonFilter,
    Lead,
    LeadFilter,
    OpportunityType,
    OpportunityTypeFilter,
)
from app.graphql.pipelines import Pipeline, PipelineFilter, Stage, StageFilter
from app.graphql.relations import connection_field, decode_id, entity, filter_input, through, to_many, to_one
from app.graphql.users import Organization, User, UserFilter
from app.money import product, weighted
from app.query import Hop, Relation
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
    )
    def weighted_revenue(self) -> Decimal | None:
        if self.expected_revenue is not None:
            return self.expected_revenue
        return weighted(self.amount, self.probability)

    @strawberry.field(description="amount × conversionRate: the value in the base currency.")
    def base_amount(self) -> Decimal | None:
        if self.amount is None or self.conversion_rate is None:
            return None
        return product(self.amount, self.conversion_rate)

    @strawberry.field(description="Campaign tracking parameters.")
    def utm(self) -> Utm:
        return Utm(
            source=self.utm_source,
            medium=self.utm_medium,
            campaign=self.utm_campaign,
            content=self.utm_content,
        )

    @strawberry.field(description="Whether the caller may change this deal.")
    def can_edit(self, info: Info) -> bool:
        return info.context.principal.has(Role.EDITOR)

    @strawberry.field(description="Sum of the line items' amounts (0 without items).")
    async def items_total(self, info: Info) -> Decimal:
        items = await info.context.loaders.children(*_ITEMS, key=_ITEMS_KEY).load(self.pk)
        return sum((item.amount() for item in items), Decimal(0))

    @strawberry.field(description="The stage's pipeline (board).")
    async def pipeline(self, info: Info) -> Pipeline | None:
        if self.stage_id is None:
            return None
        stage = await info.context.loaders.by_id(Stage).load(self.stage_id)
        if stage is None:
            return None
        return await info.context.loaders.by_id(Pipeline).load(stage.pipeline_id)  # type: ignore[no-any-return]

    @strawberry.field(description="Labels, in the order they were set.")
    def tags(self, info: Info) -> list[str]:
        tag = m.OpportunityTag
        loader = info.context.loaders.values(tag.tag, tag.opportunity_id, tag.position, key="tags")
        return loader.load(self.pk)  # type: ignore[return-value]  # an awaitable, resolved by the executor

    type = to_one(OpportunityType, "type_id", "Kind of deal.")
    stage = to_one(Stage, "stage_id", "Pipeline stage (board column).")
    customer = to_one(Customer, "customer_id", "The B2B customer.")
    contact = to_one(Contact, "contact_id", "Primary person on the customer side.")
    referrer = to_one(Contact, "referrer_id", "Who referred the deal.")
    agent = to_one(Contact, "agent_id", "Who brokers the deal.")
    owner = to_one(User, "owner_id", "Responsible user.")
    created_by = to_one(User, "created_by_id", "Who created it.")
    updated_by = to_one(User, "updated_by_id", "Who changed it last.")
    lead = to_one(Lead, "lead_id", "The prospect it was qualified from.")
    channel = to_one(Channel, "channel_id", "The data channel it came through.")
    close_reason = to_one(CloseReason, "close_reason_id", "Why it was won or lost.")
    organization = to_one(Organization, "organization_id", "The tenant that owns it.", required=True)
    contacts = through(
        Contact,
        lambda: m.OpportunityContact.opportunity_id,
        lambda: m.OpportunityContact.contact_id,
        lambda: m.OpportunityContact.position,
        "All participants, in the order they were added.",
    )
    lost_reasons = through(
        CloseReason,
        lambda: m.OpportunityLostReason.opportunity_id,
        lambda: m.OpportunityLostReason.close_reason_id,
        lambda: m.OpportunityLostReason.position,
        "Ordered reasons it was lost.",
    )
    access_list = through(
        User,
        lambda: m.OpportunityAccess.opportunity_id,
        lambda: m.OpportunityAccess.user_id,
        lambda: m.OpportunityAccess.user_id,
        "Users who may see it while it is private.",
    )
    items = to_many(
        OpportunityItem,
        lambda: m.OpportunityItem.opportunity_id,
        lambda: (m.OpportunityItem.position,),
        "Line items in their order.",
        key=_ITEMS_KEY,
    )
    custom_fields = to_many(
        CustomFieldValue,
        lambda: m.CustomFieldValue.opportunity_id,
        lambda: (_definition_position(),),
        "Custom field values, in the definitions' order.",
    )


_ITEMS = (OpportunityItem, m.OpportunityItem.opportunity_id, m.OpportunityItem.position)


def _definition_position() -> Any:
    return (
        select(m.CustomFieldDefinition.position)
        .where(m.CustomFieldDefinition.id == m.CustomFieldValue.definition_id)
        .scalar_subquery()
    )


def expected_revenue_expr() -> Any:
    """SQL for `expectedRevenue`, so filters, sorts and sums agree with the field."""
    return func.coalesce(
        m.Opportunity.expected_revenue, weighted_amount(m.Opportunity.amount, m.Opportunity.probability)
    )


# ---------------------------------------------------------------- filter


@strawberry.input(description="Filter on tags. Operators are combined with AND.")
class TagFilter:
    has_any: list[str] | None = strawberry.field(default=None, description="Has at least one of these.")
    has_all: list[str] | None = strawberry.field(default=None, description="Has all of these.")
    has_none: list[str] | None = strawberry.field(default=None, description="Has none of these.")


@strawberry.input(
    description="Filter on one custom field's value, typed by the field's definition: `text` for "
    "TEXT_FIELD, TEXT_AREA and SELECT_BOX (whose values must be among the options), `date` for DATE, "
    "`checked` for CHECK_BOX. A filter of the wrong type for the definition is refused."
)
class CustomFieldFilter:
    definition_id: strawberry.ID = strawberry.field(description="Which custom field.")
    text: StringFilter | None = strawberry.field(
        default=None, description="On a text or select value (select values must be among the options)."
    )
    date: DateFilter | None = strawberry.field(default=None, description="On a DATE field's value.")
    checked: bool | None = strawberry.field(
        default=None, description="On a CHECK_BOX: true for checked, false for unchecked or never set."
    )
    is_set: bool | None = strawberry.field(default=None, description="true: has a value; false: has none.")


OpportunityContactsFilter = quantifier_input(
    "OpportunityContactsFilter", ContactFilter, "participants", __name__
)
OpportunityItemsFilter = quantifier_input(
    "OpportunityItemsFilter", OpportunityItemFilter, "line items", __name__
)
LostReasonsFilter = quantifier_input("LostReasonsFilter", CloseReasonFilter, "lost reasons", __name__)


def _tags(flt: TagFilter) -> Any:
    def having(tags: list[str]) -> Any:
        sub = select(m.OpportunityTag.opportunity_id).where(m.OpportunityTag.tag.in_(tags))
        return m.Opportunity.id.in_(sub)

    both = set(flt.has_all or []) & set(flt.has_none or [])
    if both:
        raise BadUserInput(
            f"`filter.tags`: {', '.join(sorted(both))} cannot be in both `hasAll` and `hasNone`",
            argument="filter",
        )
    terms = []
    if flt.has_any is not None:
        terms.append(having(flt.has_any))
    for tag in flt.has_all or []:
        terms.append(having([tag]))
    if flt.has_none:
        terms.append(~having(flt.has_none))
    return and_(true(), *terms)


def _custom_fields(filters: list[CustomFieldFilter]) -> Any:
    return and_(true(), *(_custom_field(flt) for flt in filters))


def _custom_field(flt: CustomFieldFilter) -> Any:
    pk = decode_id("CustomFieldDefinition")(flt.definition_id)
    if pk < 0:
        # refused here too, not only by the check: a bulk write that compiles the filter without
        # it must not read "no value for a field that does not exist" as "every deal"
        raise BadUserInput(
            "`filter.customField.definitionId` is not a custom field definition", argument="filter"
        )
    value = m.CustomFieldValue.value
    definition = m.CustomFieldValue.definition_id == pk

    def having(*cond: Any) -> Any:
        sub = select(m.CustomFieldValue.opportunity_id).where(definition, value.is_not(None), *cond)
        return m.Opportunity.id.in_(sub)

    path = "filter.customField"
    terms = []
    if flt.is_set is not None:
        terms.append(having() if flt.is_set else ~having())
    if flt.text is not None:
        terms.append(having(query.compile_scalar(value, flt.text, path=f"{path}.text")))
    if flt.date is not None:
        terms.append(having(query.compile_scalar(value, flt.date, _iso, path=f"{path}.date")))
    if flt.checked is not None:
        # a box never set reads as unchecked, as it shows in a form
        terms.append(having(value == "true") if flt.checked else ~having(value == "true"))
    return and_(true(), *terms)


# Which typed operator each definition type takes.
_CUSTOM_FIELD_OPERATORS = {
    "text": {"TEXT_FIELD", "TEXT_AREA", "SELECT_BOX"},
    "date": {"DATE"},
    "checked": {"CHECK_BOX"},
}


async def _check_custom_fields(ctx: Any, filters: list[CustomFieldFilter]) -> None:
    """Every custom field filter names a visible definition and uses the operator of its type."""
    loader = ctx.loaders.by_id(CustomFieldDefinition)
    for i, flt in enumerate(filters):
        path = f"filter.customField[{i}]"
        pk = decode_id("CustomFieldDefinition")(flt.definition_id)
        definition = await loader.load(pk) if pk > 0 else None
        if definition is None:
            raise BadUserInput(f"`{path}.definitionId` is not a custom field definition", argument="filter")
        for op, types in _CUSTOM_FIELD_OPERATORS.items():
            if getattr(flt, op) is not None and definition.field_type not in types:
                raise BadUserInput(
                    f"`{path}.{op}` does not apply to a {definition.field_type} field", argument="filter"
                )
        if flt.is_set is False and any(getattr(flt, op) is not None for op in _CUSTOM_FIELD_OPERATORS):
            raise BadUserInput(f"`{path}`: `isSet: false` contradicts a value condition", argument="filter")
        if definition.field_type == "SELECT_BOX" and flt.text is not None:
            _check_options(flt.text, definition.options or [], f"{path}.text")


def _check_options(flt: Any, options: list[str], path: str) -> None:
    for op in ("eq", "ne", "in_", "not_in"):
        given = getattr(flt, op)
        values = given if isinstance(given, list) else [] if given is None else [given]
        unknown = [v for v in values if v not in options]
        if unknown:
            raise BadUserInput(
                f"`{path}`: {', '.join(map(repr, unknown))} is not an option ({', '.join(options)})",
                argument="filter",
            )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


MAX_SEARCH_WORDS = 16


def _search(text: str) -> Any:
    """Every word must start a word of the title, the description or the customer's name."""
    if len(text) > 1000:
        raise BadUserInput("`filter.search` is longer than 1000 characters", argument="filter")
    words = re.findall(r"\w+", text)
    if len(words) > MAX_SEARCH_WORDS:
        raise BadUserInput(
            f"`filter.search` has {len(words)} words; at most {MAX_SEARCH_WORDS} are allowed",
            argument="filter",
        )
    o = m.Opportunity
    terms = [
        or_(
            query.word_search(word, o.title, o.description),
            query.in_rows(
                o.customer_id, select(m.Customer.id).where(query.word_search(word, m.Customer.name))
            ),
        )
        for word in words
    ]
    return and_(true(), *terms)


def _hop(local: Any, target: Any) -> Relation:
    return Relation((Hop(local, target.id),))


OPPORTUNITY_SPEC = query.FilterSpec(
    m.Opportunity,
    columns={"expected_revenue": expected_revenue_expr},
    relations={
        "stage": lambda: _hop(m.Opportunity.stage_id, m.Stage),
        "pipeline": lambda: Relation(
            (Hop(m.Opportunity.stage_id, m.Stage.id), Hop(m.Stage.pipeline_id, m.Pipeline.id))
        ),
        "customer": lambda: _hop(m.Opportunity.customer_id, m.Customer),
        "contact": lambda: _hop(m.Opportunity.contact_id, m.Contact),
        "referrer": lambda: _hop(m.Opportunity.referrer_id, m.Contact),
        "agent": lambda: _hop(m.Opportunity.agent_id, m.Contact),
        "owner": lambda: _hop(m.Opportunity.owner_id, m.User),
        "created_by": lambda: _hop(m.Opportunity.created_by_id, m.User),
        "updated_by": lambda: _hop(m.Opportunity.updated_by_id, m.User),
        "lost_reasons": lambda: Relation(
            (
                Hop(m.Opportunity.id, m.OpportunityLostReason.opportunity_id),
                Hop(m.OpportunityLostReason.close_reason_id, m.CloseReason.id),
            ),
            many=True,
        ),
        "lead": lambda: _hop(m.Opportunity.lead_id, m.Lead),
        "channel": lambda: _hop(m.Opportunity.channel_id, m.Channel),
        "close_reason": lambda: _hop(m.Opportunity.close_reason_id, m.CloseReason),
        "type": lambda: _hop(m.Opportunity.type_id, m.OpportunityType),
        "contacts": lambda: Relation(
            (
                Hop(m.Opportunity.id, m.OpportunityContact.opportunity_id),
                Hop(m.OpportunityContact.contact_id, m.Contact.id),
            ),
            many=True,
        ),
        "items": lambda: Relation((Hop(m.Opportunity.id, m.OpportunityItem.opportunity_id),), many=True),
    },
    custom={"tags": _tags, "custom_field": _custom_fields, "search": _search},
    checks={"custom_field": _check_custom_fields},
    orders={
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
    default_order=(("CREATED_AT", True),),
)


LeadSourceFilter = enum_filter("LeadSourceFilter", LeadSource)


PriorityFilter = enum_filter("PriorityFilter", Priority)


BidTypeFilter = enum_filter("BidTypeFilter", BidType)


OpportunityFilter = filter_input(
    "OpportunityFilter",
    __name__,
    OPPORTUNITY_SPEC,
    {
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
        "stage": (StageFilter, "By stage (any of the stage's fields)."),
        "pipeline": (PipelineFilter, "By the stage's pipeline."),
        "customer": (CustomerFilter, "By customer."),
        "contact": (ContactFilter, "By primary contact."),
        "referrer": (ContactFilter, "By who referred the deal."),
        "agent": (ContactFilter, "By who brokers the deal."),
        "created_by": (UserFilter, "By who created it."),
        "updated_by": (UserFilter, "By who changed it last."),
        "lost_reasons": (LostReasonsFilter, "By lost reasons: some, none or every."),
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
        "contacts": (OpportunityContactsFilter, "By participants: some, none or every."),
        "items": (OpportunityItemsFilter, "By line items: some, none or every."),
        "owner": (UserFilter, "By owner."),
        "lead": (LeadFilter, "By lead."),
        "channel": (ChannelFilter, "By channel."),
        "close_reason": (CloseReasonFilter, "By close reason."),
        "type": (OpportunityTypeFilter, "By opportunity type."),
        "custom_field": (list[CustomFieldFilter], "By custom field values; all must match."),
        "search": (
            str,
            "Words (at most 16) that must each begin a word of the title, the description or the "
            "customer's name, ignoring case; PostgreSQL full-text search (on SQLite, a word may "
            "also match inside a longer word).",
        ),
    },
    "Which deals to return. Fields are combined with AND; relation fields take the related type's filter.",
)

RelatedOpportunitiesFilter = quantifier_input(
    "RelatedOpportunitiesFilter", OpportunityFilter, "deals", __name__
)

OpportunityOrder = order_input(
    "Opportunity",
    [
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
    __name__,
)
entity(Opportunity, m.Opportunity, OPPORTUNITY_SPEC)
_ = CustomFieldDefinition  # registered through CustomFieldValue.definition


@strawberry.type
class OpportunityQueries:
    @strawberry.field(description="One deal by id; null when it does not exist or is not visible.")
    async def opportunity(
        self,
        info: Info,
        id: GlobalID,  # noqa: A002
    ) -> Opportunity | None:
        pk = decode_id("Opportunity")(id)
        return await info.context.loaders.by_id(Opportunity).load(pk) if pk > 0 else None  # type: ignore[no-any-return]

    opportunities = connection_field(Opportunity, "Deals, newest first unless `orderBy` says otherwise.")
