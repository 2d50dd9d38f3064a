"""The write phase of a change-feed import: what the in-memory pass decided, in bulk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kokuho.registry._events import TERM_FIELDS, Event
from kokuho.registry._tables import coverage_terms, coverages, feed_events, persons
from kokuho.store import bulk_insert

if TYPE_CHECKING:
    from kokuho.registry._feed import _Import, _Person

_PERSON = ("person_id", "name_kanji", "name_kana", "birth_date", "sex", "address", "match_key")
_COVERAGE = (
    "coverage_id", "person_id", "insurer_number", "symbol", "number", "branch", "acquired_on",
    "lost_on", "loss_reason", "relationship", "card_class", "decided_on",
)  # fmt: skip
_TERMS = ("coverage_id", "effective_from", *TERM_FIELDS)
_EVENT = ("insurer_number", "event_id", "kind", "effective_date", "file_id", "line", "digest")

# Built once: a new statement per file computed its cache key again.
_PERSON_UPDATE = persons.update().where(persons.c.person_id == sa.bindparam("pid"))
_LOSS_UPDATE = (
    coverages.update()
    .where(coverages.c.coverage_id == sa.bindparam("cid"))
    .values(lost_on=sa.bindparam("lost"), loss_reason=sa.bindparam("reason"))
)
_TERMS_UPDATE = (
    coverage_terms.update()
    .where(
        coverage_terms.c.coverage_id == sa.bindparam("cid"),
        coverage_terms.c.effective_from == sa.bindparam("day"),
    )
    .values({name: sa.bindparam(name) for name in TERM_FIELDS})
)


def _person(p: _Person) -> tuple[Any, ...]:
    return (p.person_id, p.name_kanji, p.name_kana, p.birth_date, p.sex, p.address, p.key)


def write(connection: sa.Connection, state: _Import, file_id: int, events: list[Event]) -> None:
    """Writes what the pass decided; the caller then advances the id sequences
    (:func:`advance_sequences`: after each file, or once per transaction of a run of files)."""
    people = state.persons.values()
    bulk_insert(connection, persons, _PERSON, [_person(p) for p in people if p.new])
    changed = [p for p in people if p.dirty and not p.new]
    if changed:
        connection.execute(
            _PERSON_UPDATE,
            [{"pid": p.person_id, **dict(zip(_PERSON[1:], _person(p)[1:], strict=True))}
             for p in changed],
        )  # fmt: skip

    new_coverages: list[tuple[Any, ...]] = []
    lost: list[dict[str, Any]] = []
    new_terms: list[tuple[Any, ...]] = []
    changed_terms: list[dict[str, Any]] = []
    for insured, periods in state.periods.items():
        for p in periods:
            if p.new:
                new_coverages.append(
                    (p.coverage_id, p.person_id, insured.insurer, insured.symbol, insured.number,
                     insured.branch, p.acquired_on, p.lost_on, p.loss_reason, p.relationship,
                     p.card_class, p.decided_on)
                )  # fmt: skip
            elif p.dirty:
                lost.append({"cid": p.coverage_id, "lost": p.lost_on, "reason": p.loss_reason})
            for day in p.dirty_terms:
                terms = p.terms[day]
                if day in p.stored_terms:
                    changed_terms.append({"cid": p.coverage_id, "day": day, **terms})
                else:
                    new_terms.append((p.coverage_id, day, *(terms[n] for n in TERM_FIELDS)))
    bulk_insert(connection, coverages, _COVERAGE, new_coverages)
    if lost:
        connection.execute(_LOSS_UPDATE, lost)
    bulk_insert(connection, coverage_terms, _TERMS, new_terms)
    if changed_terms:
        connection.execute(_TERMS_UPDATE, changed_terms)
    bulk_insert(
        connection,
        feed_events,
        _EVENT,
        [(e.insured.insurer, e.event_id, e.kind, e.effective, file_id, e.line, e.digest)
         for e in events],
    )  # fmt: skip


def advance_sequences(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Ids are given explicitly; keep the sequences ahead of them (one round trip for both).
        connection.exec_driver_sql(_SETVAL)


_SETVAL = "SELECT " + ", ".join(
    f"setval(pg_get_serial_sequence('{table}', '{column}'), "
    f"(SELECT COALESCE(MAX({column}), 1) FROM {table}))"
    for table, column in (("persons", "person_id"), ("coverages", "coverage_id"))
)
