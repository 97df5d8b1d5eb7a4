"""Deal mutations: create one or many, update one or many, delete one or many."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from app.crud import opportunities as crud
from app.errors import ErrorCode
from app.graphql.common import UserError
from app.graphql.context import Info
from app.graphql.lists import filter_where
from app.graphql.mutations.inputs import CreateOpportunityInput, UpdateOpportunityInput
from app.graphql.mutations.mutate import Outcome, Ref, mutate, mutation
from app.graphql.mutations.payloads import (
    BulkPayload,
    DealId,
    DeletePayload,
    arg,
    bulk,
    deleted,
    given,
    load,
    present,
)
from app.graphql.opportunities import Opportunity, OpportunityFilter
from app.graphql.permissions import CREATE, DELETE, EDIT
from app.query import constrains
from app.validation import Invalid, Problems

DealFilter = Annotated[OpportunityFilter, arg("Which deals; it must constrain something.")]
LISTS = ("position", "contact_ids", "access_user_ids", "tags", "custom_fields", "items")


@strawberry.type(description="The result of a mutation of one deal.")
class OpportunityPayload:
    opportunity: Opportunity | None = strawberry.field(
        description="The deal as it is now; null when there were errors (or it is no longer visible)."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was written."
    )


@strawberry.type(description="The result of creating many deals at once.")
class OpportunitiesPayload:
    opportunities: list[Opportunity] = strawberry.field(
        description="The new deals, in input order; empty on errors."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems, at ['inputs', index, field]; when any, no deal was created."
    )


async def deal_payload(info: Info, outcome: Outcome[int]) -> OpportunityPayload:
    """The answer of a change to one deal (work returns its pk)."""
    return OpportunityPayload(opportunity=await load(info, Opportunity, outcome.value), errors=outcome.errors)


async def deals_payload(info: Info, outcome: Outcome[list[int]]) -> OpportunitiesPayload:
    # gathered, so the loader fetches them all in one statement
    found = await asyncio.gather(*(load(info, Opportunity, pk) for pk in outcome.value or []))
    return OpportunitiesPayload(opportunities=[o for o in found if o is not None], errors=outcome.errors)


def new_deal(data: CreateOpportunityInput) -> crud.NewDeal:
    fields = {k: v for k, v in present(data).items() if k not in LISTS}
    return crud.NewDeal(
        fields=fields,
        position=data.position,
        contact_ids=list(data.contact_ids or []),
        access_user_ids=list(data.access_user_ids or []),
        tags=list(data.tags or []),
        custom_fields=[(c.definition_id, c.value) for c in data.custom_fields or []],
        items=[present(i) for i in data.items or []],
    )


async def _where(info: Info, flt: Any) -> Any:
    """The filter's predicate, with every check lists make; refused when it constrains nothing
    at any depth (`{}`, `{title: {}}`, `{and: [{}]}` would all match every deal)."""
    where = await filter_where(info, flt)
    if not constrains(flt):

        def refuse(_: Any) -> Any:
            problems = Problems()
            problems.add(["filter"], ErrorCode.REQUIRED, "this filter would match every deal; say which ones")
            raise Invalid(problems.items)

        return refuse
    return lambda session: where


@strawberry.type
class OpportunityMutations:
    @mutation(CREATE, "Create a deal with its participants, tags, custom fields and line items.")
    async def create_opportunity(
        self,
        info: Info,
        input: Annotated[CreateOpportunityInput, arg("The new deal.")],  # noqa: A002
    ) -> OpportunityPayload:
        deal = new_deal(input)
        return await mutate(
            info, deal_payload, lambda s: _first(crud.create(s, deals=[deal], paths=[["input"]]))
        )

    @mutation(CREATE, "Create many deals: all of them, or none when any input has a problem.")
    async def create_opportunities(
        self, info: Info, inputs: Annotated[list[CreateOpportunityInput], arg("The new deals, at most 1000.")]
    ) -> OpportunitiesPayload:
        deals = [new_deal(i) for i in inputs]
        paths = [["inputs", str(i)] for i in range(len(deals))]
        return await mutate(info, deals_payload, lambda s: crud.create(s, deals=deals, paths=paths))

    @mutation(
        EDIT,
        "Change a deal. Omitted fields stay; null clears. With expectedVersion, a deal changed "
        "since that version is a CONFLICT error naming the current version, and nothing is written.",
    )
    async def update_opportunity(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        input: Annotated[UpdateOpportunityInput, arg("The changes.")],  # noqa: A002
        expected_version: Annotated[
            int | None, arg("The version the change is based on (optimistic concurrency).")
        ] = None,
    ) -> OpportunityPayload:
        changes = given(input)
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.update(s, opportunity_id=pk, given=changes, expected=expected_version),
            Ref("id", "Opportunity", id),
        )

    @mutation(
        EDIT, "Apply the same changes to every deal matching the filter (at most 1000), all or nothing."
    )
    async def update_opportunities(
        self,
        info: Info,
        filter: DealFilter,  # noqa: A002
        input: Annotated[UpdateOpportunityInput, arg("The changes, applied to each deal.")],  # noqa: A002
    ) -> BulkPayload:
        changes = given(input)
        where = await _where(info, filter)
        return await mutate(info, bulk, lambda s: crud.update_many(s, where=where(s), given=changes))

    @mutation(
        DELETE,
        "Move a deal to the trash: from then on it is not listed, counted or readable anywhere but "
        "`trashedOpportunities`, its column closes ranks, and `restoreOpportunity` brings it back as it was.",
    )
    async def delete_opportunity(self, info: Info, id: DealId) -> DeletePayload:  # noqa: A002
        return await mutate(
            info,
            deleted("Opportunity"),
            lambda s, pk: crud.delete_one(s, opportunity_id=pk),
            Ref("id", "Opportunity", id),
        )

    @mutation(DELETE, "Move every deal matching the filter to the trash; an empty filter is refused.")
    async def delete_opportunities(self, info: Info, filter: DealFilter) -> BulkPayload:  # noqa: A002
        where = await _where(info, filter)
        return await mutate(info, bulk, lambda s: crud.delete_many(s, where=where(s)))


async def _first(ids: Any) -> int:
    return (await ids)[0]
