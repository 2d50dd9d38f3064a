"""The dashboard's tables: its users and their sessions. Only kokuho.web.dashboard writes them."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.store import metadata

dashboard_users = sa.Table(
    "dashboard_users",
    metadata,
    sa.Column("username", sa.String(40), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    # prefecture (都道府県 国民健康保険室) | municipal (市町村 保険年金課)
    sa.Column("role", sa.String(12), nullable=False),
    # The 市町村国保's 保険者番号 for municipal staff; null for prefecture staff.
    sa.Column("insurer_number", sa.String(8), sa.ForeignKey("insurers.insurer_number")),
    # scrypt$N$r$p$salt$hash (base64): the password is never stored.
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("disabled_at", sa.DateTime(timezone=True)),
)

dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    # SHA-256 of the 256-bit cookie token: a copy of the table opens no session.
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column(
        "username",
        sa.String(40),
        sa.ForeignKey("dashboard_users.username"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
