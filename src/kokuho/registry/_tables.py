"""The register's tables. Only kokuho.registry writes them."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.ids import MAX_HOUSEHOLD_ID_LENGTH
from kokuho.store import metadata

insurers = sa.Table(
    "insurers",
    metadata,
    sa.Column("insurer_number", sa.String(8), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    # kyokai | kumiai | kyosai | kokuho_municipal | kokuho_kumiai | koki
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("prefecture", sa.String(2), nullable=False),
    sa.Column("municipality_code", sa.String(6)),
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("person_id", sa.Integer, primary_key=True),
    sa.Column("name_kanji", sa.String(100), nullable=False),
    sa.Column("name_kana", sa.String(100), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("sex", sa.SmallInteger, nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    # Digest of the five normalised basic items; finds the same person across insurers.
    sa.Column("match_key", sa.String(32), nullable=False, index=True),
)

coverages = sa.Table(
    "coverages",
    metadata,
    sa.Column("coverage_id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.person_id"), nullable=False),
    sa.Column(
        "insurer_number", sa.String(8), sa.ForeignKey("insurers.insurer_number"), nullable=False
    ),
    sa.Column("symbol", sa.String(20), nullable=False),
    sa.Column("number", sa.String(20), nullable=False),
    sa.Column("branch", sa.String(2), nullable=False),
    sa.Column("acquired_on", sa.Date, nullable=False),
    sa.Column("lost_on", sa.Date),
    sa.Column("loss_reason", sa.String(2)),
    sa.Column("relationship", sa.SmallInteger, nullable=False),
    sa.Column("card_class", sa.String(2), nullable=False),
    # 資格決定日/確認日 from the feed (optional): a retroactive enrolment shows here.
    sa.Column("decided_on", sa.Date),
    sa.UniqueConstraint("insurer_number", "symbol", "number", "branch", "acquired_on"),
    sa.Index("ix_coverages_person", "person_id"),
)

coverage_terms = sa.Table(
    "coverage_terms",
    metadata,
    sa.Column("coverage_id", sa.Integer, sa.ForeignKey("coverages.coverage_id"), primary_key=True),
    sa.Column("effective_from", sa.Date, primary_key=True),
    sa.Column("copay_percent", sa.SmallInteger, nullable=False),
    sa.Column("elderly_copay_percent", sa.SmallInteger),
    sa.Column("limit_category", sa.String(3)),
    sa.Column("specific_disease", sa.String(1)),
)

feed_files = sa.Table(
    "feed_files",
    metadata,
    sa.Column("file_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("applied", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
)

feed_events = sa.Table(
    "feed_events",
    metadata,
    sa.Column("insurer_number", sa.String(8), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("feed_files.file_id"), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    # Digest of the row's content: the same event id with other content is an error.
    sa.Column("digest", sa.String(32), nullable=False),
)

residents = sa.Table(
    "residents",
    metadata,
    sa.Column("resident_id", sa.String(20), primary_key=True),
    sa.Column("mynumber_hmac", sa.String(64), nullable=False, unique=True),
    sa.Column("name_kanji", sa.String(100), nullable=False),
    sa.Column("name_kana", sa.String(100), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("sex", sa.SmallInteger, nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("municipality_code", sa.String(6), nullable=False),
    # Digest of the five normalised items (as persons.match_key): joins a resident to the
    # register's person where no verified My Number link exists yet.
    sa.Column("match_key", sa.String(32), index=True),
)

#: The household (世帯) each resident belongs to, with history: one row per stay, from the
#: 世帯異動日 (``valid_from``) to the first day elsewhere (``valid_to``, None while current).
resident_households = sa.Table(
    "resident_households",
    metadata,
    sa.Column("resident_id", sa.String(20), primary_key=True),
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("valid_to", sa.Date),
    sa.Column("municipality_code", sa.String(6), nullable=False),
    # 世帯番号 as kokuho.ids.parse_household_id reads it (docs/formats.md, "世帯番号").
    sa.Column("household_id", sa.String(MAX_HOUSEHOLD_ID_LENGTH), nullable=False),
    # 続柄 to the 世帯主, one of RELATIONSHIPS in registry/_residents.py; 世帯主 marks the head.
    sa.Column("relationship", sa.String(10), nullable=False),
    sa.Index("ix_resident_households_household", "municipality_code", "household_id"),
)

person_mynumbers = sa.Table(
    "person_mynumbers",
    metadata,
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.person_id"), primary_key=True),
    sa.Column("mynumber_hmac", sa.String(64), nullable=False, unique=True),
    # Indexed: the premiums' household read joins a municipality's residents to their links
    # by resident; without it SQLite scans every link once per stay.
    sa.Column("resident_id", sa.String(20), nullable=False, index=True),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
)

mynumber_requests = sa.Table(
    "mynumber_requests",
    metadata,
    sa.Column("request_id", sa.Integer, primary_key=True),
    sa.Column("insurer_number", sa.String(8), nullable=False),
    sa.Column("symbol", sa.String(20), nullable=False),
    sa.Column("number", sa.String(20), nullable=False),
    sa.Column("branch", sa.String(2), nullable=False),
    sa.Column("mynumber_hmac", sa.String(64), nullable=False),
    # linked | review | rejected
    sa.Column("status", sa.String(10), nullable=False, index=True),
    # JSON list of {"item", "register", "resident"} or a reason code.
    sa.Column("findings", sa.Text, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.String(100)),
    # A resubmission of the same pair re-checks the request instead of adding another.
    sa.UniqueConstraint("insurer_number", "symbol", "number", "branch", "mynumber_hmac"),
)

#: Append-only: two person records found to be one human (both verified against the same My
#: Number) and merged. The absorbed row stays in ``persons``; its coverages now name the
#: surviving person; this row keeps what was moved and the five items each record held.
person_merges = sa.Table(
    "person_merges",
    metadata,
    sa.Column("merge_id", sa.Integer, primary_key=True),
    sa.Column(
        "absorbed_person_id",
        sa.Integer,
        sa.ForeignKey("persons.person_id"),
        nullable=False,
        unique=True,
    ),
    sa.Column(
        "into_person_id", sa.Integer, sa.ForeignKey("persons.person_id"), nullable=False, index=True
    ),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    # The My Number request whose five-item check verified the absorbed record.
    sa.Column("request_id", sa.Integer, nullable=False),
    # JSON: the coverage ids re-pointed, and the five items of both records before the merge.
    sa.Column("coverage_ids", sa.Text, nullable=False),
    sa.Column("absorbed_items", sa.Text, nullable=False),
    sa.Column("replaced_items", sa.Text, nullable=False),
)
