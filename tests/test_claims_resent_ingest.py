"""What ``ClaimsLake.ingest`` does with a claim the lake already holds a version of (docs/formats.md
§7, "A claim sent again"), as the care lake does (docs/care.md §3): under the same 請求年月 from
another file, the same values are not written again (``repeated``) and other values are a
重複請求, refused with the file, the claim's line and the file holding the other version, nothing
written; under another 請求年月 the file's report says how many of its claims replace an earlier
version (``replaced``) and how many a later one already replaces (``superseded``)."""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

import kokuho.claims._lake as lake_module
from kokuho.claims import ClaimFileRejected, ClaimsLake
from kokuho.claims._lake import CLAIM_TABLES
from tests.lakefiles import manifest_rename_fails, snapshot
from tests.test_claims_resent import BASE as MAY_FILE
from tests.test_claims_resent import (
    HANAKO,
    JULY,
    JUNE,
    MAY,
    TARO,
    billed,
    claim_rows,
    corrected,
    count,
    write,
)

#: 太郎's claim with other values (400 点, one drug fewer) in a second May file.
TARO_400 = dataclasses.replace(TARO, total_points=400, drugs=TARO.drugs[:1])
#: A third person's claim, so that a second May file is not the first one again.
JIRO = dataclasses.replace(
    TARO, receipt_number=3, name="香川　次郎", number="9999", branch="", total_points=120
)


@pytest.fixture
def lake(tmp_path: Path) -> ClaimsLake:
    return ClaimsLake(tmp_path / "lake")


def values(lake: ClaimsLake) -> dict[str, list[tuple[str, ...]]]:
    """Every row read of the claim tables without where it came from (claim id, file, line,
    レセプト番号: which of two equal copies is kept may follow the order of ingest)."""
    place = {"claim_id", "file", "line", "receipt_number"}
    found = {}
    for name in CLAIM_TABLES:
        rows = lake.table(name).to_pyarrow().to_pylist()
        found[name] = sorted(tuple(str(v) for k, v in r.items() if k not in place) for r in rows)
    return found


def two_mays(tmp_path: Path) -> tuple[Path, Path]:
    """The May file, and another May file (same 請求年月) with 太郎's claim at other values."""
    may = write(tmp_path, "may.UKE", MAY_FILE)
    other = write(tmp_path, "may_other.UKE", billed(MAY, MAY_FILE, TARO_400, HANAKO))
    return may, other


def test_other_values_in_the_same_billing_month_are_refused_in_either_order(
    tmp_path: Path,
) -> None:
    """Whichever of the two May files comes second is refused, naming the claim's line and
    the file holding the other version; the file's other claim (花子's, the same in both)
    is no problem; nothing of it is written."""
    may, other = two_mays(tmp_path)
    for first, second in ((may, other), (other, may)):
        lake = ClaimsLake(tmp_path / f"lake_{first.stem}")
        lake.ingest([first])
        before = snapshot(lake.root)
        rows = claim_rows(lake)
        with pytest.raises(ClaimFileRejected) as rejected:
            lake.ingest([second])
        (problem,) = rejected.value.problems
        assert (problem.file, problem.line, problem.name) == (str(second), 2, "claim")
        assert f"{first.name}:2 holds it under the same 請求年月 2024-05" in problem.reason
        assert "重複請求" in problem.reason and "番号 1234" in problem.reason
        assert "診療年月 2024-04" in problem.reason and "レセプト種別 1112" in problem.reason
        assert snapshot(lake.root) == before
        assert claim_rows(lake) == rows


def test_other_values_in_the_same_billing_month_refuse_the_whole_call(tmp_path: Path) -> None:
    """In one call, in either order, with a good file beside them: the later of the two is
    named, and nothing is written."""
    may, other = two_mays(tmp_path)
    good = write(tmp_path, "june.UKE", billed(JUNE))
    for n, order in enumerate(([good, may, other], [other, good, may])):
        lake = ClaimsLake(tmp_path / f"lake{n}")
        with pytest.raises(ClaimFileRejected) as rejected:
            lake.ingest(order)
        later, earlier = (other, may) if n == 0 else (may, other)
        assert [(p.file, p.line) for p in rejected.value.problems] == [(str(later), 2)]
        assert f"{earlier}:2 holds it" in rejected.value.problems[0].reason
        assert not lake.root.exists() or not list(lake.root.rglob("*.parquet"))
        assert not (lake.root / "claims_manifest.json").exists()


def test_the_same_file_again_is_skipped_whatever_its_line_ends(
    lake: ClaimsLake, tmp_path: Path
) -> None:
    may = write(tmp_path, "may.UKE", MAY_FILE)
    lf = tmp_path / "may_lf.UKE"
    lf.write_bytes(may.read_bytes().replace(b"\r\n", b"\n"))
    lake.ingest([may])
    report = lake.ingest([lf, may])
    assert (report.ingested, report.skipped) == (0, 2)
    assert [(f.repeated, f.replaced, f.superseded) for f in report.files] == [(0, 0, 0)] * 2
    assert count(lake, "claims") == 2


def test_the_same_claims_in_another_file_of_the_month_are_not_doubled(tmp_path: Path) -> None:
    """A May file sent again with one claim added (another digest): its two claims already in
    the lake are not written again, in either order, call by call or in one call; the lake
    reads the same."""
    may = write(tmp_path, "may.UKE", MAY_FILE)
    more = write(tmp_path, "may_more.UKE", billed(MAY, MAY_FILE, TARO, HANAKO, JIRO))
    lakes = []
    for n, order in enumerate(([may, more], [more, may])):
        one_by_one = ClaimsLake(tmp_path / f"one{n}")
        reports = [one_by_one.ingest([path]) for path in order]
        together = ClaimsLake(tmp_path / f"together{n}")
        report = together.ingest(order)
        second = reports[1].files[0]
        assert (second.skipped, second.repeated, second.claims) == (False, 2, 3 - 2 - n)
        assert counts(report)[1] == counts(reports[1])[0]
        assert report.claims == 3 and reports[0].claims + reports[1].claims == 3
        lakes += [one_by_one, together]
    expected = values(lakes[0])
    assert [r[3] for r in claim_rows(lakes[0])] == [463, 500, 120]
    for lake in lakes:
        assert values(lake) == expected
        assert {name: count(lake, name, versions=True) for name in CLAIM_TABLES} == {
            name: len(rows) for name, rows in expected.items()
        }


def test_twins_in_one_file_stay_two_and_are_repeated_together(
    lake: ClaimsLake, tmp_path: Path
) -> None:
    """Two claims alike in identity in one file are two claims (twins without 枝番); another
    May file holding both again adds neither."""
    twin = dataclasses.replace(HANAKO, receipt_number=3, name="讃岐　月子", total_points=300)
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, MAY_FILE, TARO, HANAKO, twin))])
    numbered = (
        dataclasses.replace(c, receipt_number=n) for n, c in enumerate((twin, HANAKO, JIRO), 1)
    )
    again = billed(MAY, MAY_FILE, *numbered)
    report = lake.ingest([write(tmp_path, "may_again.UKE", again)])
    assert (report.files[0].repeated, report.claims) == (2, 1)
    assert [r[3] for r in claim_rows(lake)] == [463, 300, 500, 120]


def test_inpatient_and_outpatient_of_one_month_in_two_files_are_two_claims(
    lake: ClaimsLake, tmp_path: Path
) -> None:
    """入院 and 入院外 of one person and month (レセプト種別 1111, 1112) in two files of one
    請求年月: two claims, no 重複請求, neither replaced."""
    ward = dataclasses.replace(
        TARO, receipt_number=1, receipt_type="1111", admission_date=MAY.replace(month=4, day=20),
        total_points=2000,
    )  # fmt: skip
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, MAY_FILE, TARO))])
    report = lake.ingest([write(tmp_path, "may_ward.UKE", billed(MAY, MAY_FILE, ward))])
    counts = [(f.claims, f.repeated, f.replaced, f.superseded) for f in report.files]
    assert counts == [(1, 0, 0, 0)]
    assert claim_rows(lake) == [("1234", "1111", MAY, 2000), ("1234", "1112", MAY, 463)]


def counts(report: Any) -> list[tuple[int, int, int, int]]:
    return [(f.claims, f.repeated, f.replaced, f.superseded) for f in report.files]


def test_the_report_says_what_each_file_replaced(tmp_path: Path) -> None:
    """May, then the corrected July re-send (replaces both), then the June one (between
    them: a later version holds both, so superseded); in one call the same; the other way
    round, May comes last and is superseded."""
    may = write(tmp_path, "may.UKE", MAY_FILE)
    june = write(tmp_path, "june.UKE", billed(JUNE))
    july = write(tmp_path, "july.UKE", corrected())
    expected = [(2, 0, 0, 0), (2, 0, 2, 0), (2, 0, 0, 2)]
    lake = ClaimsLake(tmp_path / "one_by_one")
    assert [counts(lake.ingest([p]))[0] for p in (may, july, june)] == expected
    assert counts(ClaimsLake(tmp_path / "together").ingest([may, july, june])) == expected
    backwards = ClaimsLake(tmp_path / "backwards").ingest([july, june, may])
    assert counts(backwards) == [(2, 0, 0, 0), (2, 0, 0, 2), (2, 0, 0, 2)]
    # A re-send of 太郎's claim alone replaces one; a file already in the lake, none.
    taro = write(tmp_path, "august.UKE", billed(JULY.replace(month=8), MAY_FILE, TARO))
    assert counts(lake.ingest([taro, may])) == [(1, 0, 1, 0), (2, 0, 0, 0)]
    assert lake.ingest([taro, may]).files[1].skipped


def test_the_rule_holds_across_chunks_and_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file in a chunk of its own, read by two worker processes: the versions are
    compared in the lake's process, before the commit."""
    if "spawn" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the spawn start method")
    monkeypatch.setattr(lake_module, "CHUNK_BYTES", 1)
    may, other = two_mays(tmp_path)
    more = write(tmp_path, "may_more.UKE", billed(MAY, MAY_FILE, TARO, HANAKO, JIRO))
    july = write(tmp_path, "july.UKE", corrected())
    lake = ClaimsLake(tmp_path / "lake")
    with pytest.raises(ClaimFileRejected) as rejected:
        lake.ingest([may, july, other], workers=2)
    assert [(p.file, p.line) for p in rejected.value.problems] == [(str(other), 2)]
    assert not list(lake.root.rglob("*.parquet"))
    report = lake.ingest([may, july, more], workers=2)
    assert counts(report) == [(2, 0, 0, 0), (2, 0, 2, 0), (1, 2, 0, 0)]
    assert [r[3] for r in claim_rows(lake)] == [400, 500, 120]
    assert count(lake, "claims", versions=True) == 5  # the May pair, the July pair, 次郎


def test_a_failed_commit_after_leaving_out_repeats_leaves_the_lake_as_it_was(
    lake: ClaimsLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repeated claims are taken out of the call's (uncommitted) files before the commit:
    a failure of the commit takes those files back too, and the next ingest does it again."""
    may, july = write(tmp_path, "may.UKE", MAY_FILE), write(tmp_path, "july.UKE", corrected())
    more = write(tmp_path, "may_more.UKE", billed(MAY, MAY_FILE, TARO, HANAKO, JIRO))
    lake.ingest([may])
    before = snapshot(lake.root)
    with (
        manifest_rename_fails(monkeypatch, "claims_manifest.json"),
        pytest.raises(OSError, match="disk gone"),
    ):
        lake.ingest([july, more])
    assert snapshot(lake.root) == before
    assert counts(lake.ingest([july, more])) == [(2, 0, 2, 0), (1, 2, 0, 0)]
    assert [r[3] for r in claim_rows(lake)] == [400, 500, 120]
