"""The read side of the feed: an organization's changes after a cursor, as one caller may see them.

A change is evaluated on the deal's two states it records (`before`, `after`), with the same
compiled filter and the same privacy rule (`tenancy.opportunity_visible`) as every other read,
rewritten from the `opportunity` table onto those states: one statement over a batch of
changes. Links and lists inside a filter (a stage's name, tags, the access list) are read as
they are now; the deal's own columns as they were.

    visible after, filter matches before or after     → delivered whole
    visible before only, filter matched before        → delivered once as gone: no deal, no fields
    DELETED: visible before and matched before        → delivered (no deal)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Integer, String, case, literal, select, true, union_all
from sqlalchemy.sql.util import ClauseAdapter

from app import models as m
from app import query
from app.changes import fields
from app.changes.kinds import ChangeKind
from app.errors import BadUserInput
from app.tenancy import Principal, opportunity_visible

CH = m.OpportunityChange
O_TABLE = m.Opportunity.__table__
# a page scans at most this many changes per change it hands out, and never more than SCAN_MAX:
# a filter that matches little costs a bounded read per page, and the cursor still moves on
SCAN_PER_ITEM = 10
SCAN_MAX = 2000
BATCH = 100


class Reader(Protocol):
    """What the feed reads through: `Database` (a request's snapshot) or a mutation's session."""

    async def rows(self, stmt: Any) -> Sequence[Any]: ...


# the feed's cursors are the API's own keyset cursors, over the one key `seq`
FEED_KEYS = [query.OrderKey(CH.seq)]


def encode_cursor(seq: int) -> str:
    return query.encode_cursor(FEED_KEYS, [seq])


def decode_cursor(cursor: str | None, arg: str = "after") -> int:
    """The feed position a cursor names (0 for none); BAD_USER_INPUT when it is not a feed cursor."""
    if cursor is None:
        return 0
    (seq,) = query.decode_cursor(FEED_KEYS, cursor, arg)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadUserInput(f"`{arg}` is not a position in the change feed", argument=arg)
    return seq


@dataclass(frozen=True)
class Delivery:
    """One change as a caller receives it: `gone` when the deal left the caller's sight by it."""

    row: Any  # the opportunity_change row
    gone: bool

    @property
    def seq(self) -> int:
        return int(self.row.seq)


@dataclass(frozen=True)
class Page:
    deliveries: list[Delivery]
    last_seq: int  # the last position scanned: where the next page starts
    more: bool  # the feed went on past what was scanned


async def changes_after(
    reader: Reader, principal: Principal, after: int, first: int, where: Any = None
) -> Page:
    """Up to `first` changes after position `after` that `principal` may see and `where` selects.

    `where` is a compiled OpportunityFilter predicate on the `opportunity` table (None: all).
    Scans at most min(first × SCAN_PER_ITEM, SCAN_MAX) changes, in batches.
    """
    budget = max(BATCH, min(first * SCAN_PER_ITEM, SCAN_MAX))
    out: list[Delivery] = []
    last = after
    while len(out) < first and budget > 0:
        size = min(BATCH, budget)
        stmt = select(*fields_of_change()).where(CH.seq > last).order_by(CH.seq).limit(size + 1)
        rows = list(await reader.rows(stmt))
        more = len(rows) > size
        rows = rows[:size]
        budget -= len(rows)
        if not rows:
            return Page(out, last, False)
        verdicts = await judge(reader, principal, rows, where)
        for row in rows:
            last = int(row.seq)
            delivered = decide(row, verdicts.get(row.id, {}))
            if delivered is not None:
                out.append(delivered)
                if len(out) == first:
                    break
        if not more and last == int(rows[-1].seq):
            return Page(out, last, False)
    return Page(out, last, True)


def fields_of_change() -> tuple[Any, ...]:
    return tuple(getattr(CH, c.key) for c in CH.__table__.columns)


def decide(row: Any, v: dict[str, tuple[bool, bool]]) -> Delivery | None:
    """Whether and how a change reaches the caller, from (visible, matches) of each state."""
    vis_b, match_b = v.get("b", (False, False))
    vis_a, match_a = v.get("a", (False, False))
    if row.kind == ChangeKind.DELETED:
        return Delivery(row, False) if vis_b and match_b else None
    if vis_a and (match_a or (vis_b and match_b)):
        return Delivery(row, False)
    if vis_b and not vis_a and match_b:
        return Delivery(row, True)
    return None


async def judge(
    reader: Reader, principal: Principal, rows: Sequence[Any], where: Any
) -> dict[int, dict[str, tuple[bool, bool]]]:
    """(visible, matches) of each recorded state of each change, in one statement."""
    states = [
        (row.id, phase, state) for row in rows for phase, state in (("b", row.before), ("a", row.after))
    ]
    states = [s for s in states if s[2] is not None]
    if not states:
        return {}
    snaps = union_all(*(_state(cid, phase, state) for cid, phase, state in states)).subquery("snap")
    adapter = ClauseAdapter(
        snaps, include_fn=lambda c: getattr(c, "table", None) is O_TABLE, adapt_on_names=True
    )
    visible = adapter.traverse(
        (m.Opportunity.organization_id == principal.organization_id) & opportunity_visible(principal)
    )
    matches = adapter.traverse(true() if where is None else where)
    stmt = select(
        snaps.c.change_id,
        snaps.c.phase,
        case((visible, 1), else_=0).label("visible"),
        case((matches, 1), else_=0).label("matches"),
    )
    out: dict[int, dict[str, tuple[bool, bool]]] = {}
    for r in await reader.rows(stmt):
        out.setdefault(int(r.change_id), {})[r.phase] = (bool(r.visible), bool(r.matches))
    return out


def _state(change_id: int, phase: str, state: dict[str, Any]) -> Any:
    values = fields.revive(state)
    cols = [literal(change_id, Integer).label("change_id"), literal(phase, String).label("phase")]
    cols += [literal(values[c.key], c.type).label(c.key) for c in O_TABLE.columns]
    return select(*cols)
