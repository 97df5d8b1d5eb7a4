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
from app.graphql.mutations.payloads import (
    BulkPayload,
    DealId,
    DeletePayload,
    Outcome,
    arg,
    bulk,
    deleted,
    given,
    load,
    not_found,
    pk_of,
    present,
    run,
)
from app.graphql.opportunities import Opportunity, OpportunityFilter
from app.graphql.permissions import CREATE, DELETE, EDIT, require
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


async def opportunity_payload(info: Info, outcome: Outcome[int]) -> OpportunityPayload:
    return OpportunityPayload(opportunity=await load(info, Opportunity, outcome.value), errors=outcome.errors)


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
    @strawberry.mutation(
        description="Create a deal with its participants, tags, custom fields and line items."
    )
    async def create_opportunity(
        self,
        info: Info,
        input: Annotated[CreateOpportunityInput, arg("The new deal.")],  # noqa: A002
    ) -> OpportunityPayload:
        require(info, CREATE)
        deal = new_deal(input)
        outcome = await run(info, lambda s: _first(crud.create(s, deals=[deal], paths=[["input"]])))
        return await opportunity_payload(info, outcome)

    @strawberry.mutation(description="Create many deals: all of them, or none when any input has a problem.")
    async def create_opportunities(
        self, info: Info, inputs: Annotated[list[CreateOpportunityInput], arg("The new deals, at most 1000.")]
    ) -> OpportunitiesPayload:
        require(info, CREATE)
        deals = [new_deal(i) for i in inputs]
        paths = [["inputs", str(i)] for i in range(len(deals))]
        outcome = await run(info, lambda s: crud.create(s, deals=deals, paths=paths))
        # gathered, so the loader fetches them all in one statement
        found = await asyncio.gather(*(load(info, Opportunity, pk) for pk in outcome.value or []))
        return OpportunitiesPayload(opportunities=[o for o in found if o is not None], errors=outcome.errors)

    @strawberry.mutation(
        description="Change a deal. Omitted fields stay; null clears. With expectedVersion, a deal changed "
        "since that version is a CONFLICT error naming the current version, and nothing is written."
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
        require(info, EDIT)
        pk = pk_of("Opportunity", id)
        if pk is None:
            return OpportunityPayload(opportunity=None, errors=not_found("id", "Opportunity", id).errors)
        changes = given(input)
        outcome = await run(
            info, lambda s: crud.update(s, opportunity_id=pk, given=changes, expected=expected_version)
        )
        return await opportunity_payload(info, outcome)

    @strawberry.mutation(
        description="Apply the same changes to every deal matching the filter (at most 1000), all or nothing."
    )
    async def update_opportunities(
        self,
        info: Info,
        filter: DealFilter,  # noqa: A002
        input: Annotated[UpdateOpportunityInput, arg("The changes, applied to each deal.")],  # noqa: A002
    ) -> BulkPayload:
        require(info, EDIT)
        changes = given(input)
        where = await _where(info, filter)
        outcome = await run(info, lambda s: crud.update_many(s, where=where(s), given=changes))
        return bulk(outcome)

    @strawberry.mutation(description="Delete a deal with its line items, custom field values and links.")
    async def delete_opportunity(self, info: Info, id: DealId) -> DeletePayload:  # noqa: A002
        require(info, DELETE)
        pk = pk_of("Opportunity", id)
        if pk is None:
            return deleted("Opportunity", not_found("id", "Opportunity", id))
        return deleted("Opportunity", await run(info, lambda s: crud.delete_one(s, opportunity_id=pk)))

    @strawberry.mutation(description="Delete every deal matching the filter; an empty filter is refused.")
    async def delete_opportunities(self, info: Info, filter: DealFilter) -> BulkPayload:  # noqa: A002
        require(info, DELETE)
        where = await _where(info, filter)
        return bulk(await run(info, lambda s: crud.delete_many(s, where=where(s))))


async def _first(ids: Any) -> int:
    return (await ids)[0]  # type: ignore[no-any-return]
