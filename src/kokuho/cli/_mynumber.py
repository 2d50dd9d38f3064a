"""``kokuho residents`` and ``kokuho mynumber``: the resident register and My Number linkage.

No command prints a My Number or its hash. Members' own items appear only in the review
listing, which is for insurer staff deciding a request; residents' items appear nowhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import INPUT_FILE, RECORD_ID
from kokuho.cli._staff import ShownAudit, StaffAudit, staff_by
from kokuho.ids import InvalidIdentifier
from kokuho.registry import (
    NO_MEMBER,
    NO_RESIDENT,
    NUMBER_LINKED_TO_OTHER_PERSON,
    PERSON_HAS_OTHER_NUMBER,
    FileRejected,
    ReviewItem,
    link_submissions,
    load_residents,
    recheck,
    reject,
    request_person,
    review_queue,
)

_FILE = INPUT_FILE
_ITEM_LABELS = {
    "name_kanji": "漢字氏名",
    "name_kana": "カナ氏名",
    "birth_date": "生年月日",
    "sex": "性別",
    "address": "住所",
}
_REASON_LABELS = {
    NO_RESIDENT: "この個人番号の住民がいない",
    NO_MEMBER: "被保険者が見つからない",
    NUMBER_LINKED_TO_OTHER_PERSON: "個人番号は別の人に紐付け済み",
    PERSON_HAS_OTHER_NUMBER: "この人は別の個人番号に紐付け済み",
}


def _audited(audit: StaffAudit, action: str, by: str, persons: list[int],
             detail: dict[str, Any]) -> None:  # fmt: skip
    try:
        audit(action, by, persons, detail)
    finally:
        audit.close()


@contextmanager
def _engine() -> Iterator[sa.Engine]:
    engine: sa.Engine = open_engine()
    try:
        yield engine
    finally:
        engine.dispose()


def _key() -> bytes:
    from kokuho.config import Settings

    try:
        return Settings.from_env().mynumber_key()
    except (OSError, ValueError) as error:
        fail(f"My Number key: {error}")


def _rejected(file: Path, rejected: FileRejected, as_json: bool) -> NoReturn:
    if as_json:
        errors = [dataclasses.asdict(error) for error in rejected.errors]
        emit_json({"file": str(file), "rejected": True, "count": len(errors), "errors": errors})
        raise SystemExit(1)
    fail(f"rejected, nothing changed: {rejected}")


@click.group(cls=SingleValueGroup)
def residents() -> None:
    """The resident register (住民基本台帳) that My Number links are checked against."""


@residents.command("load")
@click.argument("file", type=_FILE)
@json_option
def load_command(file: Path, as_json: bool) -> None:
    """Load or update residents from FILE (docs/formats.md §3); all or nothing.

    The 個人番号 is kept only as a keyed hash (key: KOKUHO_MYNUMBER_KEY_FILE).
    """
    key = _key()
    with _engine() as engine:
        try:
            report = load_residents(engine, file, key)
        except FileRejected as rejected:
            _rejected(file, rejected, as_json)
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"{shown(file)}: {report.rows} rows, {report.inserted} added, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )
    if report.household_changes:
        click.echo(f"{report.household_changes} household stays opened (世帯異動)")
    if report.stays_ended:
        click.echo(f"{report.stays_ended} household stays ended by a removal (転出・死亡等)")
    if report.without_household:
        click.echo(
            f"note: {report.without_household} rows have no household_id: these residents "
            "cannot be placed in a household (世帯) for premiums"
        )


@click.group(cls=SingleValueGroup)
def mynumber() -> None:
    """My Number linkage (個人番号の紐付け): links only when all five basic items match."""


@mynumber.command("link")
@click.argument("file", type=_FILE)
@click.option(
    "--load-good-rows",
    is_flag=True,
    help="Process the good rows of a file that has rejected rows (they are still reported).",
)
@json_option
def link_command(file: Path, load_good_rows: bool, as_json: bool) -> None:
    """Check the submissions in FILE (docs/formats.md §4) and link those whose five items
    (漢字氏名, カナ氏名, 生年月日, 性別, 住所) match the resident register; the rest go to
    review. There is no way to link on fewer items."""
    key = _key()
    with _engine() as engine:
        try:
            report = link_submissions(engine, file, key, load_good_rows=load_good_rows)
        except FileRejected as rejected:
            _rejected(file, rejected, as_json)
    if as_json:
        emit_json(report)
        return
    skipped = f", {len(report.errors)} rows rejected" if report.errors else ""
    click.echo(
        f"{shown(file)}: {report.rows} rows: {report.linked} linked{_merged(report.merged)}, "
        f"{report.review} sent to review, "
        f"{report.already_linked} already linked, {report.previously_rejected} rejected "
        f"before{skipped}"
    )
    for error in report.errors:
        click.echo(str(error), err=True)


@mynumber.command("review")
@click.option("--insurer", help="Only requests of this 保険者番号.")
@click.option("--recheck", "again", is_flag=True, help="Check every request in review again.")
@click.option("--reject", "reject_id", type=RECORD_ID, help="Reject the request with this id.")
@click.option("--by", help="Who rejects (with --reject).")
@json_option
def review_command(
    insurer: str | None, again: bool, reject_id: int | None, by: str | None, as_json: bool
) -> None:
    """List the requests waiting for review with the reasons and the items that differ.

    For insurer staff: each differing item shows the member's own value as the insurer
    reported it, never the resident register's (it may be another person's data).
    """
    if (reject_id is None) != (by is None):
        fail("--reject ID and --by NAME go together")
    if reject_id is not None and again:
        fail("--reject and --recheck do not go together")
    # Before the rejection: a name too long for the audit record failed after it was made,
    # leaving a decision on a person's link without its audit record.
    by = staff_by(by) if by is not None else None
    with _engine() as engine:
        if reject_id is not None:
            person = request_person(engine, reject_id)
            try:
                reject(engine, reject_id, by or "")
            except ValueError as error:
                fail(str(error))
            # A staff decision on a person's link: on the audit log as the other steps of
            # the staff workflows are (cli:<login>, the name given with --by).
            _audited(StaffAudit(engine), "mynumber_reject", by or "",
                     [person] if person else [], {"request": reject_id})  # fmt: skip
            if as_json:
                emit_json({"rejected": reject_id, "by": by})
            else:
                click.echo(f"request {reject_id} rejected by {by}")
            return
        document: dict[str, Any] = {}
        if again:
            counts = recheck(engine)
            _audited(StaffAudit(engine), "mynumber_recheck", "mynumber review --recheck", [],
                     dataclasses.asdict(counts))  # fmt: skip
            document["recheck"] = counts
            if not as_json:
                click.echo(
                    f"checked {counts.checked}: {counts.linked} linked{_merged(counts.merged)}, "
                    f"{counts.review} still in review"
                )
        try:
            items = review_queue(engine, insurer)
        except InvalidIdentifier as error:
            fail(str(error))
        # The listing shows members' own items (names, birth dates, addresses as the insurer
        # reported them): a read of each member listed, on the audit log before it is shown,
        # as `registry show` and `registry overlaps` (one record without a person when the
        # list names nobody the register knows).
        persons = sorted({i.person_id for i in items if i.person_id is not None})
        _audited(ShownAudit(engine), "read_member", "mynumber review", persons,
                 {"list": "mynumber review", "insurer": insurer or "*",
                  "requests": len(items)})  # fmt: skip
    if as_json:
        emit_json({**document, "count": len(items), "requests": [_item(i) for i in items]})
        return
    click.echo(f"{len(items)} request(s) in review")
    if items:
        _table(items)


def _merged(count: int) -> str:
    """Two person records verified on one My Number became one (kokuho registry merges)."""
    if not count:
        return ""
    return f" ({count} person record{'s' if count > 1 else ''} merged)"


def _item(item: ReviewItem) -> dict[str, Any]:
    return {
        "request_id": item.request_id,
        "insurer_number": item.insured.insurer,
        "symbol": item.insured.symbol,
        "number": item.insured.number,
        "branch": item.insured.branch,
        "source": item.source,
        "submitted_at": item.submitted_at,
        "reasons": item.reasons,
        "differences": item.differences,
    }


def _findings(item: ReviewItem) -> list[str]:
    lines = [f"{_REASON_LABELS.get(reason, reason)} ({reason})" for reason in item.reasons]
    lines += [
        f"{_ITEM_LABELS[d.item]}: 住民基本台帳と不一致 (被保険者の記録 {d.register})"
        for d in item.differences
    ]
    return lines


def _table(items: list[ReviewItem]) -> None:
    rows = [
        (
            str(item.request_id),
            f"{item.insured.insurer} {item.insured.symbol or '-'} {item.insured.number} "
            f"{item.insured.branch}",
            _findings(item),
        )
        for item in items
    ]
    first = max(len("request"), *(len(row[0]) for row in rows))
    second = max(len("member"), *(len(row[1]) for row in rows))
    click.echo(f"{'request':<{first}}  {'member':<{second}}  findings")
    for request, member, findings in rows:
        click.echo(f"{request:<{first}}  {member:<{second}}  {findings[0] if findings else ''}")
        for more in findings[1:]:
            click.echo(f"{'':<{first}}  {'':<{second}}  {more}")
