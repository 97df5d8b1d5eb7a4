"""A deal's to-many links: participants, lost reasons, access list, tags."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.crud import links as crud
from app.graphql.context import Info
from app.graphql.mutations.mutate import Ref, mutate, mutation
from app.graphql.mutations.opportunities import OpportunityPayload, deal_payload
from app.graphql.mutations.payloads import DealId, arg
from app.graphql.permissions import ADMINISTER, EDIT

Ids = list[strawberry.ID]


async def _change(
    info: Info, gid: strawberry.ID, work: Callable[[AsyncSession, int], Awaitable[Any]]
) -> OpportunityPayload:
    return await mutate(info, deal_payload, work, Ref("id", "Opportunity", gid))


@strawberry.type
class LinkMutations:
    @mutation(EDIT, "Add participants (contacts); ones already on the deal keep their place.")
    async def add_opportunity_contacts(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        contact_ids: Annotated[Ids, arg("Contacts to append, in order.")],
    ) -> OpportunityPayload:
        return await _change(
            info, id, lambda s, pk: crud.add_contacts(s, opportunity_id=pk, contact_gids=contact_ids)
        )

    @mutation(EDIT, "Remove participants; the rest keep their order. Ones not on the deal are ignored.")
    async def remove_opportunity_contacts(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        contact_ids: Annotated[Ids, arg("Contacts to take off the deal.")],
    ) -> OpportunityPayload:
        return await _change(
            info, id, lambda s, pk: crud.remove_contacts(s, opportunity_id=pk, contact_gids=contact_ids)
        )

    @mutation(EDIT, "Replace the ordered list of lost reasons; each must be a LOST reason.")
    async def set_opportunity_lost_reasons(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        close_reason_ids: Annotated[Ids, arg("The LOST reasons, most important first; [] clears them.")],
    ) -> OpportunityPayload:
        return await _change(
            info,
            id,
            lambda s, pk: crud.set_lost_reasons(s, opportunity_id=pk, reason_gids=close_reason_ids),
        )

    @mutation(ADMINISTER, "Make a deal private or public and set who may see it while private (admins only).")
    async def set_opportunity_access(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        is_private: Annotated[bool, arg("Visible only to its owner, these users and admins.")],
        user_ids: Annotated[Ids, arg("The users who may see it while private; replaces the list.")],
    ) -> OpportunityPayload:
        return await _change(
            info,
            id,
            lambda s, pk: crud.set_access(s, opportunity_id=pk, is_private=is_private, user_gids=user_ids),
        )

    @mutation(EDIT, "Replace the tags: trimmed, unique ignoring case, at most 20 of 64 characters.")
    async def set_opportunity_tags(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        tags: Annotated[list[str], arg("The tags, in order; [] clears them.")],
    ) -> OpportunityPayload:
        return await _change(info, id, lambda s, pk: crud.set_tags(s, opportunity_id=pk, tags=tags))
