"""SQLite: a command that writes while another holds the database's write lock past the busy
wait (10 s; shortened here) is refused in one line saying so, exit code 1, never ``internal
error``. Found with a holder of ``BEGIN IMMEDIATE`` beside `kokuho registry import`,
`kokuho institutions load` and `kokuho credentials issue`: each ended in ``error: internal error
(OperationalError)``, as if kokuho were broken, where running it again later is the remedy."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.registry import load_insurers
from kokuho.store import connect
from kokuho.verify import load_institutions
from tests.cardholders import write_institutions
from tests.feedfiles import acquire, write_changes, write_insurers

CLINIC = "3710100011"


def _feed(folder: Path) -> list[str]:
    path = write_changes(folder / "changes.csv", [acquire("K1", "2020-04-01")])
    return ["registry", "import", "--no-reassess", str(path)]


def _institutions(folder: Path) -> list[str]:
    path = write_institutions(folder / "more.csv", {"3710100029": "香川第二クリニック"})
    return ["institutions", "load", str(path)]


def _credential(folder: Path) -> list[str]:
    return ["credentials", "issue", "--institution", CLINIC, "--label", "受付端末1"]


@pytest.mark.parametrize(
    "command", [_feed, _institutions, _credential], ids=["registry", "institutions", "credential"]
)
def test_a_writer_held_back_past_the_busy_wait_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: Callable[[Path], list[str]]
) -> None:
    from kokuho.store import _engine

    home = tmp_path / "home"
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    monkeypatch.delenv("KOKUHO_DEBUG", raising=False)
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    load_institutions(engine, write_institutions(tmp_path / "inst.csv", {CLINIC: "香川クリニック"}))
    engine.dispose()
    pragmas = _engine._sqlite_pragmas

    def quick(dbapi_connection: Any, record: Any) -> None:
        pragmas(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    monkeypatch.setattr(_engine, "_sqlite_pragmas", quick)
    args = command(tmp_path)
    holder = sqlite3.connect(home / "kokuho.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        held = CliRunner().invoke(main, args)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert held.exit_code == 1
    assert "internal error" not in held.output
    assert "another command is writing the database" in held.output
    assert "run this one again" in held.output
    assert len(held.output.strip().splitlines()) == 1
    # Run again once the lock is free: it goes through.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
