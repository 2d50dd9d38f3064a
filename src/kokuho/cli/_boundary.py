"""``kokuho boundary double-payments | decide | refunds | notices | reports | release``: the
§110-2(2) double premium, its notices, 報告徴収, and releasing a dead run's reservation
(docs/boundary.md).

Every person-level read and every step goes to the service's hash-chained audit log (the
same one ``kokuho audit verify`` checks), as ``cli:<login>``; the staff member named with
``--by`` is kept in the record and in the case's own step.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from kokuho.boundary import (
    Case,
    CaseError,
    Evidence,
    answer_report,
    case_detail,
    claim_refund,
    close_case,
    decide,
    judge,
    list_cases,
    list_reports,
    notice_list_csv,
    open_cases,
    record_loss,
    reduction_notice,
    refund_notice,
    release_case,
    release_request,
    report_candidates,
    request_report,
    step_json,
)
from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option, open_engine
from kokuho.cli._params import OUTPUT_FOLDER, RECORD_ID, output_problem
from kokuho.cli._staff import (
    StaffAudit,
    municipality_code,
    option_day,
    require_municipality,
    staff_by,
)
from kokuho.premiums import settlements
from kokuho.store import atomic_file


class ServiceAudit(StaffAudit):
    """The boundary's audit hook on the service's audit log: one record per person."""

    outcome = "shown"


def _feed_dir(value: Path | None) -> Path:
    """Where a loss's change-feed file is kept: given, or under $KOKUHO_HOME."""
    from kokuho.config import Settings

    return value if value is not None else Settings.from_env().home / "boundary-feed"


def _run(work: Any, municipality: str | None = None) -> Any:
    """Runs ``work(engine, audit)``; a refused step is one line on stderr and exit 1, and so
    is a ``municipality`` the register does not have (before any work or audit record)."""
    engine = open_engine()
    if municipality is not None:
        require_municipality(engine, municipality)
    audit = ServiceAudit(engine)
    try:
        return work(engine, audit)
    except CaseError as error:
        fail(str(error))
    finally:
        audit.close()


def _case_line(case: Case, on: dt.date) -> str:
    summary = case.summary(on)
    barred = ",".join(str(y) for y in summary["barred_years"]) or "なし"
    return (
        f"case {case.case_id} person {case.person_id} {case.employee_insurer} "
        f"取得 {case.employee_acquired_on} 決定 {case.employee_decided_on or '—'}: "
        f"{case.months}か月, 保険料 {case.premium_of_months:,}円, 調定 {summary['charged']:,}円, "
        f"収納 {summary['paid']:,}円, 期間制限で通常の減額不可: {barred}, {case.status}"
    )


@click.group(cls=SingleValueGroup)
def boundary() -> None:
    """国保と被用者保険の境界: §110-2(2) double premiums, notices, 報告徴収 (docs/boundary.md)."""


@boundary.command("double-payments")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--on", "on", help="The day (YYYY-MM-DD; default today).")
@click.option("--scan/--no-scan", default=True, help="Open cases for new overlaps first.")
@click.option("--by", "by", default="clerk", help="Who records (kept in the case).")
@json_option
def double_payments_command(
    municipality: str, on: str | None, scan: bool, by: str, as_json: bool
) -> None:
    """二重払い cases: 国保 overlapping an employee coverage filed retroactively."""
    # A scan records the cases it opens as found that day: not a day to come.
    code = municipality_code(municipality)
    day, who = option_day(on, "--on", done=scan), staff_by(by)

    def work(engine: sa.Engine, audit: ServiceAudit) -> list[Case]:
        if scan:
            open_cases(engine, code, day, actor=who, audit=audit)
        # As of the day: a case opened or a step decided after it was not known then.
        return list_cases(engine, code, actor=who, audit=audit, as_of=day)

    cases: list[Case] = _run(work, code)
    if as_json:
        emit_json({"municipality": code, "on": day, "cases": [c.summary(day) for c in cases]})
        return
    click.echo(f"{code} 二重払い {day}: {len(cases)} cases")
    for case in cases:
        click.echo("  " + _case_line(case, day))


@boundary.command("decide")
@click.argument("case_id", type=RECORD_ID)
@click.argument("step", type=click.Choice(["show", "loss", "judge", "reduce", "claim", "close"]))
@click.option("--on", "on", help="The day of the step (YYYY-MM-DD; default today).")
@click.option("--by", "by", default="clerk", help="Who records the step.")
@click.option("--no-fault/--fault", default=None, help="judge: 被保険者の責めに帰さない事由か.")
@click.option("--document", help="judge --no-fault: the evidence, e.g. 資格決定通知書.")
@click.option("--acquired-on", help="judge: 資格取得日 on the document (YYYY-MM-DD).")
@click.option("--decided-on", help="judge: 資格決定日 on the document (YYYY-MM-DD).")
@click.option("--decided-by", help="judge: who decided (e.g. 日本年金機構 高松年金事務所).")
@click.option("--reason", default="", help="judge --fault / close: the reason.")
@click.option("--supersedes", type=RECORD_ID, help="judge: the judgement step it replaces.")
@click.option("--feed-dir", type=OUTPUT_FOLDER,
              help="loss: where its feed file goes ($KOKUHO_HOME/boundary-feed).")  # fmt: skip
@json_option
def decide_command(
    case_id: int, step: str, on: str | None, by: str, no_fault: bool | None,
    document: str | None, acquired_on: str | None, decided_on: str | None,
    decided_by: str | None, reason: str, supersedes: int | None, feed_dir: Path | None,
    as_json: bool,
) -> None:  # fmt: skip
    """A case step: show, loss (①), judge (②), reduce (③ 減額賦課決定), claim, close."""
    day, who = option_day(on, "--on", done=step != "show"), staff_by(by)
    evidence = None
    if step == "judge":
        if no_fault is None:
            fail("judge: give --no-fault or --fault")
        if no_fault and document and acquired_on and decided_on and decided_by:
            evidence = Evidence(document, option_day(acquired_on, "--acquired-on"),
                                option_day(decided_on, "--decided-on"), decided_by)  # fmt: skip

    def work(engine: sa.Engine, audit: ServiceAudit) -> Case:
        if step == "show":
            return case_detail(engine, case_id, actor=who, audit=audit, as_of=day)
        if step == "loss":
            return record_loss(engine, case_id, day, _feed_dir(feed_dir), actor=who, audit=audit)
        if step == "judge":
            return judge(engine, case_id, day, no_fault=bool(no_fault), evidence=evidence,
                         reason=reason, supersedes=supersedes, actor=who, audit=audit)  # fmt: skip
        if step == "reduce":
            return decide(engine, case_id, day, actor=who, audit=audit)
        if step == "claim":
            return claim_refund(engine, case_id, day, actor=who, audit=audit)
        return close_case(engine, case_id, day, reason, actor=who, audit=audit)

    case: Case = _run(work)
    if as_json:
        emit_json({**case.summary(day), "steps": step_json(case)})
        return
    click.echo(_case_line(case, day))
    for s in case.steps:
        replaces = f" (replaces {s.supersedes})" if s.supersedes else ""
        click.echo(f"  step {s.step_id} {s.step} {s.decided_on} by {s.recorded_by}{replaces}")


@boundary.command("refunds")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--as-of", help="The day (YYYY-MM-DD; default today).")
@click.option("--by", "by", default="clerk", help="Who reads the list.")
@json_option
def refunds_command(municipality: str, as_of: str | None, by: str, as_json: bool) -> None:
    """還付 of decided cases, with the §110(1) last day to claim and their state."""
    code, day, who = municipality_code(municipality), option_day(as_of, "--as-of"), staff_by(by)

    def work(engine: sa.Engine, audit: ServiceAudit) -> list[dict[str, Any]]:
        states = {s.refund_id: s for s in settlements(engine, code)}
        rows = []
        for case in list_cases(engine, code, actor=who, audit=audit, as_of=day):
            step = case.current("reduction")
            for r in step.detail["refunds"] if step else []:
                s = states[int(r["refund_id"])]
                if s.decided_on > day:  # not decided yet on the day asked
                    continue
                rows.append({"case_id": case.case_id, "person_id": case.person_id,
                             "refund_id": s.refund_id, "fiscal_year": s.fiscal_year,
                             "kind": s.kind, "amount": s.amount, "decided_on": s.decided_on,
                             "last_claim_day": s.last_claim_day, "paid_on": s.paid_on,
                             "status": s.status(day)})  # fmt: skip
        return rows

    rows: list[dict[str, Any]] = _run(work, code)
    if as_json:
        emit_json({"municipality": code, "as_of": day, "refunds": rows})
        return
    for r in rows:
        click.echo(f"case {r['case_id']} {r['fiscal_year']}年度 {r['kind']} {r['amount']:,}円 "
                   f"請求期限 {r['last_claim_day'] or '—'} {r['status'] or ''}")  # fmt: skip


def _write_private(path: Path, text: str, encoding: str) -> None:
    """A file that names persons (氏名, 住所, 記号番号): owner-only (0600, ``atomic_file``'s
    temporary file) whatever the umask, put in place by a rename, so that a symbolic link
    at ``path`` is replaced rather than written through."""
    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding=encoding)


@boundary.command("notices")
@click.option("--case", "case_id", type=RECORD_ID, help="The case whose notices to write.")
@click.option("--municipality", help="With --list: the municipality (6 digits).")
@click.option("--list", "as_list", is_flag=True, help="Write the clerk's CSV list instead.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="A folder for the two HTML notices, or the CSV file with --list.")  # fmt: skip
@click.option("--by", "by", default="clerk", help="Who prints them.")
@json_option
def notices_command(
    case_id: int | None, municipality: str | None, as_list: bool, out: Path, by: str,
    as_json: bool,
) -> None:  # fmt: skip
    """減額賦課決定通知書 and 還付通知書 (printable HTML), or the clerk's CSV list."""
    who = staff_by(by)
    # A folder for the notices, a file for the list: checked before the work (and its reads
    # of persons, audited) rather than failing at the write.
    problem = output_problem(str(out), folder=not as_list)
    if problem is None and not as_list and case_id is not None:
        problem = _notice_file_problem(out, case_id)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--out'")
    if as_list:
        if municipality is None:
            fail("--list needs --municipality")
        code = municipality_code(municipality)
        text: str = _run(lambda e, a: notice_list_csv(e, code, actor=who, audit=a), code)
        _write_private(out, text, "utf-8-sig")  # a BOM: Excel reads the Japanese right
        written = [out]
    else:
        if case_id is None:
            fail("give --case (or --list --municipality)")
        pages: tuple[str, str | None] = _run(lambda e, a: (
            reduction_notice(e, case_id, actor=who, audit=a),
            _refund_or_none(e, case_id, who, a),
        ))  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        written = [out / f"case-{case_id}-genkaku.html"]
        _write_private(written[0], pages[0], "utf-8")
        if pages[1] is not None:
            written.append(out / f"case-{case_id}-kanpu.html")
            _write_private(written[1], pages[1], "utf-8")
    if as_json:
        emit_json({"written": [str(p) for p in written]})
        return
    for path in written:
        click.echo(str(path))


def _notice_file_problem(out: Path, case_id: int) -> str | None:
    """Why a notice's own file in ``out`` cannot be put in place (a folder or a pipe of its
    name, which ended in IsADirectoryError after the reads, or was replaced), or None."""
    for name in (f"case-{case_id}-genkaku.html", f"case-{case_id}-kanpu.html"):
        path = out / name
        if path.is_symlink() or path.exists():
            problem = output_problem(str(path), folder=False)
            if problem is not None:
                return problem
    return None


def _refund_or_none(engine: sa.Engine, case_id: int, who: str, audit: ServiceAudit) -> str | None:
    case = case_detail(engine, case_id, actor=who, audit=audit)
    step = case.current("reduction")
    if step is None or not step.detail["refunds"]:
        return None
    return refund_notice(engine, case_id, actor=who, audit=audit)


@boundary.command("reports")
@click.option("--municipality", required=True, help="全国地方公共団体コード (6 digits).")
@click.option("--on", "on", help="The day (YYYY-MM-DD; default today).")
@click.option("--request", type=RECORD_ID, help="Ask about this 国保 coverage id …")
@click.option("--other", type=RECORD_ID, help="--request: … and this employee coverage id.")
@click.option("--to", "addressee", help="--request: to whom (employer, insurer, person).")
@click.option("--answer", "answer_id", type=RECORD_ID, help="The request id being answered.")
@click.option("--text", default="", help="--answer: what the answer says.")
@click.option("--confirmed/--denied", default=None, help="--answer: the result.")
@click.option("--acquired-on", help="--answer --confirmed: 資格取得日 if not the register's.")
@click.option("--feed-dir", type=OUTPUT_FOLDER,
              help="--answer --confirmed: where the loss's feed file goes.")  # fmt: skip
@click.option("--by", "by", default="clerk", help="Who records.")
@json_option
def reports_command(
    municipality: str, on: str | None, request: int | None, other: int | None,
    addressee: str | None,
    answer_id: int | None, text: str, confirmed: bool | None, acquired_on: str | None,
    feed_dir: Path | None, by: str, as_json: bool,
) -> None:  # fmt: skip
    """報告徴収 (国保法 §113): the list, a request, or an answer that opens a case."""
    # A request or an answer is recorded on its day: not a day to come.
    code = municipality_code(municipality)
    day = option_day(on, "--on", done=request is not None or answer_id is not None)
    who = staff_by(by)
    if request is not None and (not addressee or other is None):
        fail("--request needs --other and --to")
    if answer_id is not None and confirmed is None:
        fail("--answer needs --confirmed or --denied")
    start = option_day(acquired_on, "--acquired-on") if acquired_on else None

    def work(engine: sa.Engine, audit: ServiceAudit) -> dict[str, Any]:
        if request is not None:
            assert addressee is not None
            assert other is not None
            made = request_report(engine, code, request, other, addressee, day,
                                  actor=who, audit=audit)  # fmt: skip
            return {"request": made.as_json()}
        if answer_id is not None:
            done = answer_report(engine, answer_id, day, text, confirmed=bool(confirmed),
                                 feed_dir=_feed_dir(feed_dir), acquired_on=start, actor=who,
                                 audit=audit)  # fmt: skip
            return {"answer": done.as_json()}
        return {
            "candidates": [c.as_json() for c in report_candidates(engine, code, day, actor=who,
                                                                  audit=audit)],
            "requests": [r.as_json() for r in list_reports(engine, code, actor=who, audit=audit)],
        }  # fmt: skip

    document: dict[str, Any] = _run(work, code)
    if as_json:
        emit_json({"municipality": code, "on": day, **document})
        return
    for key, value in document.items():
        for row in value if isinstance(value, list) else [value]:
            click.echo(f"{key}: " + ", ".join(f"{k}={v}" for k, v in row.items()))


@boundary.command("release")
@click.option("--case", "case_id", type=RECORD_ID, help="The case a dead run left reserved.")
@click.option("--request", "report_id", type=RECORD_ID,
              help="The 報告徴収 request whose answer a dead run left reserved.")  # fmt: skip
@click.option("--reason", required=True, help="Why (e.g. the run was killed); audited.")
@click.option("--by", "by", default="clerk", help="Who releases it.")
@json_option
def release_command(
    case_id: int | None, report_id: int | None, reason: str, by: str, as_json: bool
) -> None:
    """予約の解除: frees a case or request a killed run left reserved, without waiting for the
    30-minute lease. A run still alive stops at its next write (LeaseLost)."""
    if (case_id is None) == (report_id is None):
        fail("name exactly one of --case and --request")
    who = staff_by(by)

    def work(engine: sa.Engine, audit: ServiceAudit) -> Any:
        if case_id is not None:
            return release_case(engine, case_id, actor=who, reason=reason, audit=audit)
        assert report_id is not None
        return release_request(engine, report_id, actor=who, reason=reason, audit=audit)

    released = _run(work)
    document = {
        "released": released.name, "step": released.step, "held_by": released.held_by,
        "since": released.since.isoformat(timespec="seconds"),
        "lease_ends": released.lease_ends.isoformat(timespec="seconds"),
    }  # fmt: skip
    if as_json:
        emit_json(document)
        return
    click.echo(
        f"{released.name}: released the reservation of {released.held_by} ({released.step}, "
        f"since {released.since:%Y-%m-%d %H:%M:%S} UTC; it would have held until "
        f"{released.lease_ends:%H:%M} UTC)"
    )
