"""Closed vocabularies shared by the tables, the validators and the GraphQL schema."""

from enum import StrEnum


class OpportunityStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class StageType(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class CloseReasonKind(StrEnum):
    WON = "WON"
    LOST = "LOST"


class BidType(StrEnum):
    FIXED = "FIXED"
    PER_HOUR = "PER_HOUR"
    PER_DAY = "PER_DAY"
    PER_WEEK = "PER_WEEK"
    PER_MONTH = "PER_MONTH"
    PER_YEAR = "PER_YEAR"


class Priority(StrEnum):
    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class LeadSource(StrEnum):
    WEBSITE = "WEBSITE"
    REFERRAL = "REFERRAL"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    EVENT = "EVENT"
    PARTNER = "PARTNER"
    ADVERTISING = "ADVERTISING"
    SOCIAL = "SOCIAL"
    OTHER = "OTHER"


class CustomFieldType(StrEnum):
    TEXT_FIELD = "TEXT_FIELD"
    TEXT_AREA = "TEXT_AREA"
    SELECT_BOX = "SELECT_BOX"
    CHECK_BOX = "CHECK_BOX"
    HEADING = "HEADING"
    DATE = "DATE"


class Role(StrEnum):
    """Roles bundle permissions; each includes the ones before it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    MANAGER = "manager"
    ADMIN = "admin"
