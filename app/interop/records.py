"""The canonical deal record every format maps to and from, and its related-record references.

A record is a plain dict keyed by the model's snake_case names (docs/interop.md). Scalars are
Python values (Decimal, date, datetime, enum values as their canonical strings); a link is a
`Ref`: the related record's id in the file (`id`), its name, and whatever attributes the
format carries. Lists are lists of refs, tags, custom values and line items. A format's
`read` gives only the fields it maps and the gateway can write; its `write` every field it
maps. So `read(write(x))` is what survives a trip through that format, and two deals are
"unchanged" for a format when those agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Record = dict[str, Any]
Ref = dict[str, Any]

# The related kinds a deal links to, with the column their `name` matches.
NAME_COLUMNS: dict[str, str] = {
    "Customer": "name",
    "Contact": "display_name",
    "User": "email",
    "Pipeline": "name",
    "Stage": "name",
    "CloseReason": "name",
    "Lead": "name",
    "Channel": "name",
    "OpportunityType": "name",
    "CustomFieldDefinition": "label",
}
# Each deal link: canonical field → related kind.
LINKS: dict[str, str] = {
    "type": "OpportunityType",
    "stage": "Stage",
    "customer": "Customer",
    "contact": "Contact",
    "referrer": "Contact",
    "agent": "Contact",
    "owner": "User",
    "lead": "Lead",
    "channel": "Channel",
    "close_reason": "CloseReason",
}
LIST_LINKS: dict[str, str] = {"contacts": "Contact", "lost_reasons": "CloseReason", "access_list": "User"}
# Fields the gateway stamps itself: exported, never imported.
BOOKKEEPING = ("created_at", "updated_at", "created_by", "updated_by", "stage_changed_at", "version")


class BadValue(ValueError):
    """A value of a file the gateway cannot read, at its property."""

    def __init__(self, prop: str, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.prop, self.value = prop, value


def ref(id_: Any = None, name: Any = None, **attrs: Any) -> Ref | None:
    """A reference, or None when it names nothing."""
    if id_ in (None, "") and name in (None, ""):
        return None
    out: Ref = {
        "id": None if id_ in (None, "") else str(id_),
        "name": None if name in (None, "") else str(name),
    }
    out.update({k: v for k, v in attrs.items() if v is not None})
    if attrs:  # what the file says of the record, a null included: how namesakes are told apart
        out["_carried"] = tuple(attrs)
    return out


def ref_id(r: Ref | None) -> str | None:
    return None if r is None else r.get("id")


def ref_name(r: Ref | None) -> str | None:
    return None if r is None else r.get("name")


def decimal(value: Any, prop: str = "") -> Decimal | None:
    """A number from a file: JSON numbers arrive as Decimal (ijson) or int; strings are parsed."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadValue(prop, f"not a number: {value!r}", value)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadValue(prop, f"not a number: {value!r}", value) from exc
    if not number.is_finite():
        raise BadValue(prop, f"not a finite number: {value!r}", value)
    return number


def money_text(value: Decimal | None) -> str | None:
    """Money written as a JSON string without trailing zeros: exact, never a float."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def integer(value: Any, prop: str = "") -> int | None:
    number = decimal(value, prop)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise BadValue(prop, f"not a whole number: {value!r}", value)
    return int(number)


def day(value: Any, prop: str = "") -> date | None:
    """An ISO date, or the date part of an ISO timestamp."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise BadValue(prop, f"not an ISO date: {value!r}", value) from exc


def moment(value: Any, prop: str = "") -> datetime | None:
    """An ISO 8601 timestamp (a bare date is midnight UTC); naive ones are UTC."""
    if value in (None, ""):
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text if "T" in text or " " in text else text + "T00:00:00")
    except ValueError as exc:
        raise BadValue(prop, f"not an ISO 8601 time: {value!r}", value) from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def pascal(name: str) -> str:
    """PER_HOUR → PerHour, the way Nexudus and ONLYOFFICE spell enum names."""
    return "".join(part.capitalize() for part in name.split("_"))


def title_case(name: str | None) -> str | None:
    """OPEN → Open, NONE → None: how Apideck writes its enum values."""
    return None if name is None else name.replace("_", " ").title()


def upper(name: Any) -> str | None:
    """Open → OPEN, Per Hour → PER_HOUR: an enum value written any way, in canonical form."""
    if name in (None, ""):
        return None
    out = []
    for i, ch in enumerate(str(name).strip()):
        if ch in " -":
            out.append("_")
        elif ch.isupper() and i and out and out[-1] != "_" and str(name)[i - 1].islower():
            out.extend(["_", ch])
        else:
            out.append(ch.upper())
    return "".join(out)
