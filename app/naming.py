"""Python names to GraphQL names: the one camelCase rule, for messages that quote an input path."""

from __future__ import annotations


def camel(name: str) -> str:
    """`expected_close_date` → `expectedCloseDate`; a trailing `_` (`in_`, `and_`) is dropped,
    as strawberry drops it when it names the field."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)
