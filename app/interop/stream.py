"""Reading a list out of one big JSON document without holding it, and writing one the same way."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import ijson
import orjson


def items(path: Path, key: str) -> Iterator[Any]:
    """The elements of the top-level array `key`, one at a time (numbers as Decimal: exact)."""
    with path.open("rb") as f:
        yield from ijson.items(f, f"{key}.item", use_float=False)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


class ListWriter:
    """Writes `{"<key>": [item, …], <tail members>}` item by item."""

    def __init__(self, out: IO[bytes], key: str) -> None:
        self.out, self.count = out, 0
        out.write(b"{" + dumps(key) + b": [")

    def add(self, item: Any) -> None:
        self.out.write((b",\n" if self.count else b"\n") + dumps(item))
        self.count += 1

    def close(self, tail: dict[str, Any]) -> None:
        self.out.write(b"\n]")
        for k, v in tail.items():
            self.out.write(b",\n" + dumps(k) + b": " + dumps(v))
        self.out.write(b"}\n")
