"""Inputs of the records around deals. Update inputs use `Maybe`: omitted stays, null clears."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry import Maybe

from app.graphql.enums import CloseReasonKind, LeadSource, StageType
from app.graphql.mutations.inputs import ID, f


@strawberry.input(description="A postal address; set as a whole, an omitted part is cleared.")
class AddressInput:
    street: str | None = f("Street and number.")
    city: str | None = f("City.")
    state: str | None = f("State, region or province.")
    postal_code: str | None = f("Postal code, at most 32 characters.")
    country: str | None = f("Country.")


@strawberry.input(description="A new customer (company, account).")
class CreateCustomerInput:
    name: str = strawberry.field(description="Company name, 1–255 characters.")
    website: str | None = f("Web site URL.")
    industry: str | None = f("Industry.")
    market_segment: str | None = f("Market segment.")
    territory: str | None = f("Sales territory.")
    customer_group: str | None = f("Customer group.")
    number_of_employees: int | None = f("Head count, ≥ 0.")
    annual_revenue: Decimal | None = f("Yearly revenue, ≥ 0.")
    phone: str | None = f("Main phone number.")
    address: AddressInput | None = f("Postal address.")


@strawberry.input(description="Changes to a customer: omitted fields stay, null clears.")
class UpdateCustomerInput:
    name: Maybe[str | None] = f("Company name; cannot be null.")
    website: Maybe[str | None] = f("Web site URL.")
    industry: Maybe[str | None] = f("Industry.")
    market_segment: Maybe[str | None] = f("Market segment.")
    territory: Maybe[str | None] = f("Sales territory.")
    customer_group: Maybe[str | None] = f("Customer group.")
    number_of_employees: Maybe[int | None] = f("Head count.")
    annual_revenue: Maybe[Decimal | None] = f("Yearly revenue.")
    phone: Maybe[str | None] = f("Main phone number.")
    address: Maybe[AddressInput | None] = f("Postal address, replaced as a whole.")


@strawberry.input(description="A new contact (a person on the customer side).")
class CreateContactInput:
    first_name: str | None = f("Given name.")
    last_name: str | None = f("Family name.")
    display_name: str | None = f("Name to show; default first and last name.")
    email: str | None = f("Email address.")
    phone: str | None = f("Phone number.")
    mobile: str | None = f("Mobile number.")
    whatsapp: str | None = f("WhatsApp number.")
    job_title: str | None = f("Job title.")
    is_company: bool | None = f("A company rather than a person; default false.")
    avatar_url: str | None = f("Picture URL.")
    customer_id: ID | None = f("The customer this person works for.")


@strawberry.input(description="Changes to a contact: omitted fields stay, null clears.")
class UpdateContactInput:
    first_name: Maybe[str | None] = f("Given name.")
    last_name: Maybe[str | None] = f("Family name.")
    display_name: Maybe[str | None] = f("Name to show; cannot be null.")
    email: Maybe[str | None] = f("Email address.")
    phone: Maybe[str | None] = f("Phone number.")
    mobile: Maybe[str | None] = f("Mobile number.")
    whatsapp: Maybe[str | None] = f("WhatsApp number.")
    job_title: Maybe[str | None] = f("Job title.")
    is_company: Maybe[bool | None] = f("A company rather than a person; cannot be null.")
    avatar_url: Maybe[str | None] = f("Picture URL.")
    customer_id: Maybe[ID | None] = f("The customer this person works for.")


@strawberry.input(description="A new lead.")
class CreateLeadInput:
    name: str = strawberry.field(description="Name of the lead, 1–255 characters.")
    source: LeadSource | None = f("Where it came from.")
    status: str | None = f("Qualification status, at most 64 characters.")
    customer_id: ID | None = f("Its customer.")
    contact_id: ID | None = f("The person behind it.")


@strawberry.input(description="Changes to a lead: omitted fields stay, null clears.")
class UpdateLeadInput:
    name: Maybe[str | None] = f("Name; cannot be null.")
    source: Maybe[LeadSource | None] = f("Where it came from.")
    status: Maybe[str | None] = f("Qualification status.")
    customer_id: Maybe[ID | None] = f("Its customer.")
    contact_id: Maybe[ID | None] = f("The person behind it.")


@strawberry.input(description="A new data channel.")
class CreateChannelInput:
    name: str = strawberry.field(description="Name, 1–255 characters.")
    type: str | None = f("Kind of channel, e.g. 'web'.")
    is_active: bool | None = f("Whether deals may come in through it; default true.")


@strawberry.input(description="Changes to a channel: omitted fields stay, null clears.")
class UpdateChannelInput:
    name: Maybe[str | None] = f("Name; cannot be null.")
    type: Maybe[str | None] = f("Kind of channel.")
    is_active: Maybe[bool | None] = f("Whether deals may come in through it; cannot be null.")


@strawberry.input(description="A new kind of deal.")
class CreateOpportunityTypeInput:
    name: str = strawberry.field(description="Name, 1–255 characters.")


@strawberry.input(description="Changes to an opportunity type.")
class UpdateOpportunityTypeInput:
    name: Maybe[str | None] = f("Name; cannot be null.")


@strawberry.input(description="A new close reason.")
class CreateCloseReasonInput:
    name: str = strawberry.field(description="The reason, 1–255 characters.")
    kind: CloseReasonKind = strawberry.field(description="Whether it explains a win or a loss.")


@strawberry.input(description="Changes to a close reason: omitted fields stay.")
class UpdateCloseReasonInput:
    name: Maybe[str | None] = f("The reason; cannot be null.")
    kind: Maybe[CloseReasonKind | None] = f("Win or loss; changes only while no deal uses the reason.")


@strawberry.input(description="A new pipeline (board); add its stages with createStage.")
class CreatePipelineInput:
    name: str = strawberry.field(description="Name, 1–255 characters.")
    currency: str | None = f("ISO 4217 code its deals are usually in.")


@strawberry.input(description="Changes to a pipeline: omitted fields stay, null clears.")
class UpdatePipelineInput:
    name: Maybe[str | None] = f("Name; cannot be null.")
    currency: Maybe[str | None] = f("ISO 4217 code.")


@strawberry.input(description="A new stage (board column) of a pipeline.")
class CreateStageInput:
    pipeline_id: ID = strawberry.field(description="The pipeline it belongs to.")
    name: str = strawberry.field(description="Name, 1–255 characters.")
    description: str | None = f("What the stage means.")
    color: str | None = f("Display color, #rgb or #rrggbb.")
    position: int | None = f("Place in the pipeline, 1 first; default last.")
    probability: int | None = f("Default win probability of its deals, 0–100; default 0.")
    type: StageType | None = f("OPEN (default), or WON/LOST for closing stages.")


@strawberry.input(description="Changes to a stage: omitted fields stay, null clears.")
class UpdateStageInput:
    name: Maybe[str | None] = f("Name; cannot be null.")
    description: Maybe[str | None] = f("What the stage means.")
    color: Maybe[str | None] = f("Display color.")
    position: Maybe[int | None] = f("Move to this place in the pipeline; the others close ranks.")
    probability: Maybe[int | None] = f("Default probability for deals entering it; cannot be null.")
    type: Maybe[StageType | None] = f("OPEN, WON or LOST; changes only while the stage is empty.")
