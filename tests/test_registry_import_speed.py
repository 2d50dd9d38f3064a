"""What the register import's speed-ups must not change: the process's garbage collector is
left as it was found (the import pauses it, a process-wide switch), and the temporary key
tables the look-ups join on hold the keys given and disappear afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.registry import FileRejected, import_changes, load_insurers
from kokuho.store import key_table
from tests.feedfiles import acquire, write_changes, write_insurers


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    return engine


@pytest.fixture
def collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_collector_enabled_again_after_a_load_and_after_a_rejected_file(
    register: sa.Engine, tmp_path: Path, collector: None
) -> None:
    gc.enable()
    good = write_changes(tmp_path / "good.csv", [acquire("E1", "2020-04-01")])
    assert import_changes(register, good).applied == 1
    assert gc.isenabled()
    # Rejected after the register was read (the tuple is already open): the error leaves
    # from inside the paused section.
    again = write_changes(tmp_path / "again.csv", [acquire("E2", "2020-05-01")])
    with pytest.raises(FileRejected):
        import_changes(register, again)
    assert gc.isenabled()
    # Rejected while parsing, before any database work.
    bad = write_changes(tmp_path / "bad.csv", [acquire("E3", "2020-04-01", branch="1")])
    with pytest.raises(FileRejected):
        import_changes(register, bad)
    assert gc.isenabled()


def test_collector_left_off_when_the_caller_had_it_off(
    register: sa.Engine, tmp_path: Path, collector: None
) -> None:
    gc.disable()
    path = write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01")])
    assert import_changes(register, path).applied == 1
    assert not gc.isenabled()


def test_key_table_holds_the_keys_and_is_dropped(engine: sa.Engine) -> None:
    columns: dict[str, sa.types.TypeEngine[object]] = {
        "insurer_number": sa.String(8), "event_id": sa.String(64), "n": sa.Integer(),
    }  # fmt: skip
    keys = [("370015", "E1", 1), ("01370014", "イベント２", 2), ("370015", "x" * 64, 3)]
    with engine.begin() as connection:
        with key_table(connection, columns, keys) as wanted:
            name = wanted.name
            rows = connection.execute(sa.select(wanted).order_by(wanted.c.n)).all()
            assert [tuple(row) for row in rows] == keys
        with pytest.raises(sa.exc.DBAPIError):
            connection.exec_driver_sql(f"SELECT 1 FROM {name}")
