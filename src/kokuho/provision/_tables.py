"""The provision room's tables: one row per provision or statutory request with its state, and
its steps, append-only (an application, a review, every extract, every 公表物確認, the
deletion). Only kokuho.provision writes them."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.store import metadata

#: One provision (第三者提供) or statutory request (法定の求め) and where it stands.
provisions = sa.Table(
    "provisions",
    metadata,
    sa.Column("provision_id", sa.String(16), primary_key=True),
    # third_party | prefecture_request | integrated_request (data/provision/catalogue.yaml)
    sa.Column("basis", sa.String(24), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("applicant", sa.String(100), nullable=False),
    sa.Column("organisation", sa.String(200), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("public_interest", sa.Text, nullable=False),
    # 利用場所・保管場所 (in Japan)
    sa.Column("place", sa.Text, nullable=False),
    # JSON lists/maps: the named users, the requested and the approved tables and items.
    sa.Column("users", sa.Text, nullable=False),
    sa.Column("requested", sa.Text, nullable=False),
    sa.Column("approved", sa.Text),
    sa.Column("period_from", sa.Date, nullable=False),
    sa.Column("period_to", sa.Date, nullable=False),
    sa.Column("applied_on", sa.Date, nullable=False),
    # 利用期間: set at review; no extract after it.
    sa.Column("term_until", sa.Date),
    sa.Column("extracts", sa.Integer, nullable=False, server_default="0"),
    # The providing insurer (保険者番号) a statutory request names: only its members and claims
    # are extracted (None for 第三者提供; a request recorded before migration 0015 has none).
    sa.Column("provider_insurer", sa.String(8)),
    sa.Index("ix_provisions_state", "state"),
)

#: One recorded step of a provision.
provision_steps = sa.Table(
    "provision_steps",
    metadata,
    sa.Column("step_id", sa.Integer, primary_key=True),
    sa.Column(
        "provision_id", sa.String(16), sa.ForeignKey("provisions.provision_id"), nullable=False
    ),
    # applied | reviewed | extracted | release_checked | deleted
    sa.Column("step", sa.String(16), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_provision_steps_provision", "provision_id"),
)

#: Who may review (審査): committee members for 第三者提供, the providing body's staff for a
#: statutory request.
provision_reviewers = sa.Table(
    "provision_reviewers",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("added_on", sa.Date, nullable=False),
)
