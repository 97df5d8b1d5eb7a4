"""Column types that keep money exact and timestamps in UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_SCALE = 4


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; a scaled BIGINT on SQLite.

    SQLite has no decimal type: its NUMERIC affinity stores floats, which would
    make sums and comparisons inexact. Storing value × 10^scale as an integer keeps
    storage, ordering, SUM and equality exact there, at the price of a fixed scale,
    which the validators enforce anyway.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = MONEY_SCALE, precision: int = 20) -> None:
        # passed on so that repr() (and so Alembic's autogenerate) keeps the scale
        super().__init__(precision=precision, scale=scale)
        self.scale = scale
        self.precision = precision
        self._factor = Decimal(10) ** scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(self._quantum)
        if dialect.name == "sqlite":
            return int(value * self._factor)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, on both databases.

    SQLite keeps no offset, so values are normalised to UTC before they are
    stored and marked UTC when they are read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            # asyncpg reads timestamptz as aware datetimes in `datetime.UTC` already: the
            # processor below would change nothing, at two calls per value of every row
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class weighted_amount(FunctionElement[Decimal]):
    """amount × probability / 100, rounded half up to the money scale, in SQL.

    Spelled per dialect because SQLite holds money as scaled integers; both
    spellings give the same value as `app.money.weighted` in Python.
    """

    type = ExactDecimal()
    name = "weighted_amount"
    inherit_cache = True


@compiles(weighted_amount)
def _weighted_default(element: weighted_amount, compiler: Any, **kw: Any) -> str:
    amount, probability = (compiler.process(c, **kw) for c in element.clauses)
    return f"ROUND({amount} * {probability} / 100.0, {MONEY_SCALE})"


@compiles(weighted_amount, "sqlite")
def _weighted_sqlite(element: weighted_amount, compiler: Any, **kw: Any) -> str:
    amount, probability = (compiler.process(c, **kw) for c in element.clauses)
    # a = 100q + r, so round(a × p / 100) = q × p + (r × p + 50) / 100: the same value as
    # (a × p + 50) / 100 without the product a × p, which overflows 64 bits near the top of
    # the money range
    return f"(({amount} / 100) * {probability} + (({amount} % 100) * {probability} + 50) / 100)"
