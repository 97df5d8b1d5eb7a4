"""What one organization's demo rows draw from: references to its rows, ids, pending rows, and loading them."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from app.demo.words import (
    CUSTOM_FIELDS,
    LOST,
    OPEN,
    PIPELINES,
    WON,
)

Row = dict[str, Any]

BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
TWO_YEARS = timedelta(days=730)
CHUNK = 5000  # opportunities per transaction, and rows per executemany
TABLES: dict[str, Table] = dict(SQLModel.metadata.tables)
CENT, YEN = Decimal("0.01"), Decimal(1)

# ---------------------------------------------------------------------------
# What one organization's opportunities draw from
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedReport:
    """What `seed_demo` did: the organizations it filled, rows inserted per table, wall time."""

    organizations: list[tuple[int, str]]
    counts: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        orgs = ", ".join(f"{name} (id {id_})" for id_, name in self.organizations)
        rows = ", ".join(f"{table} {n}" for table, n in self.counts.items())
        return f"seeded {orgs} in {self.seconds:.1f}s: {rows}"


class StageRef(NamedTuple):
    id: int
    type: str
    probability: int


@dataclass
class PipelineRef:
    id: int
    currency: str
    kinds: Sequence[str]  # deal kinds, for titles
    type_name: str  # the opportunity type most of its deals have
    stages: list[StageRef]
    open: list[StageRef] = field(init=False)
    open_weights: list[int] = field(init=False)
    won: StageRef | None = field(init=False)
    lost: StageRef | None = field(init=False)

    def __post_init__(self) -> None:
        # A pipeline without open stages still gets cards: they then land in its closed ones.
        self.open = [s for s in self.stages if s.type == OPEN] or self.stages
        # early stages hold more cards than late ones
        self.open_weights = list(accumulate(range(len(self.open), 0, -1)))
        self.won = next((s for s in self.stages if s.type == WON), None)
        self.lost = next((s for s in self.stages if s.type == LOST), None)


class FieldRef(NamedTuple):
    id: int
    type: str
    options: list[str] | None
    always: bool  # every demo deal gets a value: a required field, or one the demo always fills


class Product(NamedTuple):
    code: str
    name: str
    group: str
    brand: str
    uom: str
    usd_price: Decimal
    description: str | None
    image_url: str | None


@dataclass
class CustomerRef:
    id: int
    name: str
    city: str
    contacts: list[int] = field(default_factory=list)  # people only, not company contacts
    first_names: list[str] = field(default_factory=list)
    leads: list[tuple[int, datetime, str]] = field(default_factory=list)  # id, created_at, source


@dataclass
class OrgRef:
    id: int
    name: str
    currency: str
    emails: dict[str, int] = field(default_factory=dict)  # existing users, reused rather than clashed with
    users: list[int] = field(default_factory=list)
    user_weights: list[int] = field(default_factory=list)
    pipelines: list[PipelineRef] = field(default_factory=list)
    pipeline_weights: list[int] = field(default_factory=list)
    reasons: dict[str, list[int]] = field(default_factory=lambda: {WON: [], LOST: []})
    channels: dict[str, int] = field(default_factory=dict)  # active ones only
    types: dict[str, int] = field(default_factory=dict)
    fields: list[FieldRef] = field(default_factory=list)
    customers: list[CustomerRef] = field(default_factory=list)
    agents: list[int] = field(default_factory=list)
    catalog: list[Product] = field(default_factory=list)
    positions: Counter[int] = field(default_factory=Counter)  # last card position per stage

    @property
    def domain(self) -> str:
        return f"{slug(self.name, '-')}.example"

    @property
    def brand(self) -> str:
        return self.name.split()[0]


class Ids:
    """Primary keys handed out above each table's current maximum."""

    def __init__(self, last: dict[str, int]) -> None:
        self._last = last

    def take(self, table: str) -> int:
        self._last[table] += 1
        return self._last[table]


class Pending:
    """Rows waiting to be written, per table; `flush` inserts them in foreign-key order."""

    def __init__(self) -> None:
        self.rows: defaultdict[str, list[Row]] = defaultdict(list)
        self.counts: Counter[str] = Counter()

    async def flush(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            for table in SQLModel.metadata.sorted_tables:
                rows = self.rows.pop(table.name, [])
                for start in range(0, len(rows), CHUNK):
                    await conn.execute(insert(table), rows[start : start + CHUNK])
                self.counts[table.name] += len(rows)


# ---------------------------------------------------------------------------
# An existing organization: what new opportunities reuse
# ---------------------------------------------------------------------------


async def load_organization(conn: AsyncConnection, name: str) -> OrgRef | None:
    t = TABLES["organization"]
    found = (await conn.execute(select(t.c.id, t.c.base_currency).where(t.c.name == name))).first()
    if found is None:
        return None
    org = OrgRef(found.id, name, found.base_currency)
    org.emails = dict(await pairs(conn, "user", "email", "id", org.id))
    for kind, reason_id in await pairs(conn, "close_reason", "kind", "id", org.id):
        org.reasons.setdefault(kind, []).append(reason_id)
    org.channels = dict(await pairs(conn, "channel", "name", "id", org.id, only="is_active"))
    org.types = dict(await pairs(conn, "opportunity_type", "name", "id", org.id))
    org.pipelines = await load_pipelines(conn, org.id)
    org.fields = await load_fields(conn, org.id)
    org.positions = await load_positions(conn, org.id)
    return org


async def pairs(
    conn: AsyncConnection, table: str, key: str, value: str, org_id: int, only: str | None = None
) -> list[tuple[Any, Any]]:
    t = TABLES[table]
    query = select(t.c[key], t.c[value]).where(t.c.organization_id == org_id).order_by(t.c[value])
    if only is not None:
        query = query.where(t.c[only].is_(True))
    return [(k, v) for k, v in (await conn.execute(query)).all()]


async def load_pipelines(conn: AsyncConnection, org_id: int) -> list[PipelineRef]:
    """Pipelines with at least one stage, their stages in board order."""
    p, s = TABLES["pipeline"], TABLES["stage"]
    query = (
        select(p.c.id, p.c.name, p.c.currency, s.c.id.label("stage_id"), s.c.type, s.c.probability)
        .join(s, s.c.pipeline_id == p.c.id)
        .where(p.c.organization_id == org_id)
        .order_by(p.c.id, s.c.position, s.c.id)
    )
    heads: dict[int, Any] = {}
    stages: defaultdict[int, list[StageRef]] = defaultdict(list)
    for row in (await conn.execute(query)).all():
        heads.setdefault(row.id, row)
        stages[row.id].append(StageRef(row.stage_id, row.type, row.probability))
    return [pipeline_ref(pid, head.name, head.currency, stages[pid]) for pid, head in heads.items()]


def pipeline_ref(pid: int, name: str, currency: str | None, stages: list[StageRef]) -> PipelineRef:
    # a pipeline this module did not create gets the deal kinds of "New business"
    _, type_name, kinds, _ = next((p for p in PIPELINES if p[0] == name), PIPELINES[0])
    return PipelineRef(pid, currency or "USD", kinds, type_name, stages)


ALWAYS_FILLED = frozenset(label for label, _, _, always in CUSTOM_FIELDS if always)


async def load_fields(conn: AsyncConnection, org_id: int) -> list[FieldRef]:
    t = TABLES["custom_field_definition"]
    query = select(t.c.id, t.c.label, t.c.field_type, t.c.options, t.c.is_required)
    rows = (
        await conn.execute(query.where(t.c.organization_id == org_id).order_by(t.c.position, t.c.id))
    ).all()
    return [
        FieldRef(pk, kind, options, required or label in ALWAYS_FILLED)
        for pk, label, kind, options, required in rows
    ]


async def load_positions(conn: AsyncConnection, org_id: int) -> Counter[int]:
    t = TABLES["opportunity"]
    query = select(t.c.stage_id, func.max(t.c.position)).where(t.c.organization_id == org_id)
    rows = (await conn.execute(query.group_by(t.c.stage_id))).all()
    return Counter({stage: last or 0 for stage, last in rows if stage is not None})


def slug(text: str, sep: str = "") -> str:
    """ASCII, lower case, anything else collapsed into `sep`: for emails and domains."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", sep, plain).strip(sep)
