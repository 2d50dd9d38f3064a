"""The dashboard (見える化): its users (prefecture and municipal staff, scrypt password hashes,
lockout) and their sessions (hashed tokens with expiry).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["insurer_number"],
            ["insurers.insurer_number"],
            name=op.f("fk_dashboard_users_insurer_number_insurers"),
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_dashboard_users")),
    )
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["dashboard_users.username"],
            name=op.f("fk_dashboard_sessions_username_dashboard_users"),
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_dashboard_sessions")),
    )
    op.create_index(
        op.f("ix_dashboard_sessions_username"), "dashboard_sessions", ["username"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dashboard_sessions_username"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_table("dashboard_users")
