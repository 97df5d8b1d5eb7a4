"""The opportunity's input fields: how each is checked, and what a set of changes implies.

Inputs arrive as dicts keyed by the input field's snake_case name, holding only the
fields the caller gave (an explicit null is a given None). Links are still global ids
here; `Refs` resolves them in one SELECT per table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from app.crud.base import camel, now
from app.crud.board import stage_effects
from app.crud.refs import Refs
from app.enums import BidType, OpportunityStatus
from app.errors import ErrorCode
from app.ids import to_global_id
from app.validation import Problems

Check = Callable[[Problems, list[str], Any], Any]


def _text(max_length: int, *, required: bool = False) -> Check:
    return lambda p, path, v: p.text(path, v, required=required, max_length=max_length)


def _int(lo: int, hi: int) -> Check:
    return lambda p, path, v: p.integer(path, v, minimum=lo, maximum=hi)


def _enum(_p: Problems, _path: list[str], v: Any) -> Any:
    return None if v is None else v.value


SCALARS: dict[str, Check] = {
    "title": _text(255, required=True),
    "description": _text(20000),
    "amount": lambda p, path, v: p.money(path, v),
    "currency": lambda p, path, v: p.currency(path, v),
    "bid_type": _enum,
    "per_period_value": _int(1, 100_000),
    "probability": _int(0, 100),
    "expected_revenue": lambda p, path, v: p.money(path, v),
    "conversion_rate": lambda p, path, v: p.money(path, v, scale=6, maximum=Decimal(10**8)),
    "expected_close_date": lambda p, path, v: p.date_range(path, v),
    "lead_source": _enum,
    "priority": _enum,
    "interaction_count": _int(0, 2**31 - 1),
    "last_activity_at": lambda p, path, v: p.moment(path, v),
    "last_contacted_at": lambda p, path, v: p.moment(path, v),
}
# Columns that cannot be cleared: an explicit null is a REQUIRED problem.
NOT_NULL = {"title", "bid_type", "interaction_count"}
LINKS: dict[str, str] = {
    "type_id": "OpportunityType",
    "stage_id": "Stage",
    "close_reason_id": "CloseReason",
    "customer_id": "Customer",
    "contact_id": "Contact",
    "referrer_id": "Contact",
    "agent_id": "Contact",
    "owner_id": "User",
    "lead_id": "Lead",
    "channel_id": "Channel",
}
UTM = ("source", "medium", "campaign", "content")


def check(problems: Problems, refs: Refs, given: Mapping[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """Clean every given field into column values; links stay global ids until resolved."""
    values: dict[str, Any] = {}
    for key, value in given.items():
        at = [*path, camel(key)]
        if value is None and key in NOT_NULL:
            problems.add(at, ErrorCode.REQUIRED, f"{camel(key)} cannot be null")
        elif key in SCALARS:
            values[key] = SCALARS[key](problems, at, value)
        elif key in LINKS:
            refs.want(at, LINKS[key], value)
            values[key] = value
        elif key == "utm":
            for part in UTM:
                text = None if value is None else getattr(value, part)
                values[f"utm_{part}"] = problems.text([*at, part], text, max_length=255)
    return values


def resolve_links(refs: Refs, values: dict[str, Any]) -> dict[str, Any]:
    """Links as primary keys; the rows of the stage and close reason are kept for the rules."""
    return {k: (refs.pk(LINKS[k], v) if k in LINKS else v) for k, v in values.items()}


def derive(
    problems: Problems,
    path: Sequence[str],
    current: Mapping[str, Any] | None,
    values: dict[str, Any],
    *,
    stage: Mapping[str, Any] | None,
    reason: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Apply the rules the data keeps to a set of changes (or a new deal, when `current` is None)."""
    old = current or {}
    out = dict(values)
    moved = current is None or values.get("stage_id") != old.get("stage_id")
    if "stage_id" in values and moved and (values["stage_id"] is not None or current is not None):
        out.update(stage_effects(current, stage, probability_given="probability" in values, at=now()))
        if "close_reason_id" in values:  # the caller's own reason wins over clearing it
            out["close_reason_id"] = values["close_reason_id"]
    status = out.get("status", old.get("status", OpportunityStatus.OPEN.value))
    if values.get("close_reason_id") is not None and reason is not None:
        at = [*path, "closeReasonId"]
        if status == OpportunityStatus.OPEN:
            problems.add(
                at,
                ErrorCode.INVALID,
                "an open deal has no close reason; mark it won or lost",
                to_global_id("CloseReason", reason["id"]),
            )
        elif reason["kind"] != status:
            problems.add(
                at,
                ErrorCode.INVALID,
                f"{reason['name']!r} is a {reason['kind']} reason; the deal is {status}",
                reason["id"],
            )
    bid = out.get("bid_type", old.get("bid_type", BidType.FIXED.value))
    if bid == BidType.FIXED and out.get("per_period_value", old.get("per_period_value")) is not None:
        if values.get("per_period_value") is not None:
            problems.add(
                [*path, "perPeriodValue"],
                ErrorCode.INVALID,
                "perPeriodValue is only for bids per period, not FIXED ones",
                values["per_period_value"],
            )
        else:
            out["per_period_value"] = None  # a bid that became FIXED has no periods
    return out
