"""The records around deals: customers, contacts, leads and the lookups admins manage.

One generic create/update/delete driven by a `Spec` per type. Deleting a record that
deals still use is a CONFLICT, except where a spec documents another rule. "Still use"
counts every deal of the organization, private ones too: the check reads the table with
an explicit organization predicate rather than through the visibility rule, so a
manager cannot strip a customer from deals they cannot see; it returns only a count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud.base import (
    camel,
    fail,
    fetch,
    fetch_all,
    insert_returning_ids,
    lock_row,
    now,
    principal,
    set_positions,
    write,
)
from app.crud.refs import Refs
from app.errors import ErrorCode, UserErrorData
from app.validation import Invalid, Problems

Check = Callable[[Problems, list[str], Any], Any]


def text(max_length: int = 255, *, required: bool = False) -> Check:
    return lambda p, path, v: p.text(path, v, required=required, max_length=max_length)


def _email(p: Problems, path: list[str], v: Any) -> Any:
    value = p.text(path, v, max_length=320)
    if value and ("@" not in value or value.startswith("@") or value.endswith("@") or " " in value):
        p.add(path, ErrorCode.INVALID, f"{v!r} is not an email address", v)
    return value or None


def _color(p: Problems, path: list[str], v: Any) -> Any:
    value = p.text(path, v, max_length=16)
    if value and not (
        value.startswith("#")
        and len(value) in (4, 7)
        and all(c in "0123456789abcdefABCDEF" for c in value[1:])
    ):
        p.add(path, ErrorCode.INVALID, f"{v!r} is not a color like #3366ff", v)
    return value or None


def _enum(_p: Problems, _path: list[str], v: Any) -> Any:
    return None if v is None else v.value


def _flag(_p: Problems, _path: list[str], v: Any) -> Any:
    return bool(v)


@dataclass(frozen=True)
class Spec:
    model: Any
    type_name: str
    checks: dict[str, Check]
    required: frozenset[str] = frozenset()  # must be given on create and cannot be null
    not_null: frozenset[str] = frozenset()  # may be omitted, cannot be null
    links: dict[str, str] = field(default_factory=dict)
    nested: dict[str, dict[str, int]] = field(default_factory=dict)  # input object -> its text columns
    used_by: tuple[Any, ...] = ()  # columns whose rows block a delete
    stamped: bool = False  # has created_at/updated_at


T = m.Opportunity.__table__
ADDRESS = {"street": 255, "city": 255, "state": 255, "postal_code": 32, "country": 255}

SPECS: dict[str, Spec] = {
    "Customer": Spec(
        m.Customer,
        "Customer",
        {
            "name": text(required=True),
            "website": text(2048),
            "industry": text(),
            "market_segment": text(),
            "territory": text(),
            "customer_group": text(),
            "number_of_employees": lambda p, path, v: p.integer(path, v, minimum=0, maximum=10_000_000),
            "annual_revenue": lambda p, path, v: p.money(path, v),
            "phone": text(64),
        },
        required=frozenset({"name"}),
        nested={"address": ADDRESS},
        used_by=(T.c.customer_id,),
        stamped=True,
    ),
    "Contact": Spec(
        m.Contact,
        "Contact",
        {
            "first_name": text(),
            "last_name": text(),
            "display_name": text(),
            "email": _email,
            "phone": text(64),
            "mobile": text(64),
            "whatsapp": text(64),
            "job_title": text(),
            "is_company": _flag,
            "avatar_url": text(2048),
        },
        not_null=frozenset({"display_name", "is_company"}),
        links={"customer_id": "Customer"},
        used_by=(T.c.contact_id, T.c.referrer_id, T.c.agent_id, m.OpportunityContact.__table__.c.contact_id),
        stamped=True,
    ),
    "Lead": Spec(
        m.Lead,
        "Lead",
        {"name": text(required=True), "source": _enum, "status": text(64)},
        required=frozenset({"name"}),
        links={"customer_id": "Customer", "contact_id": "Contact"},
        used_by=(T.c.lead_id,),
    ),
    "Channel": Spec(
        m.Channel,
        "Channel",
        {"name": text(required=True), "type": text(64), "is_active": _flag},
        required=frozenset({"name"}),
        not_null=frozenset({"is_active"}),
        used_by=(T.c.channel_id,),
    ),
    "OpportunityType": Spec(
        m.OpportunityType,
        "OpportunityType",
        {"name": text(required=True)},
        required=frozenset({"name"}),
        used_by=(T.c.type_id,),
    ),
    "CloseReason": Spec(
        m.CloseReason,
        "CloseReason",
        {"name": text(required=True), "kind": _enum},
        required=frozenset({"name", "kind"}),
        used_by=(T.c.close_reason_id, m.OpportunityLostReason.__table__.c.close_reason_id),
    ),
    "Pipeline": Spec(
        m.Pipeline,
        "Pipeline",
        {"name": text(required=True), "currency": lambda p, path, v: p.currency(path, v)},
        required=frozenset({"name"}),
    ),
    "Stage": Spec(
        m.Stage,
        "Stage",
        {
            "name": text(required=True),
            "description": text(4000),
            "color": _color,
            "probability": lambda p, path, v: p.integer(path, v, minimum=0, maximum=100),
            "type": _enum,
        },
        required=frozenset({"name", "pipeline_id"}),
        not_null=frozenset({"probability", "type"}),
        links={"pipeline_id": "Pipeline"},
    ),
}


def _check(
    problems: Problems,
    refs: Refs,
    spec: Spec,
    given: Mapping[str, Any],
    creating: bool,
    ref_prefix: Sequence[str] = (),
) -> dict[str, Any]:
    """Clean the given fields; `ref_prefix` tells one input's links apart in a shared `refs`."""
    if creating:
        given = {**dict.fromkeys(spec.required), **given}
    values: dict[str, Any] = {}
    for key, value in given.items():
        at = ["input", camel(key)]
        if value is None and (key in spec.required or key in spec.not_null):
            problems.add(at, ErrorCode.REQUIRED, f"{camel(key)} is required")
        elif key in spec.links:
            refs.want([*ref_prefix, *at], spec.links[key], value)
            values[key] = value
        elif key in spec.nested:
            for part, limit in spec.nested[key].items():
                v = None if value is None else getattr(value, part)
                values[part] = problems.text([*at, camel(part)], v, max_length=limit)
        elif key in spec.checks:
            values[key] = spec.checks[key](problems, at, value)
    return values


async def create(session: AsyncSession, *, type_name: str, given: Mapping[str, Any]) -> int:
    (made,) = await create_many(session, type_name=type_name, givens=[given])
    if isinstance(made, list):
        raise Invalid(made)
    return made


async def create_many(
    session: AsyncSession, *, type_name: str, givens: Sequence[Mapping[str, Any]]
) -> list[int | list[UserErrorData]]:
    """Each input checked as one `createX` mutation checks it; those that pass are inserted in
    one statement (a few for thousands), the rest answered with their problems (at their
    `["input", …]` paths). The links of all of them are looked up together."""
    spec = SPECS[type_name]
    refs = Refs(Problems())  # its problems start with the input's index (`ref_prefix`)
    problems = [Problems() for _ in givens]
    checked = []
    for i, (p, given) in enumerate(zip(problems, givens, strict=True)):
        values = _check(p, refs, spec, {k: v for k, v in given.items() if k != "position"}, True, (str(i),))
        p.position(["input", "position"], given.get("position"))
        checked.append(values)
    await refs.resolve(session)
    for problem in refs.problems.items:
        problems[int(problem.field[0])].items.append(replace(problem, field=problem.field[1:]))
    org = principal(session).organization_id
    rows, ok = [], []
    for i, (p, values) in enumerate(zip(problems, checked, strict=True)):
        if p:
            continue
        values = {k: (refs.pk(spec.links[k], v) if k in spec.links else v) for k, v in values.items()}
        if type_name == "Contact" and not values.get("display_name"):
            values["display_name"] = _display_name(values)
            if not values["display_name"]:
                p.add(
                    ["input", "displayName"],
                    ErrorCode.REQUIRED,
                    "give a displayName, or a first or last name",
                )
                continue
        rows.append({"organization_id": org, **values})
        ok.append(i)
    ids = dict(zip(ok, await insert_returning_ids(session, spec.model, rows), strict=True))
    if type_name == "Stage":
        for i, pk in ids.items():
            await _place_stage(session, rows[ok.index(i)]["pipeline_id"], pk, givens[i].get("position"))
    return [ids.get(i, p.items) for i, p in enumerate(problems)]


def _display_name(values: Mapping[str, Any]) -> str:
    return " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)


async def update(session: AsyncSession, *, type_name: str, pk: int, given: Mapping[str, Any]) -> int:
    spec = SPECS[type_name]
    current = await fetch(session, spec.model, pk)
    if current is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, f"no such {type_name}")
    problems = Problems()
    refs = Refs(problems)
    values = _check(problems, refs, spec, {k: v for k, v in given.items() if k != "position"}, creating=False)
    problems.position(["input", "position"], given.get("position"))
    await refs.resolve(session)
    await _guard_kind_change(session, problems, spec, current, values)
    problems.raise_if_any()
    values = {k: (refs.pk(spec.links[k], v) if k in spec.links else v) for k, v in values.items()}
    if spec.stamped:
        values["updated_at"] = now()
    await write(session, spec.model, pk, values)
    if type_name == "Stage" and given.get("position") is not None:
        await _place_stage(session, current["pipeline_id"], pk, given["position"])
    return pk


async def _guard_kind_change(
    session: AsyncSession, problems: Problems, spec: Spec, current: Any, values: dict[str, Any]
) -> None:
    """A stage's type or a reason's kind decides its deals' status: it changes only while unused."""
    key = {"Stage": "type", "CloseReason": "kind"}.get(spec.type_name)
    if key is None or values.get(key) in (None, current[key]):
        return
    column = T.c.stage_id if spec.type_name == "Stage" else T.c.close_reason_id
    used = await _count(session, column, current["id"])
    if spec.type_name == "CloseReason":
        used += await _count(session, m.OpportunityLostReason.__table__.c.close_reason_id, current["id"])
    if used:
        problems.add(
            ["input", key],
            ErrorCode.CONFLICT,
            f"{used} deal(s) depend on it; it cannot change {key} now",
            values[key],
        )


async def delete_record(session: AsyncSession, *, type_name: str, pk: int) -> int:
    spec = SPECS[type_name]
    current = await fetch(session, spec.model, pk)
    if current is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, f"no such {type_name}")
    used = await _in_use(session, spec, pk)
    if used:
        raise fail(
            ["id"], ErrorCode.CONFLICT, f"{used} deal(s) still use this {type_name}; move them first", used
        )
    await session.execute(
        delete(spec.model).where(spec.model.id == pk).execution_options(synchronize_session=False)
    )
    if type_name == "Stage":
        await _place_stage(session, current["pipeline_id"], None, None)
    return pk


async def _in_use(session: AsyncSession, spec: Spec, pk: int) -> int:
    if spec.type_name == "Pipeline":
        stages = select(m.Stage.id).where(m.Stage.pipeline_id == pk)
        ids = [r[0] for r in await session.execute(stages)]
        return await _count(session, T.c.stage_id, *ids) if ids else 0
    if spec.type_name == "Stage":
        return await _count(session, T.c.stage_id, pk)
    total = 0
    for column in spec.used_by:
        total += await _count(session, column, pk)
    return total


async def _count(session: AsyncSession, column: Any, *pks: int) -> int:
    org = principal(session).organization_id
    stmt = select(func.count()).where(column.in_(pks), column.table.c.organization_id == org)
    return int((await (await session.connection()).execute(stmt)).scalar() or 0)


async def _place_stage(session: AsyncSession, pipeline_id: int, pk: int | None, at: int | None) -> None:
    """Dense stage positions 1..n within the pipeline, with stage `pk` at place `at`."""
    await lock_row(session, m.Pipeline, pipeline_id)
    rows = await fetch_all(session, m.Stage, m.Stage.pipeline_id == pipeline_id, m.Stage.position)
    order = [r["id"] for r in rows if r["id"] != pk]
    if pk is not None:
        index = len(order) if at is None else max(0, min(at - 1, len(order)))
        order.insert(index, pk)
    await set_positions(session, m.Stage, order, {r["id"]: r["position"] for r in rows})
