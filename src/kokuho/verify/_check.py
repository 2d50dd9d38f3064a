"""The eligibility decision (資格確認): which coverage answers a query on the date of care.

Reads the register's tables (``kokuho.registry.tables``) and never writes them, through a
SQLAlchemy connection or, on a SQLite file, the same statements on plain ``sqlite3``
connections (``_sqlite_reads``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry import tables as r
from kokuho.verify._model import (
    ConsentCategory,
    CoverageAnswer,
    EligibilityAnswer,
    NumberQuery,
    Validity,
)
from kokuho.verify._sqlite_reads import SqliteReads
from kokuho.verify._tables import consents, reference_numbers

#: Where a check reads: a SQLAlchemy connection, or a SQLite register's plain connections.
Source = sa.Connection | SqliteReads

c = r.coverages.c
p = r.persons.c
t = r.coverage_terms.c
_EARLIER = r.coverage_terms.alias("earlier")
_FIRST = r.coverage_terms.alias("first")
# The terms in force on the day (the latest change on or before it), or, for a day before the
# coverage began, its first terms: chosen inside the one query that finds the coverages.
_TERMS_FROM = sa.func.coalesce(
    sa.select(sa.func.max(_EARLIER.c.effective_from))
    .where(
        _EARLIER.c.coverage_id == c.coverage_id,
        _EARLIER.c.effective_from <= sa.bindparam("day"),
    )
    .scalar_subquery(),
    sa.select(sa.func.min(_FIRST.c.effective_from))
    .where(_FIRST.c.coverage_id == c.coverage_id)
    .scalar_subquery(),
)
_COLUMNS = (
    c.coverage_id, c.person_id, c.insurer_number, c.symbol, c.number, c.branch, c.acquired_on,
    c.lost_on, c.loss_reason, c.relationship, c.card_class, p.name_kanji, p.name_kana, p.sex,
    p.birth_date, r.insurers.c.name.label("insurer_name"), t.copay_percent,
    t.elderly_copay_percent, t.limit_category, t.specific_disease,
    t.effective_from.label("terms_from"), reference_numbers.c.reference_number,
)  # fmt: skip
# One round trip answers a check: coverages, person, insurer, terms on the day and the
# institution's 照会番号 (only consents, and 資格喪失 cases, take another).
_BASE = (
    sa.select(*_COLUMNS)
    .join(r.persons, p.person_id == c.person_id)
    .join(r.insurers, r.insurers.c.insurer_number == c.insurer_number)
    .outerjoin(
        r.coverage_terms,
        sa.and_(t.coverage_id == c.coverage_id, t.effective_from == _TERMS_FROM),
    )
    .outerjoin(
        reference_numbers,
        sa.and_(
            reference_numbers.c.institution_code == sa.bindparam("institution"),
            reference_numbers.c.person_id == c.person_id,
        ),
    )
)
BY_NUMBER = _BASE.where(
    c.insurer_number == sa.bindparam("insurer"),
    c.symbol == sa.bindparam("symbol"),
    c.number == sa.bindparam("number"),
    p.birth_date == sa.bindparam("birth"),
)
BY_NUMBER_AND_BRANCH = BY_NUMBER.where(c.branch == sa.bindparam("branch"))
BY_PERSON = _BASE.where(c.person_id == sa.bindparam("person"))
_BY_TUPLE = _BASE.where(
    c.insurer_number == sa.bindparam("insurer"),
    c.symbol == sa.bindparam("symbol"),
    c.number == sa.bindparam("number"),
    c.branch == sa.bindparam("branch"),
)
IN_FORCE_ELSEWHERE = (
    sa.select(c.coverage_id)
    .where(
        c.person_id == sa.bindparam("person"),
        c.coverage_id != sa.bindparam("coverage"),
        c.acquired_on <= sa.bindparam("day"),
        sa.or_(c.lost_on.is_(None), c.lost_on > sa.bindparam("day")),
    )
    .limit(1)
)
_CONSENTS = (
    sa.select(consents.c.category, sa.func.max(consents.c.valid_until))
    .where(
        consents.c.person_id == sa.bindparam("person"),
        consents.c.institution_code == sa.bindparam("institution"),
        consents.c.valid_until >= sa.bindparam("day"),
    )
    .group_by(consents.c.category)
)


def consented_column(
    aggregate: Callable[[Any], Any], pair: Callable[[Any, Any], Any]
) -> sa.Label[Any]:
    """_CONSENTS for the row's person, as a column of the coverage statements: the person's
    consents for the institution in force on the day as JSON, [[category, valid_until], …]
    (the latest end per category is taken by :func:`consents_of`, as _CONSENTS's max()
    does), built by the database's own ``aggregate`` and ``pair`` functions."""
    return (
        sa.select(aggregate(pair(consents.c.category, consents.c.valid_until)))
        .where(
            consents.c.person_id == c.person_id,
            consents.c.institution_code == sa.bindparam("institution"),
            consents.c.valid_until >= sa.bindparam("day"),
        )
        .scalar_subquery()
        .label("consented")
    )


# On the SQLite fast path (``_sqlite_reads``) the coverage statements carry the consents, as
# the PostgreSQL path's do (``_check_pg``): one statement answers the common check instead of
# two.
_CONSENTED_SQLITE = consented_column(sa.func.json_group_array, sa.func.json_array)
#: The coverage statements as the SQLite fast path runs them, by the statement's identity.
_WITH_CONSENTS: dict[int, sa.Select[Any]] = {
    id(statement): statement.add_columns(_CONSENTED_SQLITE)
    for statement in (BY_NUMBER, BY_NUMBER_AND_BRANCH, BY_PERSON, _BY_TUPLE)
}


def consents_of(value: Any) -> dict[ConsentCategory, dt.date]:
    """A consented column (a JSON array of [category, valid_until], as text or parsed, or
    NULL) as :func:`active_consents` gives it: the latest end per category."""
    pairs = json.loads(value) if isinstance(value, str | bytes) else value or []
    found: dict[ConsentCategory, dt.date] = {}
    for category, until in pairs:
        day = dt.date.fromisoformat(until)
        key = ConsentCategory(category)
        if key not in found or found[key] < day:
            found[key] = day
    return found


def covers(row: Any, day: dt.date) -> bool:
    return bool(row.acquired_on <= day and (row.lost_on is None or day < row.lost_on))


def answer_for(row: Any, show_limit: bool) -> CoverageAnswer:
    # Every coverage has terms from its acquisition (the register refuses one without).
    assert row.terms_from is not None, f"coverage {row.coverage_id} has no terms"
    return CoverageAnswer(
        insured=InsuredId(row.insurer_number, row.symbol, row.number, row.branch),
        insurer_name=row.insurer_name,
        card_class=row.card_class,
        relationship=row.relationship,
        name_kanji=row.name_kanji,
        name_kana=row.name_kana,
        sex=row.sex,
        birth_date=row.birth_date,
        acquired_on=row.acquired_on,
        lost_on=row.lost_on,
        loss_reason=row.loss_reason,
        copay_percent=row.copay_percent,
        elderly_copay_percent=row.elderly_copay_percent,
        specific_disease=row.specific_disease,
        limit_category=row.limit_category if show_limit else None,
        reference_number=row.reference_number,
    )


def _all(source: Source, statement: sa.Select[Any], params: dict[str, Any]) -> Sequence[Any]:
    if isinstance(source, SqliteReads):
        return source.all(_WITH_CONSENTS.get(id(statement), statement), params)
    return source.execute(statement, params).all()


def _consents_for(
    source: Source, row: Any, institution: str, day: dt.date
) -> dict[ConsentCategory, dt.date]:
    """The consents of ``row``'s person: from the row where its statement carried them (the
    SQLite fast path), else by :func:`active_consents`."""
    if isinstance(source, SqliteReads):
        return consents_of(row.consented)
    return active_consents(source, row.person_id, institution, day)


def active_consents(
    connection: Source, person_id: int, institution: str, day: dt.date
) -> dict[ConsentCategory, dt.date]:
    rows = _all(
        connection, _CONSENTS, {"person": person_id, "institution": institution, "day": day}
    )
    return {ConsentCategory(category): until for category, until in rows}


def latest_period(rows: Sequence[Any], day: dt.date) -> Any:
    """The period that ended most recently before ``day`` (or the earliest one after it)."""
    before = [row for row in rows if row.acquired_on <= day]
    return (
        max(before, key=lambda row: row.acquired_on)
        if before
        else min(rows, key=lambda row: row.acquired_on)
    )


def check_number(
    connection: Source, query: NumberQuery, institution: str
) -> tuple[EligibilityAnswer, int | None]:
    """A check by 保険者番号・記号・番号・枝番 and birth date. Returns the answer and the person
    it is about (None when no one matched).

    A wrong birth date answers 該当資格なし, exactly like an unknown number, so the check cannot
    be used to find out whether a number exists.
    """
    params: dict[str, Any] = {
        "insurer": query.insurer, "symbol": query.symbol, "number": query.number,
        "birth": query.birth_date, "day": query.date_of_care, "institution": institution,
    }  # fmt: skip
    if query.branch is not None:
        params["branch"] = query.branch
        rows = _all(connection, BY_NUMBER_AND_BRANCH, params)
    else:
        rows = _all(connection, BY_NUMBER, params)
    return _decide(connection, rows, query.date_of_care, institution, query.limit_consent)


def member_answer(
    connection: Source, insured: InsuredId, day: dt.date
) -> tuple[EligibilityAnswer, int | None]:
    """An insurer's own member by the full tuple, for its staff (no birth date needed)."""
    rows = _all(
        connection, _BY_TUPLE,
        {"insurer": insured.insurer, "symbol": insured.symbol, "number": insured.number,
         "branch": insured.branch, "day": day, "institution": ""},
    )  # fmt: skip
    return _decide(connection, rows, day, "", True)


def _decide(
    connection: Source, rows: Sequence[Any], day: dt.date, institution: str,
    limit_consent: bool,
) -> tuple[EligibilityAnswer, int | None]:  # fmt: skip
    if not rows:
        return EligibilityAnswer(Validity.NOT_FOUND, day), None
    people = {row.person_id for row in rows}
    if len(people) > 1:
        # Cards without 枝番 name a household; twins share the birth date too.
        chosen = [
            latest_period([x for x in rows if x.person_id == pid], day) for pid in sorted(people)
        ]
        results = [answer_for(row, False) for row in chosen]
        return EligibilityAnswer(Validity.MULTIPLE, day, results), None
    person_id = rows[0].person_id
    consented = _consents_for(connection, rows[0], institution, day)
    show_limit = limit_consent or ConsentCategory.LIMIT in consented
    in_force = [row for row in rows if covers(row, day)]
    if in_force:
        answer = answer_for(in_force[0], show_limit)
        return EligibilityAnswer(Validity.VALID, day, [answer], consented), person_id
    latest = latest_period(rows, day)
    elsewhere = (
        connection.scalar(
            IN_FORCE_ELSEWHERE, {"person": person_id, "coverage": latest.coverage_id, "day": day}
        )
        if may_be_replaced(latest, day)
        else None
    )
    validity = Validity.REPLACED if elsewhere is not None else Validity.INVALID
    answer = answer_for(latest, False)
    return EligibilityAnswer(validity, day, [answer], consented), person_id


def may_be_replaced(latest: Any, day: dt.date) -> bool:
    """Whether 無効（新しい資格あり） can be the answer: only for a coverage that had begun by
    ``day`` and ended. One that begins after the date of care is not replaced by what was in
    force then (an earlier card, if anything): it is 無効, as docs/api.md says."""
    return bool(latest.acquired_on <= day)


def check_person(
    connection: Source,
    person_id: int,
    day: dt.date,
    institution: str,
    *,
    limit_consent: bool = False,
) -> EligibilityAnswer:
    """A check for a person identified by their card: every coverage in force on ``day``."""
    rows = _all(
        connection, BY_PERSON, {"person": person_id, "day": day, "institution": institution}
    )
    if not rows:
        return EligibilityAnswer(Validity.NOT_FOUND, day)
    consented = _consents_for(connection, rows[0], institution, day)
    show_limit = limit_consent or ConsentCategory.LIMIT in consented
    return person_decision(rows, day, consented, show_limit)


def person_decision(
    rows: Sequence[Any], day: dt.date, consented: dict[ConsentCategory, dt.date], show_limit: bool
) -> EligibilityAnswer:
    """:func:`check_person`'s decision over a person's coverage rows (at least one), shared
    with the PostgreSQL loop's look-up (``_check_pg``)."""
    in_force = [row for row in rows if covers(row, day)]
    if len(in_force) == 1:
        answer = answer_for(in_force[0], show_limit)
        return EligibilityAnswer(Validity.VALID, day, [answer], consented)
    if len(in_force) > 1:
        # Two insurers on the same day (資格重複): the institution must ask which card applies.
        results = [answer_for(row, show_limit) for row in in_force]
        return EligibilityAnswer(Validity.MULTIPLE, day, results, consented)
    latest = latest_period(rows, day)
    answer = answer_for(latest, False)
    return EligibilityAnswer(Validity.INVALID, day, [answer], consented)
