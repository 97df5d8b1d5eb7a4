"""upsertOpportunities: create or update deals by (source, externalId), all or nothing."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.inputs import UpdateOpportunityInput
from app.graphql.mutations.mutate import Outcome, mutate, mutation
from app.graphql.mutations.opportunities import OpportunitiesPayload, deals_payload
from app.graphql.mutations.payloads import arg, given
from app.graphql.permissions import CREATE
from app.interop.upsert import UpsertDeal, Upserted, upsert


@strawberry.input(
    description="A deal keyed by its id in another system: every field of UpdateOpportunityInput. "
    "A new key creates the deal by the create rules (title required, required custom fields); a known "
    "one updates it by the update rules (omitted fields stay, null clears)."
)
class UpsertOpportunityInput(UpdateOpportunityInput):
    external_id: str = strawberry.field(description="The deal's id in `source`, 1–255 characters.")


async def _payload(info: Info, outcome: Outcome[list[Upserted]]) -> OpportunitiesPayload:
    return await deals_payload(info, Outcome([u.id for u in outcome.value or []], outcome.errors))


@strawberry.type
class UpsertMutations:
    @mutation(
        CREATE,
        "Create or update deals matched by (source, externalId) in the caller's organization, at most "
        "1000; all or nothing. Two concurrent upserts of one new key make one deal.",
    )
    async def upsert_opportunities(
        self,
        info: Info,
        # not `source`: strawberry's extensions take the parent object by that name
        source_: Annotated[
            str,
            strawberry.argument(
                name="source", description='The system the external ids belong to, e.g. "apideck".'
            ),
        ],
        inputs: Annotated[list[UpsertOpportunityInput], arg("The deals, in order, at most 1000.")],
    ) -> OpportunitiesPayload:
        items = [
            UpsertDeal(i.external_id, {k: v for k, v in given(i).items() if k != "external_id"})
            for i in inputs
        ]
        paths = [["inputs", str(i)] for i in range(len(items))]
        return await mutate(info, _payload, lambda s: upsert(s, source=source_, deals_in=items, paths=paths))
