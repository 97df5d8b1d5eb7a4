"""Every table of the canonical model (docs/model.md), as SQLModel classes.

Integer primary keys stay internal; the API exposes opaque global ids. Every
tenant-owned row carries `organization_id`, which `app.tenancy` uses to scope
every statement. Money is `ExactDecimal`, timestamps are `UTCDateTime`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.enums import BidType, OpportunityStatus, StageType
from app.sqltypes import ExactDecimal, UTCDateTime, utcnow


def fk(target: str, *, nullable: bool = True, ondelete: str | None = None, index: bool = False) -> Any:
    """A foreign key column; `ondelete` says what the database does when the target goes."""
    return Field(
        default=None,
        sa_column_args=[ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


def org_fk() -> Any:
    return Field(foreign_key="organization.id", nullable=False, ondelete="CASCADE")


def money(**kw: Any) -> Any:
    return Field(default=None, sa_type=ExactDecimal(), **kw)


def stamp(*, required: bool = True) -> Any:
    if required:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    return Field(default=None, sa_type=UTCDateTime)


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, unique=True)
    base_currency: str = Field(default="USD", max_length=3)
    created_at: datetime = stamp()


class User(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("organization_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=255)
    title: str | None = Field(default=None, max_length=255)
    avatar_url: str | None = Field(default=None, max_length=2048)
    profile_url: str | None = Field(default=None, max_length=2048)
    is_active: bool = True
    created_at: datetime = stamp()


class ApiKey(SQLModel, table=True):
    """A caller's credential. Only a salted hash of the secret is kept."""

    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    name: str | None = Field(default=None, max_length=255)
    prefix: str = Field(max_length=32, unique=True)
    salt: str = Field(max_length=64)
    secret_hash: str = Field(max_length=128)
    roles: str = Field(max_length=255)  # comma-separated Role values
    created_at: datetime = stamp()
    last_used_at: datetime | None = stamp(required=False)
    expires_at: datetime | None = stamp(required=False)
    revoked_at: datetime | None = stamp(required=False)


class Customer(SQLModel, table=True):
    __table_args__ = (Index("ix_customer_org_name", "organization_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    name: str = Field(max_length=255)
    website: str | None = Field(default=None, max_length=2048)
    industry: str | None = Field(default=None, max_length=255)
    market_segment: str | None = Field(default=None, max_length=255)
    territory: str | None = Field(default=None, max_length=255)
    customer_group: str | None = Field(default=None, max_length=255)
    number_of_employees: int | None = None
    annual_revenue: Decimal | None = money()
    phone: str | None = Field(default=None, max_length=64)
    street: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=255)
    state: str | None = Field(default=None, max_length=255)
    postal_code: str | None = Field(default=None, max_length=32)
    country: str | None = Field(default=None, max_length=255)
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class Contact(SQLModel, table=True):
    __table_args__ = (Index("ix_contact_org_last_name", "organization_id", "last_name"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    customer_id: int | None = fk("customer.id", ondelete="SET NULL", index=True)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    display_name: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    mobile: str | None = Field(default=None, max_length=64)
    whatsapp: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=255)
    is_company: bool = False
    avatar_url: str | None = Field(default=None, max_length=2048)
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class Lead(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    name: str = Field(max_length=255)
    source: str | None = Field(default=None, max_length=32)  # a LeadSource value
    status: str | None = Field(default=None, max_length=64)
    customer_id: int | None = fk("customer.id", ondelete="SET NULL", index=True)
    contact_id: int | None = fk("contact.id", ondelete="SET NULL", index=True)
    created_at: datetime = stamp()


class Channel(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    name: str = Field(max_length=255)
    type: str | None = Field(default=None, max_length=64)
    is_active: bool = True


class Pipeline(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    name: str = Field(max_length=255)
    currency: str | None = Field(default=None, max_length=3)
    created_at: datetime = stamp()


class Stage(SQLModel, table=True):
    __table_args__ = (Index("ix_stage_pipeline_position", "pipeline_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    pipeline_id: int = Field(foreign_key="pipeline.id", ondelete="CASCADE")
    name: str = Field(max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    color: str | None = Field(default=None, max_length=16)
    position: int = 1
    probability: int = 0
    type: str = Field(default=StageType.OPEN.value, max_length=8)  # a StageType value


class CloseReason(SQLModel, table=True):
    __tablename__ = "close_reason"
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    name: str = Field(max_length=255)
    kind: str = Field(max_length=8)  # a CloseReasonKind value


class OpportunityType(SQLModel, table=True):
    __tablename__ = "opportunity_type"
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    name: str = Field(max_length=255)


class Opportunity(SQLModel, table=True):
    __table_args__ = (
        # newest-first lists, the default order, within one tenant
        Index("ix_opportunity_org_created", "organization_id", "created_at", "id"),
        # a board column: one stage's cards in position order
        Index("ix_opportunity_stage_position", "stage_id", "position", "id"),
        Index("ix_opportunity_org_status_close", "organization_id", "status", "expected_close_date"),
        Index("ix_opportunity_owner", "owner_id", "created_at"),
        Index("ix_opportunity_customer", "customer_id", "created_at"),
        Index("ix_opportunity_org_amount", "organization_id", "amount"),
    )
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    title: str = Field(max_length=255)
    description: str | None = Field(default=None, max_length=20000)
    type_id: int | None = fk("opportunity_type.id", ondelete="SET NULL", index=True)
    status: str = Field(default=OpportunityStatus.OPEN.value, max_length=8)
    stage_id: int | None = fk("stage.id", ondelete="SET NULL")
    position: int | None = None
    amount: Decimal | None = money()
    currency: str | None = Field(default=None, max_length=3)
    bid_type: str = Field(default=BidType.FIXED.value, max_length=16)
    per_period_value: int | None = None
    probability: int | None = None
    # Set only when the caller overrides the weighted value; otherwise computed.
    expected_revenue: Decimal | None = money()
    conversion_rate: Decimal | None = Field(default=None, sa_type=ExactDecimal(scale=6))
    expected_close_date: date | None = None
    closed_at: datetime | None = stamp(required=False)
    close_reason_id: int | None = fk("close_reason.id", ondelete="SET NULL", index=True)
    customer_id: int | None = fk("customer.id", ondelete="SET NULL")
    contact_id: int | None = fk("contact.id", ondelete="SET NULL", index=True)
    referrer_id: int | None = fk("contact.id", ondelete="SET NULL", index=True)
    agent_id: int | None = fk("contact.id", ondelete="SET NULL", index=True)
    owner_id: int | None = fk("user.id", ondelete="SET NULL")
    lead_id: int | None = fk("lead.id", ondelete="SET NULL", index=True)
    lead_source: str | None = Field(default=None, max_length=32)
    utm_source: str | None = Field(default=None, max_length=255)
    utm_medium: str | None = Field(default=None, max_length=255)
    utm_campaign: str | None = Field(default=None, max_length=255)
    utm_content: str | None = Field(default=None, max_length=255)
    channel_id: int | None = fk("channel.id", ondelete="SET NULL", index=True)
    priority: str | None = Field(default=None, max_length=8)
    is_private: bool = False
    interaction_count: int = 0
    created_at: datetime = stamp()
    updated_at: datetime = stamp()
    created_by_id: int | None = fk("user.id", ondelete="SET NULL", index=True)
    updated_by_id: int | None = fk("user.id", ondelete="SET NULL", index=True)
    stage_changed_at: datetime | None = stamp(required=False)
    last_activity_at: datetime | None = stamp(required=False)
    last_contacted_at: datetime | None = stamp(required=False)
    version: int = 1
    # set while the deal is in the trash (app/tenancy.py hides it; docs/trash.md)
    deleted_at: datetime | None = stamp(required=False)


class OpportunityItem(SQLModel, table=True):
    __tablename__ = "opportunity_item"
    __table_args__ = (Index("ix_item_opportunity_position", "opportunity_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    opportunity_id: int = Field(foreign_key="opportunity.id", ondelete="CASCADE")
    position: int = 1
    item_code: str | None = Field(default=None, max_length=140)
    item_name: str = Field(max_length=255)
    item_group: str | None = Field(default=None, max_length=140)
    brand: str | None = Field(default=None, max_length=140)
    uom: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=4000)
    image_url: str | None = Field(default=None, max_length=2048)
    quantity: Decimal = Field(default=Decimal(1), sa_type=ExactDecimal(), nullable=False)
    rate: Decimal = Field(default=Decimal(0), sa_type=ExactDecimal(), nullable=False)
    base_rate: Decimal | None = money()


class CustomFieldDefinition(SQLModel, table=True):
    __tablename__ = "custom_field_definition"
    __table_args__ = (Index("ix_cfdef_org_position", "organization_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    label: str = Field(max_length=255)
    field_type: str = Field(max_length=16)  # a CustomFieldType value
    position: int = 1
    options: list[str] | None = Field(default=None, sa_column=Column(JSON))
    is_required: bool = False
    mask: str | None = Field(default=None, max_length=255)


class CustomFieldValue(SQLModel, table=True):
    __tablename__ = "custom_field_value"
    # by definition, for custom field filters; not on `value`: PostgreSQL btree entries are capped
    # near 2.7 kB and values may be up to 5000 characters
    __table_args__ = (Index("ix_cfvalue_definition", "definition_id"),)
    opportunity_id: int = Field(foreign_key="opportunity.id", primary_key=True, ondelete="CASCADE")
    definition_id: int = Field(foreign_key="custom_field_definition.id", primary_key=True, ondelete="CASCADE")
    organization_id: int = org_fk()
    value: str | None = Field(default=None, max_length=5000)


class OpportunityContact(SQLModel, table=True):
    """Participants (ONLYOFFICE members, Apideck contactIds), in the order they were added."""

    __tablename__ = "opportunity_contact"
    __table_args__ = (Index("ix_oppcontact_contact", "contact_id"),)
    opportunity_id: int = Field(foreign_key="opportunity.id", primary_key=True, ondelete="CASCADE")
    contact_id: int = Field(foreign_key="contact.id", primary_key=True, ondelete="CASCADE")
    organization_id: int = org_fk()
    position: int = 1


class OpportunityLostReason(SQLModel, table=True):
    __tablename__ = "opportunity_lost_reason"
    opportunity_id: int = Field(foreign_key="opportunity.id", primary_key=True, ondelete="CASCADE")
    close_reason_id: int = Field(foreign_key="close_reason.id", primary_key=True, ondelete="CASCADE")
    organization_id: int = org_fk()
    position: int = 1


class OpportunityAccess(SQLModel, table=True):
    """Users who may see a private opportunity besides its owner and admins."""

    __tablename__ = "opportunity_access"
    __table_args__ = (Index("ix_oppaccess_user", "user_id", "opportunity_id"),)
    opportunity_id: int = Field(foreign_key="opportunity.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    organization_id: int = org_fk()


class OpportunityTag(SQLModel, table=True):
    __tablename__ = "opportunity_tag"
    __table_args__ = (Index("ix_opptag_tag", "organization_id", "tag"),)
    opportunity_id: int = Field(foreign_key="opportunity.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=64)
    organization_id: int = org_fk()
    position: int = 1


class IdempotencyKey(SQLModel, table=True):
    """A mutation request's `Idempotency-Key`, per API key: its claim while it runs, then its answer.

    See app/idempotency.py. Scoped by its API key (every statement names `api_key_id`), not
    by organization: another key of the same organization may use the same key.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ix_idempotency_key_expires", "expires_at"),)
    api_key_id: int = Field(foreign_key="api_key.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)  # SHA-256 of query, variables, operationName
    owner: str = Field(max_length=32)  # the claiming request's token: every write names it
    state: str = Field(max_length=8)  # "running", then "done"
    status: int | None = None  # HTTP status of the stored answer
    response: str | None = Field(default=None, sa_column=Column(Text))  # the stored answer's body
    locked_until: datetime = stamp()  # the claim's lease: past it, a running claim's request died
    expires_at: datetime = stamp()
    created_at: datetime = stamp()


# persisted documents (issue 11, app/persisted.py)
class PersistedQuery(SQLModel, table=True):
    """An automatic persisted query (APQ): a document by the SHA-256 of its text (app/persisted.py).

    Shared by every worker, machine and organization, like Apollo's APQ cache: the key is the
    hash of the text, so a hit gives a caller only a document it already had, run as the caller.
    """

    __tablename__ = "persisted_query"
    sha256: str = Field(primary_key=True, max_length=64)  # lower-case hex
    document: str = Field(sa_type=Text)
    created_at: datetime = stamp()


# Tables whose rows belong to one organization; app.tenancy scopes each of them.
TENANT_MODELS: tuple[type[SQLModel], ...] = (
    User,
    ApiKey,
    Customer,
    Contact,
    Lead,
    Channel,
    Pipeline,
    Stage,
    CloseReason,
    OpportunityType,
    Opportunity,
    OpportunityItem,
    CustomFieldDefinition,
    CustomFieldValue,
    OpportunityContact,
    OpportunityLostReason,
    OpportunityAccess,
    OpportunityTag,
)
# Tables that hang off one opportunity: they are visible only when it is.
OPPORTUNITY_CHILDREN: tuple[type[SQLModel], ...] = (
    OpportunityItem,
    CustomFieldValue,
    OpportunityContact,
    OpportunityLostReason,
    OpportunityAccess,
    OpportunityTag,
)


# ---------------------------------------------------------------- the change log (app/changes, docs/changes.md)


class OpportunityChange(SQLModel, table=True):
    """One committed change of one deal: what changed, from what, to what, by whom, when.

    Written in the mutation's own transaction (app/changes/record.py). `seq` is the feed
    position, handed out in commit order per organization (docs/changes.md).
    `before` / `after` are the deal's columns either side of the change (JSON), which the
    feed's filters and visibility are evaluated against. No foreign key to the deal: its
    history outlives a delete.
    """

    __tablename__ = "opportunity_change"
    __table_args__ = (
        Index("ix_opportunity_change_deal", "opportunity_id", "id"),
        Index("ix_opportunity_change_feed", "organization_id", "seq", unique=True),
        Index("ix_opportunity_change_stage", "stage_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    opportunity_id: int = Field(nullable=False)
    seq: int | None = Field(default=None, sa_type=BigInteger)
    kind: str = Field(max_length=8)  # a ChangeKind value
    version: int
    changes: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # the deal's stage and status after the change, and whether the change moved it to that
    # stage (a create on the board, a move; a move off the board ends a visit): what
    # stageHistory and the funnel read, in SQL
    stage_id: int | None = None
    status: str | None = Field(default=None, max_length=8)
    entered_stage: bool = False
    user_id: int | None = fk("user.id", ondelete="SET NULL")
    api_key_id: int | None = fk("api_key.id", ondelete="SET NULL")
    at: datetime = stamp()


# scoped to its organization by app.tenancy like every tenant table; which of its rows a caller
# may see beyond that is decided on its before/after states (app/changes/feed.py)
TENANT_MODELS = (*TENANT_MODELS, OpportunityChange)


# ---------------------------------------------------------------- external ids (app/interop)


class ExternalId(SQLModel, table=True):
    """A record's id in another system: (kind, source, external id) → row, unique per organization.

    `record_id` names the row of table `kind` (an entity name: "Opportunity", "Customer", …).
    A deal's keys also fill `opportunity_id`, a real foreign key, so a purged deal takes its
    keys with it and `Opportunity.externalIds` reads them by deal through the children loader.
    """

    __tablename__ = "external_id"
    __table_args__ = (
        UniqueConstraint("organization_id", "kind", "source", "external_id", name="uq_external_id_key"),
        Index("ix_external_id_row", "kind", "record_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    kind: str = Field(max_length=32)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=255)
    record_id: int
    opportunity_id: int | None = fk("opportunity.id", ondelete="CASCADE", index=True)
    created_at: datetime = stamp()


TENANT_MODELS = (*TENANT_MODELS, ExternalId)


# ---------------------------------------------------------------- trash and base currency (issue 13)


class ExchangeRate(SQLModel, table=True):
    """How many units of the organization's base currency one unit of `currency` is worth, from
    `valid_from` on (until a later rate of the same currency takes over). Admins manage them."""

    __tablename__ = "exchange_rate"
    __table_args__ = (UniqueConstraint("organization_id", "currency", "valid_from"),)
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = org_fk()
    currency: str = Field(max_length=3)
    rate: Decimal = Field(sa_type=ExactDecimal(scale=6), nullable=False)
    valid_from: date
    created_at: datetime = stamp()


# the trash of one tenant, oldest first (trashedOpportunities, purge-trash)
_O = Opportunity.__table__.c  # type: ignore[attr-defined]
Index("ix_opportunity_org_deleted", _O.organization_id, _O.deleted_at)
TENANT_MODELS = (*TENANT_MODELS, ExchangeRate)
