"""A レセ電 file larger than the cap (``kokuho.claims._lake.MAX_FILE_BYTES``) is refused by
name and cap without being read past it, and, as any bad file of an ingest call, leaves the lake
as it was while the call's other files are still checked: a file of exactly the cap is read, one
byte more is not. The cap is lowered for the test, so nothing large is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import kokuho.claims._lake as claims_lake
from kokuho.claims import ClaimFileRejected, ClaimsLake
from kokuho.claims._rece_batch import ingest_chunk
from kokuho.cli import main
from tests.lakefiles import digest, snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
OUTPATIENT = FIXTURES / "medical_outpatient.UKE"
PHARMACY = FIXTURES / "pharmacy.UKE"
SIZE = OUTPATIENT.stat().st_size


def test_the_cap_is_generous_for_a_large_hospital() -> None:
    """256 MiB: about 2 M lines of ≈ 50 bytes is the monthly 医科 file of the largest hospitals
    (docs/formats.md §7, "File size")."""
    assert claims_lake.MAX_FILE_BYTES == 256 * 1024 * 1024


def test_a_file_of_the_cap_is_ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims_lake, "MAX_FILE_BYTES", SIZE)
    report = ClaimsLake(tmp_path / "lake").ingest([OUTPATIENT])
    assert (report.ingested, report.claims) == (1, 2)


def test_a_file_one_byte_over_the_cap_is_refused_with_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = ClaimsLake(tmp_path / "lake")
    lake.ingest([PHARMACY])
    before = snapshot(lake.root)
    assert PHARMACY.stat().st_size < SIZE - 1
    monkeypatch.setattr(claims_lake, "MAX_FILE_BYTES", SIZE - 1)
    bad = tmp_path / "bad.UKE"  # a bad file after it in the same call is still reported
    bad.write_bytes(PHARMACY.read_bytes().replace(b"GO,1,650", b"GO,1,651"))
    small = tmp_path / "small.UKE"  # a good new file: checked, not written
    small.write_bytes(PHARMACY.read_bytes().replace(b"087-222-2222", b"087-222-2223"))
    reads: list[Path] = []
    real = claims_lake.read_capped

    def counted(path: Path, cap: int) -> bytes:
        reads.append(path)
        return real(path, cap)

    monkeypatch.setattr(claims_lake, "read_capped", counted)
    with pytest.raises(ClaimFileRejected) as rejected:
        lake.ingest([small, OUTPATIENT, bad], workers=1)
    problems = [(p.file, p.line, p.field, p.name, p.reason) for p in rejected.value.problems]
    assert problems[0] == (
        str(OUTPATIENT), 0, 0, "file", f"larger than {SIZE - 1:,} bytes, the cap of a レセ電 file",
    )  # fmt: skip
    assert [p[0] for p in problems[1:]] == [str(bad)]
    assert str(rejected.value.problems[0]) == (
        f"{OUTPATIENT}: file: larger than {SIZE - 1:,} bytes, the cap of a レセ電 file"
    )
    assert reads == [small, OUTPATIENT, bad]
    assert snapshot(lake.root) == before
    monkeypatch.setattr(claims_lake, "MAX_FILE_BYTES", SIZE)
    assert lake.ingest([small, OUTPATIENT]).ingested == 2


def test_a_file_grown_past_the_cap_before_its_chunk_reads_it(tmp_path: Path) -> None:
    """The chunk reads the file again (perhaps in a worker): grown past the cap meanwhile, it is
    a problem, not read past the cap."""
    path = tmp_path / "growing.UKE"
    path.write_bytes(OUTPATIENT.read_bytes())
    done, problems = ingest_chunk(tmp_path / "lake", [(path, digest(path))], cap=SIZE - 1)
    assert done == []
    assert [(p.file, p.line, p.name) for p in problems] == [(str(path), 0, "file")]
    assert problems[0].reason.startswith(f"larger than {SIZE - 1:,} bytes, the cap of a レセ電")


def test_the_cli_names_the_file_and_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims_lake, "MAX_FILE_BYTES", SIZE - 1)
    result = CliRunner().invoke(
        main, ["claims", "ingest", str(OUTPATIENT)], env={"KOKUHO_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{OUTPATIENT}: file: larger than {SIZE - 1:,} bytes, the cap of a レセ電 file",
        "error: 1 file(s) rejected with 1 problem(s); nothing was loaded",
    ]
    assert not (tmp_path / "lake" / "claims_manifest.json").exists()
