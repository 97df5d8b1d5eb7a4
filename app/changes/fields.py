"""What a change lists: a deal's stored fields by schema name, in their GraphQL serialization.

Columns map to the Opportunity field that shows them (`stage_id` → `stage`, a global id);
derived and bookkeeping columns (`updated_at`, `version`, `stage_changed_at`, `created_*`,
`updated_by_id`) are never listed; `expected_revenue` holds only an explicit override, so it
is listed exactly when the override changes. List fields are read for many deals at once
and carry JSON text of the whole list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Numeric, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.ids import to_global_id
from app.money import product
from app.sqltypes import ExactDecimal, UTCDateTime

O = m.Opportunity.__table__  # noqa: E741


def _text(v: Any) -> str:
    return str(v)


def _number(v: Any) -> str:
    return str(v)


def _flag(v: Any) -> str:
    return "true" if v else "false"


def _moment(v: Any) -> str:
    return str(v.isoformat())


def _link(type_name: str) -> Callable[[Any], str]:
    return lambda pk: to_global_id(type_name, int(pk))


# column → (schema field, serializer); utm_* together make the `utm` object, below
COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "title": ("title", _text),
    "description": ("description", _text),
    "type_id": ("type", _link("OpportunityType")),
    "status": ("status", _text),  # stored as the enum's name
    "stage_id": ("stage", _link("Stage")),
    "position": ("position", _number),
    "amount": ("amount", _number),
    "currency": ("currency", _text),
    "bid_type": ("bidType", _text),
    "per_period_value": ("perPeriodValue", _number),
    "probability": ("probability", _number),
    "expected_revenue": ("expectedRevenue", _number),
    "conversion_rate": ("conversionRate", _number),
    "expected_close_date": ("expectedCloseDate", _moment),
    "closed_at": ("closedAt", _moment),
    "close_reason_id": ("closeReason", _link("CloseReason")),
    "customer_id": ("customer", _link("Customer")),
    "contact_id": ("contact", _link("Contact")),
    "referrer_id": ("referrer", _link("Contact")),
    "agent_id": ("agent", _link("Contact")),
    "owner_id": ("owner", _link("User")),
    "lead_id": ("lead", _link("Lead")),
    "lead_source": ("leadSource", _text),
    "channel_id": ("channel", _link("Channel")),
    "priority": ("priority", _text),
    "is_private": ("isPrivate", _flag),
    "interaction_count": ("interactionCount", _number),
    "last_activity_at": ("lastActivityAt", _moment),
    "last_contacted_at": ("lastContactedAt", _moment),
}
UTM = {"utm_source": "source", "utm_medium": "medium", "utm_campaign": "campaign", "utm_content": "content"}
# the list fields, in the order a change lists them
LISTS = ("items", "contacts", "tags", "customFields", "lostReasons", "accessList")
EMPTY = "[]"
FIELD_ORDER = (*(name for name, _ in COLUMNS.values()), "utm", *LISTS)


def dump(values: Any) -> str:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def scalar_fields(row: Mapping[str, Any] | None) -> dict[str, str | None]:
    """Every listed scalar field of a deal row, serialized (None where it has no value)."""
    if row is None:
        return {}
    out: dict[str, str | None] = {}
    for column, (name, serialize) in COLUMNS.items():
        value = row[column]
        out[name] = None if value is None else serialize(value)
    utm = {key: row[column] for column, key in UTM.items()}
    out["utm"] = dump(utm) if any(v is not None for v in utm.values()) else None
    return out


def diff(
    old: Mapping[str, str | None], new: Mapping[str, str | None], *, creating: bool = False
) -> list[list[str | None]]:
    """[field, old, new] for each field that differs, in FIELD_ORDER; a create lists what has a value."""
    out: list[list[str | None]] = []
    for name in FIELD_ORDER:
        if name not in new and name not in old:
            continue
        before, after = old.get(name), new.get(name)
        if creating and after in (None, EMPTY):
            continue
        if before != after:
            out.append([name, before, after])
    return out


# ---------------------------------------------------------------- snapshots of the row


def snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    """The deal's columns as JSON values (Decimal and times as strings), for `before` / `after`."""
    return {c.key: _json_value(row[c.key]) for c in O.columns}


def _json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def _kind(column: Any) -> Any:
    t = column.type
    if isinstance(t, ExactDecimal | Numeric):
        return Decimal
    if isinstance(t, UTCDateTime | DateTime):
        return datetime.fromisoformat
    if isinstance(t, Date):
        return date.fromisoformat
    return None


_KINDS = {c.key: _kind(c) for c in O.columns if _kind(c) is not None}


def revive(state: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot's values as the columns' Python types again (for evaluating filters on it)."""
    out: dict[str, Any] = {}
    for c in O.columns:
        v = state.get(c.key)
        if v is not None:
            kind = _KINDS.get(c.key)
            if kind is not None:
                v = kind(v)
        out[c.key] = v
    return out


async def rows(session: AsyncSession, organization_id: int, ids: Iterable[int]) -> dict[int, Any]:
    """The deals' rows by id, read on the table (the change is the writer's, whoever may see it)."""
    wanted = sorted(set(ids))
    out: dict[int, Any] = {}
    conn = await session.connection()
    for i in range(0, len(wanted), 1000):
        stmt = select(O).where(O.c.id.in_(wanted[i : i + 1000]), O.c.organization_id == organization_id)
        out.update({r.id: r._mapping for r in await conn.execute(stmt)})
    return out


# ---------------------------------------------------------------- list fields


def _items(r: Any) -> dict[str, Any]:
    return {
        "id": to_global_id("OpportunityItem", r.id),
        "itemName": r.item_name,
        "quantity": str(r.quantity),
        "rate": str(r.rate),
        "amount": str(product(r.quantity, r.rate)),
        "position": r.position,
    }


def _list_query(name: str) -> tuple[Any, Callable[[Any], Any]]:
    """The statement for one list field of many deals (`opportunity_id` first) and a row's JSON value."""
    if name == "items":
        t = m.OpportunityItem.__table__
        cols = (t.c.opportunity_id, t.c.id, t.c.item_name, t.c.quantity, t.c.rate, t.c.position)
        return select(*cols).order_by(t.c.opportunity_id, t.c.position, t.c.id), _items
    if name == "customFields":
        v, d = m.CustomFieldValue.__table__, m.CustomFieldDefinition.__table__
        stmt = (
            select(v.c.opportunity_id, v.c.definition_id, v.c.value)
            .join(d, d.c.id == v.c.definition_id)
            .order_by(v.c.opportunity_id, d.c.position, d.c.id)
        )
        return stmt, lambda r: {
            "definitionId": to_global_id("CustomFieldDefinition", r.definition_id),
            "value": r.value,
        }
    link: dict[str, tuple[Any, str, str | None]] = {
        "contacts": (m.OpportunityContact.__table__, "contact_id", "Contact"),
        "tags": (m.OpportunityTag.__table__, "tag", None),
        "lostReasons": (m.OpportunityLostReason.__table__, "close_reason_id", "CloseReason"),
        "accessList": (m.OpportunityAccess.__table__, "user_id", "User"),
    }
    t, target, type_name = link[name]
    order = t.c.user_id if name == "accessList" else t.c.position
    stmt = select(t.c.opportunity_id, t.c[target]).order_by(t.c.opportunity_id, order, t.c[target])
    if type_name is None:
        return stmt, lambda r: r[1]
    return stmt, lambda r: to_global_id(type_name, r[1])


async def lists(
    session: AsyncSession, organization_id: int, names: Iterable[str], ids: Sequence[int]
) -> dict[int, dict[str, str | None]]:
    """The list fields `names` of the deals `ids` as JSON text (`[]` when empty), by deal."""
    out: dict[int, dict[str, str | None]] = {pk: {} for pk in ids}
    if not ids:
        return out
    conn = await session.connection()
    for name in [n for n in LISTS if n in set(names)]:
        stmt, value = _list_query(name)
        table = stmt.selected_columns[0].table
        grouped: dict[int, list[Any]] = {pk: [] for pk in ids}
        for i in range(0, len(ids), 1000):
            chunk = list(ids[i : i + 1000])
            scoped = stmt.where(
                stmt.selected_columns[0].in_(chunk), table.c.organization_id == organization_id
            )
            for r in await conn.execute(scoped):
                grouped[r[0]].append(value(r))
        for pk, values in grouped.items():
            out[pk][name] = dump(values)
    return out
