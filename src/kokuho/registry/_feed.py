"""Import of the eligibility change feed (資格異動): atomic per file, idempotent by event id.

A file is read and checked completely (``_feed_read``), applied to an in-memory picture of the
affected coverages, and written in one transaction (or one SAVEPOINT of a run of files,
``_feed_run``). A crash at any point leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry._errors import FileRejected, RowError
from kokuho.registry._events import Event
from kokuho.registry._feed_lookup import applied_events, coverages_of, in_values, values_param
from kokuho.registry._feed_read import ImportReport, collector_paused, read_events
from kokuho.registry._feed_write import advance_sequences, write
from kokuho.registry._merge import absorbed_persons
from kokuho.registry._normalize import (
    ITEMS,
    address_parts,
    differing_items,
    fuller_address,
    match_key,
)
from kokuho.registry._tables import (
    coverage_terms,
    coverages,
    feed_files,
    insurers,
    persons,
)

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


@functools.cache
def _terms_of(dialect: str) -> sa.Select[Any]:
    """The terms of the coverages in ``values``; built once (see ``_feed_lookup``)."""
    return sa.select(coverage_terms).where(in_values(dialect, coverage_terms.c.coverage_id))


@functools.cache
def _persons_by(dialect: str, column: str) -> sa.Select[Any]:
    """The persons whose ``column`` is in ``values``, none merged into another; built once."""
    return sa.select(persons).where(
        in_values(dialect, persons.c[column]), persons.c.person_id.not_in(absorbed_persons())
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
    def load(self, events: list[Event]) -> dict[tuple[str, str], str]:
        # A first load into an empty register (no person yet) has nothing to look up.
        tuples = [] if self.empty else list({_key(event.insured) for event in events})
        for row in coverages_of(self.connection, tuples):
            insured = InsuredId(row.insurer_number, row.symbol, row.number, row.branch)
            self.periods.setdefault(insured, []).append(
                _Period(
                    row.coverage_id, row.person_id, row.acquired_on, row.lost_on,
                    row.loss_reason, row.relationship, row.card_class, {}, set(),
                )
            )  # fmt: skip
        by_id = {p.coverage_id: p for plist in self.periods.values() for p in plist}
        for plist in self.periods.values():
            plist.sort(key=lambda p: p.acquired_on)
        dialect = self.connection.dialect.name
        if by_id:
            values = {"values": values_param(dialect, list(by_id))}
            for row in self.connection.execute(_terms_of(dialect), values):
                period = by_id[row.coverage_id]
                period.terms[row.effective_from] = {name: row._mapping[name] for name in _TERMS}
                period.stored_terms.add(row.effective_from)
        self._load_persons("person_id", list({p.person_id for p in by_id.values()}))
        self.keys = {
            event.line: event.key or match_key(**_five(event))
            for event in events
            if event.kind == "acquire" and event.insured not in self.periods
        }
        if not self.empty:
            self._load_persons("match_key", list(set(self.keys.values())))
        applied: dict[tuple[str, str], str] = {}
        if not self.empty:
            ids = list({(event.insured.insurer, event.event_id) for event in events})
            rows = applied_events(self.connection, ids)
            applied.update({(r.insurer_number, r.event_id): r.digest for r in rows})
        return applied

    def _load_persons(self, column: str, values: list[Any]) -> None:
        if values:
            dialect = self.connection.dialect.name
            query = _persons_by(dialect, column)
            for row in self.connection.execute(query, {"values": values_param(dialect, values)}):
                if row.person_id not in self.persons:
                    self.persons[row.person_id] = _Person(
                        row.person_id, row.name_kanji, row.name_kana, row.birth_date,
                        row.sex, row.address, row.match_key,
                    )  # fmt: skip
                    self.by_key.setdefault(row.match_key, []).append(row.person_id)

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
            found = self._same_person(key, _five(event))
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
        terms = {name: event.terms.get(name) for name in _TERMS}
        plist.append(
            _Period(
                self.next_coverage, person.person_id, event.effective, None, None,
                event.relationship, event.card_class, {event.effective: terms}, set(),
                new=True, dirty_terms={event.effective}, decided_on=event.decided_on,
            )
        )  # fmt: skip
        self.next_coverage += 1

    def _same_person(self, key: str, five: dict[str, Any]) -> _Person | None:
        """The one person whose five items agree with ``five`` (the rule My Number linkage
        uses, :func:`differing_items`). The key finds candidates; two records whose
        prefectures differ share a key but are not the same person. When more than one
        candidate agrees (a record without a prefecture, namesakes in two prefectures), the
        one with the same written prefecture is taken, else none: a second person record is
        safe, a wrong merge is not."""
        ids = self.by_key.get(key)
        if not ids:
            return None
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
    engine: sa.Engine, path: Path, *, load_good_rows: bool = False, row_by_row: bool = False
) -> ImportReport:
    """Loads one change-feed file (docs/formats.md §2).

    Raises FileRejected, with every error, when a row is bad and ``load_good_rows`` is false;
    nothing is written then. Rows already applied (same insurer and event id, same content)
    count as duplicates, so a second load of the same file changes nothing.

    ``row_by_row`` parses every row with :func:`parse_event` instead of trying the fast path
    first (:func:`fast_event`); the outcome is the same, the tests compare the two.
    """
    with collector_paused():
        return _import_changes(engine, path, load_good_rows=load_good_rows, slow=row_by_row)


def _import_changes(
    engine: sa.Engine, path: Path, *, load_good_rows: bool, slow: bool
) -> ImportReport:
    report, events = read_events(path, load_good_rows=load_good_rows, slow=slow)
    with engine.begin() as connection:
        lock(connection)
        apply_file(connection, report, events, Start.read(connection), load_good_rows)
    report.errors.sort(key=lambda e: e.line)
    return report


def lock(connection: sa.Connection) -> None:
    """One importer at a time on PostgreSQL, until the transaction ends (SQLite's write lock
    is taken by the first write)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))


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
    # The first write takes SQLite's write lock before the register is read.
    inserted = connection.execute(
        _FILE_INSERT,
        {"name": name, "sha256": report.sha256, "loaded_at": dt.datetime.now(dt.UTC),
         "rows": report.rows, "applied": 0, "duplicates": 0, "rejected": 0},
    ).inserted_primary_key  # fmt: skip
    assert inserted is not None
    file_id = int(inserted[0])
    state = _Import(connection, name, start)
    stored = state.load(events)
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    done: list[Event] = []
    for event in events:
        key = (event.insured.insurer, event.event_id)
        earlier = stored.get(key)
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
            state.apply(event)
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
        setattr(report, _COUNTER[event.kind], getattr(report, _COUNTER[event.kind]) + 1)
    report.rejected = len(report.errors)
    if report.errors and not load_good_rows:
        raise FileRejected(report.errors)
    report.applied = len(done)
    if not done:
        # Nothing to record: a file loaded again leaves no trace (the row above only
        # took SQLite's write lock early).
        connection.execute(_FILE_DELETE, {"fid": file_id})
        return start
    write(connection, state, file_id, done)
    if sequences:
        advance_sequences(connection)
    report.persons_created = sum(1 for p in state.persons.values() if p.new)
    connection.execute(
        _FILE_COUNTS,
        {"fid": file_id, "n_applied": report.applied, "n_duplicates": report.duplicates,
         "n_rejected": report.rejected},
    )  # fmt: skip
    return Start(start.insurers, state.next_person, state.next_coverage)


_COUNTER = {"acquire": "acquired", "lose": "lost", "change": "changed"}
# Statements built once: a new one per file computed its cache key again.
_FILE_INSERT = feed_files.insert()
_FILE_DELETE = feed_files.delete().where(feed_files.c.file_id == sa.bindparam("fid"))
_FILE_COUNTS = (
    feed_files.update()
    .where(feed_files.c.file_id == sa.bindparam("fid"))
    .values(
        applied=sa.bindparam("n_applied"),
        duplicates=sa.bindparam("n_duplicates"),
        rejected=sa.bindparam("n_rejected"),
    )
)
