"""``import_feed`` (runs of change files in one transaction, a SAVEPOINT per file) leaves the
same register and gives the same reports as ``import_changes`` file by file, stopping at the
first rejected file exactly as the CLI did; a run cut by kill -9 loses only what it had not
committed, and importing the feed again completes it."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.registry import FileRejected, import_changes, import_feed, load_insurers
from kokuho.registry import tables as t
from kokuho.store import metadata
from tests.feedfiles import KOKUHO, KYOKAI, acquire, change, lose, write_changes, write_insurers
from tests.test_registry_import_fast import _Feed, _tables, _write, two_registers

__all__ = ["two_registers"]  # the fixture, shared with the fast-path test


def _one_by_one(engine: sa.Engine, paths: list[Path], good_rows: bool) -> Any:
    """What the CLI did before: import_changes per file, stopping at the first rejected."""
    reports = []
    for path in paths:
        try:
            reports.append(
                dataclasses.asdict(import_changes(engine, path, load_good_rows=good_rows))
            )
        except FileRejected as error:
            return reports, [dataclasses.astuple(e) for e in error.errors]
    return reports, None


def random_run(rng: random.Random, feed: _Feed, files: list[Path], folder: Path,
               count: int) -> list[Path]:  # fmt: skip
    """``count`` files for a run: new months of ``feed`` (a tenth of them with a bad row),
    and a fifth files of ``files`` loaded again; the new ones are added to ``files``."""
    run: list[Path] = []
    for _ in range(count):
        if files and rng.random() < 0.2:
            run.append(rng.choice(files))  # a file loaded again
        else:
            month = len(files)
            path = _write(folder / f"m{month}.csv", feed.file(month), rng, rng.random() < 0.1)
            files.append(path)
            run.append(path)
    return run


def _as_run(engine: sa.Engine, paths: list[Path], good_rows: bool, every: int) -> Any:
    reports = []
    read: list[Path] = []

    def check(path: Path) -> None:
        read.append(path)

    try:
        for report in import_feed(
            engine, paths, load_good_rows=good_rows, check=check, commit_files=every
        ):
            reports.append(dataclasses.asdict(report))
    except FileRejected as error:
        # Files after the rejected one are not read.
        assert read == paths[: len(reports) + 1]
        return reports, [dataclasses.astuple(e) for e in error.errors]
    assert read == paths
    return reports, None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_runs_of_files_leave_the_register_file_by_file_leaves(
    two_registers: tuple[sa.Engine, sa.Engine], tmp_path: Path, seed: int
) -> None:
    one_by_one, as_run = two_registers
    rng = random.Random(seed)
    feed = _Feed(rng)
    files: list[Path] = []
    outcomes = {"applied": 0, "duplicates": 0, "rejected": 0, "stopped_early": 0}
    for _ in range(12):
        run = random_run(rng, feed, files, tmp_path, rng.randint(1, 6))
        good_rows = rng.random() < 0.6
        expected = _one_by_one(one_by_one, run, good_rows)
        assert _as_run(as_run, run, good_rows, rng.randint(1, 3)) == expected, run
        reports, rejected = expected
        outcomes["applied"] += sum(r["applied"] for r in reports)
        outcomes["duplicates"] += sum(r["duplicates"] for r in reports)
        if rejected is not None:
            outcomes["rejected"] += 1
            outcomes["stopped_early"] += len(reports) + 1 < len(run)
    assert _tables(as_run) == _tables(one_by_one)
    assert outcomes["applied"] > 50 and outcomes["duplicates"] > 0
    assert outcomes["rejected"] > 0 and outcomes["stopped_early"] > 0


def test_a_rejected_file_leaves_nothing_and_stops_the_run(
    engine: sa.Engine, tmp_path: Path
) -> None:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    first = write_changes(tmp_path / "1.csv", [acquire("E1", "2020-04-01")])
    # Refused after part of it was applied and written in the run's transaction: its person
    # and coverage were in memory, its feed_files row in the database.
    second = write_changes(
        tmp_path / "2.csv",
        [acquire("E2", "2020-04-01", number="2002"), lose("E3", "2020-05-01", number="9999")],
    )
    third = write_changes(tmp_path / "3.csv", [acquire("E4", "2020-04-01", number="3003")])
    reports = []
    with pytest.raises(FileRejected) as rejected:
        for report in import_feed(engine, [first, second, third]):
            reports.append(report)
    assert [r.file for r in reports] == [str(first)]
    assert [(e.file, e.line, e.field) for e in rejected.value.errors] == [
        (str(second), 3, "number")
    ]
    with engine.connect() as connection:
        names = connection.scalars(sa.select(t.feed_files.c.name)).all()
        numbers = connection.scalars(sa.select(t.coverages.c.number)).all()
    assert (names, numbers) == ([str(first)], ["1001"])
    # The whole feed again, the bad file mended: the first counts as duplicates.
    write_changes(second, [acquire("E2", "2020-04-01", number="2002")])
    again = list(import_feed(engine, [first, second, third]))
    assert [(r.applied, r.duplicates) for r in again] == [(0, 1), (1, 0), (1, 0)]


def test_commit_thresholds_must_be_positive(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        list(import_feed(engine, [tmp_path / "a.csv"], commit_rows=0))


_KILLED_RUN = """
import os, signal, sys, json
from pathlib import Path
import kokuho.registry._feed as feed
from kokuho.registry import import_feed
from kokuho.store import connect

url, names, at = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
real, calls = feed.write, [0]

def write(*args, **kwargs):
    real(*args, **kwargs)
    calls[0] += 1
    if calls[0] == at:  # this file's rows are written, not committed
        os.kill(os.getpid(), signal.SIGKILL)

feed.write = write
for report in import_feed(connect(url), [Path(n) for n in names], commit_files=2):
    print(report.file, flush=True)
"""


def _by_name(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, a file known by its name: a killed transaction may have
    used file ids of PostgreSQL's sequence."""
    dump = _tables(engine)
    with engine.connect() as connection:
        files = connection.execute(sa.select(t.feed_files.c.file_id, t.feed_files.c.name))
        name_of = {row.file_id: row.name for row in files}
    events = [c.name for c in t.feed_events.c]
    at = events.index("file_id")
    dump["feed_events"] = sorted(
        (*row[:at], name_of[row[at]], *row[at + 1 :]) for row in dump["feed_events"]
    )
    dump["feed_files"] = sorted(row[1:] for row in dump["feed_files"])
    assert [c.name for c in metadata.tables["feed_files"].c][0] == "file_id"
    return dump


def test_a_run_killed_mid_way_keeps_what_it_committed_and_completes_on_import_again(
    two_registers: tuple[sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    one_by_one, as_run = two_registers
    files = []
    for month in range(8):
        rows = [acquire(f"A{month}-{n}", f"2020-{month + 4:02d}-01", number=f"{month + 1}{n:03d}")
                for n in range(5)]  # fmt: skip
        if month:
            rows.append(lose(f"L{month}", f"2020-{month + 4:02d}-15", number=f"{month}000"))
            rows.append(change(f"C{month}", f"2020-{month + 4:02d}-20", number=f"{month}001",
                               address="香川県高松市番町四丁目1番10号"))  # fmt: skip
            rows.append(acquire(f"K{month}", f"2020-{month + 4:02d}-01", insurer=KYOKAI,
                                number=f"{month}002"))  # fmt: skip
        files.append(write_changes(tmp_path / f"2020-{month + 4:02d}.csv", rows))
    for path in files:
        import_changes(one_by_one, path)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(as_run.url.render_as_string(False)),
         json.dumps([str(p) for p in files]), "6"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Runs of two files: the first four were committed (and reported), the fifth was released
    # from its savepoint and the sixth written, neither committed.
    assert killed.stdout.split() == [str(p) for p in files[:4]]
    with as_run.connect() as connection:
        names = sorted(connection.scalars(sa.select(t.feed_files.c.name)))
        events = connection.scalar(sa.select(sa.func.count()).select_from(t.feed_events))
    assert names == sorted(str(p) for p in files[:4])
    assert events == 5 + 3 * 8
    again = list(import_feed(as_run, files))
    assert [r.applied for r in again] == [0, 0, 0, 0, 8, 8, 8, 8]
    assert all(r.duplicates == (5 if i == 0 else 8) for i, r in enumerate(again[:4]))
    assert _by_name(as_run) == _by_name(one_by_one)


def test_cli_import_stops_at_a_file_rejected_mid_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kokuho registry import`` names the rejected file of a run and leaves the earlier
    ones loaded, the rejected one and the later ones not."""
    from click.testing import CliRunner

    from kokuho.cli import main

    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    run = CliRunner()
    insurers = write_insurers(tmp_path / "i.csv")
    assert run.invoke(main, ["registry", "insurers", str(insurers)]).exit_code == 0
    first = write_changes(tmp_path / "2020-04.csv", [acquire("K1", "2020-04-01")])
    second = write_changes(tmp_path / "2020-05.csv", [
        acquire("K2", "2020-05-01", number="2002"), lose("K3", "2020-05-01", number="9999"),
    ])  # fmt: skip
    third = write_changes(tmp_path / "2020-06.csv", [acquire("K4", "2020-06-01", number="3003")])
    result = run.invoke(
        main, ["registry", "import", "--no-reassess", str(first), str(second), str(third)]
    )
    assert result.exit_code == 1
    assert f"{second}:3: number:" in result.stderr
    assert f"{second}: rejected with 1 error(s), nothing changed; 1 earlier file(s) stay " in (
        result.stderr.replace("\n", " ")
    )
    assert "1 later file(s) not read" in result.stderr.replace("\n", " ")
    for number, loaded in (("1001", True), ("2002", False), ("3003", False)):
        shown = run.invoke(main, ["registry", "show", KOKUHO, "12", number, "01"])
        assert (shown.exit_code == 0) is loaded, number


def test_keys_holding_the_separator_or_empty_are_found_again(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """PostgreSQL's look-ups send a file's keys joined by U+001F (``_feed_lookup._SEP``): an
    event id holding one goes as an array instead, and a lone empty 記号 is one key, not
    none. Either way the register is read: a loss finds its coverage, a second load of a
    file is all duplicates."""
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    first = write_changes(
        tmp_path / "a.csv",
        [acquire("A\x1f1", "2020-04-01"), acquire("A2", "2020-04-01", number="2", symbol="")],
    )
    assert import_changes(engine, first).applied == 2
    again = import_changes(engine, first)
    assert (again.applied, again.duplicates) == (0, 2)
    loss = lose("L1", "2020-05-01", number="2")
    second = write_changes(tmp_path / "b.csv", [{**loss, "symbol": ""}])
    report = import_changes(engine, second)
    assert (report.applied, report.lost, report.errors) == (1, 1, [])
