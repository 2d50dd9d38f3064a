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
from collections import namedtuple
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement

from kokuho.store import ReadBatcher
from kokuho.verify._check import (
    BY_NUMBER,
    BY_NUMBER_AND_BRANCH,
    BY_PERSON,
    IN_FORCE_ELSEWHERE,
    answer_for,
    consented_column,
    consents_of,
    covers,
    latest_period,
    may_be_replaced,
    person_decision,
)
from kokuho.verify._model import ConsentCategory, EligibilityAnswer, NumberQuery, Validity

_DIALECT = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
# _check._CONSENTS for the row's person, as a column (PostgreSQL's JSON functions).
_CONSENTED = consented_column(sa.func.json_agg, sa.func.json_build_array)


def psycopg_sql(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """``statement`` as psycopg's SQL (``%(name)s`` parameters) and its constant parameters.
    A plain string: psycopg caches its conversion (a ``sql.SQL`` is converted every time)."""
    compiled = statement.compile(dialect=_DIALECT)
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    return str(compiled), constants


_NUMBER, _ = psycopg_sql(BY_NUMBER.add_columns(_CONSENTED))
_NUMBER_AND_BRANCH, _ = psycopg_sql(BY_NUMBER_AND_BRANCH.add_columns(_CONSENTED))
_ELSEWHERE, _ELSEWHERE_CONSTANTS = psycopg_sql(IN_FORCE_ELSEWHERE)
_PERSON, _ = psycopg_sql(BY_PERSON.add_columns(_CONSENTED))


def _lateral(statement: str, names: dict[str, tuple[str, str]], *, any_branch: bool = False) -> str:
    """``statement`` run once per row of the keys' ``unnest(...) WITH ORDINALITY``, each of
    its parameters taken from the row (``names``: parameter → the keys' array and type);
    rows tagged by the key's ordinal. ``any_branch``: a key without 枝番 matches any branch."""
    body = statement
    if any_branch:
        branch = "coverages.branch = %(branch)s::VARCHAR"
        assert body.count(branch) == 1, body  # noqa: S101  (import time)
        body = body.replace(
            branch, "(batch_keys.branch IS NULL OR coverages.branch = batch_keys.branch)"
        )
    for name in names:
        body = body.replace(f"%({name})s", f"batch_keys.{name}")
    assert "%(" not in body, body  # noqa: S101  (every parameter comes from the keys)
    arrays = ", ".join(f"%({array})s::{kind}[]" for array, kind in names.values())
    return (
        f"SELECT batch_keys.ordinal, found.* FROM unnest({arrays}) WITH ORDINALITY AS "
        f"batch_keys({', '.join(names)}, ordinal) CROSS JOIN LATERAL ({body}) AS found"
    )


# The number look-up of many checks in one statement (store/_read_batch.py sends it).
_NUMBERS = _lateral(_NUMBER_AND_BRANCH, {
    "insurer": ("insurers", "VARCHAR"), "symbol": ("symbols", "VARCHAR"),
    "number": ("numbers", "VARCHAR"), "branch": ("branches", "VARCHAR"),
    "birth": ("births", "DATE"), "day": ("days", "DATE"),
    "institution": ("institutions", "VARCHAR"),
}, any_branch=True)  # fmt: skip
# The card checks' person look-up, the same way.
_PERSONS = _lateral(_PERSON, {
    "person": ("persons", "INTEGER"), "day": ("days", "DATE"),
    "institution": ("institutions", "VARCHAR"),
})  # fmt: skip
# The three coverage statements' rows, as one class made once: psycopg's namedtuple_row
# looks its class up again for every result (the columns' names, then a cache).
_FIELDS = tuple(BY_NUMBER.add_columns(_CONSENTED).selected_columns.keys())
_Row = namedtuple("_Row", _FIELDS)  # type: ignore[misc]  # noqa: PYI024


def _coverage_rows(cursor: psycopg.AsyncCursor[Any]) -> Callable[[Sequence[Any]], Any]:
    """The row factory of the coverage statements (every result of the cursor is one)."""
    return _Row._make


def _tagged_rows(cursor: psycopg.AsyncCursor[Any]) -> Callable[[Sequence[Any]], Any]:
    """The row factory of a batched look-up: (the key's ordinal, its coverage row)."""
    make = _Row._make
    return lambda values: (values[0], make(values[1:]))


def _number_params(query: NumberQuery, institution: str) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "insurer": query.insurer, "symbol": query.symbol, "number": query.number,
        "birth": query.birth_date, "day": query.date_of_care, "institution": institution,
    }  # fmt: skip
    if query.branch is None:
        return _NUMBER, params
    params["branch"] = query.branch
    return _NUMBER_AND_BRANCH, params


#: A number check's key: the query and the institution asking.
NumberKey = tuple[NumberQuery, str]


async def number_rows(connection: psycopg.AsyncConnection[Any], key: NumberKey) -> list[Any]:
    """The coverage rows of one number check (the first of :func:`check_number_pg`'s reads)."""
    statement, params = _number_params(*key)
    async with connection.cursor(row_factory=_coverage_rows) as cursor:
        await cursor.execute(statement, params, prepare=True)
        return await cursor.fetchall()


async def number_rows_many(
    connection: psycopg.AsyncConnection[Any], keys: Sequence[NumberKey]
) -> list[list[Any]]:
    """:func:`number_rows` of several checks in one statement, each key's rows apart."""
    params = {
        "insurers": [q.insurer for q, _ in keys], "symbols": [q.symbol for q, _ in keys],
        "numbers": [q.number for q, _ in keys], "branches": [q.branch for q, _ in keys],
        "births": [q.birth_date for q, _ in keys], "days": [q.date_of_care for q, _ in keys],
        "institutions": [institution for _, institution in keys],
    }  # fmt: skip
    return await _tagged(connection, _NUMBERS, params, len(keys))


async def _tagged(
    connection: psycopg.AsyncConnection[Any], statement: str, params: dict[str, Any], keys: int
) -> list[list[Any]]:
    """A batched look-up's rows, each key's apart."""
    found: list[list[Any]] = [[] for _ in range(keys)]
    async with connection.cursor(row_factory=_tagged_rows) as cursor:
        await cursor.execute(statement, params, prepare=True)
        for ordinal, row in await cursor.fetchall():
            found[ordinal - 1].append(row)
    return found


def number_decision(rows: list[Any], query: NumberQuery) -> tuple[
    EligibilityAnswer | None, int | None, Any, dict[ConsentCategory, dt.date]
]:  # fmt: skip
    """_check._decide's steps on a number check's rows, up to the 振替 question: the answer
    and person, or (None, person, the latest coverage row, consents) when the answer depends
    on whether the person is covered elsewhere on the day (:func:`in_force_elsewhere`)."""
    day = query.date_of_care
    # From here on, _check._decide's steps in the same order (tests/test_check_pg.py
    # holds the two paths to the same answers).
    if not rows:
        return EligibilityAnswer(Validity.NOT_FOUND, day), None, None, {}
    people = {row.person_id for row in rows}
    if len(people) > 1:
        # Cards without 枝番 name a household; twins share the birth date too.
        chosen = [
            latest_period([x for x in rows if x.person_id == pid], day) for pid in sorted(people)
        ]
        results = [answer_for(row, False) for row in chosen]
        return EligibilityAnswer(Validity.MULTIPLE, day, results), None, None, {}
    person_id: int = rows[0].person_id
    consented = consents_of(rows[0].consented)
    show_limit = query.limit_consent or ConsentCategory.LIMIT in consented
    in_force = [row for row in rows if covers(row, day)]
    if in_force:
        answer = answer_for(in_force[0], show_limit)
        return EligibilityAnswer(Validity.VALID, day, [answer], consented), person_id, None, {}
    latest = latest_period(rows, day)
    if not may_be_replaced(latest, day):
        invalid = EligibilityAnswer(Validity.INVALID, day, [answer_for(latest, False)], consented)
        return invalid, person_id, None, {}
    return None, person_id, latest, consented


async def in_force_elsewhere(
    connection: psycopg.AsyncConnection[Any], person_id: int, latest: Any, day: dt.date
) -> bool:
    """Whether the person has another coverage in force on the day (振替)."""
    async with connection.cursor() as cursor:
        await cursor.execute(
            _ELSEWHERE,
            {**_ELSEWHERE_CONSTANTS, "person": person_id, "coverage": latest.coverage_id,
             "day": day},
            prepare=True,
        )  # fmt: skip
        return cursor.rowcount > 0  # a coverage id, not a coverage row: not fetched


def elsewhere_answer(
    query: NumberQuery, latest: Any, consented: dict[ConsentCategory, dt.date], elsewhere: bool
) -> EligibilityAnswer:
    validity = Validity.REPLACED if elsewhere else Validity.INVALID
    day = query.date_of_care
    return EligibilityAnswer(validity, day, [answer_for(latest, False)], consented)


async def check_number_pg(
    connection: psycopg.AsyncConnection[Any], query: NumberQuery, institution: str
) -> tuple[EligibilityAnswer, int | None]:
    """:func:`kokuho.verify._check.check_number` on an async connection: the same answer and
    the same person (None when no one matched)."""
    day = query.date_of_care
    return await _number_answer(
        await number_rows(connection, (query, institution)), query,
        lambda person_id, latest: in_force_elsewhere(connection, person_id, latest, day),
    )  # fmt: skip


async def _number_answer(
    rows: list[Any], query: NumberQuery, elsewhere: Callable[[int, Any], Awaitable[bool]]
) -> tuple[EligibilityAnswer, int | None]:
    """The answer and person of a number check's rows, ``elsewhere(person, latest coverage)``
    asked only when the answer depends on it (振替)."""
    answer, person_id, latest, consented = number_decision(rows, query)
    if answer is not None:
        return answer, person_id
    assert person_id is not None  # noqa: S101  (a single person's rows; for the type checker)
    replaced = await elsewhere(person_id, latest)
    return elsewhere_answer(query, latest, consented, replaced), person_id


async def check_number_batched(
    batcher: ReadBatcher[NumberKey, list[Any]], query: NumberQuery, institution: str
) -> tuple[EligibilityAnswer, int | None]:
    """:func:`check_number_pg` with its look-up sent together with the loop's other number
    checks (``batcher``: :func:`number_rows` / :func:`number_rows_many`); the rare 振替
    question is one more read where the router sends it."""
    day = query.date_of_care
    return await _number_answer(
        await batcher.read((query, institution)), query,
        lambda person_id, latest: batcher.reads.run(
            lambda c: in_force_elsewhere(c, person_id, latest, day)
        ),
    )  # fmt: skip


#: A card check's key: the person, the day of care and the institution asking.
PersonKey = tuple[int, dt.date, str]


async def person_rows(connection: psycopg.AsyncConnection[Any], key: PersonKey) -> list[Any]:
    """The coverage rows of one person check (:func:`check_person_pg`'s one read)."""
    person_id, day, institution = key
    params = {"person": person_id, "day": day, "institution": institution}
    async with connection.cursor(row_factory=_coverage_rows) as cursor:
        await cursor.execute(_PERSON, params, prepare=True)
        return await cursor.fetchall()


async def person_rows_many(
    connection: psycopg.AsyncConnection[Any], keys: Sequence[PersonKey]
) -> list[list[Any]]:
    """:func:`person_rows` of several checks in one statement, each key's rows apart."""
    params = {
        "persons": [key[0] for key in keys], "days": [key[1] for key in keys],
        "institutions": [key[2] for key in keys],
    }  # fmt: skip
    return await _tagged(connection, _PERSONS, params, len(keys))


def person_answer(rows: list[Any], day: dt.date) -> EligibilityAnswer:
    """_check.check_person's steps on the person's rows, in the same order."""
    if not rows:
        return EligibilityAnswer(Validity.NOT_FOUND, day)
    consented = consents_of(rows[0].consented)
    return person_decision(rows, day, consented, ConsentCategory.LIMIT in consented)


async def check_person_pg(
    connection: psycopg.AsyncConnection[Any], person_id: int, day: dt.date, institution: str
) -> EligibilityAnswer:
    """:func:`kokuho.verify._check.check_person` (a card check's person) on an async
    connection: the same answer, in one round trip (the consents ride on each row)."""
    return person_answer(await person_rows(connection, (person_id, day, institution)), day)


async def check_person_batched(
    batcher: ReadBatcher[PersonKey, list[Any]], person_id: int, day: dt.date, institution: str
) -> EligibilityAnswer:
    """:func:`check_person_pg` with its look-up sent together with the loop's other card
    checks (``batcher``: :func:`person_rows` / :func:`person_rows_many`)."""
    return person_answer(await batcher.read((person_id, day, institution)), day)
