"""Two processes opening a new database at once (two service workers, a command beside the
service): the second waits for the first's migration and finds the schema done. Before, both
found no schema and both created it, and the second failed (on PostgreSQL a unique key of
``alembic_version``'s type; seen as a flaky concurrent-import test). SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from kokuho.store import connect
from kokuho.store._engine import migration_lock

_OPEN = "import sys; from kokuho.store import connect; connect(sys.argv[1]).dispose()"


def _open_in_process(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _OPEN, url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _finished(process: subprocess.Popen[str]) -> None:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output


def _version(url: str) -> str | None:
    engine = connect(url, migrate=False)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


def test_a_migration_waits_for_the_one_in_progress(database_url: str) -> None:
    """The migration lock held from outside: a process opening the database waits for it
    instead of migrating beside it, then migrates."""
    if database_url.startswith("sqlite:///"):
        lock_file = Path(database_url.removeprefix("sqlite:///") + "-migrations.lock")
        holder = lock_file.open("a+b")
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        release = holder.close
    else:
        admin = sa.create_engine(database_url)
        session = admin.connect()
        session.execute(migration_lock("pg_advisory_lock"))

        def release() -> None:
            session.execute(migration_lock("pg_advisory_unlock"))
            session.close()
            admin.dispose()

    waiting = _open_in_process(database_url)
    try:
        time.sleep(2.0)  # time enough to import, connect and migrate a small schema unlocked
        assert waiting.poll() is None, "migrated while another process held the lock"
    finally:
        release()
    _finished(waiting)
    assert _version(database_url) is not None


def test_four_processes_open_a_new_database_at_once(database_url: str) -> None:
    processes = [_open_in_process(database_url) for _ in range(4)]
    for process in processes:
        _finished(process)
    engine = connect(database_url)  # at head already: nothing to do
    engine.dispose()
    assert _version(database_url) is not None
