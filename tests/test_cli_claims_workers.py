"""A multi-process `kokuho claims ingest` killed with SIGKILL: its workers and the resource
tracker die with it, and `kokuho lake vacuum` removes what they left (issue 11)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
KOKUHO = Path(sys.executable).parent / "kokuho"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def large_claim_file(copies: int, tag: int) -> bytes:
    """The outpatient fixture's two claims ``copies`` times (renumbered, GO totals to match);
    ``tag`` goes into the 電話番号 so every file has its own digest, and, when not 0, before the
    insured 番号 (HO, SN) so that files of two tags hold other persons' claims, not a claim
    again in one 請求年月 (which the lake would not write twice)."""
    lines = (FIXTURES / "medical_outpatient.UKE").read_bytes().split(b"\r\n")[:-1]
    header, body = lines[0].replace(b"087-000-0000", b"087-%03d-0000" % tag), lines[1:-1]
    if tag:
        body = [_numbered(line, tag) for line in body]
    out = [header]
    for k in range(copies):
        for line in body:
            if line.startswith((b"RE,1,", b"RE,2,")):
                line = b"RE,%d," % (2 * k + int(line[3:4])) + line[5:]
            out.append(line)
    out.append(b"GO,%d,%d,99" % (2 * copies, 963 * copies))
    return b"\r\n".join(out) + b"\r\n"


def _numbered(line: bytes, tag: int) -> bytes:
    """An HO or SN record with ``tag`` before its 番号 (HO (4), SN (6)); other lines as they are."""
    field = {b"HO": 3, b"SN": 5}.get(line[:2])
    if field is None:
        return line
    fields = line.split(b",")
    fields[field] = b"%d%s" % (tag, fields[field])
    return b",".join(fields)


def _parents() -> dict[int, int]:
    """pid → parent pid of every live (not zombie) process."""
    found: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, ppid = text.rsplit(")", 1)[1].split()[:2]
        if state not in ("Z", "X"):
            found[int(stat.parent.name)] = int(ppid)
    return found


def _descendants(pid: int) -> set[int]:
    parents, found, todo = _parents(), set(), [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _lake_files(home: Path) -> list[Path]:
    return [p for p in (home / "lake").rglob("*") if p.is_file() and p.parent.name != "lake"]


def test_killed_ingest_leaves_no_process_and_vacuum_removes_its_files(tmp_path: Path) -> None:
    folder, home = tmp_path / "uke", tmp_path / "home"
    folder.mkdir()
    for tag in range(12):  # about 17 MB: two chunks of six files, seconds of work each
        (folder / f"{tag:02d}.UKE").write_bytes(large_claim_file(4000, tag))
    env = {**os.environ, "KOKUHO_HOME": str(home)}
    ingest = subprocess.Popen(
        [str(KOKUHO), "claims", "ingest", "--workers", "2", str(folder)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _lake_files(home):  # the workers are writing
            assert ingest.poll() is None, "the ingest ended before its workers wrote anything"
            assert time.monotonic() < deadline, "no worker wrote a file in 120 s"
            time.sleep(0.05)
        family = _descendants(ingest.pid)
        workers = [
            pid
            for pid in family
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        ]
        assert len(workers) == 2, family
        os.kill(ingest.pid, signal.SIGKILL)
        ingest.wait()
        deadline = time.monotonic() + 5
        while (alive := family & set(_parents())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, "processes of the killed ingest live on"
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    left = _lake_files(home)
    time.sleep(1.5)
    assert _lake_files(home) == left  # nobody writes any more
    assert not (home / "lake" / "claims_manifest.json").exists()  # nothing was committed

    checkups_stale = home / "lake" / "checkups" / "fiscal_year=2024" / ".x.parquet.a1b2c3d4.tmp"
    checkups_stale.parent.mkdir(parents=True)
    checkups_stale.write_bytes(b"half")
    vacuum = subprocess.run(
        [str(KOKUHO), "lake", "vacuum", "--json"], env=env, capture_output=True, check=True
    )
    removed = json.loads(vacuum.stdout)["removed"]
    assert sorted(removed["claims"]) == sorted(
        p.relative_to(home / "lake").as_posix() for p in left
    )
    assert removed["checkups"] == ["checkups/fiscal_year=2024/.x.parquet.a1b2c3d4.tmp"]
    assert _lake_files(home) == []
