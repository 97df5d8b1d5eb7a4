"""The trash and the base currency: `opportunity.deleted_at` and the `exchange_rate` table.

A deal in the trash keeps its row, its children and its board position (the column it left is
renumbered without it); `ix_opportunity_org_deleted` serves the trash list and the purge.
Exchange rates are per organization, currency and first valid day (unique).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.sqltypes

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", app.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_opportunity_org_deleted", ["organization_id", "deleted_at"], unique=False)
    op.create_table(
        "exchange_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("rate", app.sqltypes.ExactDecimal(precision=20, scale=6), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "currency", "valid_from"),
    )


def downgrade() -> None:
    op.drop_table("exchange_rate")
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunity_org_deleted")
        batch_op.drop_column("deleted_at")
