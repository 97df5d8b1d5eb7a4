"""The pipeline board: move a card, mark it won or lost, reopen it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.crud import board as crud
from app.enums import CloseReasonKind
from app.graphql.context import Info
from app.graphql.mutations.mutate import Ref, mutate, mutation
from app.graphql.mutations.opportunities import OpportunityPayload, deal_payload
from app.graphql.mutations.payloads import DealId, arg
from app.graphql.permissions import EDIT

StageId = Annotated[strawberry.ID, arg("Global id of the target stage (board column).")]
ReasonId = Annotated[strawberry.ID | None, arg("Why: a close reason of the matching kind.")]
ClosedAt = Annotated[datetime | None, arg("When it closed; default now.")]


async def _close(
    info: Info,
    gid: strawberry.ID,
    kind: CloseReasonKind,
    reason: strawberry.ID | None,
    closed_at: datetime | None,
) -> OpportunityPayload:
    return await mutate(
        info,
        deal_payload,
        lambda s, pk: crud.close(s, opportunity_id=pk, kind=kind, reason_gid=reason, closed_at=closed_at),
        Ref("id", "Opportunity", gid),
    )


@strawberry.type
class BoardMutations:
    @mutation(
        EDIT,
        "Move a deal to a place in a column, also across pipelines; positions stay 1..n in "
        "both columns. Status follows the stage's type and probability its default. The deal's version "
        "rises, and so does each card that shifts place in either column: each gets a change of its "
        "`position` in the history, the feed and opportunityChanged, written in the same transaction.",
    )
    async def move_opportunity(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        stage_id: StageId,
        position: Annotated[
            int | None, arg("Place in the column, 1 first; omitted or past the end: last.")
        ] = None,
    ) -> OpportunityPayload:
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.move(s, opportunity_id=pk, stage_gid=stage_id, position=position),
            Ref("id", "Opportunity", id),
        )

    @mutation(
        EDIT,
        "Mark a deal WON: status, closedAt and a WON close reason; it moves to its pipeline's "
        "first WON stage when there is one (probability follows that stage, else 100).",
    )
    async def mark_opportunity_won(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        close_reason_id: ReasonId = None,
        closed_at: ClosedAt = None,
    ) -> OpportunityPayload:
        return await _close(info, id, CloseReasonKind.WON, close_reason_id, closed_at)

    @mutation(
        EDIT,
        "Mark a deal LOST: status, closedAt and a LOST close reason; it moves to its pipeline's "
        "first LOST stage when there is one (probability follows that stage, else 0).",
    )
    async def mark_opportunity_lost(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        close_reason_id: ReasonId = None,
        closed_at: ClosedAt = None,
    ) -> OpportunityPayload:
        return await _close(info, id, CloseReasonKind.LOST, close_reason_id, closed_at)

    @mutation(
        EDIT,
        "Make a closed deal OPEN again: closedAt and close reason are cleared. It moves to "
        "`stageId` (an OPEN stage), or, when it sits in a WON/LOST stage, to its pipeline's last OPEN stage.",
    )
    async def reopen_opportunity(
        self,
        info: Info,
        id: DealId,  # noqa: A002
        stage_id: Annotated[strawberry.ID | None, arg("An OPEN stage to put it in.")] = None,
    ) -> OpportunityPayload:
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.reopen(s, opportunity_id=pk, stage_gid=stage_id),
            Ref("id", "Opportunity", id),
        )
