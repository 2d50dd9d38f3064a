"""The claims lake: the fixtures' rows field by field, partitions, idempotence, a bad file and a
crash changing nothing, the write lock, and the rows agreeing with the precise reader."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from kokuho.claims import (
    ClaimFileRejected,
    ClaimsLake,
    ClaimsTableMissing,
    read_claim_file,
    write_claim_file,
)
from tests.lakefiles import assert_one_writer_at_a_time, digest, manifest_rename_fails, snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
OUTPATIENT = FIXTURES / "medical_outpatient.UKE"
INPATIENT = FIXTURES / "medical_inpatient.UKE"
PHARMACY = FIXTURES / "pharmacy.UKE"
D = dt.date


def rows(lake: ClaimsLake, name: str, *columns: str, months: list[str] | None = None) -> list[Any]:
    table = lake.table(name, months).to_pyarrow().sort_by([("claim_id", "ascending")])
    data = table.select(list(columns)).to_pylist()
    return [tuple(row.values()) for row in data]


@pytest.fixture
def lake(tmp_path: Path) -> ClaimsLake:
    return ClaimsLake(tmp_path / "lake")


def test_the_fixtures_land_in_the_lake(lake: ClaimsLake) -> None:
    report = lake.ingest([OUTPATIENT, INPATIENT, PHARMACY])
    assert (report.ingested, report.skipped, report.claims, report.lines) == (3, 0, 4, 49)
    out, inp, ph = digest(OUTPATIENT), digest(INPATIENT), digest(PHARMACY)
    claims = {r["claim_id"]: r for r in lake.table("claims").to_pyarrow().to_pylist()}
    assert set(claims) == {f"{out}:1", f"{out}:2", f"{inp}:1", f"{ph}:1"}
    assert claims[f"{out}:1"] == {
        "claim_id": f"{out}:1",
        "file": out,
        "line": 2,
        "kind": "medical",
        "institution": "1234561",
        "prefecture": "37",
        "billing_month": D(2024, 5, 1),
        "service_month": D(2024, 4, 1),
        "receipt_number": 1,
        "receipt_type": "1112",
        "setting": "outpatient",
        "insurer": "370015",
        "symbol": "香川",
        "number": "1234",
        "branch": "01",
        "sex": 1,
        "birth_date": D(1950, 3, 2),
        "days": 2,
        "points": 463,
        "first_day": D(2024, 4, 1),  # SI and IY on the 1st
        "last_day": D(2024, 4, 15),  # SI on the 15th
        "prescriber": "",
    }
    hanako = claims[f"{out}:2"]
    assert (hanako["line"], hanako["symbol"], hanako["branch"], hanako["first_day"]) == (
        13, "", "", D(2024, 4, 2)
    )  # fmt: skip
    assert (claims[f"{inp}:1"]["setting"], claims[f"{inp}:1"]["last_day"]) == (
        "inpatient", D(2024, 4, 10)
    )  # fmt: skip
    pharmacy = claims[f"{ph}:1"]
    assert (pharmacy["kind"], pharmacy["setting"], pharmacy["institution"]) == (
        "pharmacy", "pharmacy", "4000013"
    )  # fmt: skip
    assert (pharmacy["prescriber"], pharmacy["first_day"], pharmacy["last_day"]) == (
        "3711234561", D(2024, 4, 1), D(2024, 4, 15)
    )  # fmt: skip


def test_drug_rows_carry_quantities_in_yakka_units(lake: ClaimsLake) -> None:
    lake.ingest([OUTPATIENT, PHARMACY])
    columns = ("code", "section", "institution", "amount", "units", "quantity", "days_supply",
               "points", "first_day")  # fmt: skip
    table = lake.table("claim_drugs").to_pyarrow()
    medical = [tuple(r[c] for c in columns) for r in table.to_pylist() if r["kind"] == "medical"]
    assert medical == [
        ("699000102", "21", "3711234561", 2.0, 14.0, 28.0, 14, None, D(2024, 4, 1)),
        ("699000123", "21", "3711234561", 1.0, 14.0, 14.0, 14, 102, D(2024, 4, 1)),
        ("699000148", "21", "3711234561", 1.0, 28.0, 28.0, 28, 60, D(2024, 4, 2)),
        ("699000173", "23", "3711234561", 7.0, 1.0, 7.0, None, 84, D(2024, 4, 9)),  # 外用
    ]
    pharmacy = [tuple(r[c] for c in columns) for r in table.to_pylist() if r["kind"] == "pharmacy"]
    assert pharmacy == [
        ("699000102", "", "3711234561", 2.0, 28.0, 56.0, 28, None, D(2024, 4, 1)),
        ("699000123", "", "3711234561", 1.0, 28.0, 28.0, 28, None, D(2024, 4, 1)),
        ("699000174", "", "3711234561", 7.0, 1.0, 7.0, None, None, D(2024, 4, 1)),
        ("699000158", "", "3711234561", 1.0, 10.0, 10.0, None, None, D(2024, 4, 1)),
        ("699000158", "", "3711234561", 1.0, 5.0, 5.0, None, None, D(2024, 4, 15)),
    ]
    person = {(r["insurer"], r["symbol"], r["number"], r["branch"]) for r in table.to_pylist()}
    assert person == {("370015", "香川", "1234", "01"), ("370015", "", "5678", "")}


def test_diagnosis_and_procedure_rows(lake: ClaimsLake) -> None:
    lake.ingest([OUTPATIENT])
    out = digest(OUTPATIENT)
    assert rows(lake, "claim_diagnoses", "claim_id", "code", "start", "outcome", "primary") == [
        (f"{out}:1", "9900002", D(2020, 1, 5), "1", True),
        (f"{out}:1", "9900010", D(2018, 6, 15), "1", False),
        (f"{out}:1", "0000999", D(2024, 4, 1), "2", False),
        (f"{out}:2", "9900026", D(2024, 4, 2), "1", True),
    ]
    assert rows(lake, "claim_procedures", "section", "code", "quantity", "points", "times") == [
        ("11", "111000110", None, 288, 1),
        ("12", "112007410", 1.0, 73, 1),
        ("12", "112007410", None, 73, 3),
    ]


def test_the_rows_agree_with_the_reader(lake: ClaimsLake) -> None:
    paths = sorted(FIXTURES.glob("*.UKE"))
    lake.ingest(paths)
    by_id = {r["claim_id"]: r for r in lake.table("claims").to_pyarrow().to_pylist()}
    quantities = lake.table("claim_drugs").to_pyarrow().to_pydict()
    expected_quantities = []
    for path in paths:
        f = read_claim_file(path)
        for claim in f.claims:
            row = by_id[f"{digest(path)}:{claim.receipt_number}"]
            assert (row["line"], row["service_month"], row["receipt_type"]) == (
                claim.line, claim.service_month, claim.receipt_type
            )  # fmt: skip
            assert (row["insurer"], row["symbol"], row["number"], row["branch"]) == (
                claim.insurer_number, claim.symbol, claim.number, claim.branch
            )  # fmt: skip
            assert (row["sex"], row["birth_date"], row["days"], row["points"]) == (
                claim.sex, claim.birth_date, claim.days, claim.total_points
            )  # fmt: skip
            expected_quantities += [float(d.quantity) for d in claim.drugs]
    assert sorted(quantities["quantity"]) == sorted(expected_quantities)


def test_partitions_by_service_month(lake: ClaimsLake, tmp_path: Path) -> None:
    # One file with claims of two 診療年月 (月遅れ): two partitions under the same digest.
    f = read_claim_file(OUTPATIENT)
    march = tuple(dataclasses.replace(d, start=D(2024, 3, 2)) for d in f.claims[1].diagnoses)
    late = dataclasses.replace(f.claims[1], service_month=D(2024, 3, 1), diagnoses=march, line=0)
    write_claim_file(dataclasses.replace(f, claims=(f.claims[0], late)), tmp_path / "two.UKE")
    report = lake.ingest([tmp_path / "two.UKE"])
    assert report.files[0].service_months == ("2024-03", "2024-04")
    name = f"{digest(tmp_path / 'two.UKE')}.parquet"
    assert {p.parent.name for p in (lake.root / "claims").rglob(name)} == {
        "service_month=2024-03",
        "service_month=2024-04",
    }
    assert rows(lake, "claims", "receipt_number", months=["2024-03"]) == [(2,)]
    assert rows(lake, "claim_drugs", "code", months=["2024-04"]) == [("699000102",), ("699000123",)]
    assert lake.table("claims", months=["2023-01"]).count().to_pyarrow().as_py() == 0


def test_tables_before_and_after_the_first_file(lake: ClaimsLake) -> None:
    with pytest.raises(ClaimsTableMissing):
        lake.table("claims")
    with pytest.raises(LookupError):
        lake.table("no_such_table")
    assert not lake.has_table("claims")
    lake.ingest([PHARMACY])
    assert lake.has_table("claims") and lake.has_table("claim_procedures")
    procedures = lake.table("claim_procedures")  # a 調剤 file has none: empty, with its columns
    assert procedures.count().to_pyarrow().as_py() == 0
    assert "times" in procedures.columns


def test_ingesting_twice_changes_nothing(lake: ClaimsLake) -> None:
    first = lake.ingest([OUTPATIENT, OUTPATIENT])
    assert [f.skipped for f in first.files] == [False, True]
    before = snapshot(lake.root)
    again = lake.ingest([OUTPATIENT])
    assert snapshot(lake.root) == before
    (skipped,) = again.files
    assert (skipped.skipped, skipped.claims, skipped.lines) == (True, 2, 20)
    assert (again.ingested, again.skipped, again.claims) == (0, 1, 0)
    assert lake.table("claims").count().to_pyarrow().as_py() == 2


def test_the_same_claims_in_other_bytes_are_skipped(lake: ClaimsLake, tmp_path: Path) -> None:
    """A file sent again through a tool that rewrote its line ends (FTP ASCII mode) or added a
    DOS EOF mark holds the same claims: skipped like the same bytes, not counted twice."""
    data = OUTPATIENT.read_bytes()
    copies = {
        "LF line ends.UKE": data.replace(b"\r\n", b"\n"),
        "eof mark.UKE": data + b"\x1a",
        "both.UKE": data.replace(b"\r\n", b"\n") + b"\x1a",
    }
    for name, content in copies.items():
        (tmp_path / name).write_bytes(content)
    first = lake.ingest([tmp_path / "LF line ends.UKE", OUTPATIENT])
    assert [f.skipped for f in first.files] == [False, True]
    before = snapshot(lake.root)
    again = lake.ingest([tmp_path / name for name in copies] + [OUTPATIENT])
    assert [f.skipped for f in again.files] == [True] * 4
    assert [(f.claims, f.lines) for f in again.files] == [(2, 20)] * 4
    assert snapshot(lake.root) == before
    claims = lake.table("claims")
    assert claims.count().to_pyarrow().as_py() == 2
    assert claims.points.sum().to_pyarrow().as_py() == 463 + 500


def test_a_bad_file_changes_nothing(lake: ClaimsLake, tmp_path: Path) -> None:
    lake.ingest([INPATIENT])
    before = snapshot(lake.root)
    bad = tmp_path / "bad.UKE"
    bad.write_bytes(OUTPATIENT.read_bytes().replace(b"SY,9900010", b"SY,990001X"))
    worse = tmp_path / "worse.UKE"
    worse.write_bytes(PHARMACY.read_bytes().replace(b"GO,1,650", b"GO,1,651"))
    with pytest.raises(ClaimFileRejected) as rejected:
        lake.ingest([OUTPATIENT, bad, PHARMACY, worse])
    assert [(p.file, p.line, p.field) for p in rejected.value.problems] == [
        (str(bad), 6, 2),
        (str(worse), 18, 3),
    ]
    assert snapshot(lake.root) == before  # not even the good files of the call


def test_a_crash_before_the_manifest_leaves_nothing_visible(
    lake: ClaimsLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.ingest([INPATIENT])
    before = snapshot(lake.root)
    with (
        manifest_rename_fails(monkeypatch, "claims_manifest.json"),
        pytest.raises(OSError, match="disk gone"),
    ):
        lake.ingest([OUTPATIENT, PHARMACY])
    assert snapshot(lake.root) == before  # no data file, no temporary file, same manifest
    assert lake.ingest([OUTPATIENT, PHARMACY]).ingested == 2
    assert lake.table("claims").count().to_pyarrow().as_py() == 4


def test_files_the_manifest_does_not_name_are_never_read(tmp_path: Path) -> None:
    # What a power cut between the data files and the manifest leaves behind.
    done = ClaimsLake(tmp_path / "done")
    done.ingest([OUTPATIENT])
    cut = ClaimsLake(tmp_path / "cut")
    cut.ingest([INPATIENT])
    for name in ("claims", "claim_drugs", "claim_diagnoses", "claim_procedures"):
        shutil.copytree(done.root / name, cut.root / name, dirs_exist_ok=True)
    assert cut.table("claims").count().to_pyarrow().as_py() == 1
    assert cut.ingest([OUTPATIENT]).ingested == 1  # the same names, the same bytes
    assert cut.table("claims").count().to_pyarrow().as_py() == 3
    assert cut.vacuum() == []
    stray = cut.root / "claims" / "service_month=2024-04" / ("0" * 64 + ".parquet")
    shutil.copy(next((done.root / "claims").rglob("*.parquet")), stray)
    (stray.parent / ".x.parquet.a1b2c3d4.tmp").write_bytes(b"half")
    (stray.parent / "notes.tmp").write_bytes(b"not ours")  # not atomic_file's pattern: kept
    assert sorted(p.name for p in cut.vacuum()) == [".x.parquet.a1b2c3d4.tmp", stray.name]
    assert (stray.parent / "notes.tmp").exists()
    assert cut.table("claims").count().to_pyarrow().as_py() == 3


def test_ingest_first_sweeps_what_a_killed_ingest_left(lake: ClaimsLake) -> None:
    lake.ingest([OUTPATIENT])
    folder = lake.root / "claim_drugs" / "service_month=2024-04"
    left = [
        folder / f".{'e' * 64}.parquet.k7_q2x9z.tmp",  # a killed worker's temporary file
        folder / f"{'e' * 64}.parquet",  # renamed, never committed
        lake.root / ".claims_manifest.json.0a1b2c3d.tmp",
    ]
    others = [
        folder / "notes.tmp",  # not atomic_file's pattern
        lake.root / ".manifest.json.0a1b2c3d.tmp",  # the checkup lake's, same root
        lake.root / "checkups" / "fiscal_year=2024" / ".x.parquet.a1b2c3d4.tmp",
    ]
    for path in left + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    lake.ingest([INPATIENT])
    assert [p for p in left if p.exists()] == []
    assert [p for p in others if not p.exists()] == []
    assert lake.table("claims").count().to_pyarrow().as_py() == 3


def test_one_writer_at_a_time(lake: ClaimsLake) -> None:
    assert_one_writer_at_a_time(lake.locked, lambda: lake.ingest([INPATIENT]))


def test_worker_processes_write_the_same_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kokuho.claims._lake as lake_module

    monkeypatch.setattr(lake_module, "CHUNK_BYTES", 1)  # one chunk a file: work for each worker
    paths = sorted(FIXTURES.glob("*.UKE"))
    alone, together = ClaimsLake(tmp_path / "alone"), ClaimsLake(tmp_path / "together")
    alone.ingest(paths, workers=1)
    report = together.ingest(paths, workers=2)
    assert (report.ingested, report.claims) == (5, 6)
    for name in ("claims", "claim_drugs", "claim_diagnoses", "claim_procedures"):
        assert (
            together.table(name)
            .to_pyarrow()
            .sort_by("claim_id")
            .equals(alone.table(name).to_pyarrow().sort_by("claim_id"))
        ), name
    bad = tmp_path / "bad.UKE"
    bad.write_bytes(INPATIENT.read_bytes().replace(b"GO,1,25000", b"GO,1,25001"))
    third = ClaimsLake(tmp_path / "third")
    with pytest.raises(ClaimFileRejected):
        third.ingest([*paths, bad], workers=2)
    assert not list(third.root.rglob("*.parquet"))
    assert not (third.root / "claims_manifest.json").exists()
