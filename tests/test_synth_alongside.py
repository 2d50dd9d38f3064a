"""The claims written by a forked second process (synth/_alongside.py) are the same bytes, and
the same manifest, as when they are written in the one process after everything else."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from kokuho.synth import generate
from kokuho.synth._alongside import Alongside, can_fork

NO_FORK = "no fork here (one CPU, no fork, or other threads): both runs would be the same path"


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_claims_alongside_write_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not can_fork():
        pytest.skip(NO_FORK)
    alongside = generate(tmp_path / "two", seed=7, persons=400)
    with monkeypatch.context() as one_cpu:
        # One CPU: the claims run in the caller, after the checkups, as before the fork.
        one_cpu.setattr(os, "cpu_count", lambda: 1)
        sequential = generate(tmp_path / "one", seed=7, persons=400)
    assert alongside.counts["claim_files"] > 0 and alongside.counts["claim_lines"] > 0
    assert alongside == sequential
    two, one = _digests(tmp_path / "two"), _digests(tmp_path / "one")
    assert any(name.startswith("claims/") for name in two)
    assert two == one


def test_a_failure_in_the_second_process_is_raised_in_the_caller() -> None:
    def refuse() -> int:
        raise FileExistsError("claims/x.csv: an earlier run's file")

    job = Alongside(refuse)
    with pytest.raises(FileExistsError, match=r"claims/x\.csv"):
        job.result()


def test_the_value_comes_back_from_the_child() -> None:
    if not can_fork():
        pytest.skip(
            "no fork here (one CPU, no fork, or other threads): the work runs in the caller"
        )
    parent = os.getpid()
    job = Alongside(os.getpid)
    child = job.result()
    assert child != parent  # it did run elsewhere


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
