"""The deal filter's own inputs (tags, custom fields) and the check a custom field filter needs.

Their SQL is in `app.query.predicates`; the check reads the definitions through the
request's loader, so it lives on this side.
"""

from __future__ import annotations

from typing import Any

import strawberry

from app.errors import BadUserInput
from app.graphql.common import DateFilter, StringFilter
from app.graphql.custom_fields import CustomFieldDefinition
from app.ids import decode


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


# Which typed operator each definition type takes.
_CUSTOM_FIELD_OPERATORS = {
    "text": {"TEXT_FIELD", "TEXT_AREA", "SELECT_BOX"},
    "date": {"DATE"},
    "checked": {"CHECK_BOX"},
}


async def check_custom_fields(ctx: Any, filters: list[CustomFieldFilter]) -> None:
    """Every custom field filter names a visible definition and uses the operator of its type."""
    loader = ctx.loaders.by_id(CustomFieldDefinition)
    for i, flt in enumerate(filters):
        path = f"filter.customField[{i}]"
        pk = decode("CustomFieldDefinition", flt.definition_id)
        definition = await loader.load(pk) if pk is not None else None
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
