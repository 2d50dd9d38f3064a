"""Import of the eligibility change feed (資格異動): atomic per file, idempotent by event id.

A file is read and checked completely (``_feed_read``), applied to an in-memory picture of the
affected coverages, and written in one transaction (or one SAVEPOINT of a run of files,
``_feed_run``). A crash at any point leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry._errors import FileRejected, RowError
from kokuho.registry._events import Event
from kokuho.registry._feed_lookup import Step, candidates_and_applied, register_of
from kokuho.registry._feed_read import ImportReport, collector_paused, read_events
from kokuho.registry._feed_write import advance_sequences, drop_file_row, file_row, write
from kokuho.registry._normalize import (
    ITEMS,
    address_parts,
    differing_items,
    fuller_address,
    match_key,
)
from kokuho.registry._tables import coverages, insurers, persons
from kokuho.store import Fence

_ADVISORY_LOCK = 0x6B6F6B75  # one importer at a time on PostgreSQL ("koku")


@dataclass(slots=True)
class _Person:
    person_id: int
    name_kanji: str
    name_kana: str
    birth_date: dt.date
    sex: int
    address: str
    key: str
    new: bool = False
    dirty: bool = False


@dataclass(slots=True)
class _Period:
    coverage_id: int
    person_id: int
    acquired_on: dt.date
    lost_on: dt.date | None
    loss_reason: str | None
    relationship: int
    card_class: str
    terms: dict[dt.date, dict[str, Any]]
    stored_terms: set[dt.date]
    new: bool = False
    dirty: bool = False
    dirty_terms: set[dt.date] = field(default_factory=set)
    decided_on: dt.date | None = None


class _Reject(Exception):
    def __init__(self, column: str, reason: str) -> None:
        self.column = column
        super().__init__(reason)


_TOPS = sa.select(
    sa.select(sa.func.max(persons.c.person_id)).scalar_subquery(),
    sa.select(sa.func.max(coverages.c.coverage_id)).scalar_subquery(),
)


@dataclass(slots=True)
class Start:
    """What a file's import starts from: the registered insurers and the next free ids.
    Read once per transaction; a run of files (:func:`import_feed`) carries the ids on from
    file to file instead of reading them again (it holds the write lock throughout)."""

    insurers: set[str]
    next_person: int
    next_coverage: int

    @classmethod
    def read(cls, connection: sa.Connection) -> Start:
        # One round trip for the two top ids (a monthly file of a few rows paid a server
        # round trip for each on PostgreSQL).
        top_person, top_coverage = connection.execute(_TOPS).one()
        return cls(
            set(connection.scalars(sa.select(insurers.c.insurer_number))),
            (top_person or 0) + 1,
            (top_coverage or 0) + 1,
        )


def _key(insured: InsuredId) -> tuple[str, str, str, str]:
    return (insured.insurer, insured.symbol, insured.number, insured.branch)


class _Import:
    """The state of one file's import inside its transaction."""

    def __init__(self, connection: sa.Connection, name: str, start: Start) -> None:
        self.connection = connection
        self.name = name
        self.known_insurers = start.insurers
        self.periods: dict[InsuredId, list[_Period]] = {}
        self.persons: dict[int, _Person] = {}
        self.by_key: dict[str, list[int]] = {}
        self.rejected_tuples: dict[InsuredId, int] = {}
        self.keys: dict[int, str] = {}
        self.empty = start.next_person == 1
        self.next_person = start.next_person
        self.next_coverage = start.next_coverage

    # -- loading the affected part of the register -------------------------------------
    def load(self, events: list[Event], first: Step) -> tuple[int, dict[tuple[str, str], str]]:
        """Reads what ``events`` touch, after ``first`` (the file's row: on SQLite its write
        takes the write lock before the register is read); returns the file id and the
        digests of the events already applied."""
        # A first load into an empty register (no person yet) has nothing to look up.
        tuples = [] if self.empty else list({_key(event.insured) for event in events})
        file_id, found, terms, people = register_of(self.connection, first, tuples)
        by_id: dict[int, _Period] = {}
        for row in found:  # in the order of _feed_lookup.COVERAGE_COLUMNS
            cid = row[0]
            period = _Period(cid, row[1], row[6], row[7], row[8], row[9], row[10], {}, set())
            by_id[cid] = period
            self.periods.setdefault(InsuredId(row[2], row[3], row[4], row[5]), []).append(period)
        for plist in self.periods.values():
            if len(plist) > 1:
                plist.sort(key=lambda p: p.acquired_on)
        for cid, day, *values in terms:
            period = by_id[cid]
            period.terms[day] = dict(zip(_TERMS, values, strict=True))
            period.stored_terms.add(day)
        self._add_persons(people)
        self.keys = {
            event.line: event.key or match_key(**_five(event))
            for event in events
            if event.kind == "acquire" and event.insured not in self.periods
        }
        if self.empty:
            return file_id, {}
        ids = list({(event.insured.insurer, event.event_id) for event in events})
        candidates, applied = candidates_and_applied(
            self.connection, list(set(self.keys.values())), ids
        )
        self._add_persons(candidates)
        return file_id, {(insurer, event_id): digest for insurer, event_id, digest in applied}

    def _add_persons(self, rows: list[Any]) -> None:
        for row in rows:
            if row[0] not in self.persons:
                person = _Person(*row)
                self.persons[person.person_id] = person
                self.by_key.setdefault(person.key, []).append(person.person_id)

    # -- applying events -----------------------------------------------------------------
    def apply(self, event: Event) -> None:
        if event.insured.insurer not in self.known_insurers:
            raise _Reject("insurer_number", f"保険者 {event.insured.insurer} is not registered")
        if event.kind == "acquire":
            self._acquire(event)
        elif event.kind == "lose":
            self._lose(event)
        else:
            self._change(event)

    def _acquire(self, event: Event) -> None:
        plist = self.periods.setdefault(event.insured, [])
        for period in plist:
            if period.lost_on is None or period.lost_on > event.effective:
                until = f"until {period.lost_on}" if period.lost_on else "and still open"
                raise _Reject(
                    "effective_date",
                    f"this insured number is covered from {period.acquired_on} {until}",
                )
        assert event.birth_date is not None and event.sex is not None
        if plist:
            person = self.persons[plist[0].person_id]
            if (person.birth_date, person.sex) != (event.birth_date, event.sex):
                raise _Reject(
                    "birth_date", "differs from the person this insured number already names"
                )
            self._update_person(person, event.person)
        else:
            key = self.keys.get(event.line) or match_key(**_five(event))
            found = self._same_person(key, event)
            if found is not None:
                person = found
                if not address_parts(person.address)[0]:
                    # The person takes the prefecture this record writes (the other items
                    # agree): a namesake's record in another prefecture cannot join it later.
                    self._update_person(person, {"address": event.person["address"]})
            else:
                person = _Person(
                    self.next_person, event.person["name_kanji"], event.person["name_kana"],
                    event.birth_date, event.sex, event.person["address"], key, new=True,
                )  # fmt: skip
                self.next_person += 1
                self.persons[person.person_id] = person
                self.by_key.setdefault(key, []).append(person.person_id)
        assert event.relationship is not None
        terms = _NO_TERMS | event.terms  # event.terms holds only some of _TERMS
        plist.append(
            _Period(
                self.next_coverage, person.person_id, event.effective, None, None,
                event.relationship, event.card_class, {event.effective: terms}, set(),
                new=True, dirty_terms={event.effective}, decided_on=event.decided_on,
            )
        )  # fmt: skip
        self.next_coverage += 1

    def _same_person(self, key: str, event: Event) -> _Person | None:
        """The one person whose five items agree with ``event``'s (the rule My Number linkage
        uses, :func:`differing_items`). The key finds candidates; two records whose
        prefectures differ share a key but are not the same person. When more than one
        candidate agrees (a record without a prefecture, namesakes in two prefectures), the
        one with the same written prefecture is taken, else none: a second person record is
        safe, a wrong merge is not."""
        ids = self.by_key.get(key)
        if not ids:
            return None  # the usual case: a new person, no candidate to compare
        five = _five(event)
        candidates = [
            person
            for person in (self.persons[pid] for pid in ids)
            if person.key == key and not differing_items(_items(person), five)
        ]
        if len(candidates) > 1:
            prefecture = address_parts(five["address"])[0]
            candidates = [p for p in candidates if address_parts(p.address)[0] == prefecture]
        return candidates[0] if len(candidates) == 1 else None

    def _lose(self, event: Event) -> None:
        plist = self.periods.get(event.insured)
        if not plist:
            raise _Reject("number", "no coverage is registered for this insured number")
        earlier = [p for p in plist if p.acquired_on <= event.effective]
        if not earlier:
            raise _Reject(
                "effective_date", f"資格喪失日 is before the 資格取得日 {plist[0].acquired_on}"
            )
        period = earlier[-1]
        later = plist[plist.index(period) + 1 :]
        if later and later[0].acquired_on < event.effective:
            raise _Reject(
                "effective_date", f"would overlap the next period from {later[0].acquired_on}"
            )
        period.lost_on = event.effective
        period.loss_reason = event.loss_reason
        period.dirty = True
        self._update_person(self.persons[period.person_id], event.person)

    def _change(self, event: Event) -> None:
        plist = self.periods.get(event.insured, [])
        day = event.effective
        period = next(
            (p for p in plist if p.acquired_on <= day and (p.lost_on is None or day < p.lost_on)),
            None,
        )
        if period is None:
            raise _Reject(
                "effective_date", f"no coverage of this insured number is in force on {day}"
            )
        self._update_person(self.persons[period.person_id], event.person)
        if event.terms:
            base_day = max(d for d in period.terms if d <= day) if period.terms else None
            base: dict[str, Any] = (
                dict(period.terms[base_day]) if base_day else dict.fromkeys(_TERMS)
            )
            base.update(event.terms)
            period.terms[day] = base
            period.dirty_terms.add(day)

    def _update_person(self, person: _Person, changes: dict[str, str]) -> None:
        changed = False
        for name, value in changes.items():
            if name == "address":
                value = fuller_address(person.address, value)
            if getattr(person, name) != value:
                setattr(person, name, value)
                changed = True
        if changed:
            person.dirty = True
            person.key = match_key(
                person.name_kanji, person.name_kana, person.birth_date, person.sex, person.address
            )
            self.by_key.setdefault(person.key, []).append(person.person_id)

    # -- writing ---------------------------------------------------------------------------


_TERMS = ("copay_percent", "elderly_copay_percent", "limit_category", "specific_disease")
_NO_TERMS: dict[str, Any] = dict.fromkeys(_TERMS)


def _items(person: _Person) -> dict[str, Any]:
    return {item: getattr(person, item) for item in ITEMS}


def _five(event: Event) -> dict[str, Any]:
    assert event.birth_date is not None and event.sex is not None
    return {
        "name_kanji": event.person["name_kanji"],
        "name_kana": event.person["name_kana"],
        "birth_date": event.birth_date,
        "sex": event.sex,
        "address": event.person["address"],
    }


def import_changes(
    engine: sa.Engine,
    path: Path,
    *,
    load_good_rows: bool = False,
    row_by_row: bool = False,
    fence: Fence | None = None,
) -> ImportReport:
    """Loads one change-feed file (docs/formats.md §2).

    Raises FileRejected, with every error, when a row is bad and ``load_good_rows`` is false;
    nothing is written then. Rows already applied (same insurer and event id, same content)
    count as duplicates, so a second load of the same file changes nothing.

    ``row_by_row`` parses every row with :func:`parse_event` instead of trying the fast path
    first (:func:`fast_event`); the outcome is the same, the tests compare the two.

    ``fence`` runs first in the writing transaction, after the lock (kokuho.store.Fence).
    """
    with collector_paused():
        return _import_changes(
            engine, path, load_good_rows=load_good_rows, slow=row_by_row, fence=fence
        )


def _import_changes(
    engine: sa.Engine, path: Path, *, load_good_rows: bool, slow: bool, fence: Fence | None
) -> ImportReport:
    report, events = read_events(path, load_good_rows=load_good_rows, slow=slow)
    with engine.begin() as connection:
        lock(connection)
        if fence is not None:
            fence(connection)
        apply_file(connection, report, events, Start.read(connection), load_good_rows)
    report.errors.sort(key=lambda e: e.line)
    return report


def lock(connection: sa.Connection) -> None:
    """One importer at a time on PostgreSQL, until the transaction ends (SQLite's write lock
    is taken by the first write).

    Also switches PostgreSQL's JIT off for the transaction: the look-ups probe an index once
    per key (``_feed_lookup``), but before a run's rows are analysed the planner's estimates
    for them can pass ``jit_above_cost``, and compiling took 100-200 ms per statement, far
    more than the statement itself."""
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK)


_LOCK = sa.select(
    sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK), sa.func.set_config("jit", "off", sa.true())
)


def apply_file(
    connection: sa.Connection,
    report: ImportReport,
    events: list[Event],
    start: Start,
    load_good_rows: bool,
    *,
    sequences: bool = True,
) -> Start:
    """Applies one file's events in the caller's transaction; returns what the next file in
    the same transaction starts from. Raises FileRejected (the caller rolls back: something
    may have been written) when an event is refused and ``load_good_rows`` is false.
    ``sequences`` false leaves PostgreSQL's id sequences to the caller
    (:func:`advance_sequences`)."""
    name = report.file
    state = _Import(connection, name, start)
    file_id, stored = state.load(events, file_row(connection, report))
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    done: list[Event] = []
    apply = state.apply
    for event in events:
        key = (event.insured.insurer, event.event_id)
        earlier = stored.get(key) if stored else None
        if key in seen:
            digest, line = seen[key]
            if digest == event.digest:
                report.duplicates += 1
            else:
                report.errors.append(
                    RowError(name, event.line, "event_id", f"already used on line {line}")
                )
            continue
        if earlier is not None:
            if earlier == event.digest:
                report.duplicates += 1
            else:
                report.errors.append(
                    RowError(
                        name, event.line, "event_id",
                        f"{event.event_id} was applied before with other content",
                    )
                )  # fmt: skip
            continue
        try:
            apply(event)
        except _Reject as error:
            reason = str(error)
            if event.insured in state.rejected_tuples:
                first = state.rejected_tuples[event.insured]
                reason += f" (line {first} for this insured number was rejected)"
            state.rejected_tuples.setdefault(event.insured, event.line)
            report.errors.append(RowError(name, event.line, error.column, reason))
            continue
        seen[key] = (event.digest, event.line)
        done.append(event)
    kinds = Counter(event.kind for event in done)
    report.acquired += kinds["acquire"]
    report.lost += kinds["lose"]
    report.changed += kinds["change"]
    report.rejected = len(report.errors)
    if report.errors and not load_good_rows:
        raise FileRejected(report.errors)
    report.applied = len(done)
    if not done:
        # Nothing to record: a file loaded again leaves no trace (the row above only
        # took SQLite's write lock early).
        drop_file_row(connection, file_id)
        return start
    write(connection, state, file_id, done, report)
    if sequences:
        advance_sequences(connection)
    report.persons_created = sum(1 for p in state.persons.values() if p.new)
    return Start(start.insurers, state.next_person, state.next_coverage)
