"""Custom field definitions (per organization) and their typed values on deals."""

from __future__ import annotations

import strawberry

from app import models as m
from app import query
from app.graphql.common import BooleanFilter, Node, StringFilter, enum_filter
from app.graphql.enums import CustomFieldType
from app.graphql.lists import order_input
from app.graphql.relations import entity, filter_input, to_one


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
    definition = to_one(CustomFieldDefinition, "definition_id", "The field's definition.", required=True)

    @classmethod
    def from_row(cls, row: object) -> CustomFieldValue:
        obj = cls.__new__(cls)
        obj.__dict__.update(row._asdict())  # type: ignore[attr-defined]
        return obj

    @strawberry.field(description="The definition's label (denormalised for convenience).")
    async def label(self, info: strawberry.Info) -> str:
        definition = await info.context.loaders.by_id(CustomFieldDefinition).load(self.definition_id)
        return definition.label  # type: ignore[no-any-return]

    @strawberry.field(description="The definition's type (denormalised for convenience).")
    async def field_type(self, info: strawberry.Info) -> CustomFieldType:
        definition = await info.context.loaders.by_id(CustomFieldDefinition).load(self.definition_id)
        return definition.field_type  # type: ignore[no-any-return]


CFDEF_SPEC = query.FilterSpec(m.CustomFieldDefinition, default_order=(("POSITION", False),))


CustomFieldTypeFilter = enum_filter("CustomFieldTypeFilter", CustomFieldType)


CustomFieldDefinitionFilter = filter_input(
    "CustomFieldDefinitionFilter",
    __name__,
    CFDEF_SPEC,
    {
        "label": (StringFilter, "By label."),
        "field_type": (CustomFieldTypeFilter, "By type."),
        "is_required": (BooleanFilter, "Required or not."),
    },
    "Which custom field definitions to return. Fields are combined with AND.",
)
CustomFieldDefinitionOrder = order_input("CustomFieldDefinition", ["ID", "LABEL", "POSITION"], __name__)
entity(CustomFieldDefinition, m.CustomFieldDefinition, CFDEF_SPEC)
entity(CustomFieldValue, m.CustomFieldValue)
