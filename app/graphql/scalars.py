"""Custom scalars: `Decimal` for money, exact and bounded, sent and received as a string."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, DecimalException

from strawberry.schema.types.base_scalars import DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

# Money is stored below 10^14 (app.validation.MAX_MONEY; SQLite's scaled 64-bit integers end
# near 9.2 × 10^14): nothing at or beyond it can be stored or meaningfully compared, and a
# value like 1e999999999 would cost a huge integer to convert.
DECIMAL_DIGITS_BEFORE_POINT = 14
DECIMAL_MAX_DIGITS = 40


def parse_decimal(value: object) -> Decimal:
    """A finite decimal of sane size; anything else is the caller's mistake (BAD_USER_INPUT)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Value cannot represent a Decimal: {value!r}. Expected a string.")
    try:
        number = Decimal(str(value).strip())
    except DecimalException:
        raise ValueError(f"Value cannot represent a Decimal: {str(value)[:40]!r}.") from None
    if not number.is_finite():
        raise ValueError("A Decimal must be a finite number, not NaN or Infinity.")
    # adjusted() and as_tuple() are exact: no arithmetic that could overflow the context
    if number and number.adjusted() >= DECIMAL_DIGITS_BEFORE_POINT:
        raise ValueError(f"A Decimal must be below 10^{DECIMAL_DIGITS_BEFORE_POINT} in magnitude.")
    exponent = number.as_tuple().exponent  # an int: the number is finite (checked above)
    if isinstance(exponent, int) and -exponent > DECIMAL_MAX_DIGITS:
        raise ValueError(f"A Decimal may have at most {DECIMAL_MAX_DIGITS} digits after the point.")
    return number


DECIMAL: ScalarDefinition = dataclasses.replace(
    DecimalDefinition,
    description='An exact decimal number, sent and received as a string (e.g. "1234.50"); '
    "finite and below 10^14 in magnitude.",
    parse_value=parse_decimal,
)
