"""Filter inputs to WHERE predicates: scalar operators, boolean algebra, relations at any depth."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from app.errors import BadUserInput
from app.naming import camel
from app.query.sql import Expr, contains_text, ends_with_text, like_escape, starts_with_text


@dataclass(frozen=True)
class Hop:
    """One step from a row to related rows: `local IN (SELECT remote FROM …)`."""

    local: Expr
    remote: Expr


@dataclass(frozen=True)
class Relation:
    """How a filter field reaches another entity; `many` relations take some/none/every."""

    hops: tuple[Hop, ...]
    many: bool = False


@dataclass
class FilterSpec:
    model: Any
    columns: dict[str, Callable[[], Expr]] = field(default_factory=dict)
    relations: dict[str, Callable[[], Relation]] = field(default_factory=dict)
    # fields whose value compiles by a function of their own (search, tags, custom fields)
    custom: dict[str, Callable[[Any], Expr]] = field(default_factory=dict)
    # how a field's filter values become column values (global ids to primary keys)
    convert: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # order enum names whose expression is not the column of the same (lower-cased) name
    orders: dict[str, Callable[[], Expr]] = field(default_factory=dict)
    # the order used when the caller gives none
    default_order: tuple[tuple[str, bool], ...] = (("CREATED_AT", True),)
    # checks that need the database before compiling (a custom field's type): (context, value)
    checks: dict[str, Callable[[Any, Any], Awaitable[None]]] = field(default_factory=dict)

    def order_expr(self, name: str) -> Expr:
        return self.orders[name]() if name in self.orders else getattr(self.model, name.lower())


SPEC_ATTR = "__filter_spec__"
SCALAR_ATTR = "__scalar_filter__"
COMBINATORS = {"and_", "or_", "not_"}


def filter_spec(spec: FilterSpec) -> Callable[[type], type]:
    """Register a filter input class with the model and fields it compiles against."""

    def register(cls: type) -> type:
        setattr(cls, SPEC_ATTR, spec)
        return cls

    return register


def scalar_filter(cls: type) -> type:
    setattr(cls, SCALAR_ATTR, True)
    return cls


def _set_fields(obj: Any) -> list[tuple[str, Any]]:
    """The fields the caller gave a value: omitted and null inputs constrain nothing."""
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None or type(value).__name__ == "UnsetType":
            continue
        out.append((f.name, value))
    return out


def constrains(value: Any) -> bool:
    """Whether an input limits the rows at all (bulk writes refuse one that does not).

    Judged on the input's meaning, at any depth: `{}`, `{title: {}}`, `{and: [{}]}` and
    `{or: [{}, {...}]}` constrain nothing; `{not: …}` always does (it matches fewer rows
    than everything), as does a relation filter (the relation must exist).
    """
    if isinstance(value, str):
        return bool(value.split())  # `search`: words, not blanks
    if isinstance(value, list):
        return any(constrains(v) for v in value)
    if not dataclasses.is_dataclass(value):
        return True  # a plain value (isPrivate: true) is an equality
    for name, field_value in _set_fields(value):
        if name in ("not_", "some", "none"):  # `some: {}` still needs one related row
            return True
        if name == "or_":
            if not field_value or all(constrains(v) for v in field_value):
                return True
            continue
        if getattr(type(value), SPEC_ATTR, None) is not None and name not in COMBINATORS:
            spec: FilterSpec = getattr(type(value), SPEC_ATTR)
            if name in spec.relations and not spec.relations[name]().many:
                return True
        if constrains(field_value):
            return True
    return False


def compile_filter(flt: Any, path: str = "filter") -> ColumnElement[bool]:
    """The WHERE predicate for one entity filter input (an empty filter is TRUE).

    `path` names the input in error messages (`filter.stage.name`), so a caller sees
    which part of a deep filter was refused.
    """
    spec: FilterSpec = getattr(type(flt), SPEC_ATTR)
    terms = [_compile_field(spec, name, value, f"{path}.{camel(name)}") for name, value in _set_fields(flt)]
    return and_(true(), *terms) if terms else true()


def _compile_field(spec: FilterSpec, name: str, value: Any, path: str) -> ColumnElement[bool]:
    if name in COMBINATORS:
        return _combine(name, value, path)
    if name in spec.custom:
        return spec.custom[name](value)
    if name in spec.relations:
        return _relation(spec.relations[name](), value, path)
    column = spec.columns[name]() if name in spec.columns else getattr(spec.model, name)
    convert = spec.convert.get(name, _plain)
    if getattr(type(value), SCALAR_ATTR, False):
        return compile_scalar(column, value, convert, path)
    return column == convert(value)


def _combine(name: str, value: Any, path: str) -> ColumnElement[bool]:
    if name == "not_":
        return negate(compile_filter(value, path))
    parts = [compile_filter(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if name == "and_":
        return and_(true(), *parts)
    return or_(false(), *parts)


def negate(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """Two-valued NOT: a condition that is NULL (a comparison with a missing value) counts as
    false, so `not: {amount: {gt: 50}}` keeps deals without an amount, as `ne` does."""
    return cond.is_not(true())


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _through(hops: Sequence[Hop], condition: ColumnElement[bool]) -> ColumnElement[bool]:
    hop, rest = hops[0], hops[1:]
    inner = _through(rest, condition) if rest else condition
    return hop.local.in_(select(hop.remote).where(inner))


def _relation(rel: Relation, value: Any, path: str) -> ColumnElement[bool]:
    if not rel.many:
        return _through(rel.hops, compile_filter(value, path))
    terms = []
    for quantifier, sub in _set_fields(value):
        cond = compile_filter(sub, f"{path}.{quantifier}")
        if quantifier == "some":
            terms.append(_through(rel.hops, cond))
        elif quantifier == "none":
            terms.append(negate(_through(rel.hops, cond)))
        else:  # every: no related row fails the condition
            terms.append(negate(_through(rel.hops, negate(cond))))
    return and_(true(), *terms)


def walk(flt: Any) -> Iterator[tuple[FilterSpec, str, Any]]:
    """Every (spec, field, value) the caller set, at any depth: for checks before compiling."""
    spec: FilterSpec = getattr(type(flt), SPEC_ATTR)
    for name, value in _set_fields(flt):
        yield spec, name, value
        if name == "not_":
            yield from walk(value)
        elif name in COMBINATORS:
            for sub in value:
                yield from walk(sub)
        elif name in spec.relations:
            many = spec.relations[name]().many
            for sub in [v for _, v in _set_fields(value)] if many else [value]:
                yield from walk(sub)


SCALAR_OPS: dict[str, Callable[[Expr, Any], ColumnElement[bool]]] = {
    # `ne` keeps rows whose value is NULL: "not equal to 5" includes "no value".
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: c.is_distinct_from(v),
    "in_": lambda c, v: c.in_(v),
    "not_in": lambda c, v: or_(c.not_in(v), c.is_(None)),
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "is_null": lambda c, v: c.is_(None) if v else c.is_not(None),
    "contains": contains_text,
    "starts_with": starts_with_text,
    "ends_with": ends_with_text,
    "i_contains": lambda c, v: func.lower(c).like(f"%{like_escape(v.lower())}%", escape="\\"),
}


# `in`/`notIn` lists longer than this are refused: they would make huge statements, and a
# list that long is a join the caller should express as a relation filter.
MAX_IN_VALUES = 1000


def compile_scalar(
    column: Expr, flt: Any, convert: Callable[[Any], Any] = _plain, path: str = "filter"
) -> ColumnElement[bool]:
    ops = _set_fields(flt)
    check_scalar(ops, path)
    terms = []
    for op, value in ops:
        if op != "is_null":
            value = [convert(v) for v in value] if isinstance(value, list) else convert(value)
        terms.append(SCALAR_OPS[op](column, value))
    return and_(true(), *terms)


# The longest text column (descriptions) holds 20000 characters.
MAX_TEXT_LENGTH = 20_000


def check_scalar(ops: Sequence[tuple[str, Any]], path: str) -> None:
    """Refuse operators that contradict each other or would make a runaway statement."""
    names = {op for op, _ in ops}
    if ("is_null", True) in ops and names - {"is_null", "ne", "not_in"}:
        others = ", ".join(sorted(camel(n) for n in names - {"is_null"}))
        raise BadUserInput(
            f"`{path}`: `isNull: true` contradicts {others} (a missing value equals nothing)",
            argument=path.split(".")[0],
        )
    for op, value in ops:
        if isinstance(value, list) and len(value) > MAX_IN_VALUES:
            raise BadUserInput(
                f"`{path}.{camel(op)}` has {len(value)} values; at most {MAX_IN_VALUES} are allowed",
                argument=path.split(".")[0],
            )
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and len(t) > MAX_TEXT_LENGTH for t in texts):
            # longer than any stored text column, and SQLite refuses LIKE patterns over 50 kB
            raise BadUserInput(
                f"`{path}.{camel(op)}` is longer than {MAX_TEXT_LENGTH} characters",
                argument=path.split(".")[0],
            )
