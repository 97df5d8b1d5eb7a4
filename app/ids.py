"""Global ids: opaque `base64("Type:pk")` strings; shared by the GraphQL layer and crud."""

from __future__ import annotations

import base64
import binascii


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(gid: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not type_name.isidentifier() or number <= 0 or number > 2**63 - 1:
        return None
    return type_name, number
