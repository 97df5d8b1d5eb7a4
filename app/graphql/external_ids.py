"""A record's id in another system (`Opportunity.externalIds`) and the deal filter on it."""

from __future__ import annotations

import strawberry

from app import models as m
from app.graphql.common import StringFilter
from app.graphql.registry import entity


@strawberry.type(
    description='A record\'s id in another system, e.g. {source: "apideck", externalId: "12345"}.'
)
class ExternalId:
    source: str = strawberry.field(
        description="The system the id belongs to (an import format, or any name)."
    )
    external_id: str = strawberry.field(description="The record's id in that system.")

    @classmethod
    def from_row(cls, row: object) -> ExternalId:
        obj = cls.__new__(cls)
        obj.__dict__ = row._asdict()  # type: ignore[attr-defined]
        return obj


@strawberry.input(description="Deals that have an external id matching both parts (combined with AND).")
class ExternalIdFilter:
    source: StringFilter | None = strawberry.field(default=None, description="By source.")
    external_id: StringFilter | None = strawberry.field(default=None, description="By the id in that source.")


EXTERNAL_ID = entity(ExternalId, m.ExternalId, is_node=False)
