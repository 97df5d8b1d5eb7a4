"""External ids: a record's id in another system, per organization (app/interop).

The unique key (organization_id, kind, source, external_id) is what makes an upsert
race-safe: of two transactions claiming the same new key, one INSERT wins and the
other's ON CONFLICT DO NOTHING finds the winner's row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.sqltypes

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_id",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "kind", "source", "external_id", name="uq_external_id_key"),
    )
    with op.batch_alter_table("external_id", schema=None) as batch_op:
        batch_op.create_index("ix_external_id_row", ["kind", "record_id"], unique=False)
        batch_op.create_index("ix_external_id_opportunity_id", ["opportunity_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("external_id", schema=None) as batch_op:
        batch_op.drop_index("ix_external_id_opportunity_id")
        batch_op.drop_index("ix_external_id_row")
    op.drop_table("external_id")
