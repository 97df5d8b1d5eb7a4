"""Small lookups a deal points at: close reasons, channels, leads and opportunity types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app import models as m
from app.graphql.common import BooleanFilter, DateTimeFilter, Node, StringFilter, enum_filter
from app.graphql.customers import Contact, Customer
from app.graphql.enums import CloseReasonKind, LeadSource
from app.graphql.registry import entity
from app.graphql.relations import connection, list_root, one_root, rel


@strawberry.type(description="Why a deal was won or lost.")
class CloseReason(Node):
    name: str = strawberry.field(description="The reason, e.g. 'Lost to competitor'.")
    kind: CloseReasonKind = strawberry.field(description="Whether it explains a win or a loss.")
    opportunities = connection(m.Opportunity.close_reason_id, "Opportunity", "Deals closed for this reason.")


@strawberry.type(description="A data channel deals come in through (OroCRM dataChannel).")
class Channel(Node):
    name: str = strawberry.field(description="Name of the channel.")
    type: str | None = strawberry.field(description="Kind of channel, e.g. 'web', 'email'.")
    is_active: bool = strawberry.field(description="Whether new deals may come in through it.")
    opportunities = connection(
        m.Opportunity.channel_id, "Opportunity", "Deals that came in through this channel."
    )


@strawberry.type(description="A sales prospect that deals are qualified from.")
class Lead(Node):
    name: str = strawberry.field(description="Name of the lead.")
    source: LeadSource | None = strawberry.field(description="Where the lead came from.")
    status: str | None = strawberry.field(description="Qualification status, e.g. 'qualified'.")
    created_at: datetime = strawberry.field(description="When the lead was created.")
    customer_id: strawberry.Private[int | None]
    contact_id: strawberry.Private[int | None]
    customer = rel(m.Lead.customer_id, Customer, "The customer the lead belongs to.")
    contact = rel(m.Lead.contact_id, Contact, "The person behind the lead.")
    opportunities = connection(m.Opportunity.lead_id, "Opportunity", "Deals qualified from this lead.")


@strawberry.type(description="A kind of deal, e.g. 'New business' or 'Upsell'.")
class OpportunityType(Node):
    name: str = strawberry.field(description="Name of the type.")
    opportunities = connection(m.Opportunity.type_id, "Opportunity", "Deals of this type.")


CloseReasonKindFilter = enum_filter("CloseReasonKindFilter", CloseReasonKind)
CLOSE_REASON = entity(
    CloseReason,
    m.CloseReason,
    filters={"name": (StringFilter, "By name."), "kind": (CloseReasonKindFilter, "Win or loss reasons.")},
    filter_doc="Which close reasons to return. Fields are combined with AND.",
    orders=["ID", "NAME", "KIND"],
    default_order=(("NAME", False),),
)
CHANNEL = entity(
    Channel,
    m.Channel,
    filters={
        "name": (StringFilter, "By name."),
        "type": (StringFilter, "By kind."),
        "is_active": (BooleanFilter, "Active or not."),
    },
    filter_doc="Which channels to return. Fields are combined with AND.",
    orders=["ID", "NAME", "TYPE"],
    default_order=(("NAME", False),),
)
LEAD = entity(
    Lead,
    m.Lead,
    filters={
        "name": (StringFilter, "By name."),
        "source": (StringFilter, "By source (a LeadSource value)."),
        "status": (StringFilter, "By status."),
        "created_at": (DateTimeFilter, "By creation time."),
        "customer": "By its customer.",
        "contact": "By its contact.",
    },
    filter_doc="Which leads to return. Fields are combined with AND.",
    orders=["ID", "NAME", "STATUS", "CREATED_AT"],
)
OPPORTUNITY_TYPE = entity(
    OpportunityType,
    m.OpportunityType,
    filters={"name": (StringFilter, "By name.")},
    filter_doc="Which opportunity types to return. Fields are combined with AND.",
    orders=["ID", "NAME"],
    default_order=(("NAME", False),),
)
CloseReasonFilter = CLOSE_REASON.filter
ChannelFilter = CHANNEL.filter
LeadFilter = LEAD.filter
OpportunityTypeFilter = OPPORTUNITY_TYPE.filter


@strawberry.type
class LookupQueries:
    close_reason = one_root(CloseReason, "One close reason by id.")
    close_reasons = list_root(CloseReason, "Close reasons, by name.")
    channel = one_root(Channel, "One channel by id.")
    channels = list_root(Channel, "Channels, by name.")
    lead = one_root(Lead, "One lead by id.")
    leads = list_root(Lead, "Leads, newest first.")
    opportunity_type = one_root(OpportunityType, "One opportunity type by id.")
    opportunity_types = list_root(OpportunityType, "Opportunity types, by name.")
