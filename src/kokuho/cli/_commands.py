# ruff: noqa: E501  (a table: one command per line, however long its help)
"""The table of ``kokuho``'s sub-commands: where each lives and what ``kokuho --help`` says.

Adding a command is one line here; every command and group is declared with
``cls=SingleValueOptions`` / ``cls=SingleValueGroup`` (below), which ``kokuho.cli.load``
checks. tests/test_cli_startup.py imports every entry and checks
that its name and short help are the command's own, so the listing cannot drift.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import click
from click.core import Parameter


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


class SingleValueOptions(click.Command):
    """A command whose single-valued options may be given once: ``--municipality 372013
    --municipality 372021`` is a usage error naming ``--municipality`` (exit code 2, as every
    usage error), where click used the last value and the report was of the other 市区町村.

    Options meant to repeat (``multiple=True``, counters) take every occurrence as before; a
    flag (``--json``) given twice, or as both of its forms, is refused as well, and so are two
    spellings of one option (``-m`` and ``--municipality``). Eager options (``--help``) are not
    checked: they end the command before any value is used. The check reads the order click's
    parser records each option in, so it holds for every command of the tree: the groups make
    their sub-commands of these classes, and :func:`kokuho.cli.load` refuses a command that
    is not (tests/test_cli_repeated_options.py)."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_once(args: list[str]) -> tuple[dict[str, Any], list[str], list[Parameter]]:
            opts, rest, order = parse(args=args)
            if not ctx.resilient_parsing:  # shell completion reads half-typed lines
                _refuse_repeated(ctx, order)
            return opts, rest, order

        parser.parse_args = parse_once  # type: ignore[method-assign]
        return parser


def _refuse_repeated(ctx: click.Context, order: list[Parameter]) -> None:
    seen: set[str | None] = set()
    for param in order:
        if not isinstance(param, click.Option) or param.multiple or param.count:
            continue
        if param.is_eager:
            continue
        if param.name in seen:
            names = " / ".join([*param.opts, *param.secondary_opts])
            raise click.UsageError(
                f"option {names} is given more than once; it takes one value", ctx
            )
        seen.add(param.name)


class SingleValueGroup(SingleValueOptions, click.Group):
    """A group of :class:`SingleValueOptions` commands (its sub-groups are of this class)."""

    command_class = SingleValueOptions
    group_class = type
