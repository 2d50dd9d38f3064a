"""The optimistic audit batch with face-attestation claims (verify/_audit_pg.py): one round
trip when this batcher wrote the last batch, the claims rolled back with the rest when one of
them was made before or another writer appended meanwhile (then the two-trip batch tells the
refused claim apart)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.verify._audit import AuditWriter, verify_chain
from kokuho.verify._audit_loop import AlreadyClaimed
from kokuho.verify._tables import card_replays
from tests.test_audit_pg import _run, record

LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def test_claims_of_a_batch_after_this_writers_own_commit_in_one_trip(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kokuho.verify import _audit_pg

    trips: list[str] = []
    locked, at_once = (
        _audit_pg.PgLoopAuditBatcher._locked,
        _audit_pg.PgLoopAuditBatcher._claimed_at_once,
    )

    async def two(batcher: Any, *args: Any) -> Any:
        trips.append("two")
        return await locked(batcher, *args)

    async def one(batcher: Any, *args: Any) -> Any:
        committed = await at_once(batcher, *args)
        trips.append("one" if committed else "one, rolled back")
        return committed

    monkeypatch.setattr(_audit_pg.PgLoopAuditBatcher, "_locked", two)
    monkeypatch.setattr(_audit_pg.PgLoopAuditBatcher, "_claimed_at_once", one)
    writer, other = AuditWriter(engine), AuditWriter(engine)

    async def main() -> list[int | BaseException]:
        outcomes: list[int | BaseException] = []
        for n, (who, token) in enumerate([
            (writer, "a"), (writer, "b"), (writer, "c"),  # two trips until alone, then one
            (writer, "a"),  # a replay: rolled back, then refused by the two-trip batch
            (writer, "d"), (writer, "e"),
            (other, "f"),  # another writer appends: the next batch's head is stale
            (writer, "g"), (writer, "h"),
        ]):  # fmt: skip
            try:
                outcomes.append(await who.write_async(record(str(n)), claim=(token, LATER)))
            except AlreadyClaimed as refused:
                outcomes.append(refused)
        return outcomes

    try:
        outcomes = _run(main)
    finally:
        writer.close()
        other.close()
    assert [o if isinstance(o, int) else "refused" for o in outcomes] == [
        1, 2, 3, "refused", 4, 5, 6, 7, 8,
    ]  # fmt: skip
    assert trips == [
        "two", "two", "one",  # alone once the second batch found its own head
        "one, rolled back", "two",  # the replay, refused by the two-trip batch
        "one", "one",  # alone still: the two-trip batch found this writer's head
        "two",  # the other writer's first batch
        "one, rolled back", "two",  # the head moved: read under the lock,
        "two",  # and not this writer's own, so once more until it is alone again
    ]  # fmt: skip
    with engine.connect() as connection:
        tokens = set(connection.scalars(sa.select(card_replays.c.token)))
    assert tokens == set("abcdefgh")
    assert verify_chain(engine).records == 8
