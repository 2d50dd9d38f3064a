"""The audit spool: while the primary does not answer, every record is made durable on local
disk before its answer is released, and joins the hash chain exactly once when the primary is
back (docs/operations.md, failure modes). The replica integration is tests/test_replicas.py."""

from __future__ import annotations

import datetime as dt
import fcntl
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.store import connect
from kokuho.store._engine import _sqlite_pragmas
from kokuho.verify import verify_chain
from kokuho.verify._audit import SPOOLED, AuditRecord, AuditWriter, check_record, record_values
from kokuho.verify._audit_spool import AuditSpool, SpoolCorrupt
from kokuho.verify._tables import audit_log

CLINIC = "3710112347"


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        actor="kc_test", institution_code=CLINIC, purpose="care", action="check_number",
        outcome="1", person_id=n, detail={"asked": {"number": str(n)}},
        at=dt.datetime(2026, 12, 6, 9, 0, n, 123456, tzinfo=dt.UTC),
    )  # fmt: skip


def _spool_file(folder: Path, records: list[AuditRecord]) -> Path:
    """A spool file as a writer that has since died leaves it."""
    spool = AuditSpool(folder)
    spool.append([(record_values(r, check_record(r)), check_record(r)) for r in records])
    spool.close()  # releases the lock, as the writer's death would
    (path,) = folder.glob("audit-*.jsonl")
    return path


def _chain(engine: sa.Engine) -> list[tuple[int, str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log.c.seq, audit_log.c.action, audit_log.c.person_id).order_by(
                audit_log.c.seq
            )
        )
        return [tuple(row) for row in rows]


def test_records_wait_on_disk_while_the_database_is_away_then_join_the_chain(
    tmp_path: Path,
) -> None:
    # The database's folder does not exist yet: every connect fails, as a stopped primary's.
    url = f"sqlite:///{tmp_path / 'gone' / 'kokuho.db'}"
    # kokuho.store.connect's engine without its first connect (which would make the folder):
    # each connection attaches the audit file beside the register, as the service's do.
    away = sa.create_engine(url)
    sa.event.listen(away, "connect", _sqlite_pragmas)
    writer = AuditWriter(away, spool=AuditSpool(tmp_path / "spool"), retry_after=0.1)
    seqs = writer.write_many([_record(1), _record(2)]) + [writer.write(_record(3))]
    assert seqs == [SPOOLED] * 3
    lines = [
        line for f in (tmp_path / "spool").glob("*.jsonl") for line in f.read_text().splitlines()
    ]
    assert len(lines) == 3
    # The records name persons: the folder and its files are the owner's only.
    assert (tmp_path / "spool").stat().st_mode & 0o777 == 0o700
    assert {f.stat().st_mode & 0o777 for f in (tmp_path / "spool").glob("*.jsonl")} == {0o600}
    engine = connect(url)  # the primary is back (created and migrated)
    deadline = time.monotonic() + 10
    while any((tmp_path / "spool").glob("audit-*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _chain(engine) == [(1, "check_number", 1), (2, "check_number", 2),
                              (3, "check_number", 3)]  # fmt: skip
    # Each record keeps the moment of its check, and the chain verifies.
    with engine.connect() as connection:
        seconds = connection.execute(sa.select(audit_log.c.at).order_by(audit_log.c.seq)).all()
    assert [row.at.replace(tzinfo=dt.UTC).second for row in seconds] == [1, 2, 3]
    assert verify_chain(engine).ok
    # The next record goes straight to the database again.
    assert writer.write(_record(4)) == 4
    writer.close()
    engine.dispose()


def test_without_a_spool_an_unreachable_database_refuses_the_answer(tmp_path: Path) -> None:
    writer = AuditWriter(sa.create_engine(f"sqlite:///{tmp_path / 'gone' / 'k.db'}"))
    with pytest.raises(RuntimeError, match="could not be written"):
        writer.write(_record(1))
    writer.close()


def test_a_replay_interrupted_after_its_commit_adds_nothing_twice(
    engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "spool"
    path = _spool_file(folder, [_record(1), _record(2)])
    content = path.read_text()
    assert AuditSpool(folder).replay(engine) == 2
    assert not path.exists() and not path.with_suffix(".replaying").exists()
    # A crash after the commit, before the file was removed: file and marker are still there.
    path.write_text(content)
    path.with_suffix(".replaying").touch()
    assert AuditSpool(folder).replay(engine) == 0
    assert [row[2] for row in _chain(engine)] == [1, 2]
    assert not path.exists() and not path.with_suffix(".replaying").exists()
    # A crash before the commit (marker made, records not in the chain): they are added.
    again = _spool_file(folder, [_record(3)])
    again.with_suffix(".replaying").touch()
    assert AuditSpool(folder).replay(engine) == 1
    assert [row[2] for row in _chain(engine)] == [1, 2, 3]
    assert verify_chain(engine).ok


def test_a_torn_last_line_is_skipped_and_a_corrupt_record_stops_the_file(
    engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "spool"
    path = _spool_file(folder, [_record(1)])
    # The writer died inside its write: no fsync returned, so no answer waited on this line.
    with path.open("a") as handle:
        handle.write('{"actor":"kc_test","institution_co')
    assert AuditSpool(folder).replay(engine) == 1
    bad = _spool_file(folder, [_record(2)])
    lines = bad.read_text()
    bad.write_text('{"actor": 5}\n' + lines)  # a damaged record before good ones
    with pytest.raises(SpoolCorrupt, match=rf"{bad.name}:1: unreadable spool record"):
        AuditSpool(folder).replay(engine)
    assert bad.exists() and [row[2] for row in _chain(engine)] == [1]


def test_a_live_writers_file_is_left_to_it(engine: sa.Engine, tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    live = AuditSpool(folder)
    live.append([(record_values(_record(1), check_record(_record(1))), check_record(_record(1)))])
    (path,) = folder.glob("audit-*.jsonl")
    with path.open() as handle, pytest.raises(BlockingIOError):  # the live writer holds it
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert AuditSpool(folder).replay(engine) == 0 and path.exists()
    assert live.replay(engine) == 1 and not path.exists()
    assert [row[2] for row in _chain(engine)] == [1]


def test_while_the_router_sees_the_primary_down_records_wait_without_a_connect(
    engine: sa.Engine, tmp_path: Path
) -> None:
    up = {"primary": True}
    writer = AuditWriter(engine, spool=AuditSpool(tmp_path / "spool"), retry_after=0.05,
                         primary_up=lambda: up["primary"])  # fmt: skip
    assert writer.write(_record(1)) == 1
    # The database is fine, but a failure put the writer in spool mode and the router still
    # reports the primary down: records go to disk, the chain is not touched.
    up["primary"] = False
    writer._primary_failed_at = time.monotonic()  # as after a failed commit
    assert writer.write(_record(2)) == SPOOLED
    time.sleep(0.2)  # past retry_after: still down by the router's probe, so still spooled
    assert writer.write(_record(3)) == SPOOLED
    assert [row[2] for row in _chain(engine)] == [1]
    up["primary"] = True  # the probe saw the primary again: the spool is replayed first
    assert writer.write(_record(4)) == 4
    assert [row[2] for row in _chain(engine)] == [1, 2, 3, 4]
    writer.close()


def test_a_long_spool_is_replayed_a_file_at_a_time_between_new_records(
    engine: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "spool"
    spool = AuditSpool(folder, max_file_records=2)
    for n in range(1, 6):  # five records: files of 2, 2 and 1
        spool.append(
            [(record_values(_record(n), check_record(_record(n))), check_record(_record(n)))]
        )
    spool.close()
    assert len(list(folder.glob("audit-*.jsonl"))) == 3
    assert spool.replay(engine, max_files=1) == 2 and spool.pending()
    assert [row[2] for row in _chain(engine)] == [1, 2]
    # A writer finishes the rest, oldest first, and its own records are never lost.
    writer = AuditWriter(engine, spool=AuditSpool(folder), retry_after=0.05)
    assert writer.write(_record(6)) >= 3
    deadline = time.monotonic() + 10
    while any(folder.glob("audit-*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.close()
    persons = [row[2] for row in _chain(engine)]
    assert sorted(persons) == [1, 2, 3, 4, 5, 6] and persons[2:4] == [3, 4]
    assert verify_chain(engine).ok
