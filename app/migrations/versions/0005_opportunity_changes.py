"""The change log: one row per committed change of a deal (app/changes, docs/changes.md).

`ix_opportunity_change_deal` serves a deal's history (oldest first, newest with `last:`),
`ix_opportunity_change_feed` the delta feed (an organization's changes in commit order,
after a cursor), `ix_opportunity_change_stage` the stage history and the funnel. On
PostgreSQL `opportunity_change_seq` hands out the feed positions at commit time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.sqltypes

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opportunity_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("stage_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("entered_stage", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opportunity_change", schema=None) as batch_op:
        batch_op.create_index("ix_opportunity_change_deal", ["opportunity_id", "id"], unique=False)
        batch_op.create_index("ix_opportunity_change_feed", ["organization_id", "seq"], unique=True)
        batch_op.create_index("ix_opportunity_change_stage", ["stage_id", "at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE opportunity_change_seq")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE opportunity_change_seq")
    with op.batch_alter_table("opportunity_change", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunity_change_stage")
        batch_op.drop_index("ix_opportunity_change_feed")
        batch_op.drop_index("ix_opportunity_change_deal")
    op.drop_table("opportunity_change")
