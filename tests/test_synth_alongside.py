"""The claims written by a forked second process (synth/_alongside.py) are the same bytes, and
the same manifest, as when they are written in the one process after everything else."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kokuho.synth._alongside import Alongside, can_fork

NO_FORK = "no fork here (one CPU, no fork, or other threads): both runs would be the same path"


# Test workers (pytest-xdist) run threads of their own, where ``can_fork`` rightly says no:
# the forked path is exercised in a fresh interpreter, as ``kokuho demo`` runs it.
_FRESH = """
import hashlib, json, os, sys
from pathlib import Path
from kokuho.synth import generate
from kokuho.synth._alongside import Alongside, can_fork

def digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}

root = Path(sys.argv[1])
forked = can_fork()
child = Alongside(os.getpid).result()
alongside = generate(root / "two", seed=7, persons=400)
os.cpu_count = lambda: 1  # one CPU: the claims run in the caller, after the checkups
sequential = generate(root / "one", seed=7, persons=400)
print(json.dumps({
    "forked": forked, "child_elsewhere": child != os.getpid(),
    "claim_files": alongside.counts["claim_files"], "same_manifest": alongside == sequential,
    "two": digests(root / "two"), "one": digests(root / "one"),
}))
"""


def test_claims_alongside_write_what_one_process_writes(tmp_path: Path) -> None:
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip(NO_FORK)
    ran = subprocess.run(
        [sys.executable, "-c", _FRESH, str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    found = json.loads(ran.stdout)
    assert found["forked"] and found["child_elsewhere"]  # the second process really ran
    assert found["claim_files"] > 0 and found["same_manifest"]
    assert any(name.startswith("claims/") for name in found["two"])
    assert found["two"] == found["one"]


def test_a_failure_in_the_second_process_is_raised_in_the_caller() -> None:
    def refuse() -> int:
        raise FileExistsError("claims/x.csv: an earlier run's file")

    job = Alongside(refuse)
    with pytest.raises(FileExistsError, match=r"claims/x\.csv"):
        job.result()


def test_with_another_thread_running_the_work_stays_in_the_caller() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
        assert Alongside(os.getpid).result() == os.getpid()
    finally:
        release.set()
        other.join()


# ``meanwhile`` (the demo loads the register there): called once every file but the claims
# and the manifest is written, while the child still writes the claims; a thread it starts
# (the demo's second process pool) changes nothing written; its error is raised once the
# child has ended.
_MEANWHILE = """
import hashlib, json, multiprocessing, os, sys, threading, time
from pathlib import Path
from kokuho.synth import generate

def digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}

root = Path(sys.argv[1])
seen = {}

def meanwhile():
    folder = root / "two"
    seen["children"] = len(multiprocessing.active_children())
    seen["manifest"] = (folder / "manifest.json").exists()
    seen["archives"] = len(list((folder / "checkups").glob("*.zip")))
    seen["residents"] = (folder / "residents.csv").is_file()
    threading.Thread(target=time.sleep, args=(0.5,)).start()

with_meanwhile = generate(root / "two", seed=7, persons=400, meanwhile=meanwhile)
plain = generate(root / "one", seed=7, persons=400)

def refuse():
    raise FileExistsError("register: refused")

try:
    generate(root / "three", seed=7, persons=400, meanwhile=refuse)
    raised = False
except FileExistsError:
    raised = True
print(json.dumps({
    "seen": seen, "same_manifest": with_meanwhile == plain, "raised": raised,
    "left": len(multiprocessing.active_children()),
    "two": digests(root / "two"), "one": digests(root / "one"),
}))
"""


def test_meanwhile_runs_while_the_claims_are_written(tmp_path: Path) -> None:
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip(NO_FORK)
    ran = subprocess.run(
        [sys.executable, "-c", _MEANWHILE, str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    found = json.loads(ran.stdout)
    seen = found["seen"]
    assert seen["children"] <= 1  # the claims' child (a small prefecture's may be done)
    assert not seen["manifest"] and seen["archives"] > 0 and seen["residents"]
    assert found["same_manifest"] and found["two"] == found["one"]
    assert found["raised"] and found["left"] == 0
