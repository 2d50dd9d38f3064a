"""``kokuho dependants``: 被扶養者の国内居住要件 on change feeds and dependants files
(docs/dependants.md). The boundary room is imported inside each command, so the help is quick."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import DAY, DAYS, INPUT_FILE

if TYPE_CHECKING:
    from kokuho.boundary import FileCheck, RowCheck
    from kokuho.store import FileProblemsError

_FILES = INPUT_FILE


@click.group(cls=SingleValueGroup)
def dependants() -> None:
    """被扶養者の国内居住要件: check dependants' residency and list those to re-check."""


@dependants.command("check")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option(
    "--register",
    is_flag=True,
    help="Look up rows with an empty residence in the resident register (住民基本台帳).",
)
@json_option
def check_command(files: tuple[Path, ...], register: bool, as_json: bool) -> None:
    """Judge each dependant of change feeds or dependants files: 認定, 不認定 or 要確認.

    A feed's 2 家族 acquires are judged on their 資格取得日; a dependants file's rows on their
    judgement_date. With --register, a row whose residence is empty and that gives the five
    basic items is looked up in the resident register: found is a 住民票 in Japan, not found
    stays unknown (要確認). A file with a bad row is refused whole (exit code 1), naming file, line
    and column; 不認定 and 要確認 are answers, not errors (exit code 0).
    """
    from kokuho.boundary import (
        check_residency_file,
        load_residency_rules,
        resident_register_lookup,
    )
    from kokuho.store import FileProblemsError

    engine = open_engine() if register else None
    residents = resident_register_lookup(engine) if engine is not None else None
    try:
        rules = load_residency_rules()
        checks = [check_residency_file(file, rules, residents) for file in files]
    except FileProblemsError as error:
        _refused(error, as_json)
    finally:
        if engine is not None:
            engine.dispose()
    if as_json:
        emit_json({"files": [_file_json(check) for check in checks]})
        return
    for check in checks:
        click.echo(
            f"{shown(check.file)} ({check.kind}): {len(check.rows)} dependant(s) judged: "
            f"{check.count('認定')} 認定, {check.count('不認定')} 不認定, "
            f"{check.count('要確認')} 要確認; {check.not_judged} other row(s)"
        )
        for row in check.rows:
            click.echo(_row_line(row))


@dependants.command("recheck")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option(
    "--on",
    "on",
    type=DAY,
    default=None,
    help="The day to count from (YYYY-MM-DD; default today).",
)
@click.option(
    "--within",
    type=DAYS,
    default=90,
    show_default=True,
    help="Days ahead: exceptions ending up to then are listed, ended ones always.",
)
@json_option
def recheck_command(
    files: tuple[Path, ...], on: dt.datetime | None, within: int, as_json: bool
) -> None:
    """List dependants abroad whose exception (留学 …) has ended or ends within the window.

    FILES are read in order: a later row for the same insured number replaces an earlier
    one, and a feed's 喪失 (lose) on or before the day removes the dependant.
    """
    from kokuho.boundary import recheck_list
    from kokuho.store import FileProblemsError

    day = on.date() if on is not None else dt.date.today()
    try:
        items = recheck_list(files, on=day, within_days=within)
    except FileProblemsError as error:
        _refused(error, as_json)
    if as_json:
        emit_json({"on": day, "within_days": within, "dependants": items})
        return
    click.echo(f"{len(items)} dependant(s) to re-check on {day.isoformat()} (+{within} days)")
    for item in items:
        state = "終了" if item.status == "ended" else "終了予定"
        click.echo(
            f"{shown(item.file)}:{item.line}: {item.insured} {item.row_id}: 例外 {item.exception} "
            f"{item.exception_short} {state} {item.exception_until.isoformat()} "
            f"({item.days_left:+d} days)"
        )


def _row_line(row: RowCheck) -> str:
    decision = row.decision
    # The insured number and the application id come from the file: a bidi control there
    # (U+202E) would make the rest of the line, the outcome with it, read backwards.
    text = (
        f"{shown(row.file)}:{row.line}: {shown(str(row.insured))} {shown(row.row_id)} "
        f"{row.judged_on.isoformat()}: {decision.outcome} [{decision.rule}] {decision.reason}"
    )
    if not decision.confirmed:
        text += " (rule unconfirmed: kokuho data unconfirmed)"
    return text


def _file_json(check: FileCheck) -> dict[str, Any]:
    return {
        "file": check.file,
        "kind": check.kind,
        "counts": {o: check.count(o) for o in ("認定", "不認定", "要確認")},
        "not_judged": check.not_judged,
        "rows": check.rows,
    }


def _refused(error: FileProblemsError, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"rejected": {"errors": [str(p) for p in error.problems]}})
        raise SystemExit(1)
    for problem in error.problems[:20]:
        click.echo(str(problem), err=True)
    fail(f"refused with {len(error.problems)} error(s); nothing was judged")
