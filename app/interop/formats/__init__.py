"""The five systems' list formats, each one module mapping a deal both ways (docs/interop.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.interop.records import Record


class Format(Protocol):
    """How one system writes a list of opportunities."""

    name: str
    list_key: str  # the top-level array of deals
    side_key: str | None  # a top-level array of related records read before the deals (JSON:API `included`)

    def read(self, item: Mapping[str, Any], side: Mapping[tuple[str, str], Mapping[str, Any]]) -> Record:
        """The canonical fields this format maps and the gateway writes (ValueError on a bad value)."""
        ...

    def write(self, rec: Record) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The item, and the side records it names (JSON:API `included`)."""
        ...

    def side_index(self, resource: Mapping[str, Any]) -> tuple[str, str]:
        """The key of a side record, as items name it."""
        ...

    def envelope(self, total: int) -> dict[str, Any]:
        """The top-level members besides the list (and the side list)."""
        ...


def get(name: str) -> Format:
    from app.interop.formats import apideck, nexudus, onlyoffice, oro, overplane

    formats: dict[str, Format] = {
        "oro": oro.FORMAT,
        "apideck": apideck.FORMAT,
        "overplane": overplane.FORMAT,
        "onlyoffice": onlyoffice.FORMAT,
        "nexudus": nexudus.FORMAT,
    }
    return formats[name]


NAMES = ("oro", "apideck", "overplane", "onlyoffice", "nexudus")
