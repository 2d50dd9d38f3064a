"""The WAL checkpoints of the loop's audit group commit (verify/_wal_checkpoint.py): the loop's
commits never checkpoint, the thread copies what they wrote into the database, and under
commits that never pause the WAL still starts over instead of growing without end."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from kokuho.store import connect
from kokuho.verify._audit import AuditRecord, AuditWriter, verify_chain
from kokuho.verify._wal_checkpoint import Checkpointer


def _record(number: int) -> AuditRecord:
    return AuditRecord(
        actor="kc_0123456789abcdef", institution_code="3710112347", purpose="care",
        action="check_number", outcome="1", person_id=7, detail={"asked": {"n": number}},
    )  # fmt: skip


def _wal_database(path: Path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA synchronous=NORMAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("PRAGMA user_version=7")
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    return writer


def _commit(writer: sqlite3.Connection, first: int, rows: int) -> None:
    """One transaction of ``rows`` rows; the write lock may be the checkpointer's for a
    moment (a restart), as the loop's flush finds it: then it is tried again."""
    while True:
        try:
            writer.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError:
            time.sleep(0.0005)
    writer.executemany("INSERT INTO t VALUES (?, ?)",
                       [(first + i, "x" * 500) for i in range(rows)])  # fmt: skip
    writer.execute("COMMIT")


def test_the_loop_commits_without_checkpointing_and_the_thread_copies_them(
    tmp_path: Path,
) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    writer = AuditWriter(engine)

    async def main() -> tuple[int, list[int]]:
        seqs = [await writer.write_async(_record(n)) for n in range(50)]
        batcher = writer._batcher(asyncio.get_running_loop(), str(writer.loop_database))
        automatic = batcher._connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        return automatic, seqs

    with ThreadPoolExecutor(1) as pool:
        automatic, seqs = pool.submit(lambda: asyncio.run(main())).result()
    assert automatic == 0  # no checkpoint inside a COMMIT on the loop
    assert seqs == list(range(1, 51))
    deadline = time.monotonic() + 10
    copied = None
    with sqlite3.connect(tmp_path / "kokuho.db") as probe:
        while time.monotonic() < deadline:
            busy, frames, copied_frames = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames > 0 and copied_frames == frames:
                copied = True
                break
            time.sleep(0.05)
    writer.close()
    assert copied
    assert verify_chain(engine).records == 50
    engine.dispose()


def test_the_wal_starts_over_under_commits_that_never_pause(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    writer = _wal_database(path)
    checkpointer = Checkpointer(str(path), every_commits=5, restart_frames=200)
    wal = Path(f"{path}-wal")
    biggest = 0
    try:
        for batch in range(600):
            _commit(writer, batch * 10, 10)
            checkpointer.committed()
            biggest = max(biggest, wal.stat().st_size)
            time.sleep(0.001)  # the loop's next turn
    finally:
        checkpointer.close()
    # 600 commits of about 2 pages each: without restarts the WAL would pass 1,200 pages.
    assert biggest < 700 * 4096
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 6000
    assert writer.execute("PRAGMA user_version").fetchone()[0] == 7  # written back unchanged
    assert writer.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    writer.close()


def test_a_database_not_in_wal_mode_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "rollback.db"
    with sqlite3.connect(path) as plain:
        plain.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        plain.execute("INSERT INTO t VALUES (1)")
    checkpointer = Checkpointer(str(path), every_commits=1, restart_frames=1)
    checkpointer.committed()
    time.sleep(0.1)
    checkpointer.close()
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert plain.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_the_engine_database_keeps_one_chain_after_a_restart(tmp_path: Path) -> None:
    """Records committed across WAL restarts are all there, the chain intact."""
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    writer = AuditWriter(engine)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        batcher = writer._batcher(loop, str(writer.loop_database))
        batcher._checkpointer.close()
        batcher._checkpointer = Checkpointer(
            str(writer.loop_database), every_commits=1, restart_frames=20
        )  # fmt: skip
        for start in range(0, 400, 20):
            await asyncio.gather(
                *(writer.write_async(_record(n)) for n in range(start, start + 20))
            )
            await asyncio.sleep(0.01)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(main())).result()
    writer.close()
    report = verify_chain(engine)
    assert report.ok and report.records == 400
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
