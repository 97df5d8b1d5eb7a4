"""Shared GraphQL pieces: the Node interface and global ids, connections, scalar filters, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Generic, Self, TypeVar

import strawberry

from app.errors import ErrorCode, UserErrorData
from app.graphql.enums import OpportunityStatus

# re-exported for the GraphQL modules
from app.ids import from_global_id as from_global_id
from app.ids import to_global_id as to_global_id

T = TypeVar("T")

# Field metadata: the columns of its own type a computed field reads (app/graphql/reads.py plans
# the columns an operation selects from them; a computed field without it reads every column).
READS = "og.reads"


# ---------------------------------------------------------------- nodes


@strawberry.interface(description="An object with a globally unique, opaque id; fetch any with `node`.")
class Node:
    pk: strawberry.Private[int]
    # A plain attribute, set when the object is built: a resolver here would run for every
    # object of every list (a resolved field costs several times a plain attribute).
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque id of this object.")

    @classmethod
    def from_row(cls, row: Any, fields: Sequence[str] | None = None) -> Self:
        """Build from a database row without the dataclass `__init__`; the global id is
        encoded here, once per row, so reading `id` is a plain attribute.

        `fields` are the row's column names, read once per batch by the caller: asking each
        row (`Row._asdict`, `Row._fields`) costs three times the `dict(zip(...))` itself."""
        obj = cls.__new__(cls)
        values = dict(zip(row._fields if fields is None else fields, row, strict=True))
        pk = values["pk"] = values["id"]
        values["id"] = to_global_id(cls.__name__, pk)
        obj.__dict__ = values
        return obj


GlobalID = Annotated[strawberry.ID, strawberry.argument(description="A global id, as returned in `id`.")]

# ---------------------------------------------------------------- connections


@strawberry.type(description="Where a page stands in the whole list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Rows precede this page (known exactly when paging backward with `last`)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first row, for `before`.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last row, for `after`.")


@strawberry.type(description="One row of a connection and the cursor to page from it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this row; pass as `after`/`before`.")
    node: T = strawberry.field(description="The row.")


@strawberry.type(description="A page of a list (Relay connection), with its cursors and total.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The rows of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more rows exist before or after.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]
    # A page made by `lazy`: its rows, and each row's cursor by index. Edges are made, and
    # cursors encoded, only when `edges` is read (a board reads `nodes` and two cursors).
    rows: strawberry.Private[Sequence[T] | None] = None
    cursor_of: strawberry.Private[Callable[[int], str] | None] = None

    @strawberry.field(description="The rows of this page, without cursors.", metadata={READS: ()})
    def nodes(self) -> list[T]:
        if self.rows is not None:
            return list(self.rows)
        return [edge.node for edge in self.edges]

    @strawberry.field(
        description="How many rows match the filter in all; counted only when asked for.",
        metadata={READS: ()},
    )
    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    def lazy(
        cls,
        rows: Sequence[T],
        cursor_of: Callable[[int], str],
        page_info: PageInfo,
        count: Callable[[], Awaitable[int]],
    ) -> Connection[T]:
        """A page whose edges are made when first read (`__getattr__`)."""
        page = cls.__new__(cls)
        page.__dict__.update(rows=rows, cursor_of=cursor_of, page_info=page_info, count=count)
        return page

    def __getattr__(self, name: str) -> Any:
        # only reached for an attribute missing from the instance: `edges` of a lazy page
        rows, cursor_of = self.__dict__.get("rows"), self.__dict__.get("cursor_of")
        if name != "edges" or rows is None or cursor_of is None:
            raise AttributeError(name)
        edges = self.__dict__["edges"] = [Edge(cursor=cursor_of(i), node=node) for i, node in enumerate(rows)]
        return edges


# ---------------------------------------------------------------- ordering


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum(description="Where rows without a value go.")
class NullsOrder(Enum):
    FIRST = "FIRST"
    LAST = "LAST"


# ---------------------------------------------------------------- scalar filters

_OPS = "Operators are combined with AND; an omitted or null operator constrains nothing."


def _ops(name: str, t: Any, *, ordered: bool = True, strings: bool = False) -> Any:
    """Build a scalar filter input type; every scalar filter has the same operator set."""
    ann: dict[str, Any] = {}
    fields: dict[str, Any] = {}

    def op(key: str, typ: Any, desc: str, gql: str | None = None) -> None:
        ann[key] = typ | None
        fields[key] = strawberry.field(default=None, description=desc, name=gql)

    op("eq", t, "Equal to.")
    op("ne", t, "Not equal to; rows without a value match.")
    op("in_", list[t], "Equal to one of.", "in")
    op("not_in", list[t], "Equal to none of; rows without a value match.")
    if ordered:
        op("lt", t, "Less than.")
        op("lte", t, "Less than or equal to (a `to` bound).")
        op("gt", t, "Greater than.")
        op("gte", t, "Greater than or equal to (a `from` bound).")
    op("is_null", bool, "true: has no value; false: has a value.")
    if strings:
        op("contains", str, "Contains this text (case-sensitive).")
        op("starts_with", str, "Starts with this text (case-sensitive).")
        op("ends_with", str, "Ends with this text (case-sensitive).")
        op("i_contains", str, "Contains this text, ignoring case.")
    cls = type(name, (), {"__annotations__": ann, **fields, "__module__": __name__})
    from app.query import scalar_filter

    return strawberry.input(scalar_filter(cls), description=f"Filter on a {t.__name__} value. {_OPS}")


def enum_filter(name: str, enum: type[Enum]) -> Any:
    """`<Enum>Filter`: eq, ne, in, notIn, isNull on one enum value, like every scalar filter."""
    return _ops(name, enum, ordered=False)


IDFilter = _ops("IDFilter", strawberry.ID, ordered=False)
StringFilter = _ops("StringFilter", str, strings=True)
IntFilter = _ops("IntFilter", int)
DecimalFilter = _ops("DecimalFilter", Decimal)
DateFilter = _ops("DateFilter", date)
DateTimeFilter = _ops("DateTimeFilter", datetime)
BooleanFilter = _ops("BooleanFilter", bool, ordered=False)
OpportunityStatusFilter = _ops(
    "OpportunityStatusFilter",
    OpportunityStatus,
    ordered=False,
)


# ---------------------------------------------------------------- mutation errors


# The codes are app.errors.ErrorCode itself, registered in place: one list, no mapping.
UserErrorCode = strawberry.enum(
    ErrorCode, name="UserErrorCode", description="What kind of problem a `UserError` reports."
)


@strawberry.type(description="A problem with one part of a mutation's input; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path into the arguments, e.g. ["input", "amount"]; null when about the whole call.'
    )
    message: str = strawberry.field(description="What is wrong, for a person to read.")
    # ErrorCode is registered in place as the GraphQL enum UserErrorCode (above)
    code: ErrorCode = strawberry.field(description="What kind of problem, for code to branch on.")
    attempted_value: str | None = strawberry.field(description="The value that was refused, as text.")

    @classmethod
    def of(cls, e: UserErrorData) -> UserError:
        value = None if e.attempted_value is None else str(e.attempted_value)
        return cls(
            field=list(e.field) or None,
            message=e.message,
            code=ErrorCode(e.code),
            attempted_value=value,
        )
