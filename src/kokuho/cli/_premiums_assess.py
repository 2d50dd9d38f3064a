"""``kokuho premiums assess | reassess | explain``: 本算定 of a fiscal year, 更正 after
retroactive changes, and one household's bill (docs/premiums-assessment.md).

Person-level output names households and amounts only, never a person.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress, TaskID

from kokuho.cli._corrections import echo_decisions
from kokuho.cli._output import emit_json, fail, json_option, open_engine
from kokuho.cli._params import HOUSEHOLD
from kokuho.cli._premiums import premiums
from kokuho.cli._staff import municipality_code, option_day
from kokuho.premiums import (
    PART_NAMES,
    AssessmentRefused,
    ChargeRefused,
    IncomesMissing,
    PeriodLimitError,
    PremiumRuleError,
    UnknownMunicipality,
    assess_fiscal_year,
    explain,
    explain_household,
    reassess,
)

#: What each stage of assess_fiscal_year shows on stderr while it runs.
_STAGES = {
    "read": "住民・資格・所得の読込 (reading the register)",
    "assess": "本算定 (assessing)",
    "record": "調定の記録 (recording the charges)",
}


def _options(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "--fiscal-year", required=True, type=click.IntRange(2000, 2100), help="年度."
    )(function)
    return click.option("--municipality", required=True, help="全国地方公共団体コード.")(function)


def _decided_on(function: click.decorators.FC) -> click.decorators.FC:
    return click.option("--decided-on", help="賦課決定日 (YYYY-MM-DD; default today).")(function)


@contextmanager
def _engine() -> Iterator[sa.Engine]:
    """The configured database, its connections closed when the command is done."""
    engine: sa.Engine = open_engine()
    try:
        yield engine
    finally:
        engine.dispose()


_REFUSED = (PremiumRuleError, UnknownMunicipality, ChargeRefused, PeriodLimitError, IncomesMissing)


@premiums.command("assess")
@_options
@_decided_on
@json_option
def assess_command(
    municipality: str, fiscal_year: int, decided_on: str | None, as_json: bool
) -> None:
    """本算定: assess every household of the year and record the 調定 (all or nothing;
    running again records nothing new)."""
    code, day = municipality_code(municipality), option_day(decided_on, "--decided-on")
    try:
        with (
            _engine() as engine,
            Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar,
        ):
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            run = assess_fiscal_year(engine, code, fiscal_year, day, progress=progress)
    except AssessmentRefused as refused:
        if as_json:
            emit_json({"refused": refused.refused})
            raise SystemExit(1) from None
        for r in refused.refused:
            click.echo(f"{r.household_id}: {r.reason}", err=True)
        fail(f"{len(refused.refused)} household(s) refused; nothing recorded")
    except _REFUSED as error:
        fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    if as_json:
        emit_json(run)
        return
    reductions = ", ".join(
        f"{k}割 {n}" if k != "none" else f"なし {n}" for k, n in run.reductions.items()
    )
    click.echo(
        f"{run.municipality} FY{run.fiscal_year} 本算定 ({run.decided_on}): "
        f"{run.households} 世帯, 調定額 {run.total:,}円; {run.recorded} recorded, "
        f"{run.already_recorded} already recorded; 軽減: {reductions}"
    )
    if run.unplaced:
        # No premium is charged for them until the register places them: say so loudly.
        click.echo(f"{len(run.unplaced)} 国保 member(s) in no household (not charged):", err=True)
        for member in run.unplaced:
            click.echo(f"  person {member.person_id}: {member.text}", err=True)


@premiums.command("reassess")
@_options
@_decided_on
@click.option("--exception-ground", help="国保法 §110-2(2) ground: reductions pass the limit.")
@click.option("--exception-evidence", help="The evidence of that ground (a document, its date).")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print the changes as CSV (UTF-8, header).")
def reassess_command(
    municipality: str,
    fiscal_year: int,
    decided_on: str | None,
    exception_ground: str | None,
    exception_evidence: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """更正: reassess every household of the year against the 調定 in force and record the
    増額・減額賦課; households the period limit bars are listed with the reason."""
    from kokuho.premiums import PeriodLimitException

    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    if (exception_ground is None) != (exception_evidence is None):
        fail("--exception-ground and --exception-evidence go together")
    # They unlock a reduction past the §110-2(1) limit and are its only record: an empty or
    # blank pair passed, recording "国保法 §110-2(2):  ()".
    from kokuho.store import has_control

    for option, text in (("--exception-ground", exception_ground),
                         ("--exception-evidence", exception_evidence)):  # fmt: skip
        if text is not None and (not text.strip() or len(text) > 200 or has_control(text)):
            fail(f"{option}: name it (1–200 characters without control characters or bidi "
                 "controls)")  # fmt: skip
    code, day = municipality_code(municipality), option_day(decided_on, "--decided-on")
    exception = (
        PeriodLimitException(exception_ground, exception_evidence)
        if exception_ground is not None and exception_evidence is not None
        else None
    )
    try:
        with _engine() as engine:
            run = reassess(engine, code, fiscal_year, day, exception=exception)
    except _REFUSED as error:
        fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    if as_json:
        emit_json({**_fields(run), "difference": run.difference})
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("household", "kind", "previous_total", "total", "refused_reason"))
        writer.writerows(
            (c.household_id, c.kind, c.previous_total, c.total, "") for c in run.changes
        )
        writer.writerows((r.household_id, "", "", "", r.reason) for r in run.refused)
    else:
        click.echo(
            f"{run.municipality} FY{run.fiscal_year} 更正 ({run.decided_on}): "
            f"{run.households} 世帯, {len(run.changes)} decisions, {run.unchanged} unchanged, "
            f"{len(run.refused)} refused; 差額 {run.difference:+,}円"
        )
        echo_decisions(run)
    if run.refused:
        sys.exit(2)


def _fields(run: object) -> dict[str, object]:
    import dataclasses

    assert dataclasses.is_dataclass(run) and not isinstance(run, type)
    return {f.name: getattr(run, f.name) for f in dataclasses.fields(run)}


@premiums.command("explain")
@click.argument("household", type=HOUSEHOLD)
@_options
@json_option
def explain_command(household: str, municipality: str, fiscal_year: int, as_json: bool) -> None:
    """保険料算定の説明: one household's bill for the year with every rule and value behind it."""
    code = municipality_code(municipality)
    try:
        with _engine() as engine:
            assessment = explain_household(engine, code, fiscal_year, household)
    except (*_REFUSED, LookupError) as error:
        fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    if not as_json:
        click.echo(explain(assessment), nl=False)
        return
    emit_json({
        "household_id": assessment.household_id,
        "municipality": assessment.municipality,
        "fiscal_year": assessment.fiscal_year,
        "reduction": assessment.reduction,
        "total": assessment.total,
        "reasons": assessment.reasons,
        "parts": [{**_fields(p), "name": PART_NAMES[p.part]} for p in assessment.parts],
        "instalments": assessment.instalments,
    })  # fmt: skip
