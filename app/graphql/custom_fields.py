"""Custom field definitions (per organization) and their typed values on deals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry

from app import models as m
from app.graphql.common import READS, BooleanFilter, Node, StringFilter, enum_filter
from app.graphql.context import Info
from app.graphql.enums import CustomFieldType
from app.graphql.registry import NEEDS, entity
from app.graphql.relations import list_root, one_root, rel, then


@strawberry.type(description="A field an organization adds to its deals (ONLYOFFICE custom fields).")
class CustomFieldDefinition(Node):
    label: str = strawberry.field(description="Label shown next to the value.")
    field_type: CustomFieldType = strawberry.field(description="Kind of field; decides what values it takes.")
    position: int = strawberry.field(description="Place in the form, 1 first.")
    options: list[str] | None = strawberry.field(description="The allowed values of a SELECT_BOX.")
    is_required: bool = strawberry.field(description="Every deal must have a value.")
    mask: str | None = strawberry.field(description="Input mask or format hint for clients.")


@strawberry.type(description="The value of one custom field on one deal.")
class CustomFieldValue:
    value: str | None = strawberry.field(
        description='The value in its definition\'s format: ISO date, one of the options, "true"/"false".'
    )
    definition_id: strawberry.Private[int]
    definition = rel(
        m.CustomFieldValue.definition_id, CustomFieldDefinition, "The field's definition.", required=True
    )

    @classmethod
    def from_row(cls, row: Any, fields: Sequence[str] | None = None) -> CustomFieldValue:
        obj = cls.__new__(cls)  # as Node.from_row: `fields` read once per batch
        obj.__dict__ = dict(zip(row._fields if fields is None else fields, row, strict=True))
        return obj

    # Both read the definition through its relation, so the prefetch plan loads it for them.
    @strawberry.field(
        description="The definition's label (denormalised for convenience).",
        metadata={NEEDS: ("definition",), READS: ()},
    )
    def label(self, info: Info) -> str:
        return then(self._definition(info), lambda d: d.label)

    @strawberry.field(
        description="The definition's type (denormalised for convenience).",
        metadata={NEEDS: ("definition",), READS: ()},
    )
    def field_type(self, info: Info) -> CustomFieldType:
        return then(self._definition(info), lambda d: d.field_type)

    def _definition(self, info: Info) -> Any:
        return info.context.loaders.by_id(CustomFieldDefinition).get(self.definition_id)


CustomFieldTypeFilter = enum_filter("CustomFieldTypeFilter", CustomFieldType)
DEFINITION = entity(
    CustomFieldDefinition,
    m.CustomFieldDefinition,
    filters={
        "label": (StringFilter, "By label."),
        "field_type": (CustomFieldTypeFilter, "By type."),
        "is_required": (BooleanFilter, "Required or not."),
    },
    filter_doc="Which custom field definitions to return. Fields are combined with AND.",
    orders=["ID", "LABEL", "POSITION"],
    default_order=(("POSITION", False),),
)
VALUE = entity(CustomFieldValue, m.CustomFieldValue, is_node=False)
CustomFieldDefinitionFilter = DEFINITION.filter


@strawberry.type
class CustomFieldQueries:
    custom_field_definition = one_root(CustomFieldDefinition, "One custom field definition by id.")
    custom_field_definitions = list_root(CustomFieldDefinition, "Custom field definitions, in form order.")
