"""Import and export: a format's file streamed through its mapping, in batches of one transaction each.

Import reads the file one record at a time (bounded memory), and per batch: compares each
record whose key is known with the deal as it is now, seen through the same format
(equal: *unchanged*, nothing written); resolves the related records the rest name; and
upserts them by (format, record id) through `app.interop.upsert`, inside a savepoint. A
record the rules refuse is reported with its index and property and left out, and the
batch is tried again without it. `dry_run` runs all of it and rolls every batch back.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tqdm import tqdm

from app import models
from app.changes import record as changes
from app.crud.base import Retry
from app.db import Database, make_sessionmaker
from app.enums import BidType, LeadSource, Priority
from app.interop import keys, snapshot
from app.interop.formats import Format
from app.interop.records import LINKS, LIST_LINKS, BadValue, Record, Ref
from app.interop.resolve import Resolver
from app.interop.stream import ListWriter, items
from app.interop.upsert import UpsertDeal, upsert
from app.money import weighted
from app.tenancy import Principal
from app.validation import Invalid

m: Any = models  # the tables' columns, untyped: SQLModel types them as their values

BATCH = 500
ENUMS: dict[str, Any] = {"bid_type": BidType, "lead_source": LeadSource, "priority": Priority}
SCALAR_INPUTS = (
    "title", "description", "amount", "currency", "bid_type", "per_period_value", "probability",
    "conversion_rate", "expected_close_date", "lead_source", "priority", "interaction_count",
    "last_activity_at", "last_contacted_at",
)  # fmt: skip
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content")


@dataclass
class Outcome:
    """What the import did with one record: created, updated, unchanged or refused (and why)."""

    index: int
    id: str | None
    result: str
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "result": self.result}
        if self.problems:
            out["errors"] = self.problems
        return out


def _problem(prop: str, message: str, code: str = "INVALID", value: Any = None) -> dict[str, Any]:
    return {"property": prop, "message": message, "code": code, "attemptedValue": value}


def batched(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


# ---------------------------------------------------------------- import


async def import_file(
    db_sessions: Any,
    fmt: Format,
    path: Path,
    who: Principal,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    progress: bool = False,
    report: Callable[[Outcome], None] | None = None,
) -> Counter[str]:
    """Import every record of `path`; returns how many were created, updated, unchanged, refused."""
    side = {fmt.side_index(r): r for r in items(path, fmt.side_key)} if fmt.side_key else {}
    counts: Counter[str] = Counter()
    db = Database(db_sessions, who)
    resolver: Resolver | None = None
    with tqdm(desc=f"importing {fmt.name}", unit="deal", disable=not progress, file=sys.stderr) as bar:
        for chunk in batched(enumerate(items(path, fmt.list_key)), batch):
            for attempt in range(5):
                try:
                    async with db.transaction() as session:
                        if resolver is None:
                            resolver = Resolver(session, fmt.name)
                        resolver.rebind(session)
                        outcomes = await _import_batch(session, resolver, fmt, chunk, side)
                        if dry_run:
                            raise _RollBack
                    break
                except _RollBack:
                    assert resolver is not None
                    resolver.forget()  # nothing it made is there any more
                    break
                except Retry:  # a concurrent writer claimed one of the keys: the batch again
                    assert resolver is not None
                    resolver.forget()
                    if attempt == 4:
                        raise
            for o in outcomes:
                counts[o.result] += 1
                if report is not None:
                    report(o)
            bar.update(len(chunk))
    await db.close()
    return counts


class _RollBack(Exception):
    """Leaves a dry run's batch transaction by rolling it back."""


async def _import_batch(
    session: AsyncSession,
    resolver: Resolver,
    fmt: Format,
    chunk: list[tuple[int, Any]],
    side: dict[tuple[str, str], Any],
) -> list[Outcome]:
    outcomes: dict[int, Outcome] = {}
    recs: dict[int, Record] = {}
    for index, raw in chunk:
        try:
            rec = fmt.read(raw, side)
        except BadValue as exc:
            outcomes[index] = Outcome(
                index, _raw_id(raw), "refused", [_problem(exc.prop, str(exc), "INVALID", _plain(exc.value))]
            )
            continue
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # not the shape of a record at all
            outcomes[index] = Outcome(index, _raw_id(raw), "refused", [_problem("", f"unreadable: {exc!r}")])
            continue
        if rec.get("custom_fields"):  # a set of values: compared and exported by label
            rec["custom_fields"].sort(
                key=lambda c: (c["definition"].get("name") or "", c["definition"].get("id") or "")
            )
        if not rec.get("id"):
            outcomes[index] = Outcome(
                index, None, "refused", [_problem("id", "the record has no id", "REQUIRED")]
            )
            continue
        recs[index] = rec
    seen: dict[str, int] = {}
    for index, rec in list(recs.items()):
        if rec["id"] in seen:  # the second of two records with one id in a batch
            outcomes[index] = Outcome(
                index,
                rec["id"],
                "refused",
                [_problem("id", f"also the id of record {seen[rec['id']]}", "DUPLICATE", rec["id"])],
            )
            del recs[index]
        seen.setdefault(rec["id"], index)
    known = await keys.lookup(session, keys.DEAL, fmt.name, (r["id"] for r in recs.values()))
    current = await snapshot.records(session, fmt.name, sorted(set(known.values())))
    for index, rec in list(recs.items()):
        before = current.get(known.get(rec["id"], -1))
        if before is not None and _same(fmt, before, rec):
            outcomes[index] = Outcome(index, rec["id"], "unchanged")
            del recs[index]
    await resolver.resolve(_refs(recs.values()))
    for index, rec in list(recs.items()):
        problems = _unresolved(resolver, rec)
        if problems:
            outcomes[index] = Outcome(index, rec["id"], "refused", problems)
            del recs[index]
    while recs:
        order = sorted(recs)
        deals = [_upsert_deal(rec, resolver) for rec in (recs[i] for i in order)]
        noted = changes.mark(session)
        try:
            async with session.begin_nested():
                done = await upsert(
                    session,
                    source=fmt.name,
                    deals_in=deals,
                    paths=[["inputs", str(i)] for i in range(len(order))],
                )
        except Invalid as exc:
            changes.rewind(session, noted)
            refused = _by_input(exc, order)
            if not refused:
                raise
            for index, problems in refused.items():
                outcomes[index] = Outcome(index, recs[index]["id"], "refused", problems)
                del recs[index]
            continue
        for i, u in zip(order, done, strict=True):
            outcomes[i] = Outcome(i, recs[i]["id"], "created" if u.created else "updated")
        break
    await changes.write(session)  # the change log, as for a mutation: one change per deal written
    return [outcomes[i] for i in sorted(outcomes)]


def _raw_id(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for k in ("id", "ID", "Id"):
            if raw.get(k) is not None:
                return str(raw[k])
    return None


def _comparable(value: Any) -> Any:
    """A record without the resolver's bookkeeping (`_pk` …), for equality."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _same(fmt: Format, before: Record, rec: Record) -> bool:
    item, side = fmt.write(before)
    again = fmt.read(item, {fmt.side_index(r): r for r in side} if fmt.side_key else {})
    if again.get("custom_fields"):
        again["custom_fields"].sort(
            key=lambda c: (c["definition"].get("name") or "", c["definition"].get("id") or "")
        )
    # what the file says, and only that: a field it leaves out is not a change
    return all(_comparable(again.get(k)) == _comparable(v) for k, v in rec.items())


def _refs(recs: Iterable[Record]) -> dict[str, list[Ref]]:
    out: dict[str, list[Ref]] = {}
    for rec in recs:
        for fld, kind in LINKS.items():
            r = rec.get(fld)
            if r is not None:
                out.setdefault(kind, []).append(r)
                if kind == "Stage" and r.get("pipeline") is not None:
                    out.setdefault("Pipeline", []).append(r["pipeline"])
        for fld, kind in LIST_LINKS.items():
            out.setdefault(kind, []).extend(r for r in rec.get(fld) or [] if r is not None)
        for value in rec.get("custom_fields") or []:
            d = value["definition"]
            if value.get("value") is not None:
                d.setdefault("_values", [])
                if value["value"] not in d["_values"]:
                    d["_values"].append(value["value"])
            out.setdefault("CustomFieldDefinition", []).append(d)
    return out


def _unresolved(resolver: Resolver, rec: Record) -> list[dict[str, Any]]:
    problems = []
    for fld in [*LINKS, *LIST_LINKS]:
        value = rec.get(fld)
        for r in value if isinstance(value, list) else [value]:
            if r is not None and "_pk" not in r:
                why = resolver.failed.get(id(r))
                message = "; ".join(p.message for p in why) if why else "could not be matched or created"
                problems.append(
                    _problem(fld, f"{r.get('name') or r.get('id')!r}: {message}", "INVALID", r.get("id"))
                )
    return problems


def _upsert_deal(rec: Record, resolver: Resolver) -> UpsertDeal:
    given: dict[str, Any] = {}
    for k in SCALAR_INPUTS:
        if k in rec:
            v = rec[k]
            given[k] = ENUMS[k](v) if k in ENUMS and v is not None else v
    if any(k in rec for k in UTM):
        given["utm"] = SimpleNamespace(**{k[4:]: rec.get(k) for k in UTM})
    if "expected_revenue" in rec:
        computed = weighted(rec.get("amount"), rec.get("probability"))
        given["expected_revenue"] = None if rec["expected_revenue"] == computed else rec["expected_revenue"]
    for fld, kind in LINKS.items():
        if fld in rec:
            given[f"{fld}_id"] = resolver.gid(kind, rec[fld])
    if "is_private" in rec:
        given["is_private"] = bool(rec["is_private"])
    deal = UpsertDeal(str(rec["id"]), given)
    if "tags" in rec:
        deal.tags = list(rec["tags"])
    if "contacts" in rec:
        deal.contact_ids = [resolver.gid("Contact", r) for r in rec["contacts"]]
    if "lost_reasons" in rec:
        deal.lost_reason_ids = [resolver.gid("CloseReason", r) for r in rec["lost_reasons"]]
    if "access_list" in rec or "is_private" in rec:
        deal.access_user_ids = [resolver.gid("User", r) for r in rec.get("access_list") or []]
    if "custom_fields" in rec:
        deal.custom_fields = [
            (resolver.gid("CustomFieldDefinition", c["definition"]), c.get("value"))
            for c in rec["custom_fields"]
        ]
    if "items" in rec:
        deal.items = [dict(i) for i in rec["items"]]
    deal.position = rec.get("position")
    deal.closed_at = rec.get("closed_at")
    return deal


def _by_input(exc: Invalid, order: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The upsert's problems by record index; the property is the path after the input's index."""
    out: dict[int, list[dict[str, Any]]] = {}
    for p in exc.problems:
        path = list(p.field)
        if len(path) >= 2 and path[0] == "inputs" and path[1].isdigit() and int(path[1]) < len(order):
            prop = ".".join(path[2:])
            out.setdefault(order[int(path[1])], []).append(
                _problem(prop, p.message, p.code.value, _plain(p.attempted_value))
            )
    return out


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


# ---------------------------------------------------------------- export


async def export(
    db_sessions: Any,
    fmt: Format,
    who: Principal,
    out: IO[bytes],
    *,
    where: Any = None,
    batch: int = BATCH,
    progress: bool = False,
) -> int:
    """Write every visible deal matching `where` (a compiled filter), in board order; returns the count."""
    o = m.Opportunity
    db = Database(db_sessions, who)
    writer = ListWriter(out, fmt.list_key)
    side: dict[tuple[str, str], dict[str, Any]] = {}
    async with db.transaction() as session:  # one snapshot for the whole file
        cond = where if where is not None else o.id.is_not(None)
        total = int(await session.scalar(select(func.count()).select_from(o).where(cond)) or 0)
        stmt = select(o.id).where(cond).order_by(o.stage_id.is_(None).desc(), o.stage_id, o.position, o.id)
        ids = list((await session.execute(stmt)).scalars())
        with tqdm(
            total=total, desc=f"exporting {fmt.name}", unit="deal", disable=not progress, file=sys.stderr
        ) as bar:
            for chunk in batched(ids, batch):
                recs = await snapshot.records(session, fmt.name, chunk)
                for pk in chunk:
                    if pk in recs:
                        item, extra = fmt.write(recs[pk])
                        writer.add(item)
                        for r in extra:
                            side.setdefault(fmt.side_index(r), r)
                bar.update(len(chunk))
    tail = fmt.envelope(writer.count)
    if fmt.side_key:
        tail = {fmt.side_key: list(side.values()), **tail}
    writer.close(tail)
    await db.close()
    return writer.count


def sessions(engine: Any) -> Any:
    return make_sessionmaker(engine)
