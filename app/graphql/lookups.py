"""Small lookups a deal points at: close reasons, channels, leads and opportunity types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app import models as m
from app import query
from app.graphql.common import BooleanFilter, DateTimeFilter, Node, StringFilter, enum_filter
from app.graphql.customers import Contact, ContactFilter, Customer, CustomerFilter
from app.graphql.enums import CloseReasonKind, LeadSource
from app.graphql.lists import order_input
from app.graphql.relations import connection_field, entity, filter_input, to_one
from app.query import Hop, Relation

OPP = ("app.graphql.opportunities", "Opportunity")


@strawberry.type(description="Why a deal was won or lost.")
class CloseReason(Node):
    name: str = strawberry.field(description="The reason, e.g. 'Lost to competitor'.")
    kind: CloseReasonKind = strawberry.field(description="Whether it explains a win or a loss.")
    opportunities = connection_field(
        OPP, "Deals closed for this reason.", partition=lambda: m.Opportunity.close_reason_id
    )


@strawberry.type(description="A data channel deals come in through (OroCRM dataChannel).")
class Channel(Node):
    name: str = strawberry.field(description="Name of the channel.")
    type: str | None = strawberry.field(description="Kind of channel, e.g. 'web', 'email'.")
    is_active: bool = strawberry.field(description="Whether new deals may come in through it.")
    opportunities = connection_field(
        OPP, "Deals that came in through this channel.", partition=lambda: m.Opportunity.channel_id
    )


@strawberry.type(description="A sales prospect that deals are qualified from.")
class Lead(Node):
    name: str = strawberry.field(description="Name of the lead.")
    source: LeadSource | None = strawberry.field(description="Where the lead came from.")
    status: str | None = strawberry.field(description="Qualification status, e.g. 'qualified'.")
    created_at: datetime = strawberry.field(description="When the lead was created.")
    customer_id: strawberry.Private[int | None]
    contact_id: strawberry.Private[int | None]
    customer = to_one(Customer, "customer_id", "The customer the lead belongs to.")
    contact = to_one(Contact, "contact_id", "The person behind the lead.")
    opportunities = connection_field(
        OPP, "Deals qualified from this lead.", partition=lambda: m.Opportunity.lead_id
    )


@strawberry.type(description="A kind of deal, e.g. 'New business' or 'Upsell'.")
class OpportunityType(Node):
    name: str = strawberry.field(description="Name of the type.")
    opportunities = connection_field(OPP, "Deals of this type.", partition=lambda: m.Opportunity.type_id)


CloseReasonKindFilter = enum_filter("CloseReasonKindFilter", CloseReasonKind)


CLOSE_REASON_SPEC = query.FilterSpec(m.CloseReason, default_order=(("NAME", False),))
CloseReasonFilter = filter_input(
    "CloseReasonFilter",
    __name__,
    CLOSE_REASON_SPEC,
    {"name": (StringFilter, "By name."), "kind": (CloseReasonKindFilter, "Win or loss reasons.")},
    "Which close reasons to return. Fields are combined with AND.",
)
CloseReasonOrder = order_input("CloseReason", ["ID", "NAME", "KIND"], __name__)

CHANNEL_SPEC = query.FilterSpec(m.Channel, default_order=(("NAME", False),))
ChannelFilter = filter_input(
    "ChannelFilter",
    __name__,
    CHANNEL_SPEC,
    {
        "name": (StringFilter, "By name."),
        "type": (StringFilter, "By kind."),
        "is_active": (BooleanFilter, "Active or not."),
    },
    "Which channels to return. Fields are combined with AND.",
)
ChannelOrder = order_input("Channel", ["ID", "NAME", "TYPE"], __name__)

LEAD_SPEC = query.FilterSpec(
    m.Lead,
    relations={
        "customer": lambda: Relation((Hop(m.Lead.customer_id, m.Customer.id),)),
        "contact": lambda: Relation((Hop(m.Lead.contact_id, m.Contact.id),)),
    },
)
LeadFilter = filter_input(
    "LeadFilter",
    __name__,
    LEAD_SPEC,
    {
        "name": (StringFilter, "By name."),
        "source": (StringFilter, "By source (a LeadSource value)."),
        "status": (StringFilter, "By status."),
        "created_at": (DateTimeFilter, "By creation time."),
        "customer": (CustomerFilter, "By its customer."),
        "contact": (ContactFilter, "By its contact."),
    },
    "Which leads to return. Fields are combined with AND.",
)
LeadOrder = order_input("Lead", ["ID", "NAME", "STATUS", "CREATED_AT"], __name__)

OPPORTUNITY_TYPE_SPEC = query.FilterSpec(m.OpportunityType, default_order=(("NAME", False),))
OpportunityTypeFilter = filter_input(
    "OpportunityTypeFilter",
    __name__,
    OPPORTUNITY_TYPE_SPEC,
    {"name": (StringFilter, "By name.")},
    "Which opportunity types to return. Fields are combined with AND.",
)
OpportunityTypeOrder = order_input("OpportunityType", ["ID", "NAME"], __name__)

entity(CloseReason, m.CloseReason, CLOSE_REASON_SPEC)
entity(Channel, m.Channel, CHANNEL_SPEC)
entity(Lead, m.Lead, LEAD_SPEC)
entity(OpportunityType, m.OpportunityType, OPPORTUNITY_TYPE_SPEC)
