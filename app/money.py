"""Money arithmetic in Python, matching what the SQL side computes."""

from decimal import ROUND_HALF_UP, Decimal

from app.sqltypes import MONEY_SCALE

QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


def weighted(amount: Decimal | None, probability: int | None) -> Decimal | None:
    """amount × probability / 100, rounded half up like `sqltypes.weighted_amount`."""
    if amount is None or probability is None:
        return None
    return (amount * probability / 100).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def product(a: Decimal, b: Decimal) -> Decimal:
    """a × b at the money scale (line amounts: quantity × rate)."""
    return (a * b).quantize(QUANTUM, rounding=ROUND_HALF_UP)
