"""The shared eligibility register: insurers, persons, coverages and their terms, change-feed
bookkeeping, the resident register and My Number linkage.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "feed_files",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_feed_files")),
    )
    op.create_index(op.f("ix_feed_files_sha256"), "feed_files", ["sha256"], unique=False)
    op.create_table(
        "insurers",
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("prefecture", sa.String(length=2), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=True),
        sa.PrimaryKeyConstraint("insurer_number", name=op.f("pk_insurers")),
    )
    op.create_table(
        "mynumber_requests",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.String(length=2), nullable=False),
        sa.Column("mynumber_hmac", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_mynumber_requests")),
        sa.UniqueConstraint(
            "insurer_number",
            "symbol",
            "number",
            "branch",
            "mynumber_hmac",
            name=op.f("uq_mynumber_requests_insurer_number"),
        ),
    )
    op.create_index(
        op.f("ix_mynumber_requests_status"), "mynumber_requests", ["status"], unique=False
    )
    op.create_table(
        "persons",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name_kanji", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("match_key", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_persons")),
    )
    op.create_index(op.f("ix_persons_match_key"), "persons", ["match_key"], unique=False)
    op.create_table(
        "residents",
        sa.Column("resident_id", sa.String(length=20), nullable=False),
        sa.Column("mynumber_hmac", sa.String(length=64), nullable=False),
        sa.Column("name_kanji", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_residents")),
        sa.UniqueConstraint("mynumber_hmac", name=op.f("uq_residents_mynumber_hmac")),
    )
    op.create_table(
        "coverages",
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.String(length=2), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("lost_on", sa.Date(), nullable=True),
        sa.Column("loss_reason", sa.String(length=2), nullable=True),
        sa.Column("relationship", sa.SmallInteger(), nullable=False),
        sa.Column("card_class", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["insurer_number"],
            ["insurers.insurer_number"],
            name=op.f("fk_coverages_insurer_number_insurers"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_coverages_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("coverage_id", name=op.f("pk_coverages")),
        sa.UniqueConstraint(
            "insurer_number",
            "symbol",
            "number",
            "branch",
            "acquired_on",
            name=op.f("uq_coverages_insurer_number"),
        ),
    )
    op.create_index("ix_coverages_person", "coverages", ["person_id"], unique=False)
    op.create_table(
        "feed_events",
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["feed_files.file_id"], name=op.f("fk_feed_events_file_id_feed_files")
        ),
        sa.PrimaryKeyConstraint("insurer_number", "event_id", name=op.f("pk_feed_events")),
    )
    op.create_table(
        "person_mynumbers",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("mynumber_hmac", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.String(length=20), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_person_mynumbers_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_mynumbers")),
        sa.UniqueConstraint("mynumber_hmac", name=op.f("uq_person_mynumbers_mynumber_hmac")),
    )
    op.create_table(
        "coverage_terms",
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("copay_percent", sa.SmallInteger(), nullable=False),
        sa.Column("elderly_copay_percent", sa.SmallInteger(), nullable=True),
        sa.Column("limit_category", sa.String(length=3), nullable=True),
        sa.Column("specific_disease", sa.String(length=1), nullable=True),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverages.coverage_id"],
            name=op.f("fk_coverage_terms_coverage_id_coverages"),
        ),
        sa.PrimaryKeyConstraint("coverage_id", "effective_from", name=op.f("pk_coverage_terms")),
    )
