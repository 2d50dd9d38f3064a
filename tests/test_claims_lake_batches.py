"""The claims lake's batches: the files of one ingest (chunk) in one Parquet file per table and
month. The rows equal those of one file per call (the one-file-per-source layout's path) on
seeded random splits; a file is skipped in whatever later batch it arrives; a bad file among
good ones, a crash and a ``kill -9`` between batches leave the lake as it was; a lake written
before batches (manifest format 1, ``tests/fixtures/claims_lake_v1``, made by that code) still
reads and takes new batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from kokuho.claims import ClaimFileRejected, ClaimsLake, read_claim_file, write_claim_file
from kokuho.claims._lake import CLAIM_TABLES
from kokuho.claims._rece_batch import batch_id, ingest_chunk
from tests.lakefiles import digest, snapshot
from tests.test_cli_claims_workers import large_claim_file

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
OLD_LAKE = Path(__file__).parent / "fixtures" / "claims_lake_v1"
OUTPATIENT = FIXTURES / "medical_outpatient.UKE"
INPATIENT = FIXTURES / "medical_inpatient.UKE"
PHARMACY = FIXTURES / "pharmacy.UKE"


def tables(lake: ClaimsLake) -> dict[str, pa.Table]:
    """Every claim table, rows in a fixed order (a batch's row order is not the reader's)."""
    found = {}
    for name in CLAIM_TABLES:
        table = lake.table(name).to_pyarrow()
        found[name] = table.sort_by([(c, "ascending") for c in table.column_names])
    return found


def names(root: Path) -> set[str]:
    """The files under ``root`` (while a writer may be renaming them)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def manifest(lake: ClaimsLake) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((lake.root / "claims_manifest.json").read_text())
    return loaded


def claim_files(tmp_path: Path) -> list[Path]:
    """The fixtures and variants of them: a file with claims of two 診療年月 and copies with
    their own digests (another 電話番号), so batches hold many files and months."""
    paths = sorted(FIXTURES.glob("*.UKE"))
    f = read_claim_file(OUTPATIENT)
    march = tuple(dataclasses.replace(d, start=dt.date(2024, 3, 2)) for d in f.claims[1].diagnoses)
    late = dataclasses.replace(
        f.claims[1], service_month=dt.date(2024, 3, 1), diagnoses=march, line=0
    )
    # Another person's April claim: the outpatient file's own, under the same 請求年月, would
    # be a repeat, written once, by whichever call brings it first.
    april = dataclasses.replace(f.claims[0], number="4321")
    two = tmp_path / "two_months.UKE"
    write_claim_file(dataclasses.replace(f, claims=(april, late)), two)
    paths.append(two)
    for tag in range(1, 4):  # not 0: the outpatient fixture's own claims, a repeat
        copy = tmp_path / f"copy{tag}.UKE"
        copy.write_bytes(large_claim_file(1 + tag, tag))
        paths.append(copy)
    return paths


def test_one_call_writes_one_file_per_table_and_month(tmp_path: Path) -> None:
    paths = claim_files(tmp_path)
    lake = ClaimsLake(tmp_path / "lake")
    report = lake.ingest(paths)
    months = {m for f in report.files for m in f.service_months}
    assert months == {"2024-03", "2024-04"}
    batch = batch_id(digest(p) for p in paths)
    claims = sorted(p.relative_to(lake.root).as_posix() for p in lake.root.rglob("*.parquet"))
    assert len(claims) == len(lake.files("claims")) + len(lake.files("claim_drugs")) + len(
        lake.files("claim_diagnoses")
    ) + len(lake.files("claim_procedures"))
    assert {Path(c).name for c in claims} == {f"{batch}.parquet"}
    assert {p.parent.name for p in lake.files("claims")} == {
        "service_month=2024-03",
        "service_month=2024-04",
    }
    written = manifest(lake)
    assert written["format"] == 2
    (entry,) = written["batches"]
    assert entry["id"] == batch and entry["sources"] == sorted(digest(p) for p in paths)
    assert sorted(entry["files"]) == claims
    two = next(f for f in report.files if f.path.name == "two_months.UKE")
    assert {p.parent.name for p in two.files} == {"service_month=2024-03", "service_month=2024-04"}
    assert all(p.exists() for f in report.files for p in f.files)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_read_as_one_file_per_call(tmp_path: Path, seed: int) -> None:
    # The reference: one call per file, each a batch of one (the old layout's files).
    rng = random.Random(seed)
    paths = claim_files(tmp_path)
    single = ClaimsLake(tmp_path / "single")
    for path in paths:
        single.ingest([path])
    rng.shuffle(paths)
    cut = sorted(rng.sample(range(1, len(paths)), 2))
    calls = [paths[: cut[0]], paths[cut[0] : cut[1]], paths[cut[1] :]]
    batched = ClaimsLake(tmp_path / "batched")
    for call in calls:
        batched.ingest(call, workers=1)
    assert len(manifest(batched)["batches"]) == 3
    expected, found = tables(single), tables(batched)
    for name in CLAIM_TABLES:
        assert found[name].equals(expected[name]), name
    assert batched.sources().keys() == single.sources().keys()


def test_a_file_is_skipped_in_any_later_batch(tmp_path: Path) -> None:
    lake = ClaimsLake(tmp_path / "lake")
    first = lake.ingest([OUTPATIENT, INPATIENT])
    assert first.ingested == 2
    second = lake.ingest([INPATIENT, PHARMACY, INPATIENT])
    assert [f.skipped for f in second.files] == [True, False, True]
    assert second.files[0].claims == 1  # described as it was ingested
    assert manifest(lake)["batches"][1]["sources"] == [digest(PHARMACY)]
    before = snapshot(lake.root)
    again = lake.ingest([PHARMACY, OUTPATIENT, INPATIENT])
    assert (again.ingested, again.skipped) == (0, 3)
    assert snapshot(lake.root) == before
    assert lake.table("claims").count().to_pyarrow().as_py() == 4


def test_a_bad_file_among_good_ones_in_several_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kokuho.claims._lake as lake_module

    monkeypatch.setattr(lake_module, "CHUNK_BYTES", 1)  # a batch per file: some written first
    lake = ClaimsLake(tmp_path / "lake")
    lake.ingest([INPATIENT])
    before = snapshot(lake.root)
    bad = tmp_path / "bad.UKE"
    bad.write_bytes(OUTPATIENT.read_bytes().replace(b"SY,9900010", b"SY,990001X"))
    good = [PHARMACY, *claim_files(tmp_path)[3:]]
    with pytest.raises(ClaimFileRejected) as rejected:
        lake.ingest([*good[:2], bad, *good[2:]], workers=1)
    assert [(p.file, p.line, p.field) for p in rejected.value.problems] == [(str(bad), 6, 2)]
    assert snapshot(lake.root) == before  # not even the batches written before the bad file
    assert lake.ingest(good).ingested == len(good)


def test_a_lake_written_before_batches_reads_and_grows(tmp_path: Path) -> None:
    old = ClaimsLake(tmp_path / "old")
    shutil.copytree(OLD_LAKE, old.root)
    assert manifest(old)["format"] == 1
    reference = ClaimsLake(tmp_path / "reference")
    reference.ingest([OUTPATIENT, INPATIENT])
    for name in CLAIM_TABLES:
        assert tables(old)[name].equals(tables(reference)[name]), name
    assert old.sources().keys() == reference.sources().keys()
    assert old.vacuum() == []  # the old files are committed
    report = old.ingest([OUTPATIENT, PHARMACY, INPATIENT])
    assert [f.skipped for f in report.files] == [True, False, True]
    reference.ingest([PHARMACY])
    written = manifest(old)
    assert written["format"] == 2
    assert len(written["batches"]) == 1
    old_files = {p.relative_to(OLD_LAKE).as_posix() for p in OLD_LAKE.rglob("*.parquet")}
    sources = written["sources"]
    assert {f for s in sources for f in s.get("files", ())} == old_files
    for name in CLAIM_TABLES:
        assert tables(old)[name].equals(tables(reference)[name]), name
    assert old.vacuum() == []
    assert len(old.files("claims")) == 3  # two old files and the new batch's


_KILLED_INGEST = """
import sys
from pathlib import Path
import kokuho.claims._lake as lake_module
lake_module.CHUNK_BYTES = 1  # one batch per file, written one after the other
lake = lake_module.ClaimsLake(Path(sys.argv[1]))
lake.ingest(sorted(Path(sys.argv[2]).glob("*.UKE")), workers=1)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_between_batches_leaves_the_lake_as_it_was(tmp_path: Path) -> None:
    lake = ClaimsLake(tmp_path / "lake")
    lake.ingest([INPATIENT, PHARMACY])
    before = snapshot(lake.root)
    rows = tables(lake)
    folder = tmp_path / "uke"
    folder.mkdir()
    for tag in range(8):  # seconds of parsing each: the kill comes long before the commit
        (folder / f"{tag:02d}.UKE").write_bytes(large_claim_file(3000, tag))
    ingest = subprocess.Popen(
        [sys.executable, "-c", _KILLED_INGEST, str(lake.root), str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while names(lake.root) <= set(before):  # until the first batch is on disk
            assert ingest.poll() is None, "the ingest ended before it wrote a batch"
            assert time.monotonic() < deadline, "no batch written in 120 s"
            time.sleep(0.02)
        os.kill(ingest.pid, signal.SIGKILL)
        ingest.wait()
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    left = names(lake.root) - set(before)
    assert left  # a batch (or part of one) the manifest does not name
    assert (lake.root / "claims_manifest.json").read_bytes() == before["claims_manifest.json"]
    found = tables(lake)
    for name in CLAIM_TABLES:
        assert found[name].equals(rows[name]), name  # no row of the uncommitted batches
    assert sorted(p.relative_to(lake.root).as_posix() for p in lake.vacuum()) == sorted(left)
    assert snapshot(lake.root) == before
    report = lake.ingest(sorted(folder.glob("*.UKE")))
    assert report.ingested == 8


def test_a_file_replaced_between_its_digest_and_its_parse_loads_nothing(tmp_path: Path) -> None:
    """The lake takes a file's sha256 when it lists the call, and a chunk (perhaps in a worker)
    reads the file again to parse it: a sender's transfer that replaced the file meanwhile must
    not put the new claims under the old file's digest (a later ingest of the old bytes would be
    skipped, one of the new counted twice). Here the inpatient file's digest goes with the
    outpatient bytes, as when one replaced the other in between."""
    path = tmp_path / "inbox.UKE"
    shutil.copy(OUTPATIENT, path)
    root = tmp_path / "lake"
    done, problems = ingest_chunk(root, [(path, digest(FIXTURES / "medical_inpatient.UKE"))])
    assert done == []
    assert [(p.file, p.line, p.name) for p in problems] == [(str(path), 0, "file")]
    assert "changed while it was being ingested" in problems[0].reason
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))
