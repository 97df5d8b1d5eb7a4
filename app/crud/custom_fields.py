"""Custom field definitions (admins) and the typed values deals hold for them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.crud.base import (
    fail,
    fetch,
    fetch_all,
    insert_rows,
    lock_row,
    principal,
    set_positions,
    touch,
    write,
)
from app.crud.refs import Refs, decode
from app.enums import CustomFieldType
from app.errors import ErrorCode
from app.ids import to_global_id
from app.tenancy import TRASH, TRASHED
from app.validation import Problems

D = m.CustomFieldDefinition
V = m.CustomFieldValue
MAX_LENGTH = {CustomFieldType.TEXT_FIELD: 255, CustomFieldType.TEXT_AREA: 5000}
MAX_OPTIONS = 200


async def definitions(session: AsyncSession) -> dict[int, Any]:
    """The organization's definitions by id (a handful; read once per mutation)."""
    return {row["id"]: row for row in await fetch_all(session, D, D.id > 0, D.position)}


def check_value(
    problems: Problems, path: Sequence[str], definition: Mapping[str, Any], value: str | None
) -> str | None:
    """`value` in the definition's format, or None to clear it."""
    kind = definition["field_type"]
    if value is None or (kind != CustomFieldType.HEADING and not value.strip()):
        if definition["is_required"]:
            problems.add(path, ErrorCode.REQUIRED, required_message(definition), value)
        return None
    if kind == CustomFieldType.HEADING:
        problems.add(
            path, ErrorCode.INVALID, f"{definition['label']!r} is a heading and takes no value", value
        )
        return None
    if kind == CustomFieldType.DATE:
        return problems.iso_date_text(path, value)
    if kind == CustomFieldType.CHECK_BOX:
        return problems.boolean_text(path, value)
    if kind == CustomFieldType.SELECT_BOX:
        return problems.choice(path, value, definition["options"] or [])
    return problems.text(path, value, max_length=MAX_LENGTH[CustomFieldType(kind)])


def check_values(
    problems: Problems,
    defs: Mapping[int, Any],
    path: Sequence[str],
    values: Sequence[tuple[Any, str | None]],
    *,
    creating: bool,
) -> dict[int, str | None]:
    """Each (definition id, value) checked against its definition; on create, required ones must be there."""
    out: dict[int, str | None] = {}
    for i, (gid, value) in enumerate(values):
        pk = decode("CustomFieldDefinition", gid)
        at = [*path, str(i)]
        if pk is None or pk not in defs:
            problems.add([*at, "definitionId"], ErrorCode.NOT_FOUND, f"no custom field with id {gid!r}", gid)
        elif pk in out:
            problems.add([*at, "definitionId"], ErrorCode.DUPLICATE, "this custom field is listed twice", gid)
        else:
            out[pk] = check_value(problems, [*at, "value"], defs[pk], value)
    if creating:
        for pk, d in defs.items():
            if d["is_required"] and out.get(pk) is None and pk not in out:
                # the caller sent nothing for it: no attempted value
                problems.add(path, ErrorCode.REQUIRED, required_message(d))
    return out


def required_message(definition: Mapping[str, Any]) -> str:
    """What a caller needs to fill a required field: its definition id and the values it takes."""
    gid = to_global_id("CustomFieldDefinition", definition["id"])
    kind = definition["field_type"]
    if kind == CustomFieldType.SELECT_BOX:
        takes = "one of " + ", ".join(json.dumps(o) for o in definition["options"] or [])
    else:
        takes = VALUE_FORMATS.get(CustomFieldType(kind), "a text")
    return (
        f"the custom field {definition['label']!r} is required: give "
        f'{{definitionId: "{gid}", value: …}} in customFields, the value {takes}'
    )


VALUE_FORMATS = {
    CustomFieldType.DATE: "an ISO date (2026-01-31)",
    CustomFieldType.CHECK_BOX: '"true" or "false"',
    CustomFieldType.TEXT_FIELD: "a text of at most 255 characters",
    CustomFieldType.TEXT_AREA: "a text of at most 5000 characters",
}


async def store_values(
    session: AsyncSession, opportunity_id: int, values: Mapping[int, str | None], *, fresh: bool = False
) -> None:
    """Replace the given definitions' values; None deletes a value (a `fresh` deal has none yet)."""
    if not values:
        return
    org = principal(session).organization_id
    if not fresh:
        await session.execute(
            delete(V)
            .where(V.opportunity_id == opportunity_id, V.definition_id.in_(list(values)))
            .execution_options(synchronize_session=False)
        )
    await insert_rows(session, V, value_rows(org, opportunity_id, values))


def value_rows(org: int, opportunity_id: int, values: Mapping[int, str | None]) -> list[dict[str, Any]]:
    """The rows of a deal's values (a None is no row)."""
    return [
        {"opportunity_id": opportunity_id, "definition_id": pk, "organization_id": org, "value": v}
        for pk, v in values.items()
        if v is not None
    ]


async def set_values(
    session: AsyncSession, *, opportunity_id: int, values: Sequence[tuple[Any, str | None]]
) -> int:
    problems = Problems()
    checked = check_values(problems, await definitions(session), ["values"], values, creating=False)
    problems.raise_if_any()
    await touch(session, opportunity_id, lists=("customFields",))
    await store_values(session, opportunity_id, checked)
    return opportunity_id


# ---------------------------------------------------------------- definitions


def _check_definition(
    problems: Problems, given: Mapping[str, Any], kind: str, current: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "label" in given:
        out["label"] = problems.text(["input", "label"], given["label"], required=True)
    if "mask" in given:
        out["mask"] = problems.text(["input", "mask"], given["mask"], max_length=255)
    if "is_required" in given:
        out["is_required"] = bool(given["is_required"])
        if given["is_required"] and kind == CustomFieldType.HEADING:
            problems.add(
                ["input", "isRequired"],
                ErrorCode.INVALID,
                "a heading takes no value, so it cannot be required",
            )
    if "options" in given or (current is None and kind == CustomFieldType.SELECT_BOX):
        out["options"] = _options(problems, given.get("options"), kind)
    return out


def _options(problems: Problems, options: Sequence[str] | None, kind: str) -> list[str] | None:
    at = ["input", "options"]
    if kind != CustomFieldType.SELECT_BOX:
        if options:
            problems.add(at, ErrorCode.INVALID, "only a SELECT_BOX has options")
        return None
    cleaned = [problems.text([*at, str(i)], o, required=True) or "" for i, o in enumerate(options or [])]
    if not cleaned:
        problems.add(at, ErrorCode.REQUIRED, "a SELECT_BOX needs at least one option")
    elif len(set(cleaned)) != len(cleaned):
        problems.add(at, ErrorCode.DUPLICATE, "each option may appear once")
    elif len(cleaned) > MAX_OPTIONS:
        problems.add(at, ErrorCode.OUT_OF_RANGE, f"at most {MAX_OPTIONS} options", len(cleaned))
    return cleaned


async def create_definition(session: AsyncSession, *, given: Mapping[str, Any]) -> int:
    problems = Problems()
    kind = given.get("field_type")
    if kind is None:
        problems.add(["input", "fieldType"], ErrorCode.REQUIRED, "fieldType is required")
    values = _check_definition(problems, {"label": None, **given}, kind and kind.value, None)
    problems.position(["input", "position"], given.get("position"))
    problems.raise_if_any()
    org = principal(session).organization_id
    row = D(organization_id=org, field_type=kind.value, position=2**31 - 1, **values)
    session.add(row)
    await session.flush()
    await _reorder(session, row.id, given.get("position"))
    return int(row.id)


async def update_definition(session: AsyncSession, *, definition_id: int, given: Mapping[str, Any]) -> int:
    current = await fetch(session, D, definition_id)
    if current is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such custom field definition")
    problems = Problems()
    values = _check_definition(problems, given, current["field_type"], current)
    problems.position(["input", "position"], given.get("position"))
    if values.get("options") is not None:
        await _options_in_use(session, problems, definition_id, values["options"])
    problems.raise_if_any()
    await write(session, D, definition_id, values)
    if given.get("position") is not None:
        await _reorder(session, definition_id, given["position"])
    return definition_id


async def _options_in_use(session: AsyncSession, problems: Problems, pk: int, options: list[str]) -> None:
    """Dropping an option that deals still hold would leave them with invalid values."""
    stmt = (
        select(V.value, func.count()).where(V.definition_id == pk, V.value.not_in(options)).group_by(V.value)
    )
    for value, count in await session.execute(stmt):
        problems.add(
            ["input", "options"],
            ErrorCode.CONFLICT,
            f"{count} deal(s) still have {value!r}; change them first",
            value,
        )


async def delete_definition(session: AsyncSession, *, definition_id: int) -> int:
    """Deleting a definition deletes every deal's value for it (documented on the mutation);
    but while a deal in the trash holds one it is a CONFLICT, as for any related record a
    trashed deal uses: its restore brings back its values exactly (docs/trash.md)."""
    if await fetch(session, D, definition_id) is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such custom field definition")
    trashed = select(func.count()).select_from(V).where(V.definition_id == definition_id)
    held = int(await session.scalar(trashed.execution_options(**{TRASH: TRASHED})) or 0)
    if held:
        raise fail(
            ["id"],
            ErrorCode.CONFLICT,
            f"{held} deal(s) in the trash hold a value for it; restore and clear them, or purge them, first",
            held,
        )
    await session.execute(delete(D).where(D.id == definition_id).execution_options(synchronize_session=False))
    await _reorder(session, None, None)
    return definition_id


async def reorder_definitions(session: AsyncSession, *, ids: Sequence[Any]) -> None:
    problems = Problems()
    problems.unique_ids(["ids"], ids)
    refs = Refs(problems)
    refs.want_all(["ids"], "CustomFieldDefinition", ids)
    await refs.resolve(session)
    await lock_row(session, m.Organization, principal(session).organization_id)
    defs = await definitions(session)  # under the lock: a concurrent create counts
    pks = [refs.pk("CustomFieldDefinition", gid) for gid in ids]
    if not problems and set(pks) != set(defs):
        problems.add(["ids"], ErrorCode.INVALID, "list every custom field definition exactly once", len(ids))
    problems.raise_if_any()
    await set_positions(
        session, D, [p for p in pks if p is not None], {k: d["position"] for k, d in defs.items()}
    )


async def _reorder(session: AsyncSession, pk: int | None, at: int | None) -> None:
    """Dense positions 1..n, with definition `pk` moved to place `at` (last when None)."""
    await lock_row(session, m.Organization, principal(session).organization_id)
    defs = await definitions(session)
    order = [k for k in defs if k != pk]
    if pk is not None:
        index = len(order) if at is None else max(0, min(at - 1, len(order)))
        order.insert(index, pk)
    await set_positions(session, D, order, {k: d["position"] for k, d in defs.items()})
