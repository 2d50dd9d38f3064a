"""The 更正 step of ``kokuho registry import``: the fiscal years with 調定 that the imported
acquisitions and losses reach are reassessed (docs/premiums-assessment.md, "更正 from the
change feed"). The registry room cannot import premiums, so the two meet here.

The premiums room is imported only when the step runs: the register's import stays as quick
to start as before, and ``--no-reassess`` leaves premiums alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import click
import sqlalchemy as sa

from kokuho.cli._corrections import echo_decisions
from kokuho.cli._output import fail
from kokuho.cli._staff import option_day


def reassess_options(function: Any) -> Any:
    function = click.option(
        "--decided-on",
        help="賦課決定日 of the 更正 (YYYY-MM-DD; default today).",
    )(function)
    return click.option(
        "--no-reassess",
        is_flag=True,
        help="Do not reassess the 保険料 of the fiscal years the changes reach.",
    )(function)


def decision_day(no_reassess: bool, decided_on: str | None) -> dt.date | None:
    """The day of the 更正, or None with ``--no-reassess``; exits on a bad option."""
    if no_reassess:
        if decided_on is not None:
            fail("--decided-on and --no-reassess exclude each other")
        return None
    return option_day(decided_on, "--decided-on")


def position(engine: sa.Engine, day: dt.date | None) -> int:
    """Where the feed stands before the import (0 when nothing will be reassessed)."""
    if day is None:
        return 0
    from kokuho.premiums import feed_position

    return feed_position(engine)


def reassess_feed(
    engine: sa.Engine, after: int, day: dt.date | None, reports: Sequence[Any] = ()
) -> list[Any]:
    """The 更正 runs for the files loaded after ``after`` and for the files of ``reports``
    found loaded before (a run killed before its 更正 left them so; none with
    ``--no-reassess``)."""
    if day is None:
        return []
    from kokuho.premiums import PremiumRuleError, reassess_after_feed

    again = {report.sha256 for report in reports if report.duplicates}
    try:
        return reassess_after_feed(engine, after, day, again=again)
    except PremiumRuleError as error:
        first = str(error).splitlines()[0]
        fail(f"the changes are loaded, but the 更正 failed ({first}); fix and run "
             "`kokuho premiums reassess`")  # fmt: skip


def runs_document(runs: list[Any]) -> list[dict[str, Any]]:
    return [
        {**{f.name: getattr(r, f.name) for f in dataclasses.fields(r)}, "difference": r.difference}
        for r in runs
    ]


def echo_runs(runs: list[Any]) -> None:
    """One line per municipality-year, then each decision and each refusal with its reason."""
    for run in runs:
        click.echo(
            f"更正 {run.municipality} FY{run.fiscal_year} ({run.decided_on}): "
            f"{len(run.changes)} decisions, {run.unchanged} unchanged, "
            f"{len(run.refused)} refused; 差額 {run.difference:+,}円"
        )
        echo_decisions(run)
