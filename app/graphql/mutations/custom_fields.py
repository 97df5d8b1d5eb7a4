"""Custom fields: admins manage definitions; editors set a deal's values, checked against them."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import Maybe

from app.crud import custom_fields as crud
from app.crud.refs import decode
from app.errors import BadUserInput
from app.graphql.common import UserError
from app.graphql.context import Info
from app.graphql.custom_fields import CustomFieldDefinition
from app.graphql.enums import CustomFieldType
from app.graphql.mutations.inputs import CustomFieldValueInput
from app.graphql.mutations.mutate import Outcome, Ref, mutate, mutation
from app.graphql.mutations.opportunities import OpportunityPayload, deal_payload
from app.graphql.mutations.payloads import DealId, DeletePayload, arg, deleted, given, load, present
from app.graphql.permissions import ADMINISTER, EDIT

DefinitionId = Annotated[strawberry.ID, arg("Global id of the custom field definition.")]


# An organization's form holds far fewer; a bound keeps one request's work bounded.
MAX_DEFINITIONS = 1000


@strawberry.input(description="A new custom field for the organization's deals.")
class CreateCustomFieldDefinitionInput:
    label: str = strawberry.field(description="Label shown next to the value, 1–255 characters.")
    field_type: CustomFieldType = strawberry.field(description="Kind of field; it cannot change later.")
    options: list[str] | None = strawberry.field(
        default=None, description="The allowed values of a SELECT_BOX (required for one, refused for others)."
    )
    is_required: bool | None = strawberry.field(
        default=None, description="Every new deal must have a value (not for a HEADING)."
    )
    mask: str | None = strawberry.field(default=None, description="Input mask or format hint for clients.")
    position: int | None = strawberry.field(
        default=None, description="Place in the form, 1 first; default last."
    )


@strawberry.input(description="Changes to a custom field definition: omitted fields stay, null clears.")
class UpdateCustomFieldDefinitionInput:
    label: Maybe[str | None] = strawberry.field(default=None, description="Label; cannot be null.")
    options: Maybe[list[str] | None] = strawberry.field(
        default=None, description="A SELECT_BOX's options; an option deals still hold cannot be dropped."
    )
    is_required: Maybe[bool | None] = strawberry.field(default=None, description="Required on new deals.")
    mask: Maybe[str | None] = strawberry.field(default=None, description="Input mask or format hint.")
    position: Maybe[int | None] = strawberry.field(
        default=None, description="Move to this place in the form."
    )


@strawberry.type(description="The result of a change to a custom field definition.")
class CustomFieldDefinitionPayload:
    custom_field_definition: CustomFieldDefinition | None = strawberry.field(
        description="The definition as it is now; null when there were errors."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was written."
    )


@strawberry.type(description="The result of reordering the custom field definitions.")
class CustomFieldDefinitionsPayload:
    custom_field_definitions: list[CustomFieldDefinition] = strawberry.field(
        description="Every definition in its new order; empty when there were errors."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was written."
    )


async def definition_payload(info: Info, outcome: Outcome[int]) -> CustomFieldDefinitionPayload:
    return CustomFieldDefinitionPayload(
        custom_field_definition=await load(info, CustomFieldDefinition, outcome.value), errors=outcome.errors
    )


async def definitions_payload(info: Info, outcome: Outcome[list[int]]) -> CustomFieldDefinitionsPayload:
    """Every definition in the order given (work returns their pks)."""
    found = [await load(info, CustomFieldDefinition, pk) for pk in outcome.value or []]
    return CustomFieldDefinitionsPayload(custom_field_definitions=found, errors=outcome.errors)


@strawberry.type
class CustomFieldMutations:
    @mutation(ADMINISTER, "Add a custom field to the organization's deals (admins).")
    async def create_custom_field_definition(
        self,
        info: Info,
        input: Annotated[CreateCustomFieldDefinitionInput, arg("The new field.")],  # noqa: A002
    ) -> CustomFieldDefinitionPayload:
        data = present(input)
        data.setdefault("field_type", None)
        return await mutate(info, definition_payload, lambda s: crud.create_definition(s, given=data))

    @mutation(ADMINISTER, "Change a custom field definition (admins); its type stays.")
    async def update_custom_field_definition(
        self,
        info: Info,
        id: DefinitionId,  # noqa: A002
        input: Annotated[UpdateCustomFieldDefinitionInput, arg("The changes.")],  # noqa: A002
    ) -> CustomFieldDefinitionPayload:
        data = given(input)
        return await mutate(
            info,
            definition_payload,
            lambda s, pk: crud.update_definition(s, definition_id=pk, given=data),
            Ref("id", "CustomFieldDefinition", id),
        )

    @mutation(
        ADMINISTER,
        "Delete a custom field definition (admins) together with every deal's value for it; "
        "the other definitions close ranks.",
    )
    async def delete_custom_field_definition(self, info: Info, id: DefinitionId) -> DeletePayload:  # noqa: A002
        return await mutate(
            info,
            deleted("CustomFieldDefinition"),
            lambda s, pk: crud.delete_definition(s, definition_id=pk),
            Ref("id", "CustomFieldDefinition", id),
        )

    @mutation(ADMINISTER, "Put the definitions in this order (admins); list each exactly once.")
    async def reorder_custom_field_definitions(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], arg("Every definition, in the new form order.")],
    ) -> CustomFieldDefinitionsPayload:
        if len(ids) > MAX_DEFINITIONS:
            raise BadUserInput(
                f"at most {MAX_DEFINITIONS} definitions can be ordered at once", argument="ids"
            )

        async def work(s: AsyncSession) -> list[int]:
            await crud.reorder_definitions(s, ids=ids)
            return [pk for pk in (decode("CustomFieldDefinition", i) for i in ids) if pk is not None]

        return await mutate(info, definitions_payload, work)

    @mutation(
        EDIT,
        "Set a deal's custom field values; each is checked against its definition's type "
        "(DATE an ISO date, SELECT_BOX one of the options, CHECK_BOX true/false, text length limits, "
        "HEADING none). Values not listed stay; a null value clears one (REQUIRED for a required field).",
    )
    async def set_opportunity_custom_fields(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        values: Annotated[list[CustomFieldValueInput], arg("The values to set or clear.")],
    ) -> OpportunityPayload:
        pairs = [(v.definition_id, v.value) for v in values]
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.set_values(s, opportunity_id=pk, values=pairs),
            Ref("id", "Opportunity", id),
        )
