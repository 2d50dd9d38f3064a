"""``kokuho incentives`` (保険者努力支援制度) and ``kokuho grants`` (調整交付金)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option, open_engine
from kokuho.cli._params import (
    FISCAL_YEAR,
    INPUT_FILE,
    INPUT_FILE_IF_ANY,
    OUTPUT_FILE,
    TOP,
    OutputPath,
)
from kokuho.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
_FILE = OUTPUT_FILE


def _default_inputs() -> Path:
    home = Settings.from_env().home
    own = home / "incentives"
    return own if own.is_dir() else home / "demo" / "incentives"


def board_options(function: F) -> F:
    """The options every scoring command shares."""
    options = [
        click.option(
            "--fy", "fiscal_year", type=FISCAL_YEAR, required=True, help="Fiscal year (年度)."
        ),
        click.option(
            "--inputs",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Folder of national.csv, efforts.csv, collection_rates.csv, indicators.csv "
            "[default: $KOKUHO_HOME/incentives, else $KOKUHO_HOME/demo/incentives].",
        ),
        click.option(
            "--rules",
            "rules_file",
            type=INPUT_FILE,
            help="A rule file instead of the one shipped for the year.",
        ),
        click.option(
            "--data-year",
            type=FISCAL_YEAR,
            help="Score with the figures of this year for every field (a preview).",
        ),
        click.option("--prefecture", help="都道府県番号 of the home prefecture (01–47)."),
        click.option(
            "--no-register",
            is_flag=True,
            help="Use the input files only (home units: the backdrop's rows of --prefecture).",
        ),
        click.option(
            "--example",
            is_flag=True,
            help="Use the small example inputs shipped with kokuho (implies --no-register).",
        ),
        click.option(
            "--budget",
            "budgets",
            multiple=True,
            metavar="PART=YEN",
            help="Replace a part's budget, e.g. municipal=50000000000.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _budgets(values: tuple[str, ...], parts: Sequence[str]) -> dict[str, int]:
    """The --budget options by part; a part the rules do not have is refused (it was ignored,
    and the command ran on the rule file's budget as if it had been replaced)."""
    from kokuho.incentives import MAX_BUDGET_YEN, read_whole

    out = {}
    for value in values:
        key, _, amount = value.partition("=")
        shown = value if len(value) <= 60 else value[:60] + "…"
        if len(amount.replace(",", "")) > len(str(MAX_BUDGET_YEN)):  # before int() reads it
            fail(f"--budget {shown!r}: a budget is at most {MAX_BUDGET_YEN:,} yen")
        yen = read_whole(amount)
        if yen is None or "=" in amount:
            fail(f"--budget {shown!r}: write PART=YEN, e.g. municipal=50000000000")
        if yen > MAX_BUDGET_YEN:
            fail(f"--budget {shown!r}: a budget is at most {MAX_BUDGET_YEN:,} yen")
        if key.strip() not in parts:
            named = key.strip()[:40]
            fail(f"--budget {shown!r}: no part {named!r}; the parts are {', '.join(parts)}")
        out[key.strip()] = yen
    return out


def _board(options: dict[str, Any]) -> Any:
    """Builds the scoreboard of the command's options (errors end the command)."""
    from kokuho.incentives import (
        InputFileError,
        NegativeTotalError,
        RuleFileError,
        load_rules,
        prefecture_scoreboard,
    )

    if options["example"]:
        from kokuho.incentives import example_inputs

        options = {**options, "inputs": example_inputs(), "no_register": True}
        options["prefecture"] = options["prefecture"] or "37"
    inputs = options["inputs"] or _default_inputs()
    if not inputs.is_dir():
        fail(f"no input folder {inputs}: give --inputs (docs/incentives.md, Input files)")
    settings = Settings.from_env()
    engine = None
    try:
        rules = load_rules(options["rules_file"] or options["fiscal_year"])
        engine = None if options["no_register"] else open_engine()
        lake = None if options["no_register"] else settings.home / "lake"
        return prefecture_scoreboard(
            engine,
            lake,
            options["fiscal_year"],
            inputs,
            rules=rules,
            data_year=options["data_year"],
            prefecture=options["prefecture"],
            budgets=_budgets(options["budgets"], [p.key for p in rules.rules.parts]),
        )
    except (RuleFileError, InputFileError) as error:
        for problem in error.problems[:20]:
            click.echo(str(problem), err=True)
        fail(f"{len(error.problems)} problem(s) in the rules or inputs")
    except (NegativeTotalError, ValueError, KeyError) as error:
        fail(_reason(error))
    finally:
        if engine is not None:
            engine.dispose()


def _reason(error: Exception) -> str:
    """The message of an error (a KeyError's without the quotes repr adds)."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _board_kwargs(function: F) -> F:
    @functools.wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        keys = (
            "fiscal_year",
            "inputs",
            "rules_file",
            "data_year",
            "prefecture",
            "no_register",
            "example",
            "budgets",
        )
        options = {k: kwargs.pop(k) for k in keys}
        return function(options, **kwargs)

    return wrapper  # type: ignore[return-value]


def _out_csv(rows: list[dict[str, Any]], target: Path | None) -> None:
    from kokuho.incentives import write_csv

    if target is None:
        return
    if str(target) == "-":
        click.echo(write_csv(rows, None), nl=False)
    else:
        write_csv(rows, target)


@click.group(cls=SingleValueGroup)
def incentives() -> None:
    """保険者努力支援制度: rule files, scores, allocation, what-if (docs/incentives.md)."""


@incentives.command("rules")
@click.option("--fy", "fiscal_year", type=FISCAL_YEAR, help="A fiscal year shipped with kokuho.")
@click.option("--file", "path", type=INPUT_FILE_IF_ANY, help="A rule file to check.")
@click.option("--indicator", help="Show the tiers of one indicator (id or 共通⑥-style group).")
@json_option
def rules_command(
    fiscal_year: int | None, path: Path | None, indicator: str | None, as_json: bool
) -> None:
    """The indicators of a year's rules (and checks a rule file: errors name file and field)."""
    from kokuho.incentives import RuleFileError, load_rules, shipped_years

    if (fiscal_year is None) == (path is None):
        fail(f"give --fy (shipped: {shipped_years()}) or --file")
    try:
        ruleset = load_rules(path if path is not None else fiscal_year)  # type: ignore[arg-type]
    except RuleFileError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        fail(f"{len(error.problems)} problem(s)")
    rules = ruleset.rules
    if as_json:
        emit_json(rules.model_dump(mode="json"))
        return
    if indicator is not None:
        _show_indicator(rules, indicator)
        return
    click.echo(f"{rules.label} ({ruleset.path})")
    for part in rules.parts:
        total = sum(i.max for i in part.indicators)
        flag = "" if part.budget.confirmed else " 未確認"
        click.echo(f"{part.label}: 予算 {part.budget.yen:,}円{flag}, 満点 {total:g}")
        for item in part.indicators:
            mark = "確認済" if item.confirmed else "未確認"
            click.echo(f"  {item.group} {item.label} ({item.id}): {item.max:g}点 [{mark}]")


def _show_indicator(rules: Any, key: str) -> None:
    for part in rules.parts:
        for item in part.indicators:
            if key in (item.id, item.group):
                click.echo(f"{item.group} {item.label} ({item.id}): 満点 {item.max:g}")
                for k, tier in enumerate(item.tiers):
                    mark = tier.confirmed if tier.confirmed is not None else item.confirmed
                    what = tier.label or getattr(tier, "item", None) or tier.kind
                    points = "" if tier.kind == "cap" else f" {tier.points:+g}"
                    click.echo(
                        f"  {item.tier_id(k)} {tier.kind}{points}: {what}"
                        f" [{'確認済' if mark else '未確認'}]"
                    )
                return
    fail(f"no indicator {key!r}")


@incentives.command("score")
@board_options
@click.option("--csv", "csv_file", type=_FILE, help="Write the scores by indicator ('-': stdout).")
@click.option("--excel", type=OutputPath(folder=False), help="Write the workbook (.xlsx).")
@click.option("--unit", help="Print the reasons of one municipality (name or 保険者番号).")
@json_option
@_board_kwargs
def score_command(
    options: dict[str, Any],
    csv_file: Path | None,
    excel: Path | None,
    unit: str | None,
    as_json: bool,
) -> None:
    """Points per indicator and in total for each municipality and for the prefecture."""
    from kokuho.incentives import score_rows, scoreboard_json, write_workbook

    board = _board(options)
    _check_unit(board, unit)
    if excel is not None:
        write_workbook(board, excel)
    _out_csv(score_rows(board), csv_file)
    if as_json:
        emit_json(scoreboard_json(board))
        return
    if csv_file is not None and str(csv_file) == "-":
        return
    _print_board(board, unit)
    if excel is not None:
        click.echo(f"workbook: {excel}")


def _check_unit(board: Any, unit: str | None) -> None:
    """A --unit the scoreboard does not have is refused: it printed nothing for it, exit 0."""
    if unit is None:
        return
    units = [u for part in board.parts for u in part.units]
    if all(unit not in (u.code, u.name) for u in units):
        shown = unit if len(unit) <= 40 else unit[:40] + "…"
        names = ", ".join(dict.fromkeys(u.name for u in units))
        fail(f"--unit {shown!r}: no such unit; the units are {names}")


def _print_board(board: Any, unit: str | None) -> None:
    year = f", 指標値 {board.data_year}年度" if board.data_year else ""
    click.echo(f"{board.label} — {board.prefecture_name}{year}")
    for part in board.parts:
        click.echo(
            f"{part.label}: 全国平均 {part.national_mean_points or 0:.1f}点 "
            f"({part.national_units:,} 保険者)"
        )
        for u in part.units:
            if unit is not None and unit not in (u.code, u.name):
                continue
            click.echo(
                f"  {u.code} {u.name}: {u.points:g}点, 被保険者 {u.insured:,}, "
                f"交付額 {u.grant_yen:,}円"
            )
            if unit is not None:
                for indicator in u.indicators:
                    click.echo(f"    {indicator.group} {indicator.label}: {indicator.points:g}点")
                    for tier in indicator.tiers:
                        click.echo(f"      [{tier.status}] {tier.reason_ja}")
    for note in board.notes:
        click.echo(f"※ {note}")
    click.echo(f"※ 未確認の値 {len(board.unconfirmed)} 件 (--json の unconfirmed)")


@incentives.command("allocate")
@board_options
@click.option("--csv", "csv_file", type=_FILE, help="Write the grants ('-': stdout).")
@json_option
@_board_kwargs
def allocate_command(options: dict[str, Any], csv_file: Path | None, as_json: bool) -> None:
    """Grants: budget × (points × insured) ÷ Σ (points × insured), to the yen."""
    from kokuho.incentives import DENOMINATOR_UNIT, allocation_rows

    board = _board(options)
    rows = allocation_rows(board)
    _out_csv(rows, csv_file)
    if as_json:
        emit_json(
            {
                "fiscal_year": board.fiscal_year,
                "parts": [
                    {
                        "key": p.key,
                        "label": p.label,
                        "budget_yen": p.budget_yen,
                        "denominator": p.denominator,
                        "denominator_unit": DENOMINATOR_UNIT,
                        "home_yen": p.home_yen,
                        "negative_total": p.negative_total,
                    }
                    for p in board.parts
                ],
                "rows": rows,
            }
        )
        return
    if csv_file is not None and str(csv_file) == "-":
        return
    for part in board.parts:
        click.echo(f"{part.label}: 予算 {part.budget_yen:,}円, うち県内 {part.home_yen:,}円")
        for u in part.units:
            per = "-" if u.per_insured_yen is None else f"{u.per_insured_yen:,.0f}"
            click.echo(f"  {u.name}: {u.grant_yen:,}円 (一人当たり {per}円)")


@incentives.command("what-if")
@board_options
@click.option(
    "--set",
    "changes",
    multiple=True,
    required=True,
    metavar="UNIT:FIELD=VALUE",
    help="A change, e.g. 坂出市:checkup_rate=45% or 香川県:generic_share=80% (repeatable).",
)
@click.option("--csv", "csv_file", type=_FILE, help="Write the rows ('-': stdout).")
@json_option
@_board_kwargs
def what_if_command(
    options: dict[str, Any], changes: tuple[str, ...], csv_file: Path | None, as_json: bool
) -> None:
    """Points and yen before and after a change, for every home unit and the rest."""
    from kokuho.incentives import what_if, what_if_json, what_if_rows

    board = _board(options)
    try:
        result = what_if(board, list(changes))
    except (KeyError, ValueError) as error:
        fail(_reason(error))
    _out_csv(what_if_rows(result), csv_file)
    if as_json:
        emit_json(what_if_json(result))
        return
    if csv_file is not None and str(csv_file) == "-":
        return
    for row in result.rows:
        if row.points_change or row.yen_change:
            click.echo(
                f"{row.part} {row.name}: {row.points_before:g} → {row.points_after:g}点, "
                f"{row.yen_before:,} → {row.yen_after:,}円 ({row.yen_change:+,}円)"
            )
    for other in result.others:
        if other.units_moved:
            click.echo(
                f"{other.part} 他の保険者: {other.yen_change:+,}円 ({other.units_moved:,} 保険者)"
            )


@incentives.command("improvements")
@board_options
@click.option("--unit", help="Only this municipality (name or 保険者番号) or the prefecture.")
@click.option("--top", type=TOP, default=20, show_default=True, help="How many to print.")
@click.option("--csv", "csv_file", type=_FILE, help="Write every improvement ('-': stdout).")
@json_option
@_board_kwargs
def improvements_command(
    options: dict[str, Any], unit: str | None, top: int, csv_file: Path | None, as_json: bool
) -> None:
    """The improvements worth most yen (each indicator's next tier), per municipality."""
    from kokuho.incentives import improvement_rows, improvements

    board = _board(options)
    _check_unit(board, unit)
    items = improvements(board, unit=unit)
    rows = improvement_rows(items)
    _out_csv(rows, csv_file)
    if as_json:
        emit_json({"fiscal_year": board.fiscal_year, "improvements": rows})
        return
    if csv_file is not None and str(csv_file) == "-":
        return
    for item in items[:top]:
        click.echo(
            f"{item.name} {item.indicator_label} [{item.tier_label}] {item.field}: "
            f"{_shown(item.before)} → {_shown(item.after)}: +{item.points_gain:g}点, "
            f"{item.yen_gain:+,}円"
        )


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


@click.group(cls=SingleValueGroup)
def grants() -> None:
    """調整交付金: 普通調整交付金, 暫定措置, 特別調整交付金 (docs/incentives.md)."""


@grants.command("adjust")
@board_options
@click.option("--csv", "csv_file", type=_FILE, help="Write one row per prefecture ('-': stdout).")
@json_option
@_board_kwargs
def adjust_command(options: dict[str, Any], csv_file: Path | None, as_json: bool) -> None:
    """調整交付金 of the home prefecture (and every other prefecture in the backdrop)."""
    from kokuho.incentives import adjustment_json, adjustment_rows

    board = _board(options)
    if board.adjustment is None:
        fail(f"the FY{board.fiscal_year} rules define no 調整交付金 parameters")
    result = board.adjustment
    _out_csv(adjustment_rows(result), csv_file)
    if as_json:
        emit_json(adjustment_json(result))
        return
    if csv_file is not None and str(csv_file) == "-":
        return
    home = result.home
    click.echo(f"{home.name} 調整交付金 ({board.fiscal_year}年度), 被保険者 {home.insured:,}")
    o = home.ordinary
    if o is not None and not o.missing:
        click.echo(
            f"  普通調整交付金 {o.yen:,}円 = 需要額 {o.demand:,.0f} − 収入額 {o.revenue_yen:,} "
            f"(応能 {o.ability_yen:,} [割率 {o.ability_rate}] + 応益 {o.benefit_yen:,})"
        )
    elif o is not None:
        click.echo(f"  普通調整交付金: 入力なし ({', '.join(o.missing)})")
    if home.provisional_yen is not None:
        click.echo(f"  暫定措置 {home.provisional_yen:,}円 (被保険者数で按分)")
    for special in home.special:
        click.echo(f"  特別調整交付金 {special.label} {special.yen:,}円")
    click.echo(f"  合計 {home.total_yen:,}円")
    for note in result.notes:
        click.echo(f"※ {note}")
