"""Initial schema: every table of app.models.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:00:02.420643
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.sqltypes

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("base_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "close_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "custom_field_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("field_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("is_required", sa.Boolean(), nullable=False),
        sa.Column("mask", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("custom_field_definition", schema=None) as batch_op:
        batch_op.create_index("ix_cfdef_org_position", ["organization_id", "position"], unique=False)

    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("industry", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("market_segment", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("territory", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("customer_group", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("number_of_employees", sa.Integer(), nullable=True),
        sa.Column("annual_revenue", app.sqltypes.ExactDecimal(scale=4, precision=20), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("street", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index("ix_customer_org_name", ["organization_id", "name"], unique=False)

    op.create_table(
        "opportunity_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "pipeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("avatar_url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("profile_url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "email"),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("salt", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("roles", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("expires_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_user_id"), ["user_id"], unique=False)

    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("mobile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("whatsapp", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("job_title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("is_company", sa.Boolean(), nullable=False),
        sa.Column("avatar_url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_contact_org_last_name", ["organization_id", "last_name"], unique=False)

    op.create_table(
        "stage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("color", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipeline.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stage", schema=None) as batch_op:
        batch_op.create_index("ix_stage_pipeline_position", ["pipeline_id", "position"], unique=False)

    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "opportunity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=True),
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("amount", app.sqltypes.ExactDecimal(scale=4, precision=20), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("bid_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("per_period_value", sa.Integer(), nullable=True),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column("expected_revenue", app.sqltypes.ExactDecimal(scale=4, precision=20), nullable=True),
        sa.Column("conversion_rate", app.sqltypes.ExactDecimal(scale=6, precision=20), nullable=True),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("closed_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("close_reason_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("referrer_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("lead_source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("utm_source", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("utm_medium", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("utm_campaign", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("utm_content", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("interaction_count", sa.Integer(), nullable=False),
        sa.Column("created_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("stage_changed_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_contacted_at", app.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["close_reason_id"], ["close_reason.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["referrer_id"], ["contact.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["stage_id"], ["stage.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["type_id"], ["opportunity_type.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunity_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_close_reason_id"), ["close_reason_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_created_by_id"), ["created_by_id"], unique=False)
        batch_op.create_index("ix_opportunity_customer", ["customer_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index("ix_opportunity_org_amount", ["organization_id", "amount"], unique=False)
        batch_op.create_index(
            "ix_opportunity_org_created", ["organization_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_opportunity_org_status_close",
            ["organization_id", "status", "expected_close_date"],
            unique=False,
        )
        batch_op.create_index("ix_opportunity_owner", ["owner_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_referrer_id"), ["referrer_id"], unique=False)
        batch_op.create_index("ix_opportunity_stage_position", ["stage_id", "position", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_type_id"), ["type_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_updated_by_id"), ["updated_by_id"], unique=False)

    op.create_table(
        "custom_field_value",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.ForeignKeyConstraint(["definition_id"], ["custom_field_definition.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "definition_id"),
    )
    with op.batch_alter_table("custom_field_value", schema=None) as batch_op:
        batch_op.create_index("ix_cfvalue_definition", ["definition_id"], unique=False)

    op.create_table(
        "opportunity_access",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "user_id"),
    )
    with op.batch_alter_table("opportunity_access", schema=None) as batch_op:
        batch_op.create_index("ix_oppaccess_user", ["user_id", "opportunity_id"], unique=False)

    op.create_table(
        "opportunity_contact",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "contact_id"),
    )
    with op.batch_alter_table("opportunity_contact", schema=None) as batch_op:
        batch_op.create_index("ix_oppcontact_contact", ["contact_id"], unique=False)

    op.create_table(
        "opportunity_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
        sa.Column("item_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("item_group", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
        sa.Column("uom", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("image_url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("quantity", app.sqltypes.ExactDecimal(scale=4, precision=20), nullable=False),
        sa.Column("rate", app.sqltypes.ExactDecimal(scale=4, precision=20), nullable=False),
        sa.Column("base_rate", app.sqltypes.ExactDecimal(scale=4, precision=20), nullable=True),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opportunity_item", schema=None) as batch_op:
        batch_op.create_index("ix_item_opportunity_position", ["opportunity_id", "position"], unique=False)

    op.create_table(
        "opportunity_lost_reason",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("close_reason_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["close_reason_id"], ["close_reason.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "close_reason_id"),
    )
    op.create_table(
        "opportunity_tag",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("tag", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("opportunity_id", "tag"),
    )
    with op.batch_alter_table("opportunity_tag", schema=None) as batch_op:
        batch_op.create_index("ix_opptag_tag", ["organization_id", "tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opportunity_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_opptag_tag")

    op.drop_table("opportunity_tag")
    op.drop_table("opportunity_lost_reason")
    with op.batch_alter_table("opportunity_item", schema=None) as batch_op:
        batch_op.drop_index("ix_item_opportunity_position")

    op.drop_table("opportunity_item")
    with op.batch_alter_table("opportunity_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_oppcontact_contact")

    op.drop_table("opportunity_contact")
    with op.batch_alter_table("opportunity_access", schema=None) as batch_op:
        batch_op.drop_index("ix_oppaccess_user")

    op.drop_table("opportunity_access")
    with op.batch_alter_table("custom_field_value", schema=None) as batch_op:
        batch_op.drop_index("ix_cfvalue_definition")

    op.drop_table("custom_field_value")
    with op.batch_alter_table("opportunity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_updated_by_id"))
        batch_op.drop_index(batch_op.f("ix_opportunity_type_id"))
        batch_op.drop_index("ix_opportunity_stage_position")
        batch_op.drop_index(batch_op.f("ix_opportunity_referrer_id"))
        batch_op.drop_index("ix_opportunity_owner")
        batch_op.drop_index("ix_opportunity_org_status_close")
        batch_op.drop_index("ix_opportunity_org_created")
        batch_op.drop_index("ix_opportunity_org_amount")
        batch_op.drop_index(batch_op.f("ix_opportunity_lead_id"))
        batch_op.drop_index("ix_opportunity_customer")
        batch_op.drop_index(batch_op.f("ix_opportunity_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_opportunity_contact_id"))
        batch_op.drop_index(batch_op.f("ix_opportunity_close_reason_id"))
        batch_op.drop_index(batch_op.f("ix_opportunity_channel_id"))
        batch_op.drop_index(batch_op.f("ix_opportunity_agent_id"))

    op.drop_table("opportunity")
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_customer_id"))
        batch_op.drop_index(batch_op.f("ix_lead_contact_id"))

    op.drop_table("lead")
    with op.batch_alter_table("stage", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_pipeline_position")

    op.drop_table("stage")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_org_last_name")
        batch_op.drop_index(batch_op.f("ix_contact_customer_id"))

    op.drop_table("contact")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_user_id"))

    op.drop_table("api_key")
    op.drop_table("user")
    op.drop_table("pipeline")
    op.drop_table("opportunity_type")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_org_name")

    op.drop_table("customer")
    with op.batch_alter_table("custom_field_definition", schema=None) as batch_op:
        batch_op.drop_index("ix_cfdef_org_position")

    op.drop_table("custom_field_definition")
    op.drop_table("close_reason")
    op.drop_table("channel")
    op.drop_table("organization")
