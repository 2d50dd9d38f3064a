"""The eligibility service: institutions, credentials, terminals, card certificates, consents,
reference numbers, bulk jobs and the hash-chained audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_person_id"), "audit_log", ["person_id"], unique=False)
    op.create_table(
        "bulk_jobs",
        sa.Column("reception_number", sa.String(length=32), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("queries", sa.Text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("reception_number", name=op.f("pk_bulk_jobs")),
    )
    op.create_index(
        op.f("ix_bulk_jobs_institution_code"), "bulk_jobs", ["institution_code"], unique=False
    )
    op.create_table(
        "institutions",
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("online_since", sa.Date(), nullable=True),
        sa.Column("subsidy_applied_on", sa.Date(), nullable=True),
        sa.Column("subsidy_approved_on", sa.Date(), nullable=True),
        sa.Column("subsidy_paid_on", sa.Date(), nullable=True),
        sa.Column("subsidy_yen", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("institution_code", name=op.f("pk_institutions")),
    )
    op.create_table(
        "card_certificates",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_card_certificates_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_card_certificates")),
    )
    op.create_index("ix_card_certificates_person", "card_certificates", ["person_id"], unique=False)
    op.create_table(
        "consents",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=12), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_consents_person_id_persons")
        ),
        sa.PrimaryKeyConstraint(
            "person_id", "institution_code", "category", "given_at", name=op.f("pk_consents")
        ),
    )
    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=True),
        sa.Column("insurer_number", sa.String(length=8), nullable=True),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institutions.institution_code"],
            name=op.f("fk_credentials_institution_code_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["insurer_number"],
            ["insurers.insurer_number"],
            name=op.f("fk_credentials_insurer_number_insurers"),
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_credentials")),
    )
    op.create_table(
        "reference_numbers",
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("reference_number", sa.String(length=50), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_reference_numbers_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("institution_code", "person_id", name=op.f("pk_reference_numbers")),
    )
    op.create_table(
        "terminals",
        sa.Column("terminal_id", sa.String(length=40), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institutions.institution_code"],
            name=op.f("fk_terminals_institution_code_institutions"),
        ),
        sa.PrimaryKeyConstraint("terminal_id", name=op.f("pk_terminals")),
    )
