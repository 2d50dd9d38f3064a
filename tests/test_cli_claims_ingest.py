"""`kokuho claims ingest` and `kokuho claims masters` end to end."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "claims"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_ingest_prints_each_file_and_skips_it_the_second_time(home: Path) -> None:
    runner = CliRunner()
    outpatient, pharmacy = FIXTURES / "medical_outpatient.UKE", FIXTURES / "pharmacy.UKE"
    result = runner.invoke(main, ["claims", "ingest", str(outpatient), str(pharmacy)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{outpatient}: 2 claims, 20 lines ingested",
        f"{pharmacy}: 1 claims, 18 lines ingested",
        "2 file(s) ingested (3 claims, 38 lines), 0 skipped",
    ]
    again = runner.invoke(main, ["claims", "ingest", str(outpatient), "--json"])
    assert again.exit_code == 0, again.output
    document = json.loads(again.output)
    assert (document["ingested"], document["skipped"]) == (0, 1)
    (row,) = document["files"]
    assert (row["status"], row["claims"], row["lines"], row["kind"]) == (
        "skipped", 2, 20, "medical"
    )  # fmt: skip
    assert row["service_months"] == ["2024-04"]
    assert (home / "lake" / "claims_manifest.json").exists()


def test_a_folder_is_searched_for_claim_files(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("set_vol00.UKE", "set_vol01.UKE"):
        shutil.copy(FIXTURES / name, folder / name)
    (folder / "notes.txt").write_text("not a claim file")
    result = CliRunner().invoke(main, ["claims", "ingest", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [Path(f["file"]).name for f in document["files"]] == ["set_vol00.UKE", "set_vol01.UKE"]
    assert document["claims"] == 2


def test_a_bad_file_fails_with_file_line_field_and_nothing_written(
    home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.UKE"
    bad.write_bytes(
        (FIXTURES / "medical_outpatient.UKE").read_bytes().replace(b",50604,", b",50613,", 1)
    )
    result = CliRunner().invoke(
        main, ["claims", "ingest", str(FIXTURES / "pharmacy.UKE"), str(bad)]
    )
    assert result.exit_code != 0
    assert f"{bad}:2: (4) 診療年月: '50613': month 13 is not 01–12" in result.stderr
    assert "1 file(s) rejected with 1 problem(s); nothing was loaded" in result.stderr
    assert not (home / "lake" / "claims_manifest.json").exists()
    assert not list((home / "lake").rglob("*.parquet"))


def test_masters_default_to_the_synthetic_sample(home: Path) -> None:
    result = CliRunner().invoke(main, ["claims", "masters", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"sample": True, "drug_master": 84, "disease_master": 41}
    text = CliRunner().invoke(main, ["claims", "masters"])
    assert "synthetic sample masters: drug_master 84 rows, disease_master 41 rows" in text.output


def test_masters_from_files_and_their_errors(home: Path, tmp_path: Path) -> None:
    from kokuho.claims import sample_masters

    files = sample_masters()
    only_drugs = CliRunner().invoke(main, ["claims", "masters", "--drugs", str(files.drugs)])
    assert only_drugs.exit_code != 0 and "go together" in only_drugs.stderr
    diseases = CliRunner().invoke(
        main, ["claims", "masters", "--diseases", str(files.diseases), "--json"]
    )
    assert json.loads(diseases.output) == {"sample": False, "disease_master": 41}
    bad = tmp_path / "tp.csv"
    bad.write_text("区分,薬価基準収載医薬品コード\n9,2149001F1010\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["claims", "masters", "--drugs", str(files.drugs), "--generic-list", str(bad)]
    )
    assert result.exit_code != 0
    assert f"{bad}:2: (1) 区分: '9' is not one of 1, 2, ☆, 3, ★" in result.stderr


def test_lake_vacuum_lists_what_it_removed_and_keeps_the_rest(home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["claims", "ingest", str(FIXTURES / "pharmacy.UKE")]).exit_code == 0
    clean = runner.invoke(main, ["lake", "vacuum"])
    assert clean.exit_code == 0 and clean.stdout == f"0 file(s) removed from {home / 'lake'}\n"
    folder = home / "lake" / "claims" / "service_month=2024-04"
    stale = folder / f".{'f' * 64}.parquet.x1y2z3w4.tmp"
    stale.write_bytes(b"half")
    (folder / "keep.tmp").write_bytes(b"someone else's")
    result = runner.invoke(main, ["lake", "vacuum"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"removed claims: claims/service_month=2024-04/{stale.name}",
        f"1 file(s) removed from {home / 'lake'}",
    ]
    assert not stale.exists() and (folder / "keep.tmp").exists()
    claims = json.loads(runner.invoke(main, ["claims", "ingest", "--json", str(FIXTURES)]).stdout)
    assert claims["skipped"] == 1  # the committed file is still there


def test_ingest_says_what_each_file_replaced_and_refuses_a_second_version(
    home: Path, tmp_path: Path
) -> None:
    """A claim sent again (docs/formats.md §7): per file, the claims already in the lake
    (same 請求年月, same values), replacing an earlier 請求年月, superseded by a later one; and
    another version under the same 請求年月 refused as a 重複請求."""
    from tests.test_claims_resent import BASE, JUNE, MAY, TARO, billed, corrected, write

    may, june, july = (
        write(tmp_path, "may.UKE", BASE),
        write(tmp_path, "june.UKE", billed(JUNE)),
        write(tmp_path, "july.UKE", corrected()),
    )
    runner = CliRunner()
    result = runner.invoke(main, ["claims", "ingest", str(may), str(july), str(june)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{may}: 2 claims, 19 lines ingested",
        f"{july}: 2 claims, 18 lines ingested, 2 replacing an earlier 請求年月",
        f"{june}: 2 claims, 19 lines ingested, 2 superseded by a later 請求年月",
        "3 file(s) ingested (6 claims, 56 lines), 0 skipped",
    ]
    extra = dataclasses.replace(TARO, receipt_number=3, number="9999", total_points=120)
    more = write(tmp_path, "may_more.UKE", billed(MAY, BASE, *BASE.claims, extra))
    again = runner.invoke(main, ["claims", "ingest", "--json", str(more), str(may)])
    assert again.exit_code == 0, again.output
    rows = json.loads(again.stdout)["files"]
    assert [
        (r["status"], r["claims"], r["repeated"], r["replaced"], r["superseded"]) for r in rows
    ] == [("ingested", 1, 2, 0, 0), ("skipped", 2, 0, 0, 0)]
    other = dataclasses.replace(TARO, total_points=400)
    second = write(tmp_path, "may_other.UKE", billed(MAY, BASE, other))
    refused = runner.invoke(main, ["claims", "ingest", str(second)])
    assert refused.exit_code != 0
    assert refused.stderr.splitlines()[0].startswith(
        f"{second}:2: claim: レセプト番号 1 (保険者番号 370015, 記号 香川, 番号 1234, 枝番 01, "
        "診療年月 2024-04, レセプト種別 1112): may.UKE:2 holds it under the same 請求年月 "
        "2024-05 with other values (a 重複請求"
    )
    assert "1 file(s) rejected with 1 problem(s); nothing was loaded" in refused.stderr
