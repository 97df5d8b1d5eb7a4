"""Global ids: opaque `base64("Type:pk")` strings; shared by the GraphQL layer and crud.

There is one decoder, `decode`, with one failure convention: None for anything that is not
an id this API issued for the expected type. Callers choose what None means for them
(NOT_FOUND for a mutation input, "matches no row" for a filter, null for `node`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def to_global_id(type_name: str, pk: int) -> str:
    # base64.urlsafe_b64encode without its two wrapper calls: ids are encoded per row
    raw = binascii.b2a_base64(f"{type_name}:{pk}".encode(), newline=False)
    return raw.translate(_URLSAFE).rstrip(b"=").decode()


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


def decode(type_name: str, gid: Any) -> int | None:
    """The primary key of a global id of `type_name`, or None for anything else."""
    decoded = from_global_id(str(gid))
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
