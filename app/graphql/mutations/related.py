"""Create, update and delete for the records around deals: one declared line per mutation.

Customers, contacts and leads are everyday records (editors create and change them,
managers delete); pipelines, stages, close reasons, channels and opportunity types are
lookups that shape every deal, so only admins manage them. The 24 mutations share their
shape (crud.related holds each type's rules), so each is a line of the table at the end,
named as the schema names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.tools import create_type

from app.crud import related as crud
from app.enums import Role
from app.graphql.common import UserError
from app.graphql.context import Info
from app.graphql.customers import Contact, Customer
from app.graphql.lookups import Channel, CloseReason, Lead, OpportunityType
from app.graphql.mutations import related_inputs as inputs
from app.graphql.mutations.mutate import Outcome, Ref, mutate, mutation
from app.graphql.mutations.payloads import DeletePayload, arg, deleted, given, load, present
from app.graphql.permissions import ADMINISTER, CREATE, DELETE, EDIT
from app.graphql.pipelines import Pipeline, Stage

IN_USE = "Refused with a CONFLICT error while any deal (private ones included) still uses it."


def payload_type(name: str, t: Any, field: str, label: str) -> Any:
    """`{Type}Payload`: the record as it is now, and the input's problems."""
    return create_type(
        name,
        [
            strawberry.field(
                name=field,
                graphql_type=t | None,
                description=f"The {label} as it is now; null when there were errors.",
            ),
            strawberry.field(
                name="errors",
                graphql_type=list[UserError],
                description="Problems with the input; when any, nothing was written.",
            ),
        ],
        description=f"The result of a change to a {label}.",
    )


CustomerPayload = payload_type("CustomerPayload", Customer, "customer", "customer")
ContactPayload = payload_type("ContactPayload", Contact, "contact", "contact")
LeadPayload = payload_type("LeadPayload", Lead, "lead", "lead")
PipelinePayload = payload_type("PipelinePayload", Pipeline, "pipeline", "pipeline")
StagePayload = payload_type("StagePayload", Stage, "stage", "stage")
CloseReasonPayload = payload_type("CloseReasonPayload", CloseReason, "closeReason", "close reason")
ChannelPayload = payload_type("ChannelPayload", Channel, "channel", "channel")
OpportunityTypePayload = payload_type(
    "OpportunityTypePayload", OpportunityType, "opportunityType", "opportunity type"
)


@dataclass(frozen=True)
class Record:
    """One record type of this module: its GraphQL type and payload, named for descriptions."""

    t: Any
    payload: Any
    field: str  # the payload's record field
    label: str

    @property
    def type_name(self) -> str:
        return str(self.t.__name__)

    async def respond(self, info: Info, outcome: Outcome[int]) -> Any:
        return self.payload(**{self.field: await load(info, self.t, outcome.value), "errors": outcome.errors})


CUSTOMER = Record(Customer, CustomerPayload, "customer", "customer")
CONTACT = Record(Contact, ContactPayload, "contact", "contact")
LEAD = Record(Lead, LeadPayload, "lead", "lead")
PIPELINE = Record(Pipeline, PipelinePayload, "pipeline", "pipeline")
STAGE = Record(Stage, StagePayload, "stage", "stage")
CLOSE_REASON = Record(CloseReason, CloseReasonPayload, "closeReason", "close reason")
CHANNEL = Record(Channel, ChannelPayload, "channel", "channel")
OPPORTUNITY_TYPE = Record(OpportunityType, OpportunityTypePayload, "opportunityType", "opportunity type")


def create(name: str, r: Record, role: Role, input_type: Any) -> Any:
    """`name` (createX): a new `r` from `input_type`."""

    async def resolve(self: Any, info: Info, input: Any) -> Any:  # noqa: A002
        data = present(input)
        return await mutate(info, r.respond, lambda s: crud.create(s, type_name=r.type_name, given=data))

    resolve.__annotations__ = {
        "info": Info,
        "input": Annotated[input_type, arg(f"The new {r.label}.")],
        "return": r.payload,
    }
    return _named(name, mutation(role, f"Create a {r.label}.", name=name, resolver=resolve))


def update(name: str, r: Record, role: Role, input_type: Any) -> Any:
    """`name` (updateX): the changes of `input_type` to one `r`."""

    async def resolve(self: Any, info: Info, id: strawberry.ID, input: Any) -> Any:  # noqa: A002
        data = given(input)
        return await mutate(
            info,
            r.respond,
            lambda s, pk: crud.update(s, type_name=r.type_name, pk=pk, given=data),
            Ref("id", r.type_name, id),
        )

    resolve.__annotations__ = {
        "info": Info,
        "id": Annotated[strawberry.ID, arg(f"Global id of the {r.label}.")],
        "input": Annotated[input_type, arg("The changes.")],
        "return": r.payload,
    }
    description = f"Change a {r.label}: omitted fields stay, null clears."
    return _named(name, mutation(role, description, name=name, resolver=resolve))


def delete(name: str, r: Record, role: Role, rule: str) -> Any:
    """`name` (deleteX): one `r`, refused as `rule` says."""

    async def resolve(self: Any, info: Info, id: strawberry.ID) -> DeletePayload:  # noqa: A002
        return await mutate(info, deleted(r.type_name), _delete(r), Ref("id", r.type_name, id))

    resolve.__annotations__ = {
        "info": Info,
        "id": Annotated[strawberry.ID, arg(f"Global id of the {r.label}.")],
        "return": DeletePayload,
    }
    return _named(name, mutation(role, f"Delete a {r.label}. {rule}", name=name, resolver=resolve))


def _delete(r: Record) -> Any:
    async def work(s: AsyncSession, pk: int) -> int:
        return await crud.delete_record(s, type_name=r.type_name, pk=pk)

    return work


def _named(name: str, field: Any) -> Any:
    field.python_name = name  # each resolver is called `resolve`; the type's attribute is the field name
    return field


RelatedMutations: Any = create_type(
    "RelatedMutations",
    [
        create("createCustomer", CUSTOMER, CREATE, inputs.CreateCustomerInput),
        update("updateCustomer", CUSTOMER, EDIT, inputs.UpdateCustomerInput),
        delete(
            "deleteCustomer", CUSTOMER, DELETE, f"{IN_USE} Its contacts and leads stay and lose the link."
        ),
        create("createContact", CONTACT, CREATE, inputs.CreateContactInput),
        update("updateContact", CONTACT, EDIT, inputs.UpdateContactInput),
        delete(
            "deleteContact",
            CONTACT,
            DELETE,
            f"{IN_USE} That is as primary contact, referrer, agent or participant; its leads lose the link.",
        ),
        create("createLead", LEAD, CREATE, inputs.CreateLeadInput),
        update("updateLead", LEAD, EDIT, inputs.UpdateLeadInput),
        delete("deleteLead", LEAD, DELETE, IN_USE),
        create("createPipeline", PIPELINE, ADMINISTER, inputs.CreatePipelineInput),
        update("updatePipeline", PIPELINE, ADMINISTER, inputs.UpdatePipelineInput),
        delete(
            "deletePipeline",
            PIPELINE,
            ADMINISTER,
            "Deletes its stages with it. Refused with a CONFLICT error while any deal sits in one of them.",
        ),
        create("createStage", STAGE, ADMINISTER, inputs.CreateStageInput),
        update("updateStage", STAGE, ADMINISTER, inputs.UpdateStageInput),
        delete("deleteStage", STAGE, ADMINISTER, f"{IN_USE} The pipeline's other stages close ranks."),
        create("createCloseReason", CLOSE_REASON, ADMINISTER, inputs.CreateCloseReasonInput),
        update("updateCloseReason", CLOSE_REASON, ADMINISTER, inputs.UpdateCloseReasonInput),
        delete(
            "deleteCloseReason",
            CLOSE_REASON,
            ADMINISTER,
            f"{IN_USE} That is as close reason or among the lost reasons.",
        ),
        create("createChannel", CHANNEL, ADMINISTER, inputs.CreateChannelInput),
        update("updateChannel", CHANNEL, ADMINISTER, inputs.UpdateChannelInput),
        delete("deleteChannel", CHANNEL, ADMINISTER, IN_USE),
        create("createOpportunityType", OPPORTUNITY_TYPE, ADMINISTER, inputs.CreateOpportunityTypeInput),
        update("updateOpportunityType", OPPORTUNITY_TYPE, ADMINISTER, inputs.UpdateOpportunityTypeInput),
        delete("deleteOpportunityType", OPPORTUNITY_TYPE, ADMINISTER, IN_USE),
    ],
)
