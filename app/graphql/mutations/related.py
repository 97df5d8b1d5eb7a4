"""Create, update and delete for the records around deals, made by one factory per type.

Customers, contacts and leads are everyday records (editors create and change them,
managers delete); pipelines, stages, close reasons, channels and opportunity types are
lookups that shape every deal, so only admins manage them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import strawberry

from app.crud import related as crud
from app.enums import Role
from app.graphql.common import UserError
from app.graphql.context import Info
from app.graphql.customers import Contact, Customer
from app.graphql.lookups import Channel, CloseReason, Lead, OpportunityType
from app.graphql.mutations import related_inputs as inputs
from app.graphql.mutations.payloads import (
    DeletePayload,
    Outcome,
    arg,
    deleted,
    given,
    load,
    not_found,
    pk_of,
    present,
    run,
)
from app.graphql.permissions import ADMINISTER, CREATE, DELETE, EDIT, require
from app.graphql.pipelines import Pipeline, Stage

IN_USE = "Refused with a CONFLICT error while any deal (private ones included) still uses it."


@dataclass(frozen=True)
class Kind:
    t: Any
    field: str  # the payload's record field, camelCase in the schema
    label: str  # for descriptions
    create: Any
    update: Any
    roles: tuple[Role, Role, Role]  # create, edit, delete
    delete_rule: str


EVERYDAY = (CREATE, EDIT, DELETE)
LOOKUP = (ADMINISTER, ADMINISTER, ADMINISTER)
KINDS = [
    Kind(
        Customer,
        "customer",
        "customer",
        inputs.CreateCustomerInput,
        inputs.UpdateCustomerInput,
        EVERYDAY,
        f"{IN_USE} Its contacts and leads stay and lose the link.",
    ),
    Kind(
        Contact,
        "contact",
        "contact",
        inputs.CreateContactInput,
        inputs.UpdateContactInput,
        EVERYDAY,
        f"{IN_USE} That is as primary contact, referrer, agent or participant; its leads lose the link.",
    ),
    Kind(Lead, "lead", "lead", inputs.CreateLeadInput, inputs.UpdateLeadInput, EVERYDAY, IN_USE),
    Kind(
        Pipeline,
        "pipeline",
        "pipeline",
        inputs.CreatePipelineInput,
        inputs.UpdatePipelineInput,
        LOOKUP,
        "Deletes its stages with it. Refused with a CONFLICT error while any deal sits in one of them.",
    ),
    Kind(
        Stage,
        "stage",
        "stage",
        inputs.CreateStageInput,
        inputs.UpdateStageInput,
        LOOKUP,
        f"{IN_USE} The pipeline's other stages close ranks.",
    ),
    Kind(
        CloseReason,
        "closeReason",
        "close reason",
        inputs.CreateCloseReasonInput,
        inputs.UpdateCloseReasonInput,
        LOOKUP,
        f"{IN_USE} That is as close reason or among the lost reasons.",
    ),
    Kind(Channel, "channel", "channel", inputs.CreateChannelInput, inputs.UpdateChannelInput, LOOKUP, IN_USE),
    Kind(
        OpportunityType,
        "opportunityType",
        "opportunity type",
        inputs.CreateOpportunityTypeInput,
        inputs.UpdateOpportunityTypeInput,
        LOOKUP,
        IN_USE,
    ),
]


def _payload_type(k: Kind) -> type:
    name = k.t.__name__
    ns = {
        "__annotations__": {k.field: k.t | None, "errors": list[UserError]},
        k.field: strawberry.field(description=f"The {k.label} as it is now; null when there were errors."),
        "errors": strawberry.field(description="Problems with the input; when any, nothing was written."),
        "__module__": __name__,
    }
    return strawberry.type(
        type(f"{name}Payload", (), ns), description=f"The result of a change to a {k.label}."
    )


def _mutations(k: Kind) -> dict[str, Any]:
    name = k.t.__name__
    payload = _payload_type(k)
    record_id = Annotated[strawberry.ID, arg(f"Global id of the {k.label}.")]

    async def respond(info: Info, outcome: Outcome[int]) -> Any:
        return payload(**{k.field: await load(info, k.t, outcome.value), "errors": outcome.errors})

    async def create(self: Any, info: Info, input: Any) -> Any:  # noqa: A002
        require(info, k.roles[0])
        data = present(input)
        return await respond(info, await run(info, lambda s: crud.create(s, type_name=name, given=data)))

    async def update(self: Any, info: Info, id: strawberry.ID, input: Any) -> Any:  # noqa: A002
        require(info, k.roles[1])
        pk = pk_of(name, id)
        if pk is None:
            return await respond(info, not_found("id", name, id))
        data = given(input)
        return await respond(
            info, await run(info, lambda s: crud.update(s, type_name=name, pk=pk, given=data))
        )

    async def delete(self: Any, info: Info, id: strawberry.ID) -> DeletePayload:  # noqa: A002
        require(info, k.roles[2])
        pk = pk_of(name, id)
        if pk is None:
            return deleted(name, not_found("id", name, id))
        return deleted(name, await run(info, lambda s: crud.delete_record(s, type_name=name, pk=pk)))

    create.__annotations__ = {
        "info": Info,
        "input": Annotated[k.create, arg(f"The new {k.label}.")],
        "return": payload,
    }
    update.__annotations__ = {
        "info": Info,
        "id": record_id,
        "input": Annotated[k.update, arg("The changes.")],
        "return": payload,
    }
    delete.__annotations__ = {"info": Info, "id": record_id, "return": DeletePayload}
    return {
        f"create_{_snake(name)}": strawberry.mutation(resolver=create, description=f"Create a {k.label}."),
        f"update_{_snake(name)}": strawberry.mutation(
            resolver=update, description=f"Change a {k.label}: omitted fields stay, null clears."
        ),
        f"delete_{_snake(name)}": strawberry.mutation(
            resolver=delete, description=f"Delete a {k.label}. {k.delete_rule}"
        ),
    }


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


RelatedMutations: Any = strawberry.type(
    type(
        "RelatedMutations",
        (),
        {k: v for kind in KINDS for k, v in _mutations(kind).items()} | {"__module__": __name__},
    )
)
