"""The kinds of change a deal goes through."""

from enum import StrEnum


class ChangeKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
