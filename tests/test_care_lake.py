"""The care lake: the fixture's rows as worked by hand, partitions, idempotent re-ingest, a bad
file and a crash changing nothing, a kill -9 in the middle of an ingest, and 要介護認定 files:
bad rows by file:line:column, repeats skipped, a changed certification refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import kokuho.care._lake as care_lake
from kokuho.care import (
    CareFileRejected,
    CareLake,
    certifications_text,
    read_care_file,
    read_certifications,
    write_care_file,
    write_certifications,
)
from kokuho.cli import main
from tests.lakefiles import assert_one_writer_at_a_time, digest, manifest_rename_fails, snapshot

FIXTURES = Path(__file__).parent / "fixtures" / "care"
CLAIMS = FIXTURES / "claims_202005.csv"
CERTIFICATIONS = FIXTURES / "certifications.csv"
KOKUHO = Path(sys.executable).parent / "kokuho"
D = dt.date


def count(lake: CareLake, name: str) -> int:
    return int(lake.table(name).count().to_pyarrow().as_py())


@pytest.fixture
def lake(tmp_path: Path) -> CareLake:
    return CareLake(tmp_path / "lake")


def test_the_fixture_lands_in_the_lake(lake: CareLake) -> None:
    report = lake.ingest([CLAIMS])
    assert (report.ingested, report.rows, report.files[0].service_months) == (1, 2, ("2020-04",))
    rows = lake.table("care_claims").to_pyarrow().sort_by("claim_id").to_pylist()
    # 要介護2: 11 訪問介護 2,000 単位 + 15 通所介護 2,800 単位; 請求 19,260 + 26,964 円,
    # 負担 2,140 + 2,996 円. 要支援2: 17 福祉用具貸与 1,000 単位 at 10.00 円, 80 %: 8,000 / 2,000.
    assert [
        (r["insured"], r["care_level"], r["units"], r["claimed"], r["copay"]) for r in rows
    ] == [
        ("0000123456", "22", 4800, 46224, 5136),
        ("0000234567", "13", 1000, 8000, 2000),
    ]
    assert rows[0]["service_month"] == "2020-04" and rows[0]["birth_date"] == D(1940, 1, 5)
    services = lake.table("care_services").to_pyarrow().to_pylist()
    got = sorted((s["service_type"], s["units"], s["count"], s["service_units"]) for s in services)
    assert got == [
        ("11", 250, 8, 2000), ("15", 700, 4, 2800), ("17", 1000, 1, 1000),
    ]  # fmt: skip
    totals = lake.table("care_totals").to_pyarrow().to_pylist()
    assert sorted(t["unit_price"] for t in totals) == [Decimal("10.00"), Decimal("10.70")] + [
        Decimal("10.70")
    ]
    folders = sorted(p.parent.name for p in (lake.root / "care_claims").rglob("*.parquet"))
    assert folders == ["service_month=2020-04"]


def test_tables_are_empty_before_the_first_file(lake: CareLake) -> None:
    assert count(lake, "care_claims") == 0
    assert count(lake, "care_certifications") == 0


def test_ingesting_twice_changes_nothing(lake: CareLake, tmp_path: Path) -> None:
    lake.ingest([CLAIMS])
    before = snapshot(lake.root)
    copy = tmp_path / "copy.csv"
    copy.write_bytes(CLAIMS.read_bytes())
    report = lake.ingest([CLAIMS, copy])  # same bytes under another name: the same file
    assert (report.ingested, report.skipped) == (0, 2)
    assert report.files[0].rows == 2  # described as it was ingested
    assert snapshot(lake.root) == before


def test_a_bad_file_changes_nothing(lake: CareLake, tmp_path: Path) -> None:
    lake.ingest([CLAIMS])
    before = snapshot(lake.root)
    good = tmp_path / "good.csv"
    write_care_file(good, _shifted(read_care_file(CLAIMS), 1))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(good.read_bytes().replace(b",2000,\r\n", b",2001,\r\n", 1))
    with pytest.raises(CareFileRejected) as rejected:
        lake.ingest([good, bad])
    assert [(p.file, p.line, p.field) for p in rejected.value.problems] == [
        (str(bad), 3, "(13) サービス単位数"),  # 250 × 8 is 2000, not 2001
        (str(bad), 5, "(11) 給付単位数"),  # and the 集計 (2000) no longer adds up
    ]
    assert snapshot(lake.root) == before  # not even the good file of the call


def test_a_crash_before_the_manifest_leaves_nothing_visible(
    lake: CareLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.ingest([CLAIMS])
    before = snapshot(lake.root)
    other = tmp_path / "other.csv"
    write_care_file(other, _shifted(read_care_file(CLAIMS), 1))
    with (
        manifest_rename_fails(monkeypatch, "care_manifest.json"),
        pytest.raises(OSError, match="disk gone"),
    ):
        lake.ingest([other])
    assert snapshot(lake.root) == before
    assert lake.ingest([other]).ingested == 1
    assert count(lake, "care_claims") == 4


def _shifted(file: Any, n: int) -> Any:
    """The fixture's claims under other 被保険者番号 (so another file, another digest)."""
    claims = tuple(
        dataclasses.replace(c, insured=f"{int(c.insured) + 1_000_000 * n:010d}")
        for c in file.claims
    )
    return dataclasses.replace(file, claims=claims)


def test_a_kill_9_mid_ingest_leaves_nothing_visible(lake: CareLake, tmp_path: Path) -> None:
    lake.ingest([CLAIMS])
    manifest = (lake.root / "care_manifest.json").read_bytes()
    folder = tmp_path / "many"
    base = read_care_file(CLAIMS)
    months = [D(2020, 3, 1), D(2020, 4, 1), D(2020, 5, 1)]
    paths = []
    for n in range(1, 241):
        month = months[n % 3]
        file = _shifted(base, n)
        claims = tuple(dataclasses.replace(c, service_month=month) for c in file.claims)
        paths.append(folder / f"{n:03d}.csv")
        write_care_file(paths[-1], dataclasses.replace(file, claims=claims))
    committed = set((lake.root / "care_services").rglob("*.parquet*"))
    env = {**os.environ, "KOKUHO_HOME": str(tmp_path)}
    log = (tmp_path / "ingest.log").open("wb")
    process = subprocess.Popen([str(KOKUHO), "care", "ingest", str(folder)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while set((lake.root / "care_services").rglob("*.parquet*")) <= committed:
            if process.poll() is not None:
                pytest.fail("the ingest ended before it was caught writing: "
                            + (tmp_path / "ingest.log").read_text("utf-8"))  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert process.returncode == -signal.SIGKILL
    assert (lake.root / "care_manifest.json").read_bytes() == manifest
    assert count(lake, "care_claims") == 2  # what was committed before, nothing of the killed
    left = [p for p in lake.root.rglob("*") if p.is_file() and p.suffix in (".parquet", ".tmp")]
    assert len(left) > 3  # the killed ingest did leave files behind …
    committed_before = {p for p in left if p.name.startswith(digest(CLAIMS))}
    vacuum = CliRunner().invoke(
        main, ["lake", "vacuum", "--json"], env={"KOKUHO_HOME": str(tmp_path)}
    )
    removed = json.loads(vacuum.stdout)["removed"]["care"]  # … which vacuum removes …
    assert sorted(removed) == sorted(
        p.relative_to(lake.root).as_posix() for p in left if p not in committed_before
    )
    assert count(lake, "care_claims") == 2
    report = lake.ingest(paths)  # … (as the next ingest would, first)
    assert (report.ingested, report.rows) == (240, 480)
    assert count(lake, "care_claims") == 482
    assert lake.vacuum() == []
    committed = {p.relative_to(lake.root).as_posix() for p in lake.root.rglob("*.parquet")}
    named = {f for e in lake.sources().values() for f in e["files"]}
    assert committed == named


# -- 要介護認定 files ---------------------------------------------------------------------

HEADER = CERTIFICATIONS.read_text("utf-8").splitlines()[0]
ROWS = CERTIFICATIONS.read_text("utf-8").splitlines()[1:]


def test_certifications_load_once(lake: CareLake, tmp_path: Path) -> None:
    report = lake.import_certifications([CERTIFICATIONS])
    assert (report.ingested, report.rows) == (1, 3)
    certs = sorted(lake.certifications(), key=lambda c: c.insured_number)
    assert [(c.insured_number, c.care_level, c.valid_from, c.valid_to, c.line) for c in certs] == [
        ("0000123456", "22", D(2020, 1, 1), D(2020, 12, 31), 2),
        ("0000234567", "13", D(2019, 6, 1), D(2020, 5, 31), 3),
        ("0000345678", "01", D(2020, 2, 1), D(2021, 1, 31), 4),
    ]
    assert lake.import_certifications([CERTIFICATIONS]).skipped == 1
    # Another file repeating two rows and adding one: the repeats are skipped, not doubled.
    more = tmp_path / "more.csv"
    new = ROWS[0].replace("0000123456", "0000999999").replace("2020-01-01", "2021-01-01")
    more.write_text(
        "\n".join([HEADER, ROWS[0], ROWS[1], new.replace("2020-12-31", "2021-12-31")]) + "\n",
        "utf-8",
    )
    report = lake.import_certifications([more])
    assert (report.rows, report.files[0].repeated) == (1, 2)
    assert count(lake, "care_certifications") == 4


def test_a_changed_certification_is_refused(lake: CareLake, tmp_path: Path) -> None:
    lake.import_certifications([CERTIFICATIONS])
    before = snapshot(lake.root)
    changed = tmp_path / "changed.csv"
    changed.write_text("\n".join([HEADER, ROWS[0].replace(",22,", ",23,")]) + "\n", "utf-8")
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([changed])
    assert [(p.line, p.field) for p in rejected.value.problems] == [(2, "valid_from")]
    assert "already in the lake with other values" in rejected.value.problems[0].reason
    assert snapshot(lake.root) == before


def test_a_certifications_file_of_its_header_alone_is_refused(
    lake: CareLake, tmp_path: Path
) -> None:
    """A 要介護認定 file holding no rows (a failed export) was "ingested" as 0 rows, exit 0,
    and recorded in the manifest as loaded: refused as other imports refuse one."""
    path = tmp_path / "header_only.csv"
    path.write_text(HEADER + "\n", "utf-8")
    result = CliRunner().invoke(
        main, ["care", "certifications", str(path)], env={"KOKUHO_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1, result.output
    assert f"{path}: file: the file holds no certifications" in result.stderr
    assert "nothing was loaded" in result.stderr
    assert lake.sources() == {}
    assert not [p for p in lake.root.rglob("*") if p.suffix in (".parquet", ".json")]
    # With a good file beside it, still all or nothing.
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([CERTIFICATIONS, path])
    assert [(p.file, p.line) for p in rejected.value.problems] == [(str(path), 0)]
    assert count(lake, "care_certifications") == 0


def test_a_certifications_file_replaced_after_its_digest_is_read_as_digested(
    lake: CareLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lake names a file's rows by the sha256 of the bytes it read: a sender replacing the
    file between that read and the parse must not put the new rows under the old digest (a
    later import of the new file would then be skipped as already loaded)."""
    path = tmp_path / "inbox.csv"
    path.write_text("\n".join([HEADER, ROWS[0]]) + "\n", "utf-8")
    replacement = "\n".join([HEADER, ROWS[1]]) + "\n"
    read_file = care_lake.read_capped_care_file

    def read_then_replace(file: Path) -> bytes:
        data = read_file(file)
        if file == path:
            path.write_text(replacement, "utf-8")  # the transfer lands just after the read
        return data

    monkeypatch.setattr(care_lake, "read_capped_care_file", read_then_replace)
    report = lake.import_certifications([path])
    monkeypatch.undo()
    assert [c.insured_number for c in lake.certifications()] == ["0000123456"]
    assert (report.ingested, report.rows) == (1, 1)
    report = lake.import_certifications([path])  # the new bytes: a file of their own
    assert (report.ingested, report.rows) == (1, 1)
    numbers = sorted(c.insured_number for c in lake.certifications())
    assert numbers == ["0000123456", "0000234567"]


def _cert_with(column: str, value: str) -> str:
    names = HEADER.split(",")
    parts = ROWS[0].split(",")
    parts[names.index(column)] = value
    return ",".join(parts)


def test_bad_certification_rows_are_all_named(lake: CareLake, tmp_path: Path) -> None:
    rows = [
        _cert_with("insurer_number", "37201"),
        _cert_with("insured_number", "00001234567"),
        _cert_with("name_kanji", " "),
        _cert_with("birth_date", "1940/01/05"),
        _cert_with("sex", "0"),
        _cert_with("care_level", "26"),
        _cert_with("certified_on", "2019-02-30"),
        _cert_with("valid_to", "2019-12-31"),
        _cert_with("certified_on", "1939-12-31"),
        ROWS[1],
        ROWS[1].replace("2019-05-28", "2019-05-29"),  # the same number and valid_from twice
        ROWS[2] + ",extra",
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([path])
    assert [(p.line, p.field) for p in rejected.value.problems] == [
        (2, "insurer_number"), (3, "insured_number"), (4, "name_kanji"), (5, "birth_date"),
        (6, "sex"), (7, "care_level"), (8, "certified_on"), (9, "valid_to"),
        (10, "certified_on"), (12, "valid_from"), (13, "row"),
    ]  # fmt: skip
    assert all(p.file == str(path) for p in rejected.value.problems)
    assert "the same number and valid_from as line 11" in rejected.value.problems[9].reason
    assert not (lake.root / "care_certifications").exists()


def test_a_certification_with_a_control_character_in_a_name_is_refused(
    lake: CareLake, tmp_path: Path
) -> None:
    """The five basic items join care records to the register, which refuses control and bidi
    characters in names and addresses: so does the 要介護認定 file, naming line and column (a
    line break inside a quoted field too), and nothing is loaded."""
    rows = [
        ROWS[0].replace("香川　太郎", '"香川\n太郎"'),
        ROWS[1].replace("ヤマダ　ハナコ", "ヤマダ\x07ハナコ"),
        ROWS[2].replace("番町三丁目", "番町\u202e三丁目"),
    ]
    path = tmp_path / "controls.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", "utf-8")
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([path])
    assert [(p.line, p.field) for p in rejected.value.problems] == [
        (3, "name_kanji"), (4, "name_kana"), (5, "address"),  # a record's line is its last
    ]  # fmt: skip
    assert "control character" in rejected.value.problems[0].reason
    assert not (lake.root / "care_certifications").exists()


def test_a_certification_file_with_a_wrong_header(lake: CareLake, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(HEADER.replace("care_level", "kaigo_level") + "\n" + ROWS[0] + "\n", "utf-8")
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([path])
    assert {(p.line, p.field) for p in rejected.value.problems} == {
        (1, "kaigo_level"), (1, "care_level"),
    }  # fmt: skip


def test_a_file_is_one_kind(lake: CareLake) -> None:
    lake.import_certifications([CERTIFICATIONS])
    with pytest.raises(CareFileRejected) as rejected:
        lake.ingest([CERTIFICATIONS])
    assert [(p.line, p.field, p.reason) for p in rejected.value.problems] == [
        (0, "file", "already in the lake as certifications")
    ]


def test_a_certification_file_round_trips(tmp_path: Path) -> None:
    certs = read_certifications(CERTIFICATIONS)
    assert certifications_text(certs) == CERTIFICATIONS.read_text("utf-8")
    out = tmp_path / "again.csv"
    write_certifications(out, certs)
    assert read_certifications(out) == certs


def test_one_writer_at_a_time(lake: CareLake) -> None:
    assert_one_writer_at_a_time(lake.locked, lambda: lake.ingest([CLAIMS]))


def test_certification_bytes_not_utf8_are_named_by_line(tmp_path: Path) -> None:
    """Bytes already read are checked as the file would be: the line and character named."""
    path = tmp_path / "named.csv"  # never written: the bytes are all there is
    data = "\n".join([HEADER, ROWS[0], ROWS[1]]).encode("utf-8") + b"\n\x82\xa0\n"
    with pytest.raises(CareFileRejected) as rejected:
        read_certifications(path, data)
    assert [(p.file, p.line) for p in rejected.value.problems] == [(str(path), 4)]
    assert "not UTF-8 (byte 0x82 at character 1)" in rejected.value.problems[0].reason


def test_a_certification_value_of_thousands_of_digits_is_quoted_cut(
    lake: CareLake, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    path.write_text("\n".join([HEADER, _cert_with("insured_number", "9" * 5000)]) + "\n", "utf-8")
    with pytest.raises(CareFileRejected) as rejected:
        lake.import_certifications([path])
    (problem,) = rejected.value.problems
    assert problem.reason == f"expected 10 digits, got '{'9' * 40}'… (5,000 characters)"
