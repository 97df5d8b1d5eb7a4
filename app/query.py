"""One generic compiler from filter, order and page inputs to SQLAlchemy statements.

Nothing here knows an entity by name. A filter input class is registered with a
`FilterSpec` (its model, and the few fields that are not plain columns); the
compiler walks the input's fields and turns scalar filters into predicates on
columns, entity filters into `IN (SELECT …)` relation predicates at any depth,
and `and`/`or`/`not` into boolean algebra. Ordering keys become ORDER BY terms
with explicit NULL placement plus the id as a tie-breaker; cursors carry every
key's value, so keyset pagination neither skips nor repeats rows when keys repeat
or are NULL. Tenancy is not applied here: `app.tenancy` adds it to every statement.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import orjson
from sqlalchemy import Boolean, Select, String, and_, false, func, literal, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from app.errors import BadUserInput

Expr = Any  # a SQL expression: a mapped column, a labeled expression or a scalar subquery


# ---------------------------------------------------------------- filters


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


def compile_filter(flt: Any, path: str = "filter") -> ColumnElement[bool]:
    """The WHERE predicate for one entity filter input (an empty filter is TRUE).

    `path` names the input in error messages (`filter.stage.name`), so a caller sees
    which part of a deep filter was refused.
    """
    spec: FilterSpec = getattr(type(flt), SPEC_ATTR)
    terms = [_compile_field(spec, name, value, f"{path}.{_camel(name)}") for name, value in _set_fields(flt)]
    return and_(true(), *terms) if terms else true()


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


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
    return column == convert(value)  # type: ignore[no-any-return]


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
    return hop.local.in_(select(hop.remote).where(inner))  # type: ignore[no-any-return]


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


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class text_match(FunctionElement[bool]):
    """A case-sensitive contains / startsWith / endsWith, spelled per dialect.

    PostgreSQL's LIKE is case-sensitive (and a prefix LIKE can use an index); SQLite's
    LIKE ignores ASCII case, so there the test is spelled with instr and substr. One
    subclass per kind keeps the kind in SQLAlchemy's statement cache key.
    """

    type = Boolean()
    inherit_cache = True
    pattern = "{}"

    def __init__(self, column: Expr, text: str) -> None:
        pattern = self.pattern.format(_like_escape(text))
        super().__init__(column, literal(pattern, String()), literal(text, String()))


class contains_text(text_match):
    name = "contains_text"
    inherit_cache = True
    pattern = "%{}%"


class starts_with_text(text_match):
    name = "starts_with_text"
    inherit_cache = True
    pattern = "{}%"


class ends_with_text(text_match):
    name = "ends_with_text"
    inherit_cache = True
    pattern = "%{}"


@compiles(text_match)
def _text_match_like(element: text_match, compiler: Any, **kw: Any) -> str:
    # only the clauses the SQL shows may be compiled: compiling one registers its bind parameter
    column, pattern, _ = element.clauses
    column, pattern = compiler.process(column, **kw), compiler.process(pattern, **kw)
    return f"({column} LIKE {pattern} ESCAPE '\\')"


@compiles(text_match, "sqlite")
def _text_match_sqlite(element: text_match, compiler: Any, **kw: Any) -> str:
    column, _, text = element.clauses
    column, text = compiler.process(column, **kw), compiler.process(text, **kw)
    if isinstance(element, contains_text):
        return f"(instr({column}, {text}) > 0)"
    if isinstance(element, starts_with_text):
        return f"(substr({column}, 1, length({text})) = {text})"
    return f"(substr({column}, length({column}) - length({text}) + 1) = {text})"


class word_search(FunctionElement[bool]):
    """Rows whose `columns` hold a word starting with `word`: the `search` filter, per dialect.

    PostgreSQL: full-text, `to_tsvector('simple', …) @@ to_tsquery('simple', 'word:*')`, which
    the GIN indexes of migration 0002 serve; the SQL text here must stay exactly the indexed
    expression, so its constants are written inline. SQLite: a case-insensitive substring
    match (which also finds the word inside longer words).
    """

    type = Boolean()
    name = "word_search"
    inherit_cache = True

    def __init__(self, word: str, *columns: Expr) -> None:
        pattern = f"%{_like_escape(word.lower())}%"
        super().__init__(literal(f"{word}:*", String()), literal(pattern, String()), *columns)


# The GIN indexes that serve `word_search` on PostgreSQL: name -> (table, columns). Migration
# 0002 creates them; they are not in app.models because autogenerate cannot compare
# expression indexes on SQLite, so the migration test leaves these names out of its diff.
SEARCH_INDEXES = {
    "ix_opportunity_search": ("opportunity", ("title", "description")),
    "ix_customer_search": ("customer", ("name",)),
}


def search_document(columns: Sequence[str]) -> str:
    """The text a GIN index and `word_search` agree on: the columns, NULL as empty, space-joined."""
    return " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)


@compiles(word_search)
def _word_search_pg(element: word_search, compiler: Any, **kw: Any) -> str:
    query, _, *columns = element.clauses
    document = search_document([compiler.process(c, **kw) for c in columns])
    return f"(to_tsvector('simple', {document}) @@ to_tsquery('simple', {compiler.process(query, **kw)}))"


@compiles(word_search, "sqlite")
def _word_search_sqlite(element: word_search, compiler: Any, **kw: Any) -> str:
    _, pattern, *columns = element.clauses
    text = compiler.process(pattern, **kw)
    return (
        "("
        + " OR ".join(f"lower({compiler.process(c, **kw)}) LIKE {text} ESCAPE '\\'" for c in columns)
        + ")"
    )


class in_rows(FunctionElement[bool]):
    """`column IN (subquery)`, spelled `column = ANY (ARRAY(subquery))` on PostgreSQL.

    The array form is computed once (an InitPlan) and can drive an index scan, so an OR
    of it with an indexed condition (`search`: title words OR the customer's name) is a
    BitmapOr instead of a sequential scan testing a hashed subplan on every row.
    """

    type = Boolean()
    name = "in_rows"
    inherit_cache = True

    def __init__(self, column: Expr, rows: Select[Any]) -> None:
        super().__init__(column, rows.scalar_subquery())


@compiles(in_rows)
def _in_rows(element: in_rows, compiler: Any, **kw: Any) -> str:
    column, rows = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} IN {rows})"


@compiles(in_rows, "postgresql")
def _in_rows_pg(element: in_rows, compiler: Any, **kw: Any) -> str:
    column, rows = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} = ANY (ARRAY{rows}))"


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
    "i_contains": lambda c, v: func.lower(c).like(f"%{_like_escape(v.lower())}%", escape="\\"),
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


def check_scalar(ops: Sequence[tuple[str, Any]], path: str) -> None:
    """Refuse operators that contradict each other or would make a runaway statement."""
    names = {op for op, _ in ops}
    if ("is_null", True) in ops and names - {"is_null", "ne", "not_in"}:
        others = ", ".join(sorted(_camel(n) for n in names - {"is_null"}))
        raise BadUserInput(
            f"`{path}`: `isNull: true` contradicts {others} (a missing value equals nothing)",
            argument=path.split(".")[0],
        )
    for op, value in ops:
        if isinstance(value, list) and len(value) > MAX_IN_VALUES:
            raise BadUserInput(
                f"`{path}.{_camel(op)}` has {len(value)} values; at most {MAX_IN_VALUES} are allowed",
                argument=path.split(".")[0],
            )


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
    """The caller's keys plus the id, which makes every row's position unique."""
    direction = keys[0].descending if keys else True
    return [*keys, OrderKey(id_column, descending=direction)]


def _after(keys: Sequence[OrderKey], values: Sequence[Any]) -> ColumnElement[bool]:
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
    return expr.is_(None) if value is None else expr == value  # type: ignore[no-any-return]


def _strictly_after(key: OrderKey, value: Any) -> ColumnElement[bool]:
    if value is None:
        return false() if key.nulls_are_last else key.expr.is_not(None)  # type: ignore[no-any-return]
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
    payload = orjson.dumps([_signature(keys), [_encode_value(v) for v in values]])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(keys: Sequence[OrderKey], cursor: str, arg: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, values = orjson.loads(raw)
        decoded = [_decode_value(v) for v in values]
    except (ValueError, TypeError, InvalidOperation, orjson.JSONDecodeError) as exc:
        raise BadUserInput(f"`{arg}` is not a cursor this API issued", argument=arg) from exc
    if signature != _signature(keys) or len(decoded) != len(keys):
        raise BadUserInput(f"`{arg}` was issued for another ordering; start again without it", argument=arg)
    return decoded


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    offset: int | None = None


@dataclass(frozen=True)
class PagePlan:
    """What to ask the database for, and how to read the answer back."""

    keys: list[OrderKey]  # the order the rows are fetched in
    limit: int  # rows to return (one more is fetched to learn whether there are more)
    offset: int
    backward: bool  # rows come in reverse and are flipped after fetching
    predicates: list[ColumnElement[bool]]
    after: bool
    before: bool


def plan_page(page: PageArgs, keys: list[OrderKey], *, default_size: int, max_size: int) -> PagePlan:
    _check_page(page, max_size)
    backward = page.last is not None
    limit = page.last if backward else page.first
    if limit is None:
        limit = default_size
    predicates = []
    if page.after is not None:
        predicates.append(_after(keys, decode_cursor(keys, page.after, "after")))
    flipped = [k.flipped() for k in keys]
    if page.before is not None:
        predicates.append(_after(flipped, decode_cursor(keys, page.before, "before")))
    return PagePlan(
        keys=flipped if backward else keys,
        limit=limit,
        offset=page.offset or 0,
        backward=backward,
        predicates=predicates,
        after=page.after is not None,
        before=page.before is not None,
    )


def _check_page(page: PageArgs, max_size: int) -> None:
    for name in ("first", "last", "offset"):
        value = getattr(page, name)
        if value is not None and value < 0:
            raise BadUserInput(f"`{name}` cannot be negative (got {value})", argument=name)
    for name in ("first", "last"):
        value = getattr(page, name)
        if value is not None and value > max_size:
            raise BadUserInput(
                f"`{name}` is {value}, over the maximum page size of {max_size}", argument=name
            )
    if page.first is not None and page.last is not None:
        raise BadUserInput("give `first` or `last`, not both", argument="last")
    if page.last is not None and page.offset:
        raise BadUserInput("`offset` works with `first`, not with `last`", argument="offset")


def key_labels(keys: Sequence[OrderKey]) -> list[Any]:
    return [k.expr.label(f"_k{i}") for i, k in enumerate(keys)]


def paged(stmt: Select[Any], plan: PagePlan) -> Select[Any]:
    """A root list: the filtered select, ordered, keyset-bounded and limited."""
    stmt = stmt.add_columns(*key_labels(plan.keys)).where(*plan.predicates)
    stmt = stmt.order_by(*[k.clause() for k in plan.keys])
    return stmt.offset(plan.offset).limit(plan.limit + 1)


def paged_per_parent(stmt: Select[Any], partition: Expr, plan: PagePlan) -> Select[Any]:
    """Many parents' pages in one statement: a window numbers each parent's rows."""
    rank = func.row_number().over(partition_by=partition, order_by=[k.clause() for k in plan.keys])
    inner = (
        stmt.add_columns(partition.label("_parent"), rank.label("_rn"), *key_labels(plan.keys))
        .where(*plan.predicates)
        .subquery()
    )
    first_row, parent, rn = plan.offset, inner.c["_parent"], inner.c["_rn"]
    return select(inner).where(rn > first_row, rn <= first_row + plan.limit + 1).order_by(parent, rn)


@dataclass
class PageResult:
    rows: list[Any]
    cursors: list[str]
    has_next: bool
    has_previous: bool


def read_page(rows: Sequence[Any], plan: PagePlan, canonical: list[OrderKey]) -> PageResult:
    """Trim the look-ahead row, restore forward order, and give each row its cursor."""
    n = len(plan.keys)
    extra = len(rows) > plan.limit
    rows = list(rows[: plan.limit])
    if plan.backward:
        rows.reverse()
    cursors = [encode_cursor(canonical, [r._mapping[f"_k{i}"] for i in range(n)]) for r in rows]
    if plan.backward:
        return PageResult(rows, cursors, has_next=plan.before, has_previous=extra)
    return PageResult(rows, cursors, has_next=extra, has_previous=plan.after or plan.offset > 0)
