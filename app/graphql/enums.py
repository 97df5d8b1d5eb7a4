"""The model's enums, registered once with GraphQL descriptions (in place, so they stay plain enums)."""

import strawberry

from app.enums import (
    BidType,
    CloseReasonKind,
    CustomFieldType,
    LeadSource,
    OpportunityStatus,
    Priority,
    StageType,
)

strawberry.enum(OpportunityStatus, description="Where a deal stands: open, won or lost.")
strawberry.enum(StageType, description="What reaching a stage means for its deals.")
strawberry.enum(CloseReasonKind, description="Whether a close reason explains a win or a loss.")
strawberry.enum(BidType, description="How the amount is billed: once, or per period.")
strawberry.enum(Priority, description="How urgent a deal is.")
strawberry.enum(LeadSource, description="Where a deal came from.")
strawberry.enum(
    CustomFieldType, description="The kind of a custom field, which decides what values it takes."
)

__all__ = [
    "BidType",
    "CloseReasonKind",
    "CustomFieldType",
    "LeadSource",
    "OpportunityStatus",
    "Priority",
    "StageType",
]
