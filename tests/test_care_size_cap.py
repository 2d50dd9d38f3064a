"""A 介護 file larger than the cap (``kokuho.care._read.MAX_FILE_BYTES``) is refused by name
and cap before it is parsed, and, as any bad file of a call, leaves the lake as it was: a file
of exactly the cap is read, one byte more is not. The cap is lowered for the test, so nothing
large is written."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

import kokuho.care._read as care_read
from kokuho.care import CareFileRejected, CareLake, read_care_file, write_care_file
from kokuho.cli import main
from kokuho.store import FileTooLarge, read_capped
from tests.lakefiles import snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "care"
CLAIMS = FIXTURES / "claims_202005.csv"
CERTIFICATIONS = FIXTURES / "certifications.csv"
SIZE = CLAIMS.stat().st_size


def small(tmp_path: Path) -> Path:
    """A good file of the fixture's second claim alone (smaller than the fixture)."""
    base = read_care_file(CLAIMS)
    path = tmp_path / "small.csv"
    write_care_file(path, dataclasses.replace(base, claims=base.claims[1:]))
    assert path.stat().st_size < SIZE - 1
    return path


def test_read_capped_reads_the_cap_and_refuses_one_byte_more(tmp_path: Path) -> None:
    path = tmp_path / "ten.bin"
    path.write_bytes(b"0123456789")
    assert read_capped(path, 10) == b"0123456789"
    with pytest.raises(FileTooLarge) as refused:
        read_capped(path, 9)
    assert (str(refused.value), refused.value.cap, refused.value.path) == (
        "larger than 9 bytes", 9, path,
    )  # fmt: skip
    (tmp_path / "empty").touch()
    assert read_capped(tmp_path / "empty", 0) == b""


def test_read_capped_never_reads_past_the_cap(tmp_path: Path) -> None:
    """A file whose size does not tell (one growing as it is read, /proc, a device) is read up
    to cap + 1 bytes and no further."""
    with pytest.raises(FileTooLarge):
        read_capped(Path("/dev/zero"), 1_000)


def test_a_claims_file_of_the_cap_is_ingested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(care_read, "MAX_FILE_BYTES", SIZE)
    report = CareLake(tmp_path / "lake").ingest([CLAIMS])
    assert (report.ingested, report.rows) == (1, 2)
    assert len(read_care_file(CLAIMS).claims) == 2


def test_a_claims_file_one_byte_over_the_cap_is_refused_with_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = CareLake(tmp_path / "lake")
    good = small(tmp_path)
    lake.ingest([good])
    before = snapshot(lake.root)
    monkeypatch.setattr(care_read, "MAX_FILE_BYTES", SIZE - 1)
    bad = tmp_path / "bad.csv"  # a bad file in the same call is still reported
    bad.write_bytes(good.read_bytes().replace(b"\r\n3,", b"\n3,"))
    with pytest.raises(CareFileRejected) as rejected:
        lake.ingest([good, CLAIMS, bad])
    problems = [(p.file, p.line, p.field, p.reason) for p in rejected.value.problems]
    assert problems[0] == (
        str(CLAIMS), 0, "file", f"larger than {SIZE - 1:,} bytes, the cap of a 介護 file",
    )  # fmt: skip
    assert [p[0] for p in problems[1:]] == [str(bad)]
    assert snapshot(lake.root) == before
    with pytest.raises(CareFileRejected) as rejected:
        read_care_file(CLAIMS)
    assert str(rejected.value) == (
        f"{CLAIMS}: file: larger than {SIZE - 1:,} bytes, the cap of a 介護 file"
    )


def test_a_certifications_file_over_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = CareLake(tmp_path / "lake")
    cap = CERTIFICATIONS.stat().st_size
    monkeypatch.setattr(care_read, "MAX_FILE_BYTES", cap - 1)
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([CERTIFICATIONS])
    assert [(p.file, p.field) for p in rejected.value.problems] == [(str(CERTIFICATIONS), "file")]
    assert lake.sources() == {}
    monkeypatch.setattr(care_read, "MAX_FILE_BYTES", cap)
    assert lake.import_certifications([CERTIFICATIONS]).rows == 3


def test_the_cli_names_the_file_and_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(care_read, "MAX_FILE_BYTES", SIZE - 1)
    result = CliRunner().invoke(
        main, ["care", "ingest", str(CLAIMS)], env={"KOKUHO_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{CLAIMS}: file: larger than {SIZE - 1:,} bytes, the cap of a 介護 file",
        "error: 1 介護給付費明細書 file(s) rejected with 1 problem(s); nothing was loaded",
    ]
    assert not (tmp_path / "lake" / "care_manifest.json").exists()
