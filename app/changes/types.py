"""The GraphQL face of the change log: OpportunityChange, FieldChange, StageVisit, StageFunnelRow."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.changes.feed import encode_cursor
from app.changes.kinds import ChangeKind
from app.graphql.context import Info
from app.ids import to_global_id

if TYPE_CHECKING:
    from app.graphql.opportunities import Opportunity
    from app.graphql.pipelines import Stage
    from app.graphql.users import User

strawberry.enum(ChangeKind, description="What a change did to a deal.")

Deal = Annotated["Opportunity", strawberry.lazy("app.graphql.opportunities")]
StageType_ = Annotated["Stage", strawberry.lazy("app.graphql.pipelines")]
UserType = Annotated["User", strawberry.lazy("app.graphql.users")]


def _user(info: Info, pk: int | None) -> Any:
    if pk is None:
        return None
    return info.context.loaders.by_id("User").load(pk)


@strawberry.type(description="One field a change changed: its value before and after.")
class FieldChange:
    field: str = strawberry.field(
        description="The Opportunity field's schema name: amount, stage, items, tags, customFields …"
    )
    old_value: str | None = strawberry.field(
        description="Before, in the field's GraphQL serialization (JSON text for a list); null = none."
    )
    new_value: str | None = strawberry.field(description="After, serialized like `oldValue`; null = none.")


@strawberry.type(
    description="One committed change of a deal: what changed, from what, to what, by whom, when."
)
class OpportunityChange:
    kind: ChangeKind = strawberry.field(description="CREATED, UPDATED or DELETED.")
    opportunity_id: strawberry.ID = strawberry.field(
        description="The deal's global id (still set after a delete)."
    )
    version: int = strawberry.field(description="The deal's version after this change.")
    at: datetime = strawberry.field(description="When the change was committed.")

    pk: strawberry.Private[int]
    seq: strawberry.Private[int | None]
    deal_pk: strawberry.Private[int]
    user_id: strawberry.Private[int | None]
    raw_changes: strawberry.Private[list[Any]]
    gone: strawberry.Private[bool]

    @classmethod
    def from_row(cls, row: Any, *, gone: bool = False) -> OpportunityChange:
        return cls(
            kind=ChangeKind(row.kind),
            opportunity_id=strawberry.ID(to_global_id("Opportunity", row.opportunity_id)),
            version=row.version,
            at=row.at,
            pk=row.id,
            seq=row.seq,
            deal_pk=row.opportunity_id,
            user_id=row.user_id,
            raw_changes=[] if gone else list(row.changes or []),
            gone=gone,
        )

    @strawberry.field(description="Opaque position in the change feed; pass as `after` to resume from here.")
    def cursor(self) -> str:
        return encode_cursor(self.seq or 0)

    @strawberry.field(description="What changed, in the order of the deal's fields.")
    def changes(self) -> list[FieldChange]:
        return [FieldChange(field=f, old_value=old, new_value=new) for f, old, new in self.raw_changes]

    @strawberry.field(
        description="The deal as it is now; null when deleted or no longer visible to the caller."
    )
    async def opportunity(self, info: Info) -> Deal | None:
        if self.gone or self.kind is ChangeKind.DELETED:
            return None
        found: Any = await info.context.loaders.by_id("Opportunity").load(self.deal_pk)
        return found

    @strawberry.field(description="Who made the change.")
    async def by(self, info: Info) -> UserType | None:
        found = _user(info, self.user_id)
        return None if found is None else await found


@strawberry.type(
    description="One stay of a deal in a stage: when it entered, when it left, who moved it there."
)
class StageVisit:
    entered_at: datetime = strawberry.field(description="When the deal entered the stage.")
    left_at: datetime | None = strawberry.field(
        description="When it moved to its next stage; null while there."
    )
    stage_pk: strawberry.Private[int]
    user_id: strawberry.Private[int | None]

    @strawberry.field(description="The stage.")
    async def stage(self, info: Info) -> StageType_:
        found: Any = await info.context.loaders.by_id("Stage").load(self.stage_pk)
        return found

    @strawberry.field(description="Who moved the deal into the stage (or created it there).")
    async def by(self, info: Info) -> UserType | None:
        found = _user(info, self.user_id)
        return None if found is None else await found


@strawberry.type(description="One stage of a pipeline's funnel over a window of time.")
class StageFunnelRow:
    entered: int = strawberry.field(description="Deals that entered the stage in the window.")
    advanced: int = strawberry.field(description="Of those, deals that left it for another OPEN stage.")
    won: int = strawberry.field(
        description="Of those, deals that left it for a WON stage or were marked won in it."
    )
    lost: int = strawberry.field(
        description="Of those, deals that left it for a LOST stage or were marked lost in it."
    )
    median_seconds_in_stage: int | None = strawberry.field(
        description="Median time in the stage over the visits that ended; null when none."
    )
    mean_seconds_in_stage: int | None = strawberry.field(
        description="Mean time in the stage over the visits that ended; null when none."
    )
    stage_pk: strawberry.Private[int]

    @strawberry.field(description="The stage.")
    async def stage(self, info: Info) -> StageType_:
        found: Any = await info.context.loaders.by_id("Stage").load(self.stage_pk)
        return found
