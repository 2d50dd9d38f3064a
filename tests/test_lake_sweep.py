"""The temporary files of the checkup lake: a write that fails removes its own, one left by an
ingest killed mid-write is removed by the next ingest (not only by ``vacuum``), and a live
ingest's is never touched (the next one waits for the lake's lock), nor the claims lake's."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kokuho.checkups import _lake
from kokuho.checkups._lake import Lake
from tests.test_lake import FIRST, SPEC, D, archive, checkup

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

SECOND = archive("second.zip", [checkup("s1.xml", "400", D(2024, 7, 1))])

_KILLED_INGEST = """
import os, signal, sys
from pathlib import Path
from kokuho.checkups import _lake
from tests.test_lake import FIRST, SPEC

def killed(table, where, **options):
    Path(where).write_bytes(b"PAR1 half")  # part of the file is on disk, then the kill
    os.kill(os.getpid(), signal.SIGKILL)

_lake.pq.write_table = killed
_lake.Lake(Path(sys.argv[1]), measures=SPEC).ingest_archive(FIRST)
"""


def temporaries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.tmp") if p.is_file())


def test_a_write_that_fails_midway_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_then_full_disk(table: Any, where: str | Path, **options: Any) -> None:
        Path(where).write_bytes(b"PAR1 half")
        raise OSError("No space left on device")

    monkeypatch.setattr(_lake.pq, "write_table", half_then_full_disk)
    lake = Lake(tmp_path, measures=SPEC)
    with pytest.raises(OSError, match="No space left"):
        lake.ingest_archive(FIRST)
    assert temporaries(tmp_path) == []
    assert lake.archives() == {}


def test_the_next_ingest_sweeps_what_a_killed_ingest_left(tmp_path: Path) -> None:
    # Before, only `kokuho lake vacuum` removed it: a killed run's half file stayed in the
    # lake's folders through every later ingest.
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_INGEST, str(tmp_path)], capture_output=True, check=False
    )
    assert killed.returncode == -9, killed.stderr
    [left] = temporaries(tmp_path)
    assert left.parent == tmp_path / "checkups" / "fiscal_year=2024"
    # The claims lake shares the root under its own lock: its files are never this lake's.
    others = [tmp_path / "claims" / ".x.parquet.abcd1234.tmp",
              tmp_path / ".claims_manifest.json.abcd1234.tmp"]  # fmt: skip
    for other in others:
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_bytes(b"claims")
    lake = Lake(tmp_path, measures=SPEC)
    assert lake.ingest_archive(SECOND).checkups == 1
    assert temporaries(tmp_path) == sorted(others)
    assert lake.ingest_archive(FIRST).checkups == 3
    assert lake.table("checkups").count().to_pyarrow().as_py() == 4


def test_a_live_ingests_temporary_file_is_never_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _lake.pq.write_table
    writing, go = threading.Event(), threading.Event()
    held: list[Path] = []

    def slow_first_write(table: Any, where: str | Path, **options: Any) -> None:
        if not held:  # the first ingest's first file: half written, then held
            held.append(Path(where))
            Path(where).write_bytes(b"PAR1 half")
            writing.set()
            assert go.wait(30)
        real(table, where, **options)

    monkeypatch.setattr(_lake.pq, "write_table", slow_first_write)
    lake = Lake(tmp_path, measures=SPEC)
    first = threading.Thread(target=lambda: lake.ingest_archive(FIRST))
    first.start()
    assert writing.wait(30)
    second = threading.Thread(target=lambda: Lake(tmp_path, measures=SPEC).ingest_archive(SECOND))
    second.start()
    second.join(1.0)
    try:
        assert second.is_alive()  # waiting for the lock, not sweeping
        assert held[0].exists() and temporaries(tmp_path) == held
    finally:
        go.set()
        first.join(30)
        second.join(30)
    assert temporaries(tmp_path) == []
    assert set(lake.archives()) == {FIRST.digest, SECOND.digest}
    assert lake.table("checkups").count().to_pyarrow().as_py() == 4
