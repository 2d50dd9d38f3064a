"""``import_feed`` reading its files ahead in a forked child (``_feed_ahead``) gives exactly
what reading them in process gives: the same reports, register and errors (file, line,
column) of a rejected file; a child that fails at any point is replaced by reading in process;
a kill -9 of the importer leaves no reader behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.registry import _feed_ahead, import_feed
from kokuho.registry._feed_read import read_events
from tests.feedfiles import acquire, change, lose, write_changes
from tests.test_registry_import_fast import _Feed, _tables, two_registers
from tests.test_registry_import_feed import _as_run, _one_by_one, random_run

__all__ = ["two_registers"]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the read-ahead child needs os.fork (Linux)"
)


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Read-ahead on for every run of two files or more, busy machine or not; the pids of the
    children started."""
    monkeypatch.setattr(_feed_ahead, "READ_AHEAD_MIN_FILES", 2)
    # Whatever the runner (one CPU, a thread an earlier test left): these tests want the child.
    monkeypatch.setattr(_feed_ahead, "_may_fork", lambda: True)
    started: list[int] = []
    real = _feed_ahead.Reader._fork

    def fork(self: _feed_ahead.Reader, paths: list[Path]) -> None:
        real(self, paths)
        started.append(self.pid)

    monkeypatch.setattr(_feed_ahead.Reader, "_fork", fork)
    yield started
    for pid in started:  # every child was waited for: none is left
        if pid:
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize("seed", [4, 5])
def test_files_read_ahead_load_as_file_by_file(
    two_registers: tuple[sa.Engine, sa.Engine], tmp_path: Path, seed: int, forks: list[int]
) -> None:
    one_by_one, as_run = two_registers
    rng = random.Random(seed)
    feed = _Feed(rng)
    files: list[Path] = []
    rejected = 0
    for _ in range(8):
        run = random_run(rng, feed, files, tmp_path, rng.randint(2, 7))
        good_rows = rng.random() < 0.5
        expected = _one_by_one(one_by_one, run, good_rows)
        assert _as_run(as_run, run, good_rows, rng.randint(1, 3)) == expected, run
        rejected += expected[1] is not None
    assert _tables(as_run) == _tables(one_by_one)
    assert forks and rejected > 0 and all(pid > 0 for pid in forks)


def _month(tmp_path: Path, month: int, *, bad: bool = False) -> Path:
    day = f"2020-{month + 4:02d}-01"
    rows = [acquire(f"A{month}-{n}", day, number=f"{month + 1}{n:03d}") for n in range(4)]
    if month:
        rows.append(lose(f"L{month}", f"2020-{month + 4:02d}-15", number=f"{month}000"))
        rows.append(change(f"C{month}", day, number=f"{month}001", address="香川県丸亀市"))
    if bad:
        rows.append(acquire(f"B{month}", day, number=""))
        rows.append(acquire(f"S{month}", day, number="9999", sex="3"))
    return write_changes(tmp_path / f"{day}.csv", rows)


def test_a_file_the_child_rejects_raises_the_errors_read_in_process_raises(
    two_registers: tuple[sa.Engine, sa.Engine], tmp_path: Path, forks: list[int]
) -> None:
    one_by_one, as_run = two_registers
    files = [_month(tmp_path, month, bad=month == 4) for month in range(7)]
    expected = _one_by_one(one_by_one, files, False)
    assert _as_run(as_run, files, False, 2) == expected
    assert [(e[1], e[2]) for e in expected[1]] == [(8, "number"), (9, "sex")]
    assert len(forks) == 1
    assert _tables(as_run) == _tables(one_by_one)


@pytest.mark.parametrize("how", ["exits", "raises", "answers another file"])
def test_a_failing_child_is_replaced_by_reading_in_process(
    two_registers: tuple[sa.Engine, sa.Engine],
    tmp_path: Path,
    forks: list[int],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    one_by_one, as_run = two_registers
    files = [_month(tmp_path, month) for month in range(6)]
    parent = os.getpid()

    def failing(path: Path, *, load_good_rows: bool, slow: bool) -> object:
        if os.getpid() != parent and path == files[3]:
            if how == "exits":
                os._exit(0)
            if how == "raises":
                raise RuntimeError("the child fails")
            path = files[4]
        return read_events(path, load_good_rows=load_good_rows, slow=slow)

    monkeypatch.setattr(_feed_ahead, "read_events", failing)
    expected = _one_by_one(one_by_one, files, False)
    assert _as_run(as_run, files, False, 2) == expected
    assert len(forks) == 1
    assert _tables(as_run) == _tables(one_by_one)


_real_may_fork = _feed_ahead._may_fork


def test_the_child_is_made_only_where_it_pays(
    two_registers: tuple[sa.Engine, sa.Engine],
    tmp_path: Path,
    forks: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, engine = two_registers
    files = [_month(tmp_path, month) for month in range(4)]
    list(import_feed(engine, files))  # enough files, the decision stood in for
    assert len(forks) == 1
    monkeypatch.setattr(_feed_ahead, "_may_fork", _real_may_fork)
    monkeypatch.setattr(_feed_ahead, "REQUIRE_IDLE_CPU", True)
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 64.0, 64.0))  # no idle CPU
    assert list(import_feed(engine, files)) and len(forks) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # another thread could hold a lock
    other.start()
    try:
        assert list(import_feed(engine, files)) and len(forks) == 1
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(_feed_ahead, "READ_AHEAD_MIN_FILES", 5)  # a short run
    assert list(import_feed(engine, files)) and len(forks) == 1
    monkeypatch.setattr(_feed_ahead, "READ_AHEAD_MIN_FILES", 2)
    monkeypatch.setattr(_feed_ahead, "_may_fork", lambda: True)
    assert list(import_feed(engine, iter(files))) and len(forks) == 1  # not a list


def test_a_refused_fork_reads_in_process(
    two_registers: tuple[sa.Engine, sa.Engine],
    tmp_path: Path,
    forks: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_by_one, as_run = two_registers
    files = [_month(tmp_path, month) for month in range(4)]

    def refused() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", refused)
    expected = _one_by_one(one_by_one, files, False)
    assert _as_run(as_run, files, False, 2) == expected
    assert forks == [0]  # asked, none made
    assert _tables(as_run) == _tables(one_by_one)


_KILLED_RUN = """
import os, signal, sys, json
from pathlib import Path
import kokuho.registry._feed as feed
from kokuho.registry import _feed_ahead, import_feed
from kokuho.store import connect

url, names = sys.argv[1], json.loads(sys.argv[2])
_feed_ahead.READ_AHEAD_MIN_FILES = 2
_feed_ahead._may_fork = lambda: True  # one CPU or a busy one: this test wants the child
real_fork, real_write, calls = _feed_ahead.Reader._fork, feed.write, [0]

def fork(self, paths):
    real_fork(self, paths)
    print("child", self.pid, flush=True)

def write(*args, **kwargs):
    real_write(*args, **kwargs)
    calls[0] += 1
    if calls[0] == 2:  # the child is reading ahead (or blocked on its frame)
        os.kill(os.getpid(), signal.SIGKILL)

_feed_ahead.Reader._fork, feed.write = fork, write
for report in import_feed(connect(url), [Path(n) for n in names], commit_files=1):
    print(report.file, flush=True)
"""


def test_a_killed_importer_leaves_no_reader_behind(
    two_registers: tuple[sa.Engine, sa.Engine], tmp_path: Path
) -> None:
    _, engine = two_registers
    files = [_month(tmp_path, month) for month in range(8)]
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, engine.url.render_as_string(False),
         json.dumps([str(p) for p in files])],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    lines = killed.stdout.split()
    assert lines[:2] == ["child", lines[1]] and lines[2:] == [str(files[0])]
    pid = int(lines[1])
    # The child died with its parent (its stdout was the pipe run() read to its end); wait
    # for init to reap it.
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the reader {pid} outlived the importer")


def _alive(pid: int) -> bool:
    """Running, not ended: a zombie (not reaped yet, where init does not reap) has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
