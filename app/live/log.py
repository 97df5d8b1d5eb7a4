"""The change log as the live side reads it (the table is app/changes')."""

from __future__ import annotations

from typing import Any


def change_table() -> Any:
    from app.models import OpportunityChange  # type: ignore[attr-defined]

    return OpportunityChange.__table__
