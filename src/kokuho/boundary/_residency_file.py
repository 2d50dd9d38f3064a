"""The residency stage on files: a change feed's 2 家族 acquires, or a dependants file of
被扶養者認定 applications, judged row by row; and the re-check list of dependants abroad whose
exception ends. Reads files only: nothing is stored (docs/dependants.md says why).

A file with any bad row is refused whole, every problem named by file, line and column, so a
report never mixes judged rows with rows that were silently skipped.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from kokuho.boundary._residency import (
    DEPENDANT,
    RESIDENCES,
    DependantFacts,
    Residence,
    ResidencyDecision,
    ResidencyInputError,
    check_dependant,
    parse_evidence,
    parse_exception,
    parse_visa,
)
from kokuho.boundary._residency_register import BasicItems, ResidentLookup
from kokuho.boundary._residency_rules import ResidencyRules, load_residency_rules
from kokuho.ids import InsuredId, InvalidIdentifier, iso_date, parse_gyymmdd, scrub_mynumbers
from kokuho.registry import (
    FEED_COLUMNS,
    FEED_REQUIRED,
    RESIDENCY_COLUMNS,
    FileRejected,
    read_csv_rows,
)
from kokuho.store import FileProblem, FileProblemsError

_INSURED: Final = ("insurer_number", "symbol", "number", "branch")
#: A dependants file (被扶養者認定の申請): one row per application, judged on its own date.
DEPENDANTS_REQUIRED: Final = frozenset({*_INSURED, "judgement_date", "residence"})
_ITEMS: Final = ("name_kanji", "name_kana", "birth_date", "sex", "address")
DEPENDANTS_COLUMNS: Final = DEPENDANTS_REQUIRED | RESIDENCY_COLUMNS | {"application_id", *_ITEMS}
#: Where a row's residence came from: its own column, or the resident register (--register).
ResidenceFrom = Literal["file", "register"]

FileKind = Literal["feed", "dependants"]


@dataclass(frozen=True, slots=True)
class RowCheck:
    """One judged row: where it is, whom it is about, the facts read and the decision."""

    file: str
    line: int
    row_id: str  # the feed's event_id or the file's application_id
    insured: str  # 保険者番号 記号 番号 枝番, as ``InsuredId`` prints it
    judged_on: dt.date
    residence: Residence | None
    exception: str | None
    exception_until: dt.date | None
    decision: ResidencyDecision
    residence_from: ResidenceFrom | None = None


@dataclass(frozen=True, slots=True)
class FileCheck:
    """A whole file: its kind, the judged rows, and how many rows were not a dependant's
    acquire (本人, 喪失, 変更: the requirement does not concern them)."""

    file: str
    kind: FileKind
    rows: list[RowCheck]
    not_judged: int

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.decision.outcome == outcome)


@dataclass(frozen=True, slots=True)
class RecheckItem:
    """A dependant abroad whose exception ends on or before the window's last day."""

    insured: str
    row_id: str
    file: str
    line: int
    exception: str
    exception_short: str
    exception_until: dt.date
    status: Literal["ended", "ending"]
    days_left: int  # negative once ended


def check_residency_file(
    path: Path, rules: ResidencyRules | None = None, residents: ResidentLookup | None = None
) -> FileCheck:
    """Judges every dependant row of ``path`` (a change feed when its header has ``event``,
    else a dependants file). Raises FileProblemsError naming file, line and column.

    With ``residents``, a row whose ``residence`` is empty is looked up in the resident
    register by its five basic items: found means a 住民票 in Japan (``domestic``); not found
    leaves it unknown, since the dependant may be registered elsewhere.
    """
    table = rules or load_residency_rules()
    kind, rows, problems, not_judged = _read(path, table, with_items=residents is not None)
    if problems:
        raise FileProblemsError(problems)
    checks: list[RowCheck] = []
    for row in rows:
        facts, items = row.facts, row.items
        if facts is None:
            continue
        source: ResidenceFrom | None = "file" if facts.residence else None
        note = ""
        if facts.residence is None and residents is not None and items is not None:
            if residents(items):
                facts = dataclasses.replace(facts, residence="domestic")
                source = "register"
                note = "住民票あり: 住民基本台帳に5情報が一致する住民"
            else:
                note = "住民基本台帳 (kokuho residents load) に一致する住民なし"
        decision = check_dependant(facts, table)
        if note:
            decision = dataclasses.replace(decision, notes=(*decision.notes, note))
        checks.append(
            RowCheck(
                str(path),
                row.line,
                row.row_id,
                str(row.insured),
                facts.judged_on,
                facts.residence,
                facts.exception,
                facts.exception_until,
                decision,
                source,
            )
        )
    return FileCheck(str(path), kind, checks, not_judged)


def feed_has_residency_columns(path: Path) -> bool:
    """Whether a change feed's header names a residency column (the import then runs the
    stage's checks on it). Reads the header only."""
    try:
        return bool(_header(path) & RESIDENCY_COLUMNS)
    except FileProblemsError:
        return False  # the import itself reports a file it cannot open


def recheck_list(
    paths: Iterable[Path], *, on: dt.date, within_days: int, rules: ResidencyRules | None = None
) -> list[RecheckItem]:
    """Dependants living abroad under an exception with an end date on or before ``on`` +
    ``within_days`` (ended ones too), from the files in order: a later row of the same insured
    number replaces an earlier one, and a feed's ``lose`` on or before ``on`` removes it. As of
    ``on``: a row judged after it (認定日, a feed's effective date) was not known that day and
    neither lists, replaces nor removes anything."""
    table = rules or load_residency_rules()
    last: dict[str, RecheckItem | None] = {}
    horizon = on + dt.timedelta(days=within_days)
    for path in paths:
        _, rows, problems, _ = _read(path, table, keep_losses=True)
        if problems:
            raise FileProblemsError(problems)
        for row in rows:
            key, facts = str(row.insured), row.facts
            if row.lost_on is not None:
                if row.lost_on <= on:  # a loss dated later leaves the dependant listed
                    last[key] = None
                continue
            if facts is None:
                continue
            if facts.judged_on > on:  # judged after the day asked: not known then
                continue
            until = facts.exception_until
            if facts.residence != "abroad" or facts.exception is None or until is None:
                last[key] = None
                continue
            last[key] = RecheckItem(
                key, row.row_id, str(path), row.line, facts.exception,
                table.exceptions[facts.exception].short, until,
                "ended" if until < on else "ending", (until - on).days,
            )  # fmt: skip
    due = [item for item in last.values() if item is not None and item.exception_until <= horizon]
    return sorted(due, key=lambda item: (item.exception_until, item.insured))


@dataclass(frozen=True, slots=True)
class _Row:
    """One row read: a dependant's facts to judge, or (re-check only) a loss of the number."""

    line: int
    row_id: str
    insured: InsuredId
    facts: DependantFacts | None
    items: BasicItems | None = None  # the five items, when the register is to be asked
    lost_on: dt.date | None = None  # a feed's lose: the 資格喪失日


def _read(
    path: Path, rules: ResidencyRules, *, keep_losses: bool = False, with_items: bool = False
) -> tuple[FileKind, list[_Row], list[FileProblem], int]:
    name = str(path)
    header = _header(path)
    kind: FileKind = "feed" if "event" in header else "dependants"
    required, allowed = (
        (FEED_REQUIRED, FEED_COLUMNS)
        if kind == "feed"
        else (DEPENDANTS_REQUIRED, DEPENDANTS_COLUMNS)
    )
    rows: list[_Row] = []
    problems: list[FileProblem] = []
    not_judged = 0
    try:
        for line, raw in read_csv_rows(path, required=required, allowed=allowed):
            if "__width__" in raw:
                problems.append(FileProblem(name, line, "(row)", raw["__width__"]))
                continue
            row = {key: value.strip() for key, value in raw.items()}
            try:
                parsed = _row(kind, line, row, rules, keep_losses, with_items)
            except ResidencyInputError as error:
                # The reason repeats the value: one in the wrong column may be a My Number,
                # masked as the register's row errors mask it.
                reason = scrub_mynumbers(str(error))
                problems.append(FileProblem(name, line, error.field, reason))
                continue
            if parsed is None:
                not_judged += 1
            else:
                rows.append(parsed)
    except FileRejected as rejected:
        raise FileProblemsError([_problem(e) for e in rejected.errors]) from None
    if not rows and not problems and not not_judged:
        problems.append(FileProblem(name, 0, "(file)", "has no rows"))
    return kind, rows, problems, not_judged


def _header(path: Path) -> set[str]:
    """The header's column names, only to tell a feed from a dependants file: the register's
    reader then checks the header itself (encoding, NUL, unknown and missing columns)."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 16)
    except OSError as error:
        raise FileProblemsError(
            [FileProblem(str(path), 0, "(file)", f"cannot open: {error.strerror}")]
        ) from None
    # The first line only, whatever ends it: a file with CR line ends (or UTF-16, or a bad
    # byte before its CR LF) reads here as one text holding a CR, which csv.reader refuses
    # with an exception; the register's reader then names the file's real problem.
    lines = first.decode("utf-8-sig", errors="replace").splitlines()
    return {column.strip() for column in next(csv.reader(lines[:1]), [])}


def _row(
    kind: FileKind,
    line: int,
    row: dict[str, str],
    rules: ResidencyRules,
    keep_losses: bool,
    with_items: bool,
) -> _Row | None:
    get = row.get
    if kind == "feed":
        event = get("event", "")
        if event not in ("acquire", "lose", "change"):
            raise ResidencyInputError("event", f"{event!r} is not acquire, lose or change")
        dependant = event == "acquire" and get("relationship", "") == str(DEPENDANT)
        if not dependant:
            filled = sorted(c for c in RESIDENCY_COLUMNS if get(c, ""))
            if filled:
                raise ResidencyInputError(
                    filled[0], "only a 2 家族 acquire carries residency columns; leave it empty"
                )
            if keep_losses and event == "lose":
                lost_on = _date("effective_date", get("effective_date", ""))
                return _Row(line, get("event_id", ""), _insured(row), None, lost_on=lost_on)
            return None
        judged_on = _date("effective_date", get("effective_date", ""))
        row_id = get("event_id", "")
        residence = _residence(get("residence", ""))
    else:
        judged_on = _date("judgement_date", get("judgement_date", ""))
        row_id = get("application_id", "")
        residence = _residence(get("residence", ""))
    insured = _insured(row)
    exception = parse_exception(get("residency_exception", ""), rules)
    evidence = parse_evidence(get("exception_evidence", ""), rules)
    until_raw = get("exception_until", "")
    until = _date("exception_until", until_raw) if until_raw else None
    if exception is None:
        for column, value in (("exception_evidence", evidence), ("exception_until", until)):
            if value:
                raise ResidencyInputError(column, "needs a residency_exception")
    if until is not None and until < _years_before(judged_on, 10):
        raise ResidencyInputError("exception_until", "is more than ten years before the 認定日")
    facts = DependantFacts(
        judged_on=judged_on,
        residence=residence,
        visa=parse_visa(get("visa_status", ""), rules),
        exception=exception,
        evidence=evidence,
        exception_until=until,
    )
    items = _items(row) if with_items and residence is None else None
    return _Row(line, row_id, insured, facts, items)


def _items(row: dict[str, str]) -> BasicItems | None:
    """The five items for the register look-up; None when the row does not give them all (a
    dependants file may leave them out), an error when one it gives is malformed."""
    if not all(row.get(name, "") for name in _ITEMS):
        return None
    sex = row["sex"]
    if sex not in ("1", "2"):
        raise ResidencyInputError("sex", f"{sex!r} is not 1 or 2")
    return BasicItems(
        row["name_kanji"], row["name_kana"], _date("birth_date", row["birth_date"]), int(sex),
        row["address"],
    )  # fmt: skip


def _insured(row: dict[str, str]) -> InsuredId:
    try:
        return InsuredId.parse(*(row.get(name, "") for name in _INSURED))
    except InvalidIdentifier as error:
        field = {"記号": "symbol", "番号": "number", "枝番": "branch"}.get(
            error.kind, "insurer_number"
        )
        raise ResidencyInputError(field, str(error)) from None


def _residence(raw: str) -> Residence | None:
    if not raw:
        return None  # not known: 要確認, unless the resident register answers
    if raw == "domestic":
        return "domestic"
    if raw == "abroad":
        return "abroad"
    raise ResidencyInputError("residence", f"{raw!r} is not one of {', '.join(RESIDENCES)}")


def _date(field: str, raw: str) -> dt.date:
    try:
        if len(raw) == 7 and raw.isdigit():
            return parse_gyymmdd(raw)
        return iso_date(raw)
    except (InvalidIdentifier, ValueError):
        raise ResidencyInputError(field, f"{raw!r} is not a date (YYYY-MM-DD or GYYMMDD)") from None


def _problem(error: object) -> FileProblem:
    file, line, field, reason = (getattr(error, n) for n in ("file", "line", "field", "reason"))
    return FileProblem(str(file), int(line), str(field) or "(file)", str(reason))


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` years earlier (28 February for a 29 February that year lacks)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return dt.date(day.year - years, 2, 28)
