"""Values in the organization's base currency, in SQL (docs/base-currency.md).

A deal's rate is its `conversion_rate`, else its organization's latest exchange rate for its
currency valid on the day of the query, else 1 when its currency is the base currency; else it
has none and is left out of base totals. A base value is value × rate rounded to 4 decimals,
half even, row by row, so sums of base values are exact sums of what each row shows.

Both spellings of `in_base` compute the product once, in a one-row derived table, and round it
there: PostgreSQL on NUMERIC; SQLite on the scaled integers money is stored as (value × 10^4,
rate × 10^6), split so that no intermediate product leaves 64 bits while the result fits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Date, bindparam, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from app import models as m
from app.sqltypes import MONEY_SCALE, ExactDecimal

RATE_SCALE = 6
QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


def in_base_exact(value: Decimal | None, rate: Decimal | None) -> Decimal | None:
    """value × rate, rounded like `in_base` in SQL (the Python side of the same rule)."""
    if value is None or rate is None:
        return None
    return (value * rate).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


class in_base(FunctionElement[Decimal]):
    """value (money, scale 4) × rate (scale 6), rounded half even to scale 4."""

    type = ExactDecimal()
    name = "in_base"
    inherit_cache = True


@compiles(in_base)
def _in_base_pg(element: in_base, compiler: Any, **kw: Any) -> str:
    value, rate = (compiler.process(c, **kw) for c in element.clauses)
    y = "_b.y"
    return (
        f"(SELECT (FLOOR({y}) + CASE WHEN {y} - FLOOR({y}) > 0.5 OR ({y} - FLOOR({y}) = 0.5 "
        f"AND MOD(FLOOR({y}), 2) <> 0) THEN 1 ELSE 0 END) / 10000 "
        f"FROM (SELECT ({value}) * ({rate}) * 10000 AS y) AS _b)"
    )


@compiles(in_base, "sqlite")
def _in_base_sqlite(element: in_base, compiler: Any, **kw: Any) -> str:
    value, rate = (compiler.process(c, **kw) for c in element.clauses)
    # a × r / 10^6 with a = ah·10^6 + al and r = rh·10^6 + rl: a·rh + ah·rl + al·rl / 10^6,
    # the last quotient's remainder deciding the rounding (values and rates are never negative)
    return (
        "(SELECT _q.q + CASE WHEN _q.rem > 500000 OR (_q.rem = 500000 AND _q.q % 2 = 1) THEN 1 ELSE 0 END "
        "FROM (SELECT _b.a * (_b.r / 1000000) + (_b.a / 1000000) * (_b.r % 1000000) "
        "+ ((_b.a % 1000000) * (_b.r % 1000000)) / 1000000 AS q, "
        "((_b.a % 1000000) * (_b.r % 1000000)) % 1000000 AS rem "
        f"FROM (SELECT {value} AS a, {rate} AS r) AS _b) AS _q)"
    )


def today() -> date:
    return datetime.now(UTC).date()


def base_currency() -> Any:
    """The caller's organization's base currency (the tenancy hook scopes `organization`)."""
    return select(col(m.Organization.base_currency)).scalar_subquery()


def deal_rate() -> Any:
    """SQL for the rate of the deal in the statement's `opportunity` row, or NULL when it has none.

    "Today" is a parameter read when the statement runs, so the expression can be built once."""
    o, r = m.Opportunity, m.ExchangeRate
    on = bindparam(None, callable_=today, type_=Date())
    latest = (
        select(col(r.rate))
        .where(col(r.currency) == o.currency, col(r.valid_from) <= on)
        .order_by(col(r.valid_from).desc())
        .limit(1)
        .correlate(o)
        .scalar_subquery()
    )
    one = literal(Decimal(1), ExactDecimal(scale=RATE_SCALE))
    return func.coalesce(
        o.conversion_rate,
        latest,
        case((o.currency == base_currency(), one)),
        type_=ExactDecimal(scale=RATE_SCALE),
    )
