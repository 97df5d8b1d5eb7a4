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
from app.graphql.mutations.mutate import Outcome, Ref, mutate, mutation
from app.graphql.mutations.opportunities import OpportunityPayload, deal_payload
from app.graphql.mutations.payloads import DeletePayload, arg, deleted, given, load, present
from app.graphql.opportunities import Opportunity
from app.graphql.permissions import EDIT

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


async def item_payload(info: Info, outcome: Outcome[tuple[int, int]]) -> OpportunityItemPayload:
    """The answer of a change to one line item (work returns the item's and its deal's pks)."""
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


async def _remove(s: AsyncSession, pk: int) -> int:
    await crud.remove(s, item_id=pk)
    return pk


@strawberry.type
class ItemMutations:
    @mutation(EDIT, "Add a line item to a deal, at `input.position` or last.")
    async def add_opportunity_item(
        self,
        info: Info,
        opportunity_id: OpportunityId,
        input: Annotated[OpportunityItemInput, arg("The new line item.")],  # noqa: A002
    ) -> OpportunityItemPayload:
        data = present(input)
        return await mutate(
            info,
            item_payload,
            lambda s, pk: _add(s, pk, data),
            Ref("opportunityId", "Opportunity", opportunity_id),
        )

    @mutation(
        EDIT, "Change a line item: omitted fields stay, null clears; amount is recomputed by the server."
    )
    async def update_opportunity_item(
        self,
        info: Info,
        id: ItemId,  # noqa: A002
        input: Annotated[OpportunityItemUpdateInput, arg("The changes.")],  # noqa: A002
    ) -> OpportunityItemPayload:
        data = given(input)
        return await mutate(
            info, item_payload, lambda s, pk: _update(s, pk, data), Ref("id", "OpportunityItem", id)
        )

    @mutation(EDIT, "Remove a line item; the others close ranks.")
    async def remove_opportunity_item(self, info: Info, id: ItemId) -> DeletePayload:  # noqa: A002
        return await mutate(info, deleted("OpportunityItem"), _remove, Ref("id", "OpportunityItem", id))

    @mutation(
        EDIT, "Put a deal's line items in this order; the list must hold each of its items exactly once."
    )
    async def reorder_opportunity_items(
        self,
        info: Info,
        opportunity_id: OpportunityId,
        item_ids: Annotated[list[strawberry.ID], arg("Every item of the deal, in the new order.")],
    ) -> OpportunityPayload:
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.reorder(s, opportunity_id=pk, item_gids=item_ids),
            Ref("opportunityId", "Opportunity", opportunity_id),
        )
