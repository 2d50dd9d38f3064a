"""Number and card checks of one event loop sent together (store/_read_batch.py, issue 15
item 1): the batched look-up gives each check the answer it gets alone; one caller's bad key
or cancellation never fails another caller's read in the same batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from kokuho.store import AsyncReads, ReadBatcher, ReadRouter
from kokuho.verify import NumberQuery, Validity
from kokuho.verify._check import check_person
from kokuho.verify._check_pg import (
    NumberKey,
    PersonKey,
    check_number_batched,
    check_person_batched,
    number_rows,
    number_rows_many,
    person_rows_many,
)
from kokuho.verify._service import EligibilityService
from tests.test_check_pg import QUERIES, _run
from tests.test_verify_service import clinic, query, service  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


class _Counted:
    """``number_rows_many`` counting its statements and keys."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    async def __call__(
        self, connection: psycopg.AsyncConnection[Any], keys: Sequence[NumberKey]
    ) -> list[list[Any]]:
        self.sizes.append(len(keys))
        return await number_rows_many(connection, keys)


def test_checks_sent_together_answer_as_each_alone(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
) -> None:
    who = clinic(engine)
    service.record_consent(who.institution_code or "", 1, ["limit"], dt.date(2020, 12, 1), 3)  # type: ignore[list-item]
    alone = [service.check_number(who, q, "care") for q in QUERIES]
    counted = _Counted()
    assert service._numbers is not None
    service._numbers._many = counted

    async def together() -> list[Any]:
        twice = QUERIES + QUERIES  # the same key twice in one batch, too
        checks = (service.check_number_async(who, q, "care") for q in twice)
        return list(await asyncio.gather(*checks))

    results = _run(together)
    assert counted.sizes and max(counted.sizes) > 1  # the look-ups did go together
    for q, before, after in zip(QUERIES + QUERIES, alone + alone, results, strict=True):
        assert after.answer == before.answer, q
        assert after.patient == before.patient, q
    assert {r.answer.validity for r in results} == set(Validity)


def test_a_bad_key_or_a_cancelled_caller_fails_no_other_read_of_its_batch(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
) -> None:
    router = ReadRouter(engine)
    reads = AsyncReads(router)
    counted = _Counted()
    batcher: ReadBatcher[NumberKey, list[Any]] = ReadBatcher(reads, number_rows, counted)
    good = query()
    # PostgreSQL's text cannot hold NUL: this key fails any statement it is sent in.
    bad = NumberQuery(good.insurer, good.symbol, "10\x0001", good.branch, good.birth_date,
                      good.date_of_care)  # fmt: skip
    institution = clinic(engine).institution_code or ""

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.read((good, institution)))  # in flight alone
        await asyncio.sleep(0)
        cancelled = asyncio.ensure_future(batcher.read((good, institution)))
        calls = [check_number_batched(batcher, q, institution) for q in (good, bad, good)]
        waiting = asyncio.gather(*calls, return_exceptions=True)
        await asyncio.sleep(0)
        cancelled.cancel()
        answers = await waiting
        return [len(await first), cancelled.cancelled(), *answers]

    try:
        first_rows, was_cancelled, one, failed, other = _run(main)
    finally:
        reads.close()
        router.close()
    assert counted.sizes == [3]  # the batch went (and failed) as one statement
    assert first_rows == 1 and was_cancelled
    assert isinstance(failed, psycopg.DataError)
    for answer, person in (one, other):
        assert answer.validity == Validity.VALID and person is not None


def test_card_checks_sent_together_answer_as_each_alone(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
) -> None:
    institution = clinic(engine).institution_code or ""
    service.record_consent(institution, 1, ["limit"], dt.date(2020, 12, 1), 3)  # type: ignore[list-item]
    days = [dt.date(2019, 1, 1), dt.date(2020, 12, 1), dt.date(2021, 4, 1), dt.date(2021, 2, 1)]
    keys = [(person, day) for person in (1, 2, 3, 4, 999) for day in days]
    with engine.connect() as connection:
        alone = [check_person(connection, person, day, institution) for person, day in keys]
    assert service._persons is not None
    batcher = service._persons
    counted: list[int] = []

    async def many(connection: Any, batch: Sequence[PersonKey]) -> list[list[Any]]:
        counted.append(len(batch))
        return await person_rows_many(connection, batch)

    batcher._many = many

    async def together() -> list[Any]:
        checks = (check_person_batched(batcher, p, day, institution) for p, day in keys)
        return list(await asyncio.gather(*checks))

    results = _run(together)
    assert counted and max(counted) > 1
    assert results == alone
    assert len({answer.validity for answer in alone}) > 2
