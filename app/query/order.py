"""Sort keys with explicit NULL placement, the keyset predicate after a row, and opaque cursors."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import orjson
from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from app.errors import BadUserInput
from app.query.sql import Expr

# ---------------------------------------------------------------- ordering


@dataclass(frozen=True)
class OrderKey:
    expr: Expr
    descending: bool = False
    nulls_last: bool | None = None  # None: NULLs sort as the largest value (PostgreSQL's default)

    @property
    def nulls_are_last(self) -> bool:
        return self.nulls_last if self.nulls_last is not None else not self.descending

    def flipped(self) -> OrderKey:
        return OrderKey(self.expr, not self.descending, not self.nulls_are_last)

    def clause(self) -> Any:
        term = self.expr.desc() if self.descending else self.expr.asc()
        if not _nullable(self.expr):
            return term  # a NOT NULL key: leave the clause as an index can serve it
        return term.nulls_last() if self.nulls_are_last else term.nulls_first()


def _nullable(expr: Expr) -> bool:
    col = getattr(expr, "expression", expr)
    return bool(getattr(col, "nullable", True))


def order_keys(keys: Sequence[OrderKey], id_column: Expr) -> list[OrderKey]:
    """The caller's keys plus the id, ascending whatever their directions: every row's place is
    unique, and rows that tie come in the same order in any list, page or direction of the keys."""
    return [*keys, OrderKey(id_column, descending=False)]


def rows_after(keys: Sequence[OrderKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order `keys` (lexicographic, NULL-aware)."""
    alternatives = []
    for i, key in enumerate(keys):
        equal_before = [_equal(k.expr, v) for k, v in zip(keys[:i], values[:i], strict=True)]
        alternatives.append(and_(true(), *equal_before, _strictly_after(key, values[i])))
    after = or_(false(), *alternatives)
    first, value = keys[0], values[0]
    if value is None or _nullable(first.expr):
        return after
    # Implied by the OR above, but a plain range an index on the first key can start from
    # (an OR of per-key alternatives alone makes the database scan from the beginning).
    bound = first.expr <= value if first.descending else first.expr >= value
    return and_(bound, after)


def _equal(expr: Expr, value: Any) -> ColumnElement[bool]:
    return expr.is_(None) if value is None else expr == value


def _strictly_after(key: OrderKey, value: Any) -> ColumnElement[bool]:
    if value is None:
        return false() if key.nulls_are_last else key.expr.is_not(None)
    beyond = key.expr < value if key.descending else key.expr > value
    return or_(beyond, key.expr.is_(None)) if key.nulls_are_last and _nullable(key.expr) else beyond


# ---------------------------------------------------------------- cursors


def _encode_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return {"d": str(v)}
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, date):
        return {"D": v.isoformat()}
    if isinstance(v, Enum):
        return v.value
    return v


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and len(v) == 1:
        ((tag, raw),) = v.items()
        if tag == "d":
            return Decimal(raw)
        if tag == "t":
            return datetime.fromisoformat(raw)
        if tag == "D":
            return date.fromisoformat(raw)
    if isinstance(v, dict | list):
        raise ValueError("unexpected value")
    return v


def _signature(keys: Sequence[OrderKey]) -> str:
    text = "|".join(f"{k.expr}:{k.descending}:{k.nulls_are_last}" for k in keys)
    return hashlib.blake2s(text.encode(), digest_size=4).hexdigest()


def encode_cursor(keys: Sequence[OrderKey], values: Sequence[Any]) -> str:
    return cursor_encoder(keys)(values)


def cursor_encoder(keys: Sequence[OrderKey]) -> Callable[[Sequence[Any]], str]:
    """`encode_cursor` for many rows of one ordering: its signature hashed once, not per row."""
    signature = _signature(keys)

    def encode(values: Sequence[Any]) -> str:
        payload = orjson.dumps([signature, [_encode_value(v) for v in values]])
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    return encode


def read_cursor(cursor: str, arg: str) -> tuple[Any, list[Any]]:
    """A cursor's ordering signature and key values; BAD_USER_INPUT when it is not one of ours.

    Needs no ordering, so the validation pass (app.page_limits) refuses a malformed cursor
    before a mutation runs; which ordering it belongs to is checked by `decode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, values = orjson.loads(raw)
        return signature, [_decode_value(v) for v in values]
    except (ValueError, TypeError, InvalidOperation, orjson.JSONDecodeError) as exc:
        raise BadUserInput(f"`{arg}` is not a cursor this API issued", argument=arg) from exc


def decode_cursor(keys: Sequence[OrderKey], cursor: str, arg: str) -> list[Any]:
    signature, decoded = read_cursor(cursor, arg)
    if signature != _signature(keys) or len(decoded) != len(keys):
        raise BadUserInput(f"`{arg}` was issued for another ordering; start again without it", argument=arg)
    return decoded
