"""The number and card checks' look-ups on PostgreSQL over psycopg's async API (資格確認).

The statements of :mod:`kokuho.verify._check` (compiled from them, so the two paths ask the
same questions) and the same decision, run on an async connection of the event loop serving
the request, each statement prepared on its connection. One round trip answers the common
check: the coverage query carries, per row, the person's consents for the institution that
are in force on the day (the SQLAlchemy path asks for them in a second statement). A check
that finds no coverage in force on the day takes a second round trip (振替: in force
elsewhere?), as the SQLAlchemy path does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from kokuho.verify._check import (
    _BY_NUMBER,
    _BY_NUMBER_AND_BRANCH,
    _BY_PERSON,
    _IN_FORCE_ELSEWHERE,
    _answer_for,
    _covers,
    _latest,
    c,
    person_decision,
)
from kokuho.verify._model import ConsentCategory, EligibilityAnswer, NumberQuery, Validity
from kokuho.verify._tables import consents

_DIALECT = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
# _check._CONSENTS for the row's person, as a column: [[category, valid_until], …] in JSON
# (the latest end per category is taken below, as _CONSENTS's max() does).
_CONSENTED = (
    sa.select(
        sa.func.json_agg(sa.func.json_build_array(consents.c.category, consents.c.valid_until))
    )
    .where(
        consents.c.person_id == c.person_id,
        consents.c.institution_code == sa.bindparam("institution"),
        consents.c.valid_until >= sa.bindparam("day"),
    )
    .scalar_subquery()
    .label("consented")
)


def _sql(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """``statement`` as psycopg's SQL (``%(name)s`` parameters) and its constant parameters.
    A plain string: psycopg caches its conversion (a ``sql.SQL`` is converted every time)."""
    compiled = statement.compile(dialect=_DIALECT)
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    return str(compiled), constants


_NUMBER, _ = _sql(_BY_NUMBER.add_columns(_CONSENTED))
_NUMBER_AND_BRANCH, _ = _sql(_BY_NUMBER_AND_BRANCH.add_columns(_CONSENTED))
_ELSEWHERE, _ELSEWHERE_CONSTANTS = _sql(_IN_FORCE_ELSEWHERE)
_PERSON, _ = _sql(_BY_PERSON.add_columns(_CONSENTED))
# The three coverage statements' rows, as one class made once: psycopg's namedtuple_row
# looks its class up again for every result (the columns' names, then a cache).
_FIELDS = tuple(_BY_NUMBER.add_columns(_CONSENTED).selected_columns.keys())
_Row = namedtuple("_Row", _FIELDS)  # type: ignore[misc]  # noqa: PYI024


def _coverage_rows(cursor: psycopg.AsyncCursor[Any]) -> Callable[[Sequence[Any]], Any]:
    """The row factory of the coverage statements (every result of the cursor is one)."""
    return _Row._make


def _consents(value: Any) -> dict[ConsentCategory, dt.date]:
    """The consented column as ``_check.active_consents`` gives it: the latest end per
    category. (The driver may hand JSON over parsed or as text.)"""
    pairs = json.loads(value) if isinstance(value, str | bytes) else value or []
    found: dict[ConsentCategory, dt.date] = {}
    for category, until in pairs:
        day = dt.date.fromisoformat(until)
        key = ConsentCategory(category)
        if key not in found or found[key] < day:
            found[key] = day
    return found


async def check_number_pg(
    connection: psycopg.AsyncConnection[Any], query: NumberQuery, institution: str
) -> tuple[EligibilityAnswer, int | None]:
    """:func:`kokuho.verify._check.check_number` on an async connection: the same answer and
    the same person (None when no one matched)."""
    params: dict[str, Any] = {
        "insurer": query.insurer, "symbol": query.symbol, "number": query.number,
        "birth": query.birth_date, "day": query.date_of_care, "institution": institution,
    }  # fmt: skip
    statement = _NUMBER
    if query.branch is not None:
        params["branch"] = query.branch
        statement = _NUMBER_AND_BRANCH
    async with connection.cursor(row_factory=_coverage_rows) as cursor:
        await cursor.execute(statement, params, prepare=True)
        rows: list[Any] = await cursor.fetchall()
        day = query.date_of_care
        # From here on, _check._decide's steps in the same order (tests/test_check_pg.py
        # holds the two paths to the same answers).
        if not rows:
            return EligibilityAnswer(Validity.NOT_FOUND, day), None
        people = {row.person_id for row in rows}
        if len(people) > 1:
            # Cards without 枝番 name a household; twins share the birth date too.
            chosen = [
                _latest([x for x in rows if x.person_id == pid], day) for pid in sorted(people)
            ]
            results = [_answer_for(row, False) for row in chosen]
            return EligibilityAnswer(Validity.MULTIPLE, day, results), None
        person_id: int = rows[0].person_id
        consented = _consents(rows[0].consented)
        show_limit = query.limit_consent or ConsentCategory.LIMIT in consented
        in_force = [row for row in rows if _covers(row, day)]
        if in_force:
            answer = _answer_for(in_force[0], show_limit)
            return EligibilityAnswer(Validity.VALID, day, [answer], consented), person_id
        latest = _latest(rows, day)
        await cursor.execute(
            _ELSEWHERE,
            {**_ELSEWHERE_CONSTANTS, "person": person_id, "coverage": latest.coverage_id,
             "day": day},
            prepare=True,
        )  # fmt: skip
        elsewhere = cursor.rowcount > 0  # a coverage id, not a coverage row: not fetched
    validity = Validity.REPLACED if elsewhere else Validity.INVALID
    return EligibilityAnswer(validity, day, [_answer_for(latest, False)], consented), person_id


async def check_person_pg(
    connection: psycopg.AsyncConnection[Any], person_id: int, day: dt.date, institution: str
) -> EligibilityAnswer:
    """:func:`kokuho.verify._check.check_person` (a card check's person) on an async
    connection: the same answer, in one round trip (the consents ride on each row)."""
    params = {"person": person_id, "day": day, "institution": institution}
    async with connection.cursor(row_factory=_coverage_rows) as cursor:
        await cursor.execute(_PERSON, params, prepare=True)
        rows: list[Any] = await cursor.fetchall()
    # From here on, _check.check_person's steps in the same order.
    if not rows:
        return EligibilityAnswer(Validity.NOT_FOUND, day)
    consented = _consents(rows[0].consented)
    return person_decision(rows, day, consented, ConsentCategory.LIMIT in consented)
