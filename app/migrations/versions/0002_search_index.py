"""Full-text search indexes for the `search` filter (PostgreSQL only).

GIN indexes over exactly the expressions `app.query.word_search` compiles to, so that
`to_tsvector('simple', …) @@ to_tsquery(…)` on deals' title and description and on
customers' names is an index scan. SQLite has no such index (its `search` is a
substring match), so there this revision does nothing. The SQL is spelled out here, not
imported, so that this revision stays what it was when app code moves on.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_opportunity_search": (
        "opportunity",
        "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))",
    ),
    "ix_customer_search": ("customer", "to_tsvector('simple', coalesce(name, ''))"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, document) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({document})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
