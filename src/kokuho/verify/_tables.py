"""The eligibility service's tables. Only kokuho.verify writes them."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.store import metadata

institutions = sa.Table(
    "institutions",
    metadata,
    sa.Column("institution_code", sa.String(10), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(4), nullable=False),  # 医科 | 歯科 | 調剤
    # active | suspended | closed: only active institutions may query.
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("online_since", sa.Date),
    # 医療情報化支援基金 (onboarding subsidy) per institution.
    sa.Column("subsidy_applied_on", sa.Date),
    sa.Column("subsidy_approved_on", sa.Date),
    sa.Column("subsidy_paid_on", sa.Date),
    sa.Column("subsidy_yen", sa.Integer),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("credential_id", sa.String(24), primary_key=True),
    # institution | insurer_staff
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("institution_code", sa.String(10), sa.ForeignKey("institutions.institution_code")),
    sa.Column("insurer_number", sa.String(8), sa.ForeignKey("insurers.insurer_number")),
    # SHA-256 of a 256-bit random secret: the secret is never stored.
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

terminals = sa.Table(
    "terminals",
    metadata,
    sa.Column("terminal_id", sa.String(40), primary_key=True),
    sa.Column(
        "institution_code",
        sa.String(10),
        sa.ForeignKey("institutions.institution_code"),
        nullable=False,
    ),
    # Raw Ed25519 public key, hex: the key the reader signs its face-match attestations with.
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

card_certificates = sa.Table(
    "card_certificates",
    metadata,
    # The opaque per-certificate code (like 機関別符号); never the My Number.
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.person_id"), nullable=False),
    sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_card_certificates_person", "person_id"),
)

# PIN-mode challenges (暗証番号モード), shared by every server process: a challenge issued by
# one worker is answered by whichever worker the next request reaches.
card_challenges = sa.Table(
    "card_challenges",
    metadata,
    sa.Column("challenge_id", sa.String(32), primary_key=True),
    sa.Column("institution_code", sa.String(10), nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False),  # hex of the 32 bytes the card signs
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    # Kept this long after expiry so a late use is refused precisely, then purged.
    sa.Column("forget_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("used_at", sa.DateTime(timezone=True)),
)

# Face-mode attestations already used (顔認証): a replay to another worker is refused too.
card_replays = sa.Table(
    "card_replays",
    metadata,
    sa.Column("token", sa.String(120), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.person_id"), primary_key=True),
    sa.Column("institution_code", sa.String(10), primary_key=True),
    sa.Column("category", sa.String(12), primary_key=True),
    sa.Column("given_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("valid_until", sa.Date, nullable=False),
)

reference_numbers = sa.Table(
    "reference_numbers",
    metadata,
    sa.Column("institution_code", sa.String(10), primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.person_id"), primary_key=True),
    sa.Column("reference_number", sa.String(50), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
)

bulk_jobs = sa.Table(
    "bulk_jobs",
    metadata,
    sa.Column("reception_number", sa.String(32), primary_key=True),
    sa.Column("institution_code", sa.String(10), nullable=False, index=True),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # processing | complete
    sa.Column("queries", sa.Text, nullable=False),  # JSON
    sa.Column("results", sa.Text),  # JSON, in the order of the queries
    sa.Column("completed_at", sa.DateTime(timezone=True)),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(40), nullable=False),  # credential id, or "cli:<user>"
    sa.Column("institution_code", sa.String(10)),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("person_id", sa.Integer, index=True),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON: what was asked and returned
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
