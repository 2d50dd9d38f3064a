"""The premiums room's tables for incomes (所得). Only kokuho.premiums writes them."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.store import metadata

#: One row per income file loaded: a file whose digest is here is skipped when given again.
premium_income_files = sa.Table(
    "premium_income_files",
    metadata,
    sa.Column("file_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
)

#: A person's 所得 of the calendar year before ``fiscal_year`` (市町村民税 data), in yen.
premium_incomes = sa.Table(
    "premium_incomes",
    metadata,
    sa.Column("fiscal_year", sa.Integer, primary_key=True),
    sa.Column("resident_id", sa.String(20), primary_key=True),
    sa.Column("salary", sa.BigInteger, nullable=False),
    sa.Column("pension", sa.BigInteger, nullable=False),
    sa.Column("other", sa.BigInteger, nullable=False),
    sa.Column("declared", sa.Boolean, nullable=False),
    sa.Column("wage_earner", sa.Boolean, nullable=False),
    sa.Column("fixed_asset_tax", sa.BigInteger, nullable=False),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("premium_income_files.file_id"), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
)

#: One row per reduction-grounds file loaded (docs/formats.md §8a): a digest here is skipped.
premium_ground_files = sa.Table(
    "premium_ground_files",
    metadata,
    sa.Column("file_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
)

#: A person's ground for a special reduction: ``former_dependant`` (旧被扶養者, ``on`` the
#: 資格取得日 in 国保) or ``involuntary_unemployment`` (非自発的失業, ``on`` the 離職日, with the
#: 雇用保険受給資格者証's 離職理由コード).
premium_reduction_grounds = sa.Table(
    "premium_reduction_grounds",
    metadata,
    sa.Column("resident_id", sa.String(20), primary_key=True),
    sa.Column("ground", sa.String(30), primary_key=True),
    sa.Column("on", sa.Date, primary_key=True),
    sa.Column("reason_code", sa.String(2), nullable=True),
    sa.Column("file_id", sa.Integer, sa.ForeignKey("premium_ground_files.file_id"), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
)
