"""An extract (データ提供) killed with kill -9 after its folder was renamed into place and before
its step was committed: run again, it completes and leaves what one clean run leaves (one
recorded extract, ``extract-1`` with the same files). It used to be refused for ever: the
unrecorded ``extract-1`` "already exists; an extract is never overwritten". On SQLite and
PostgreSQL, with a real process killed at that moment."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    ProvisionError,
    catalogue,
    extract,
    provision_detail,
)
from tests.killing import kill_when_said
from tests.provisioncases import ON, SOURCE, approved_with_sources

_KILLED_EXTRACT = """
import datetime as dt
import sys
from pathlib import Path

import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import catalogue, extract, load_sources
from kokuho.store import connect
from tests.provisioncases import CERTIFICATIONS, CLAIMS, SERVICES

engine = connect(sys.argv[1])
out, keys, pid = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

@sa.event.listens_for(engine, "commit")
def _before_commit(conn):
    # The commit that follows the rename into place: say so, and wait for the kill.
    if (out / pid / "extract-1").exists():
        print("renamed", flush=True)
        sys.stdin.readline()

sources = load_sources(engine, certifications=CERTIFICATIONS, care_services=SERVICES,
                       claims=CLAIMS)
extract(engine, catalogue(), pid, sources, out=out, by="事務局", on=dt.date(2024, 5, 1),
        audit=ServiceAudit(engine), source_key=b"s" * 32, key_folder=keys)
"""


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_an_extract_killed_before_its_commit_completes_when_run_again(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    cat, audit = catalogue(), ServiceAudit(engine)
    pid, sources = approved_with_sources(engine, cat, audit)
    out, keys = tmp_path / "out", tmp_path / "keys"
    env = {**os.environ, "KOKUHO_HOME": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_EXTRACT, database_url, str(out), str(keys), pid],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env,
    )  # fmt: skip
    kill_when_said(child, "renamed")
    left = _digests(out / pid / "extract-1")
    assert provision_detail(engine, pid).extracts == 0  # never recorded
    done = extract(engine, cat, pid, sources, out=out, by="事務局", on=ON, audit=audit,
                   source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert done.number == 1 and done.folder == out / pid / "extract-1"
    assert _digests(done.folder) == left == {f"{t}.csv": d for t, d in done.sha256.items()}
    recorded = provision_detail(engine, pid)
    assert recorded.extracts == 1
    assert [s.step for s in recorded.steps].count("extracted") == 1
    assert sorted(p.name for p in (out / pid).iterdir() if not p.name.startswith(".")) == [
        "extract-1"
    ]
    audit.close()


def test_a_link_where_the_next_extract_goes_is_refused_not_followed(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # A symbolic link named extract-1 to a folder of CSV files is not a killed run's folder:
    # refused by name, never removed through (it was an internal error, rmtree on a link).
    audit = ServiceAudit(engine)
    pid, sources = approved_with_sources(engine, catalogue(), audit)
    out, keys, elsewhere = tmp_path / "out", tmp_path / "keys", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "persons.csv").write_text("pid\n", encoding="utf-8")
    (out / pid).mkdir(parents=True)
    (out / pid / "extract-1").symlink_to(elsewhere, target_is_directory=True)
    try:
        extract(engine, catalogue(), pid, sources, out=out, by="事務局", on=ON, audit=audit,
                source_key=SOURCE, key_folder=keys)  # fmt: skip
    except ProvisionError as error:
        assert "already exists" in str(error)
    else:
        raise AssertionError("an extract went through a link")
    finally:
        audit.close()
    assert (elsewhere / "persons.csv").read_text(encoding="utf-8") == "pid\n"
    assert provision_detail(engine, pid).extracts == 0


def test_two_first_extracts_at_once_share_the_provision_key(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both chose a key before the extract lock: one made it, the other was refused
    # ("already has a key") or read it half written. Now the key is chosen under the lock.
    # Making the key is slowed so that both would ask before either has made it.
    import kokuho.provision._extract as extract_module

    made = extract_module.new_provision_key

    def slow(provision: str, *, folder: Path | None = None) -> bytes:
        time.sleep(0.3)
        return made(provision, folder=folder)

    monkeypatch.setattr(extract_module, "new_provision_key", slow)
    audit = ServiceAudit(engine)
    pid, sources = approved_with_sources(engine, catalogue(), audit)
    out, keys = tmp_path / "out", tmp_path / "keys"
    start = threading.Barrier(2)

    def one() -> Any:
        start.wait()
        return extract(engine, catalogue(), pid, sources, out=out, by="事務局", on=ON,
                       audit=audit, source_key=SOURCE, key_folder=keys)  # fmt: skip

    try:
        with ThreadPoolExecutor(2) as pool:
            done = [f.result() for f in [pool.submit(one), pool.submit(one)]]
    finally:
        audit.close()
    assert sorted(d.number for d in done) == [1, 2]
    # The same key: the same pseudonymous IDs in both extracts.
    first, second = (d.folder / "persons.csv" for d in sorted(done, key=lambda d: d.number))
    assert first.read_bytes() == second.read_bytes()
    assert provision_detail(engine, pid).extracts == 2
