"""Two runs of the same import at once (docs/premiums.md): the second waits for the first's
write lock and then finds the file loaded; it neither fails with ``internal error`` nor loads
anything twice. The first run is a real process paused just before its COMMIT, so the second
is certain to have read what was loaded before the first committed. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.premiums import load_grounds, load_incomes, tables
from kokuho.store import connect
from tests.test_premiums_grounds import J, K, grounds_town  # noqa: F401  (fixture)
from tests.test_premiums_grounds import write as write_grounds
from tests.test_premiums_households import households, town  # noqa: F401  (fixtures)
from tests.test_premiums_incomes import line, residents, write

_PAUSED_IMPORT = """
import sys
from pathlib import Path

import sqlalchemy as sa

from kokuho.premiums import load_grounds, load_incomes
from kokuho.store import connect

engine = connect(sys.argv[1])

@sa.event.listens_for(engine, "commit")
def _before_commit(conn):
    # Every row is written and COMMIT is not sent yet: say so, and wait for the word.
    print("written", flush=True)
    sys.stdin.readline()

load = {"incomes": load_incomes, "grounds": load_grounds}[sys.argv[3]]
print(load(engine, Path(sys.argv[2])).skipped, flush=True)
"""


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _second_run_while_first_commits(
    database_url: str, tmp_path: Path, path: Path, kind: str, load: Callable[..., Any]
) -> Any:
    """Starts the first run (paused before COMMIT), runs ``load`` in a thread meanwhile, lets
    the first commit, and returns the second's report (or raises what it raised)."""
    env = {**os.environ, "KOKUHO_HOME": str(tmp_path)}
    first = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_IMPORT, database_url, str(path), kind],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env,
    )  # fmt: skip
    engine = connect(database_url)
    found: dict[str, Any] = {}

    def second() -> None:
        try:
            found["report"] = load(engine, path)
        except Exception as error:  # noqa: BLE001  (the test asserts on it)
            found["error"] = error

    try:
        assert first.stdin is not None and first.stdout is not None
        said = first.stdout.readline().strip()
        assert said == "written", said + first.stdout.read()
        thread = threading.Thread(target=second)
        thread.start()
        # Long enough for the second run to read what is loaded and reach its first write.
        time.sleep(1.5)
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.stdout.readline().strip() == "False"  # the first loaded the file
        assert first.wait(timeout=30) == 0
        thread.join(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        for pipe in (first.stdin, first.stdout):
            if pipe is not None:
                pipe.close()
        engine.dispose()
    if "error" in found:
        raise found["error"]
    return found["report"]


def test_two_income_imports_at_once_load_the_file_once(database_url: str, tmp_path: Path) -> None:
    engine = connect(database_url)
    residents(engine, 200)
    path = write(tmp_path / "fy2021.csv", [line(n) for n in range(1, 201)])
    report = _second_run_while_first_commits(database_url, tmp_path, path, "incomes", load_incomes)
    assert report.skipped and report.inserted == 0 and report.fiscal_year == 2021
    assert _count(engine, tables.premium_incomes) == 200
    assert _count(engine, tables.premium_income_files) == 1
    engine.dispose()


def test_two_ground_imports_at_once_load_the_file_once(
    database_url: str,
    grounds_town: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    rows = [(K, "involuntary_unemployment", "2020-06-30", "11"),
            (J, "former_dependant", "2020-10-01", "")]  # fmt: skip
    path = write_grounds(tmp_path / "grounds.csv", rows)
    report = _second_run_while_first_commits(database_url, tmp_path, path, "grounds", load_grounds)
    assert report.skipped and report.inserted == 0
    assert _count(grounds_town, tables.premium_ground_files) == 1
    assert _count(grounds_town, tables.premium_reduction_grounds) == 2


def test_an_import_waiting_too_long_for_the_write_lock_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: another command holds the write lock past the busy wait (shortened here from
    10 s): one line naming what was to be written, exit code 1, nothing written."""
    from kokuho.store import _engine

    home = tmp_path / "home"
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    monkeypatch.delenv("KOKUHO_DEBUG", raising=False)
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    residents(engine, 3)
    engine.dispose()
    pragmas = _engine._sqlite_pragmas

    def quick(dbapi_connection: Any, record: Any) -> None:
        pragmas(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    monkeypatch.setattr(_engine, "_sqlite_pragmas", quick)
    path = write(tmp_path / "fy2021.csv", [line(n) for n in range(1, 4)])
    holder = sqlite3.connect(home / "kokuho.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        result = CliRunner().invoke(main, ["premiums", "incomes", "import", str(path)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert "premium_incomes: another command is writing the database" in result.output
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    assert _count(engine, tables.premium_income_files) == 0
    engine.dispose()
