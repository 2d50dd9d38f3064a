"""``kokuho provision``: data provision (データ提供) and the statutory requests: apply, review,
extract, release-check (公表物確認), delete, requests (docs/provision.md).

Every step goes to the service's hash-chained audit log (the one ``kokuho audit verify``
checks) as ``cli:<login>``; the person named with ``--by`` is kept in the record's detail and
in the provision's own step. Every ``--by`` is checked at the edge as the other workflows'
are (``staff_by``), before the database, a lake or a table is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import INPUT_FILE, OUTPUT_FOLDER, POPULATION
from kokuho.cli._staff import StaffAudit, option_day, staff_by

#: Exit code of a readable table that breaks the rules (1 is a file that cannot be read).
BREAKS_RULES = 3
_ITEM = re.compile(r"^([a-z_]+)\.([a-z_]+)$")
T = TypeVar("T")


class ServiceAudit(StaffAudit):
    """The provision workflow's audit hook on the service's audit log."""


def _run(work: Callable[[Any, ServiceAudit], T]) -> T:
    """Runs ``work(engine, audit)``; a refused step, or a data file it cannot use (a local copy
    naming an unknown ID field), is one line on stderr and exit 1."""
    from kokuho.provision import ProvisionError, ProvisionKeyError
    from kokuho.store import FileProblemsError

    engine = open_engine()
    audit = ServiceAudit(engine)
    try:
        return work(engine, audit)
    except (ProvisionError, ProvisionKeyError, FileProblemsError) as error:
        fail(str(error))
    finally:
        audit.close()
        engine.dispose()


def _items(values: Sequence[str], option: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for value in values:
        match = _ITEM.match(value)
        if not match:
            fail(f"{option}: {value!r} is not TABLE.ITEM (e.g. persons.age_band)")
        out.setdefault(match.group(1), []).append(match.group(2))
    return {t: tuple(i) for t, i in out.items()}


def _show(provision: Any, as_json: bool) -> None:
    if as_json:
        emit_json(provision.as_json())
        return
    from kokuho.provision import STATE_TITLES

    click.echo(f"{provision.provision_id} {provision.basis} {provision.state} "
               f"({STATE_TITLES[provision.state]}) {provision.organisation}")  # fmt: skip
    if provision.provider:
        click.echo(f"  提供元 (保険者番号) {provision.provider}")
    shown = provision.requested if provision.approved is None else provision.approved
    for table, items in shown.items():
        click.echo(f"  {table}: {', '.join(items)}")
    if provision.term_until:
        click.echo(f"  利用期間 until {provision.term_until}, {provision.extracts} extract(s)")


@click.group(cls=SingleValueGroup, name="provision")
def provision() -> None:
    """データ提供: applications, review, extracts, 公表物確認 and statutory requests
    (docs/provision.md)."""


@provision.command(name="reviewer")
@click.argument("name")
@click.option("--by", "by", required=True, help="Who appoints the reviewer (事務局).")
@click.option("--on", "on_text", help="The day (YYYY-MM-DD); default today.")
@json_option
def reviewer(name: str, by: str, on_text: str | None, as_json: bool) -> None:
    """Add a reviewer (審査委員): only reviewers may review."""
    from kokuho.provision import add_reviewer

    on, who = option_day(on_text, "--on", done=True), staff_by(by)
    _run(lambda engine, audit: add_reviewer(engine, name, on=on, actor=who, audit=audit))
    if as_json:
        emit_json({"reviewer": name.strip()})
    else:
        click.echo(f"reviewer {name.strip()} added")


@provision.command(name="apply")
@click.option(
    "--basis", required=True, help="third_party | prefecture_request | integrated_request."
)
@click.option("--applicant", required=True, help="Who applies (or requests).")
@click.option("--organisation", required=True, help="The applying body.")
@click.option("--purpose", required=True, help="利用目的.")
@click.option("--public-interest", required=True, help="相当の公益性.")
@click.option("--place", required=True, help="利用場所・保管場所 (in Japan: name its 都道府県).")
@click.option("--user", "users", multiple=True, required=True, help="A named user (repeat).")
@click.option("--item", "items", multiple=True, required=True, help="TABLE.ITEM (repeat).")
@click.option("--from", "start", required=True, help="Data period start (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Data period end (YYYY-MM-DD).")
@click.option(
    "--provider",
    help="A statutory request: the providing insurer's 保険者番号 (the 市町村's 国保 for "
    "prefecture_request, the 広域連合 for integrated_request); only its members and claims "
    "are extracted.",
)
@click.option("--on", "on_text", help="The day of the application; default today.")
@json_option
def apply_command(
    basis: str, applicant: str, organisation: str, purpose: str, public_interest: str,
    place: str, users: tuple[str, ...], items: tuple[str, ...], start: str, end: str,
    provider: str | None, on_text: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Record an application (利用申出) or a statutory request (求め)."""
    from kokuho.provision import Application, apply, catalogue, provision_detail

    # The period is bounded by the provision rules (not after the application, at most
    # longest_period_days), which name the reason.
    period = (
        option_day(start, "--from", bounded=False),
        option_day(end, "--to", bounded=False),
    )
    app = Application(basis, applicant, organisation, purpose, public_interest, place, users,
                      _items(items, "--item"), *period, provider)  # fmt: skip
    on = option_day(on_text, "--on", done=True)

    def work(engine: Any, audit: ServiceAudit) -> Any:
        pid = apply(engine, catalogue(), app, on=on, audit=audit)
        return provision_detail(engine, pid)

    _show(_run(work), as_json)


@provision.command(name="review")
@click.argument("provision_id")
@click.option("--by", "by", required=True, help="The reviewer.")
@click.option("--decision", required=True, type=click.Choice(["approve", "conditions", "reject"]))
@click.option("--minutes", required=True, help="議事概要 of the review.")
@click.option("--conditions", default="", help="The conditions of an approval with conditions.")
@click.option("--item", "items", multiple=True, help="Approve only these TABLE.ITEM (repeat).")
@click.option("--term-until", help="End of the data-use term (利用期間), YYYY-MM-DD.")
@click.option("--on", "on_text", help="The day of the review; default today.")
@json_option
def review_command(
    provision_id: str, by: str, decision: str, minutes: str, conditions: str,
    items: tuple[str, ...], term_until: str | None, on_text: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Review an application (審査): approve, approve with conditions, or reject."""
    from kokuho.provision import catalogue, review

    on, who = option_day(on_text, "--on", done=True), staff_by(by)
    term = option_day(term_until, "--term-until") if term_until else None
    approved = _items(items, "--item") if items else None
    done = _run(lambda engine, audit: review(
        engine, catalogue(), provision_id, reviewer=who, decision=decision, minutes=minutes,
        on=on, conditions=conditions, approved=approved, term_until=term, audit=audit))  # fmt: skip
    _show(done, as_json)


@provision.command(name="extract")
@click.argument("provision_id")
@click.option("--out", required=True, type=OUTPUT_FOLDER,
              help="Folder the extract is written under (<out>/<id>/extract-<n>/).")  # fmt: skip
@click.option("--by", "by", required=True, help="Who builds the extract.")
@click.option("--item", "items", multiple=True, help="Extract only these TABLE.ITEM (repeat).")
@click.option("--on", "on_text", help="The day; default today (must be within the term).")
@json_option
def extract_command(
    provision_id: str, out: Path, by: str, items: tuple[str, ...], on_text: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Build an extract of exactly the approved items, pseudonymised and scanned."""
    from kokuho.care import CareLake
    from kokuho.claims import ClaimsLake
    from kokuho.config import Settings
    from kokuho.provision import (
        catalogue,
        extract,
        lake_care_services,
        lake_claims,
        load_sources,
        provision_detail,
        release_rules,
        source_key,
    )

    on, who = option_day(on_text, "--on", done=True), staff_by(by)
    asked = _items(items, "--item") if items else None
    settings = Settings.from_env()

    def work(engine: Any, audit: ServiceAudit) -> Any:
        current = provision_detail(engine, provision_id)
        start, end = current.period_from, current.period_to
        care = CareLake.from_settings(settings)
        sources = load_sources(
            engine, certifications=care.certifications(),
            care_services=lake_care_services(care, start, end),
            claims=lake_claims(ClaimsLake.from_settings(settings), start, end),
        )  # fmt: skip
        return extract(engine, catalogue(), provision_id, sources, out=out, by=who, on=on,
                       audit=audit, items=asked, source_key=source_key(),
                       top=release_rules().age_top_band)  # fmt: skip

    done = _run(work)
    if as_json:
        emit_json(done.as_json())
        return
    click.echo(f"{done.provision_id} extract {done.number}: {done.folder}")
    for table, rows in done.rows.items():
        click.echo(f"  {table}: {rows} rows")
    if done.claims_unplaced:
        click.echo(f"  claims the register could not place: {done.claims_unplaced}")
    if done.linkage is not None:
        for kind in done.linkage.linked:
            click.echo(f"  連結率 医療–介護 {kind}: {done.linkage.linked[kind]} of "
                       f"{done.linkage.numbers} ({done.linkage.rate(kind):.1%})")  # fmt: skip


@provision.command(name="delete")
@click.argument("provision_id")
@click.option("--by", "by", required=True, help="Who confirms the deletion.")
@click.option("--method", required=True, help="How the data was erased (消去方法).")
@click.option("--on", "on_text", help="The day; default today.")
@json_option
def delete_command(
    provision_id: str, by: str, method: str, on_text: str | None, as_json: bool
) -> None:
    """Confirm the deletion of a provision's data (消去の確認); its key is destroyed."""
    from kokuho.provision import confirm_deletion

    on, who = option_day(on_text, "--on", done=True), staff_by(by)
    done = _run(lambda engine, audit: confirm_deletion(
        engine, provision_id, by=who, method=method, on=on, audit=audit))  # fmt: skip
    _show(done, as_json)


@provision.command(name="revoke")
@click.argument("provision_id")
@click.option("--by", "by", required=True, help="The reviewer who revokes the approval.")
@click.option("--reason", required=True, help="Why (条件違反, 目的外利用 …).")
@click.option("--on", "on_text", help="The day; default today.")
@json_option
def revoke_command(
    provision_id: str, by: str, reason: str, on_text: str | None, as_json: bool
) -> None:
    """Revoke an approval (承認の取消): no extract follows; the deletion is still confirmed."""
    from kokuho.provision import revoke

    on, who = option_day(on_text, "--on", done=True), staff_by(by)
    done = _run(lambda engine, audit: revoke(
        engine, provision_id, reviewer=who, reason=reason, on=on, audit=audit))  # fmt: skip
    _show(done, as_json)


@provision.command(name="verify")
@click.argument("provision_id")
@click.option("--extract", "number", type=click.IntRange(1, 1_000_000), required=True,
              help="The extract's number (extract-<n>).")  # fmt: skip
@click.option("--folder", required=True, type=click.Path(path_type=Path),
              help="The extract's folder (<out>/<id>/extract-<n>).")  # fmt: skip
@json_option
def verify_command(provision_id: str, number: int, folder: Path, as_json: bool) -> None:
    """Check an extract's files against the SHA-256 recorded when it was made (exit 3 when a
    file is changed, added or missing)."""
    from kokuho.provision import verify_extract

    problems = _run(lambda engine, audit: verify_extract(engine, provision_id, number, folder))
    if as_json:
        emit_json({"provision": provision_id, "extract": number, "folder": str(folder),
                   "ok": not problems, "problems": problems})  # fmt: skip
    else:
        click.echo(f"{provision_id} extract {number}: "
                   + ("intact" if not problems else f"{len(problems)} problem(s)"))  # fmt: skip
        for problem in problems:
            click.echo(f"  {shown(problem)}")
    if problems:
        raise SystemExit(BREAKS_RULES)


def _listing(statutory: bool | None, as_json: bool) -> None:
    from kokuho.provision import STATE_TITLES, list_provisions

    def work(engine: Any, audit: ServiceAudit) -> Any:
        found = list_provisions(engine, statutory=statutory)
        audit("provision_list", "cli", [], {"provisions": len(found)})
        return found

    found = _run(work)
    if as_json:
        emit_json([p.as_json() for p in found])
        return
    for p in found:
        click.echo(f"{p.provision_id}  {p.basis:<18}  {STATE_TITLES[p.state]:<6}  "
                   f"{p.organisation}  {p.period_from}–{p.period_to}")  # fmt: skip
    if not found:
        click.echo("none")


@provision.command(name="list")
@json_option
def list_command(as_json: bool) -> None:
    """List every provision and statutory request with its state."""
    _listing(None, as_json)


@provision.command(name="requests")
@json_option
def requests_command(as_json: bool) -> None:
    """List the statutory requests (都道府県 ← 市町村, 市町村 ← 広域連合) with their states."""
    _listing(True, as_json)


@provision.command(name="show")
@click.argument("provision_id")
@json_option
def show_command(provision_id: str, as_json: bool) -> None:
    """Show one provision with its steps."""
    from kokuho.provision import provision_detail

    found = _run(lambda engine, audit: provision_detail(engine, provision_id))
    if as_json:
        emit_json(found.as_json())
        return
    _show(found, False)
    for step in found.steps:
        click.echo(f"  {step.recorded_at:%Y-%m-%d %H:%M} {step.step} by {step.recorded_by}")


@provision.command(name="release-check")
@click.argument("file", type=INPUT_FILE)
@click.option(
    "--population",
    type=POPULATION,
    help="The table is of one 市区町村 with this many inhabitants (its extra rule applies).",
)
@click.option(
    "--providers",
    type=INPUT_FILE,
    help="The same table counting the 医療機関 or 保険者 behind each cell.",
)
@click.option(
    "--patients",
    type=INPUT_FILE,
    help="For a table of amounts (点数, 金額, 回数): the same table counting patients per cell.",
)
@click.option(
    "--provision", "provision_id", help="Record the verdict as this provision's 公表物確認."
)
@click.option("--by", "by", help="Who asks for the 公表物確認 (with --provision).")
@json_option
def release_check(
    file: Path, population: int | None, providers: Path | None, patients: Path | None,
    provision_id: str | None,
    by: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Say which cells of a result table (CSV, UTF-8 or cp932) break the release rules.

    Rules: no shown count from 1 to 9 (最小集計単位), no hidden cell that the shown cells and
    the totals give away (二次秘匿), and the 市区町村 extras of
    data/provision/release_rules.yaml. With --provision the verdict is recorded as that
    provision's 公表物確認 (and audited). Exit code 0: fit to publish; 3: breaks the rules;
    1: the file cannot be read as a table of counts.
    """
    from kokuho.provision import check_file, record_release_check, release_rules
    from kokuho.store import FileProblemsError

    if provision_id is not None and not by:
        fail("--by: name who asks for the 公表物確認 of the provision")
    who = staff_by(by) if by is not None else None
    try:
        result = check_file(file, release_rules(), population=population, providers=providers,
                            patients=patients)  # fmt: skip
    except FileProblemsError as error:
        fail(str(error))
    if provision_id is not None:
        assert who is not None
        _run(lambda engine, audit: record_release_check(engine, provision_id, result, by=who,
                                                        audit=audit))  # fmt: skip
    if as_json:
        emit_json(
            {
                "file": result.file,
                "sha256": result.sha256,
                "ok": result.ok,
                "minimum_cell": result.minimum_cell,
                "rows": result.rows,
                "columns": result.columns,
                "hidden": result.hidden,
                "findings": list(result.findings),
                "provision": provision_id,
            }
        )
    else:
        verdict = "fit to publish" if result.ok else f"{len(result.findings)} finding(s)"
        click.echo(
            f"{shown(result.file)}: {result.rows} rows × {result.columns} columns, "
            f"{result.hidden} hidden, minimum {result.minimum_cell}: {verdict}"
        )
        click.echo(f"  SHA-256 {result.sha256} (the verdict holds for these bytes only)")
        for finding in result.findings:
            click.echo(f"  {finding}")
    if not result.ok:
        raise SystemExit(BREAKS_RULES)
