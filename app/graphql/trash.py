"""The trash in the schema: `trashedOpportunities`, `restoreOpportunity`, `purgeOpportunity`.

Deleted deals are hidden everywhere by the tenancy hook (app/tenancy.py); the list here is the
one place that asks for them, by pointing its statements at the trash. Managers and up see it,
like they may delete; purging for good is an admin's.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from app import query
from app.crud import trash as crud
from app.graphql import registry
from app.graphql.common import Connection
from app.graphql.context import Info
from app.graphql.lists import ListArgs, root_connection
from app.graphql.mutations.mutate import Ref, mutate, mutation
from app.graphql.mutations.opportunities import OpportunityPayload, deal_payload
from app.graphql.mutations.payloads import DealId, DeletePayload, deleted
from app.graphql.opportunities import Opportunity, OpportunityFilter
from app.graphql.permissions import ADMINISTER, DELETE, needs
from app.tenancy import TRASHED

# the most recently deleted first
TRASH_ORDER = (("DELETED_AT", True),)
# the very type `opportunities` returns (a lazy reference, like every list's)
OpportunityConnection = Connection[registry.ref(Opportunity)]  # type: ignore[misc, valid-type]


@strawberry.type
class TrashQueries:
    @strawberry.field(
        description="Deals in the trash (deleted, not yet purged), the most recently deleted first; "
        "for managers and admins, with their line items, participants, tags and custom values.",
        extensions=[needs(DELETE)],
    )
    async def trashed_opportunities(
        self,
        info: Info,
        filter: Annotated[  # noqa: A002
            OpportunityFilter | None, strawberry.argument(description="Only trashed deals matching this.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Rows after this cursor (an edge's `cursor`).")
        ] = None,
    ) -> OpportunityConnection:  # type: ignore[valid-type]
        args = ListArgs(filter, None, query.PageArgs(first=first, after=after))
        return await root_connection(
            info, registry.get(Opportunity), args, default_order=TRASH_ORDER, trash=TRASHED
        )


@strawberry.type
class TrashMutations:
    @mutation(
        DELETE,
        "Bring a deal back from the trash as it was: its items, participants, tags, access list "
        "and custom values; in its stage at its old place when the column still reaches that far, "
        "else at the end (the column stays 1..n). Its version rises. Not in the trash: NOT_FOUND.",
    )
    async def restore_opportunity(self, info: Info, id: DealId) -> OpportunityPayload:  # noqa: A002
        return await mutate(
            info,
            deal_payload,
            lambda s, pk: crud.restore(s, opportunity_id=pk),
            Ref("id", "Opportunity", id),
        )

    @mutation(
        ADMINISTER,
        "Delete a deal in the trash for good, with everything hanging off it. A deal that is not "
        "in the trash is a CONFLICT error (delete it first).",
    )
    async def purge_opportunity(self, info: Info, id: DealId) -> DeletePayload:  # noqa: A002
        return await mutate(
            info,
            deleted("Opportunity"),
            lambda s, pk: crud.purge(s, opportunity_id=pk),
            Ref("id", "Opportunity", id),
        )
