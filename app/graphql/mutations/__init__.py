"""Mutation: composed from one class per domain, each in its own module."""

from __future__ import annotations

import strawberry

from app.graphql.mutations.api_keys import ApiKeyMutations
from app.graphql.mutations.board import BoardMutations
from app.graphql.mutations.custom_fields import CustomFieldMutations
from app.graphql.mutations.items import ItemMutations
from app.graphql.mutations.links import LinkMutations
from app.graphql.mutations.opportunities import OpportunityMutations
from app.graphql.mutations.related import RelatedMutations
from app.graphql.mutations.upsert import UpsertMutations
from app.graphql.rates import RateMutations
from app.graphql.trash import TrashMutations


@strawberry.type(
    description="Change the CRM. Every mutation is one transaction: all of it is written, or none."
)
class Mutation(
    OpportunityMutations,
    LinkMutations,
    BoardMutations,
    ItemMutations,
    CustomFieldMutations,
    RelatedMutations,
    ApiKeyMutations,
    TrashMutations,
    RateMutations,
    UpsertMutations,
):
    """Every mutation of the schema, composed here once."""
