"""Input checks that collect every problem with a mutation's input before anything is written.

A `Problems` collects `UserErrorData` at input paths; `raise_if_any` turns them into
an `Invalid` exception, which the mutation runner catches outside the transaction,
so a request with any problem rolls back whole and returns them all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.errors import ErrorCode, UserErrorData
from app.sqltypes import MONEY_SCALE

Path = Sequence[str]

# ISO 4217 active codes (2024), plus XAU/XAG-style units left out on purpose: deals are in money.
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

# 14 digits before the point, on both databases: SQLite holds money as value × 10^4 in a
# 64-bit integer (at most about 9.2 × 10^14), and one range for both keeps them alike.
MAX_MONEY = Decimal(10) ** 14 - 1


class Invalid(Exception):
    """The input had problems; nothing may be written."""

    def __init__(self, problems: list[UserErrorData]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


class Problems:
    def __init__(self) -> None:
        self.items: list[UserErrorData] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, path: Path, code: ErrorCode, message: str, value: Any = None) -> None:
        self.items.append(UserErrorData(tuple(path), message, code, value))

    def raise_if_any(self) -> None:
        if self.items:
            raise Invalid(self.items)

    # ------------------------------------------------------------ checks

    def text(
        self,
        path: Path,
        value: str | None,
        *,
        required: bool = False,
        max_length: int = 255,
        min_length: int = 0,
    ) -> str | None:
        """Trimmed text within bounds; control characters other than newline and tab are refused."""
        if value is None:
            if required:
                self.add(path, ErrorCode.REQUIRED, f"{path[-1]} is required")
            return None
        trimmed = value.strip()
        if required and not trimmed:
            self.add(path, ErrorCode.REQUIRED, f"{path[-1]} cannot be blank", value)
        elif len(trimmed) > max_length:
            self.add(
                path,
                ErrorCode.TOO_LONG,
                f"{path[-1]} is {len(trimmed)} characters; at most {max_length}",
                value[:100],
            )
        elif len(trimmed) < min_length:
            self.add(path, ErrorCode.INVALID, f"{path[-1]} needs at least {min_length} characters", value)
        elif any(ord(c) < 32 and c not in "\n\t\r" for c in trimmed):
            self.add(path, ErrorCode.INVALID, f"{path[-1]} contains control characters", value[:100])
        return trimmed

    def money(
        self,
        path: Path,
        value: Decimal | None,
        *,
        minimum: Decimal = Decimal(0),
        scale: int = MONEY_SCALE,
        maximum: Decimal = MAX_MONEY,
    ) -> Decimal | None:
        """A finite decimal within [minimum, maximum] with at most `scale` decimal places."""
        if value is None:
            return None
        try:
            if not value.is_finite():
                self.add(path, ErrorCode.INVALID, f"{path[-1]} must be a finite number", value)
                return None
            exponent = value.normalize().as_tuple().exponent
        except (InvalidOperation, AttributeError):
            self.add(path, ErrorCode.INVALID, f"{path[-1]} must be a decimal number", value)
            return None
        if isinstance(exponent, int) and -exponent > scale:
            self.add(path, ErrorCode.INVALID, f"{path[-1]} has more than {scale} decimal places", value)
        elif value < minimum or value > maximum:
            self.add(
                path, ErrorCode.OUT_OF_RANGE, f"{path[-1]} must be between {minimum} and {maximum}", value
            )
        return value

    def integer(self, path: Path, value: int | None, *, minimum: int, maximum: int) -> int | None:
        if value is not None and not minimum <= value <= maximum:
            self.add(
                path, ErrorCode.OUT_OF_RANGE, f"{path[-1]} must be between {minimum} and {maximum}", value
            )
        return value

    def currency(self, path: Path, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in CURRENCIES:
            self.add(path, ErrorCode.INVALID, f"{value!r} is not an ISO 4217 currency code", value)
        return code

    def date_range(self, path: Path, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date(2999, 12, 31):
            self.add(path, ErrorCode.OUT_OF_RANGE, f"{path[-1]} must be between 1900 and 2999", value)
        return value

    def float_finite(self, path: Path, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            self.add(path, ErrorCode.INVALID, f"{path[-1]} must be a finite number", value)
        return value

    def tags(
        self, path: Path, values: Sequence[str], *, max_count: int = 20, max_length: int = 64
    ) -> list[str]:
        """Trimmed, de-duplicated (first wins, case-insensitively), bounded tags."""
        seen: dict[str, str] = {}
        for i, raw in enumerate(values):
            tag = self.text([*path, str(i)], raw, required=True, max_length=max_length)
            if tag and tag.lower() not in seen:
                seen[tag.lower()] = tag
        if len(seen) > max_count:
            self.add(path, ErrorCode.OUT_OF_RANGE, f"at most {max_count} tags", len(seen))
        return list(seen.values())

    def moment(self, path: Path, value: datetime | None) -> datetime | None:
        """A timestamp between 1900 and 2999; one without an offset is taken as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if not datetime(1900, 1, 1, tzinfo=UTC) <= value <= datetime(2999, 12, 31, tzinfo=UTC):
            self.add(path, ErrorCode.OUT_OF_RANGE, f"{path[-1]} must be between 1900 and 2999", value)
        return value.astimezone(UTC)

    def iso_date_text(self, path: Path, value: str) -> str | None:
        """A date written as ISO 8601 (YYYY-MM-DD), returned in that exact form."""
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            self.add(path, ErrorCode.INVALID, f"{value!r} is not an ISO date (YYYY-MM-DD)", value)
            return None
        self.date_range(path, parsed)
        return parsed.isoformat()

    def boolean_text(self, path: Path, value: str) -> str | None:
        text = value.strip().lower()
        if text not in {"true", "false"}:
            self.add(path, ErrorCode.INVALID, f'{value!r} is not "true" or "false"', value)
            return None
        return text

    def choice(self, path: Path, value: str, options: Sequence[str]) -> str | None:
        if value not in options:
            self.add(path, ErrorCode.INVALID, f"{value!r} is not one of {', '.join(options)}", value)
            return None
        return value

    def position(self, path: Path, value: int | None) -> int | None:
        """A 1-based place in an ordered list; past the end means last."""
        return self.integer(path, value, minimum=1, maximum=2**31 - 1)

    def unique_ids(self, path: Path, values: Sequence[Any]) -> list[Any]:
        """The ids once each, in order; a repeat is a DUPLICATE problem at its index."""
        seen: set[str] = set()
        for i, v in enumerate(values):
            if str(v) in seen:
                self.add([*path, str(i)], ErrorCode.DUPLICATE, "this id is listed twice", v)
            seen.add(str(v))
        return list(dict.fromkeys(values))
