"""A SQLite home whose write lock another connection holds, for the commands' busy refusal."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.store import connect


def sqlite_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """The CLI's settings point at a SQLite database under ``home`` (opened and migrated);
    ``KOKUHO_DEBUG`` unset, so the CLI's own error lines are seen."""
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    monkeypatch.delenv("KOKUHO_DEBUG", raising=False)
    return connect(f"sqlite:///{home / 'kokuho.db'}")


def short_busy_wait(monkeypatch: pytest.MonkeyPatch, milliseconds: int = 200) -> None:
    """Every SQLite connection opened from now waits ``milliseconds`` (not 10 s) for a lock."""
    from kokuho.store import _engine

    pragmas = _engine._sqlite_pragmas

    def quick(dbapi_connection: Any, record: Any) -> None:
        pragmas(dbapi_connection, record)
        dbapi_connection.execute(f"PRAGMA busy_timeout={milliseconds}")

    monkeypatch.setattr(_engine, "_sqlite_pragmas", quick)


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another connection holds the database's write lock (``BEGIN IMMEDIATE``) meanwhile."""
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
