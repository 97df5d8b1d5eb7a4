"""Line item mutations: add, change, remove, reorder; each bumps the deal's version."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.crud import items as crud
from app.graphql.common import UserError
from app.graphql.context import Info
from app.graphql.items import OpportunityItem
from app.graphql.mutations.inputs import OpportunityItemInput, OpportunityItemUpdateInput
from app.graphql.mutations.opportunities import OpportunityPayload, opportunity_payload
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
from app.graphql.opportunities import Opportunity
from app.graphql.permissions import EDIT, require

ItemId = Annotated[strawberry.ID, arg("Global id of the line item.")]
OpportunityId = Annotated[strawberry.ID, arg("Global id of the deal.")]


@strawberry.type(description="The result of a change to one line item.")
class OpportunityItemPayload:
    opportunity_item: OpportunityItem | None = strawberry.field(
        description="The line item as it is now; null when there were errors."
    )
    opportunity: Opportunity | None = strawberry.field(
        description="Its deal as it is now (new version, itemsTotal); null when there were errors."
    )
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was written."
    )


async def _payload(info: Info, outcome: Outcome[tuple[int, int]]) -> OpportunityItemPayload:
    item_id, deal_id = outcome.value or (None, None)
    return OpportunityItemPayload(
        opportunity_item=await load(info, OpportunityItem, item_id),
        opportunity=await load(info, Opportunity, deal_id),
        errors=outcome.errors,
    )


async def _add(s: AsyncSession, pk: int, data: dict[str, Any]) -> tuple[int, int]:
    return await crud.add(s, opportunity_id=pk, given=data), pk


async def _update(s: AsyncSession, pk: int, data: dict[str, Any]) -> tuple[int, int]:
    return pk, await crud.update(s, item_id=pk, given=data)


@strawberry.type
class ItemMutations:
    @strawberry.mutation(description="Add a line item to a deal, at `input.position` or last.")
    async def add_opportunity_item(
        self,
        info: Info,
        opportunity_id: OpportunityId,
        input: Annotated[OpportunityItemInput, arg("The new line item.")],  # noqa: A002
    ) -> OpportunityItemPayload:
        require(info, EDIT)
        pk = pk_of("Opportunity", opportunity_id)
        if pk is None:
            return await _payload(info, not_found("opportunityId", "Opportunity", opportunity_id))
        data = present(input)
        return await _payload(info, await run(info, lambda s: _add(s, pk, data)))

    @strawberry.mutation(
        description="Change a line item: omitted fields stay, null clears; amount is recomputed by the server."
    )
    async def update_opportunity_item(
        self,
        info: Info,
        id: ItemId,  # noqa: A002
        input: Annotated[OpportunityItemUpdateInput, arg("The changes.")],  # noqa: A002
    ) -> OpportunityItemPayload:
        require(info, EDIT)
        pk = pk_of("OpportunityItem", id)
        if pk is None:
            return await _payload(info, not_found("id", "OpportunityItem", id))
        data = given(input)
        return await _payload(info, await run(info, lambda s: _update(s, pk, data)))

    @strawberry.mutation(description="Remove a line item; the others close ranks.")
    async def remove_opportunity_item(self, info: Info, id: ItemId) -> DeletePayload:  # noqa: A002
        require(info, EDIT)
        pk = pk_of("OpportunityItem", id)
        if pk is None:
            return deleted("OpportunityItem", not_found("id", "OpportunityItem", id))

        async def work(s: AsyncSession) -> int:
            await crud.remove(s, item_id=pk)
            return pk

        return deleted("OpportunityItem", await run(info, work))

    @strawberry.mutation(
        description="Put a deal's line items in this order; the list must hold each of its items exactly once."
    )
    async def reorder_opportunity_items(
        self,
        info: Info,
        opportunity_id: OpportunityId,
        item_ids: Annotated[list[strawberry.ID], arg("Every item of the deal, in the new order.")],
    ) -> OpportunityPayload:
        require(info, EDIT)
        pk = pk_of("Opportunity", opportunity_id)
        if pk is None:
            return await opportunity_payload(info, not_found("opportunityId", "Opportunity", opportunity_id))
        outcome = await run(info, lambda s: crud.reorder(s, opportunity_id=pk, item_gids=item_ids))
        return await opportunity_payload(info, outcome)
