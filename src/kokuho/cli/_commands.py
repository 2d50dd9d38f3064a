# ruff: noqa: E501  (a table: one command per line, however long its help)
"""The table of ``kokuho``'s sub-commands: where each lives and what ``kokuho --help`` says.

Adding a command is one line here. tests/test_cli_startup.py imports every entry and checks
that its name and short help are the command's own, so the listing cannot drift.
"""

from __future__ import annotations

from typing import NamedTuple


class LazyCommand(NamedTuple):
    """Where a sub-command lives and what ``kokuho --help`` says about it."""

    module: str
    """The module under ``kokuho.cli`` that defines the command (and registers its parts)."""
    attribute: str
    """The click command or group in that module."""
    short_help: str
    """The command's short help as click derives it: its docstring's first sentence."""


# One line per command. A module that spreads a group over several files is named by the one
# that imports the others (claims: its reports register themselves on the group).
COMMANDS: dict[str, LazyCommand] = {
    "audit": LazyCommand("_service", "audit", "The hash-chained audit log of every check and read."),
    "boundary": LazyCommand("_boundary", "boundary", "国保と被用者保険の境界: §110-2(2) double premiums, notices, 報告徴収 (docs/boundary.md)."),
    "cards": LazyCommand("_service", "cards", "The simulated My Number cards (JPKI 利用者証明用電子証明書)."),
    "care": LazyCommand("_care", "care", "介護: ingest 介護給付費明細書 and 要介護認定 files, and link them to the register."),
    "checkups": LazyCommand("_checkups", "checkups", "特定健診・特定保健指導: V08 archives, 階層化, rates, programmes."),
    "claims": LazyCommand("_claims_reports", "claims", "Claims (レセプト): ingest レセ電 files and report generic share, prescribing, cost and 資格過誤."),
    "credentials": LazyCommand("_service", "credentials", "Revocable credentials of institutions and insurer staff."),
    "dashboard": LazyCommand("_dashboard", "dashboard", "見える化: dashboard users and page screenshots."),
    "data": LazyCommand("_data", "data", "The data files shipped with kokuho and their local copies in $KOKUHO_HOME/data."),
    "demo": LazyCommand("_demo", "demo", "Generate the synthetic Kagawa prefecture, load it, and serve it."),
    "dependants": LazyCommand("_dependants", "dependants", "被扶養者の国内居住要件: check dependants' residency and list those to re-check."),
    "grants": LazyCommand("_incentives", "grants", "調整交付金: 普通調整交付金, 暫定措置, 特別調整交付金 (docs/incentives.md)."),
    "ids": LazyCommand("_ids", "ids", "Check identifiers and convert dates."),
    "incentives": LazyCommand("_incentives", "incentives", "保険者努力支援制度: rule files, scores, allocation, what-if (docs/incentives.md)."),
    "institutions": LazyCommand("_service", "institutions", "Medical institutions (保険医療機関・薬局) allowed to check eligibility."),
    "lake": LazyCommand("_lake", "lake", "The Parquet lakes of checkups, claims and 介護 ($KOKUHO_HOME/lake)."),
    "mynumber": LazyCommand("_mynumber", "mynumber", "My Number linkage (個人番号の紐付け): links only when all five basic items match."),
    "oqs-agent": LazyCommand("_service", "oqs_agent", "The on-site terminal (資格確認端末) for the OQS file interface: answers OQSsiquc01req_*.xml (single) and OQSmuquc01req/02req_*.xml (bulk) files."),
    "premiums": LazyCommand("_premiums_all", "premiums", "国民健康保険料: households, incomes, rules, 賦課, 収納, 収納率, 納付金 (docs/premiums.md)."),
    "provision": LazyCommand("_provision", "provision", "データ提供: applications, review, extracts, 公表物確認 and statutory requests (docs/provision.md)."),
    "registry": LazyCommand("_registry", "registry", "The shared eligibility register (資格情報): insurers, change feeds, members, overlaps."),
    "residents": LazyCommand("_mynumber", "residents", "The resident register (住民基本台帳) that My Number links are checked against."),
    "serve": LazyCommand("_service", "serve", "Serve the eligibility service (REST /api/v1, FHIR /fhir, OpenAPI /docs)."),
    "synth": LazyCommand("_synth", "synth", "Write a synthetic Kagawa-like prefecture: insurers.csv, changes/*.csv (資格異動 by insurer and filing month), residents.csv (住基), mynumber_submissions.csv and manifest.json (docs/formats.md)."),
    "terminals": LazyCommand("_service", "terminals", "Face-recognition card readers (顔認証付きカードリーダー)."),
}  # fmt: skip
