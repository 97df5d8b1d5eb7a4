"""Users (owners, access lists) and the caller's organization."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app import models as m
from app.graphql.common import BooleanFilter, DateTimeFilter, Node, StringFilter
from app.graphql.customers import RELATED_DEALS
from app.graphql.registry import entity
from app.graphql.relations import connection, list_root, one_root


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
    owned_opportunities = connection(
        m.Opportunity.owner_id,
        "Opportunity",
        "Opportunities this user is responsible for.",
        quantifier=RELATED_DEALS,
    )


USER = entity(
    User,
    m.User,
    filters={
        "display_name": (StringFilter, "By display name."),
        "email": (StringFilter, "By email address."),
        "title": (StringFilter, "By job title."),
        "created_at": (DateTimeFilter, "By when the user was added."),
        "is_active": (BooleanFilter, "Active users, or those who left."),
        "owned_opportunities": "By the deals they own: some, none or every.",
    },
    filter_doc="Which users to return. Fields are combined with AND.",
    orders=["ID", "DISPLAY_NAME", "EMAIL", "CREATED_AT"],
    default_order=(("DISPLAY_NAME", False),),
)
ORGANIZATION = entity(Organization, m.Organization)
UserFilter = USER.filter


@strawberry.type
class UserQueries:
    user = one_root(User, "One user by id.")
    users = list_root(User, "Users of the organization, by name.")
