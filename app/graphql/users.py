"""Users (owners, access lists) and the caller's organization."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models as m
from app import query
from app.graphql.common import BooleanFilter, DateTimeFilter, Node, StringFilter
from app.graphql.lists import order_input
from app.graphql.relations import connection_field, entity, filter_input
from app.query import Hop, Relation

if TYPE_CHECKING:  # the filter is made in the opportunities module, which imports this one
    from app.graphql.opportunities import RelatedOpportunitiesFilter

OPP = ("app.graphql.opportunities", "Opportunity")


@strawberry.type(description="A tenant: every record belongs to exactly one organization.")
class Organization(Node):
    name: str = strawberry.field(description="Display name, unique across the gateway.")
    base_currency: str = strawberry.field(description="ISO 4217 code that base amounts are in.")
    created_at: datetime = strawberry.field(description="When the organization was created.")


@strawberry.type(description="A person who uses the CRM: owns deals, sees private ones when listed.")
class User(Node):
    display_name: str = strawberry.field(description="Name to show.")
    email: str = strawberry.field(description="Sign-in and contact address, unique in the organization.")
    title: str | None = strawberry.field(description="Job title.")
    avatar_url: str | None = strawberry.field(description="Picture URL.")
    profile_url: str | None = strawberry.field(description="Profile page URL.")
    is_active: bool = strawberry.field(description="False for users who left; they keep their deals.")
    created_at: datetime = strawberry.field(description="When the user was added.")
    owned_opportunities = connection_field(
        OPP, "Opportunities this user is responsible for.", partition=lambda: m.Opportunity.owner_id
    )


USER_SPEC = query.FilterSpec(
    m.User,
    relations={"owned_opportunities": lambda: Relation((Hop(m.User.id, m.Opportunity.owner_id),), many=True)},
    default_order=(("DISPLAY_NAME", False),),
)
UserFilter = filter_input(
    "UserFilter",
    __name__,
    USER_SPEC,
    {
        "display_name": (StringFilter, "By display name."),
        "email": (StringFilter, "By email address."),
        "title": (StringFilter, "By job title."),
        "created_at": (DateTimeFilter, "By when the user was added."),
        "is_active": (BooleanFilter, "Active users, or those who left."),
        "owned_opportunities": (
            Annotated["RelatedOpportunitiesFilter", strawberry.lazy("app.graphql.opportunities")],
            "By the deals they own: some, none or every.",
        ),
    },
    "Which users to return. Fields are combined with AND.",
)
UserOrder = order_input("User", ["ID", "DISPLAY_NAME", "EMAIL", "CREATED_AT"], __name__)
entity(User, m.User, USER_SPEC)
entity(Organization, m.Organization)
