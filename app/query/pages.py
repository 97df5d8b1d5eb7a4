"""Page plans: first/after/last/before/offset checked and turned into LIMIT, keyset bounds, windows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from app.errors import BadUserInput, QueryTooComplex
from app.query.order import OrderKey, cursor_encoder, decode_cursor, rows_after
from app.query.sql import Expr


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
    check_page(page, max_size)
    backward = page.last is not None
    limit = page.last if backward else page.first
    if limit is None:
        limit = default_size
    predicates = []
    if page.after is not None:
        predicates.append(rows_after(keys, decode_cursor(keys, page.after, "after")))
    flipped = [k.flipped() for k in keys]
    if page.before is not None:
        predicates.append(rows_after(flipped, decode_cursor(keys, page.before, "before")))
    return PagePlan(
        keys=flipped if backward else keys,
        limit=limit,
        offset=page.offset or 0,
        backward=backward,
        predicates=predicates,
        after=page.after is not None,
        before=page.before is not None,
    )


def check_page(page: PageArgs, max_size: int) -> None:
    """Signs, the maximum and the combinations; also run at validation (app.page_limits)."""
    for name in ("first", "last", "offset"):
        value = getattr(page, name)
        if value is not None and value < 0:
            raise BadUserInput(f"`{name}` cannot be negative (got {value})", argument=name)
    for name in ("first", "last"):
        value = getattr(page, name)
        if value is not None and value > max_size:
            # the API contract: a page size over the limit is QUERY_TOO_COMPLEX, like cost and depth
            raise QueryTooComplex(
                f"`{name}` is {value}, over the maximum page size of {max_size}",
                argument=name,
                limit="max_page_size",
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
    if plan.offset:
        stmt = stmt.offset(plan.offset)
    return stmt.limit(fixed(plan.limit + 1))


def fixed(n: int) -> Any:
    """A page bound written into the SQL text, not bound as a parameter.

    PostgreSQL plans a prepared statement anew at each execution (a custom plan) until a
    generic plan looks no costlier, and with `LIMIT $n` the generic plan is costed as if a
    tenth of the table came back, so it never does: the board's page statement, with its
    joins, paid 1.4 ms of planning per request, more than it took to run. With the number in
    the text the generic plan is costed like the custom ones and kept after the fifth run.
    A page size is one of at most `max_page_size` values (an offset, which can be any number,
    stays bound), so the compiled and prepared statements stay few; compiled into the text
    (not `literal_execute`, rendered per execution), a root list's statement is still
    compiled once per principal (app/prepared.py). `int` makes sure it is a number."""
    return literal_column(str(int(n)), Integer)


def paged_per_parent(stmt: Select[Any], partition: Expr, plan: PagePlan) -> Select[Any]:
    """Many parents' pages in one statement: a window numbers each parent's rows."""
    rank = func.row_number().over(partition_by=partition, order_by=[k.clause() for k in plan.keys])
    inner = (
        stmt.add_columns(partition.label("_parent"), rank.label("_rn"), *key_labels(plan.keys))
        .where(*plan.predicates)
        .subquery()
    )
    first_row, parent, rn = plan.offset, inner.c["_parent"], inner.c["_rn"]
    if first_row:  # an offset: bound, as any number can come
        return select(inner).where(rn > first_row, rn <= first_row + plan.limit + 1).order_by(parent, rn)
    return select(inner).where(rn <= fixed(plan.limit + 1)).order_by(parent, rn)


@dataclass
class PageResult:
    rows: list[Any]
    cursor: Callable[[int], str]  # the cursor of row i, encoded when asked for
    has_next: bool
    has_previous: bool

    @property
    def start_cursor(self) -> str | None:
        return self.cursor(0) if self.rows else None

    @property
    def end_cursor(self) -> str | None:
        return self.cursor(len(self.rows) - 1) if self.rows else None


def read_page(rows: Sequence[Any], plan: PagePlan, canonical: list[OrderKey]) -> PageResult:
    """Trim the look-ahead row, restore forward order, and give each row its cursor."""
    n = len(plan.keys)
    extra = len(rows) > plan.limit
    rows = list(rows[: plan.limit])
    if plan.backward:
        rows.reverse()
    encode = cursor_encoder(canonical)
    at = [rows[0]._fields.index(f"_k{i}") for i in range(n)] if rows else []  # once per page

    def cursor(index: int) -> str:
        row = rows[index]
        return encode([row[i] for i in at])

    if plan.backward:
        return PageResult(rows, cursor, has_next=plan.before, has_previous=extra)
    return PageResult(rows, cursor, has_next=extra, has_previous=plan.after or plan.offset > 0)
