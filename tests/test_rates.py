"""実施率, 減少率 and targets on tiny hand-computed data (FY2024: 2024-04-01 – 2025-03-31).

The tables are built with pyarrow here; they have the columns the lake gives (the snapshot's,
and checkups with a ``level``), so no stratification or V08 code runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kokuho.checkups._lake import GUIDANCE_COLUMNS, Lake, LakeTableMissing, MeasureSpec
from kokuho.checkups._model import Checkup
from kokuho.checkups._rates import (
    BANDS,
    ExclusionReason,
    checkup_rate_table,
    checkup_rates,
    eligible_members,
    estimated_targets,
    exclusion_reasons,
    fiscal_year_end_age,
    guidance_rate_table,
    guidance_rates,
    load_reduction_inputs,
    read_exclusions,
    reduction_rate,
    reporting_cutoff,
    shares_of,
    target_share_table,
    target_shares,
)
from kokuho.checkups._snapshot import SNAPSHOT_COLUMNS, snapshot_path
from kokuho.checkups._targets import load_targets, progress, reduction_progress
from kokuho.ids import age_at_fiscal_year_end

# DuckDB 2 deprecates the call Ibis 12 makes to fetch results.
pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

FY = 2024
D = dt.date
A, B, K = "370015", "370023", "01370016"  # two 市町村国保 and a 協会けんぽ 支部
BORN = D(1970, 6, 1)  # 54 at the end of FY2024
SINCE = D(2010, 4, 1)
KIND = {A: "kokuho_municipal", B: "kokuho_municipal", K: "kyokai"}
MUNICIPALITY = {A: "372013", B: "372021", K: None}

CHECKUP_SCHEMA = pa.schema(
    {
        "document": pa.string(),
        "insurer": pa.string(),
        "symbol": pa.string(),
        "number": pa.string(),
        "branch": pa.string(),
        "sex": pa.int16(),
        "birth_date": pa.date32(),
        "exam_date": pa.date32(),
        "institution": pa.string(),
        "level": pa.int16(),
    }
)


def member(
    pid: int,
    *,
    insurer: str = A,
    sex: int = 1,
    born: dt.date = BORN,
    acquired: dt.date = SINCE,
    lost: dt.date | None = None,
    symbol: str = "S",
    number: str | None = None,
    branch: str = "01",
) -> dict[str, Any]:
    return {
        "person_id": pid,
        "insurer_number": insurer,
        "insurer_kind": KIND[insurer],
        "municipality_code": MUNICIPALITY[insurer],
        "symbol": symbol,
        "number": number or str(pid),
        "branch": branch,
        "sex": sex,
        "birth_date": born,
        "acquired_on": acquired,
        "lost_on": lost,
    }


def snapshot(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=pa.schema(SNAPSHOT_COLUMNS))


_documents = itertools.count(1)


def exam(
    number: str,
    on: dt.date,
    level: int = 3,
    *,
    insurer: str = A,
    born: dt.date = BORN,
    sex: int = 1,
    symbol: str = "S",
    branch: str | None = "01",
) -> dict[str, Any]:
    return {
        "document": f"h{next(_documents):05d}.xml",
        "insurer": insurer,
        "symbol": symbol,
        "number": number,
        "branch": branch,
        "sex": sex,
        "birth_date": born,
        "exam_date": on,
        "institution": "3711111111",
        "level": level,
    }


def checkups(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=CHECKUP_SCHEMA)


def guidance_row(
    number: str,
    started: dt.date,
    evaluated: dt.date | None,
    *,
    insurer: str = A,
    born: dt.date = BORN,
    level: int = 2,
    branch: str | None = "01",
) -> dict[str, Any]:
    return {
        "document": f"g{next(_documents):05d}.xml",
        "insurer": insurer,
        "symbol": "S",
        "number": number,
        "branch": branch,
        "sex": 1,
        "birth_date": born,
        "institution": "3711111111",
        "level": level,
        "started_on": started,
        "evaluated_on": evaluated,
        "archive": "x" * 64,
    }


def guidance(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=pa.schema(GUIDANCE_COLUMNS))


def rows(table: Any) -> list[dict[str, Any]]:
    return list(table.to_pyarrow().to_pylist())


def ids(members: Any) -> set[int]:
    return {r["person_id"] for r in rows(members)}


# -- the denominator -----------------------------------------------------------------------


def test_denominator_boundaries_of_enrolment_and_age() -> None:
    snap = snapshot(
        member(1),  # enrolled for years, aged 54: in
        member(2, acquired=D(2024, 4, 1)),  # enrolled on 1 April: in
        member(3, acquired=D(2024, 4, 2)),  # joined on 2 April: not enrolled on 1 April
        member(4, lost=D(2025, 3, 31)),  # 喪失日 3/31 = covered until 3/30: not whole year
        member(5, lost=D(2025, 4, 1)),  # 喪失日 4/1 of the next year: whole year
        member(6, born=D(1985, 4, 1)),  # 40 on 2025-03-31 (a year older the day before 4/1)
        member(7, born=D(1985, 4, 2)),  # 39 on 2025-03-31
        member(8, born=D(1950, 4, 2)),  # 74 on 2025-03-31
        member(9, born=D(1950, 4, 1)),  # 75 on 2025-03-31: reaches 75 in the year, out
        member(10, lost=D(2024, 10, 1)),  # left mid-year
        member(11, acquired=D(2025, 1, 1)),  # joined mid-year
    )
    members = eligible_members(ibis.memtable(snap), FY)
    assert ids(members) == {1, 2, 5, 6, 8}
    ages = {r["person_id"]: r["age"] for r in rows(members)}
    assert ages[6] == 40 == age_at_fiscal_year_end(D(1985, 4, 1), FY)
    assert ages[8] == 74 == age_at_fiscal_year_end(D(1950, 4, 2), FY)
    assert age_at_fiscal_year_end(D(1950, 4, 1), FY) == 75
    assert age_at_fiscal_year_end(D(1985, 4, 2), FY) == 39


def test_ibis_age_matches_the_legal_age_rule() -> None:
    # Every day of three years around the 40 and 75 thresholds, and leap days.
    days = [D(1949, 1, 1) + dt.timedelta(days=n) for n in range(3 * 366)]
    days += [D(1984, 1, 1) + dt.timedelta(days=n) for n in range(3 * 366)]
    days += [D(1952, 2, 29), D(1980, 2, 29), D(1984, 2, 29)]
    t = ibis.memtable(pa.table({"birth_date": pa.array(days, pa.date32())}))
    got = t.mutate(age=fiscal_year_end_age(t.birth_date, FY)).to_pyarrow().to_pylist()
    assert all(r["age"] == age_at_fiscal_year_end(r["birth_date"], FY) for r in got)


def test_exclusions_remove_people(tmp_path: Path) -> None:
    snap = ibis.memtable(snapshot(*(member(pid) for pid in range(1, 7))))
    path = tmp_path / "exclusions.csv"
    path.write_text(
        "insurer,symbol,number,branch,reason,started_on,ended_on\n"
        f"{A},S,1,01,pregnant,2024-06-01,2024-12-01\n"  # during the year: out
        f"{A},S,2,01,inpatient_6m,2023-01-01,2024-04-01\n"  # ended before the year: in
        f"{A},S,3,01,abroad,2025-03-31,\n"  # one shared day (3/31): out
        f"{A},S,4,,facility,2020-01-01,\n"  # no 枝番 = every 枝番: out
        f"{A},S,5,02,detained,2020-01-01,\n"  # another 枝番: in
        f"{B},S,6,01,pregnant,2024-06-01,\n",  # another insurer: in
        "utf-8",
    )
    exclusions = read_exclusions(path)
    assert ids(eligible_members(snap, FY, exclusions=exclusions)) == {2, 5, 6}
    # A reason switched off in the list is not applied.
    reasons = [
        ExclusionReason(r.code, r.name, r.code != "abroad", r.confirmed, r.source)
        for r in exclusion_reasons()
    ]
    assert ids(eligible_members(snap, FY, exclusions=exclusions, reasons=reasons)) == {2, 3, 5, 6}


def test_exclusion_list_and_file_checks(tmp_path: Path) -> None:
    reasons = {r.code: r for r in exclusion_reasons()}
    assert set(reasons) >= {"pregnant", "detained", "inpatient_6m", "facility", "abroad"}
    assert all(r.source for r in reasons.values())
    assert reasons["pregnant"].confirmed and not reasons["abroad"].confirmed
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "insurer,symbol,number,branch,reason,started_on,ended_on\n"
        f"{A},S,1,01,holiday,2024-06-01,\n"
        f"{A},S,2,01,pregnant,2024-06-01,2024-06-01\n",
        "utf-8",
    )
    with pytest.raises(ValueError, match=r"unknown reason 'holiday'.*ended_on must be after"):
        read_exclusions(bad)


# -- 特定健診実施率 ----------------------------------------------------------------------------


def test_examined_once_and_matched_on_the_insured_number() -> None:
    snap = snapshot(
        member(1, number="100", branch="01", born=D(1970, 6, 1)),
        member(2, number="100", branch="02", born=D(1975, 1, 1)),  # same household card
        member(3, number="300"),
        member(4, number="400"),
        member(5, number="500", branch="01"),
    )
    ck = checkups(
        exam("100", D(2024, 5, 1)),  # member 1 …
        exam("100", D(2024, 9, 1)),  # … twice: one 受診者
        exam("100", D(2024, 7, 1), branch=None),  # no 枝番, born as member 1: not member 2
        exam("300", D(2025, 3, 31), branch=None),  # no 枝番, same birth date: member 3
        exam("400", D(2025, 4, 1)),  # next fiscal year
        exam("500", D(2024, 5, 1), branch="03"),  # another 枝番
        exam("999", D(2024, 5, 1)),  # not a member
    )
    [row] = rows(checkup_rate_table(ibis.memtable(snap), ibis.memtable(ck), FY, by=()))
    assert row == {"fiscal_year": FY, "eligible": 5, "examined": 2, "rate": 0.4}


def _population() -> pa.Table:
    return snapshot(
        member(1, insurer=A, sex=1, born=D(1982, 6, 1)),  # 42
        member(2, insurer=A, sex=1, born=D(1981, 6, 1)),  # 43
        member(3, insurer=A, sex=2, born=D(1953, 6, 1)),  # 71
        member(4, insurer=B, sex=1, born=D(1980, 6, 1)),  # 44
        member(5, insurer=B, sex=2, born=D(1954, 6, 1)),  # 70
        member(6, insurer=K, sex=2, born=D(1952, 6, 1)),  # 72
        member(7, insurer=B, sex=2, born=D(1958, 6, 1)),  # 66
    )


def _population_checkups() -> pa.Table:
    return checkups(
        exam("1", D(2024, 6, 1), born=D(1982, 6, 1), insurer=A),
        exam("3", D(2024, 6, 1), born=D(1953, 6, 1), insurer=A, sex=2),
        exam("4", D(2024, 6, 1), born=D(1980, 6, 1), insurer=B),
        exam("6", D(2024, 6, 1), born=D(1952, 6, 1), insurer=K, sex=2),
    )


def test_checkup_rates_by_sex_band_insurer_and_municipality() -> None:
    snap, ck = ibis.memtable(_population()), ibis.memtable(_population_checkups())

    def table(*by: str) -> list[tuple[Any, ...]]:
        return [tuple(r.values())[1:] for r in rows(checkup_rate_table(snap, ck, FY, by=by))]

    assert table("sex", "band") == [
        (1, "40-44", 3, 2, 2 / 3),
        (2, "65-69", 1, 0, 0.0),
        (2, "70-74", 3, 2, 2 / 3),
    ]
    assert table("insurer") == [
        (K, "kyokai", 1, 1, 1.0),
        (A, "kokuho_municipal", 3, 2, 2 / 3),
        (B, "kokuho_municipal", 3, 1, 1 / 3),
    ]
    assert table("municipality") == [("372013", 3, 2, 2 / 3), ("372021", 3, 1, 1 / 3)]
    assert table("municipality", "sex") == [
        ("372013", 1, 2, 1, 0.5),
        ("372013", 2, 1, 1, 1.0),
        ("372021", 1, 1, 1, 1.0),
        ("372021", 2, 2, 0, 0.0),
    ]
    assert table() == [(7, 4, 4 / 7)]
    with pytest.raises(ValueError, match="choose distinct names"):
        checkup_rate_table(snap, ck, FY, by=("age",))


# -- 特定保健指導実施率 ------------------------------------------------------------------------


def _guidance_case() -> tuple[pa.Table, pa.Table, pa.Table]:
    snap = snapshot(
        *(member(pid) for pid in range(1, 7)),
        member(7, acquired=D(2024, 6, 1)),  # joined mid-year: not in the denominator
    )
    ck = checkups(
        exam("1", D(2024, 6, 1), level=1),
        exam("2", D(2024, 6, 1), level=2),
        exam("3", D(2024, 6, 1), level=2),
        exam("4", D(2024, 6, 1), level=1),
        exam("5", D(2024, 5, 1), level=3),  # first checkup decides: not a 対象者 …
        exam("5", D(2024, 10, 1), level=1),  # … though a later one says 積極的支援
        exam("6", D(2024, 5, 1), level=4),  # 判定不能 does not count …
        exam("6", D(2024, 8, 1), level=2),  # … the first known level does
        exam("7", D(2024, 7, 1), level=2),
    )
    g = guidance(
        guidance_row("1", D(2024, 7, 1), D(2025, 1, 15), level=1),  # 終了
        guidance_row("2", D(2024, 7, 1), D(2025, 10, 31)),  # on the cut-off day: 終了
        guidance_row("3", D(2024, 7, 1), D(2025, 11, 1)),  # after the cut-off
        guidance_row("4", D(2024, 5, 1), D(2024, 11, 1), level=1),  # began before the checkup
        guidance_row("6", D(2024, 9, 1), None),  # not evaluated yet
        guidance_row("7", D(2024, 8, 1), D(2025, 2, 1)),
    )
    return snap, ck, g


def test_guidance_rates_count_targets_by_level_and_completions() -> None:
    snap, ck, g = (ibis.memtable(t) for t in _guidance_case())
    assert reporting_cutoff(FY) == D(2025, 10, 31)
    [row] = rows(guidance_rate_table(snap, ck, g, FY, by=()))
    assert row == {
        "fiscal_year": FY,
        "targets": 5,  # members 1, 2, 3, 4, 6
        "targets_intensive": 2,  # 1, 4
        "targets_motivational": 3,  # 2, 3, 6
        "completed": 2,  # 1, 2
        "completed_intensive": 1,
        "completed_motivational": 1,
        "rate": 0.4,
        "rate_intensive": 0.5,
        "rate_motivational": 1 / 3,
    }
    [later] = rows(guidance_rate_table(snap, ck, g, FY, by=(), completed_by=D(2025, 11, 30)))
    assert (later["completed"], later["completed_motivational"]) == (3, 2)
    # Every checkup of the year, not only whole-year members: member 7 joins in.
    [every] = rows(guidance_rate_table(snap, ck, g, FY, by=(), members_only=False))
    assert (every["targets"], every["completed"]) == (6, 3)
    [by_insurer] = rows(guidance_rate_table(snap, ck, g, FY, by=("insurer", "sex")))
    assert (by_insurer["insurer"], by_insurer["insurer_kind"], by_insurer["sex"]) == (
        A,
        "kokuho_municipal",
        1,
    )


# -- from the lake -------------------------------------------------------------------------


class _Archive(SimpleNamespace):
    """Stands in for ``ArchiveContents`` (the lake reads only its attributes)."""


def _as_checkup(row: dict[str, Any]) -> Checkup:
    return Checkup(
        document=row["document"],
        insurer=row["insurer"],
        symbol=row["symbol"],
        number=row["number"],
        branch=row["branch"],
        sex=row["sex"],
        birth_date=row["birth_date"],
        exam_date=row["exam_date"],
        institution=row["institution"],
    )


def test_lake_rates_read_the_snapshot_and_ingested_rows(tmp_path: Path) -> None:
    snap, ck, g = _guidance_case()
    levels = {r["document"]: r["level"] for r in ck.to_pylist()}
    lake = Lake(
        tmp_path / "lake",
        measures=MeasureSpec(
            columns={"level": pa.int16()},
            measure=lambda c: SimpleNamespace(level=levels[c.document]),
        ),
    )
    with pytest.raises(LakeTableMissing, match="export it first"):
        checkup_rates(lake, FY)
    path = snapshot_path(lake, FY)
    path.parent.mkdir(parents=True)
    pq.write_table(snap, path)
    # No checkups ingested yet: everyone is in the denominator, nobody examined.
    [empty] = rows(checkup_rates(lake, FY))
    assert (empty["eligible"], empty["examined"]) == (6, 0)

    from kokuho.checkups._model import Guidance, GuidanceLevel

    archive = _Archive(
        path=Path("3711111111_37001500_202506011_1.zip"),
        digest="d" * 64,
        sender="3711111111",
        receiver="37001500",
        created=None,
        service_event="1",
        checkups=[_as_checkup(r) for r in ck.to_pylist()],
        guidance=[
            Guidance(
                document=r["document"],
                insurer=r["insurer"],
                symbol=r["symbol"],
                number=r["number"],
                branch=r["branch"],
                sex=r["sex"],
                birth_date=r["birth_date"],
                institution=r["institution"],
                level=GuidanceLevel(r["level"]),
                started_on=r["started_on"],
                evaluated_on=r["evaluated_on"],
            )
            for r in g.to_pylist()
        ],
    )
    report = lake.ingest_archive(archive)
    assert (report.checkups, report.guidance) == (9, 6)
    [c] = rows(checkup_rates(lake, FY))
    assert (c["insurer"], c["eligible"], c["examined"]) == (A, 6, 6)
    [gr] = rows(guidance_rates(lake, FY))
    assert (gr["targets"], gr["completed"], gr["rate"]) == (5, 2, 0.4)
    # Both at once, from one match: the same rows.
    from kokuho.checkups._rate_pair import lake_rate_tables

    both = lake_rate_tables(lake, FY)
    assert (rows(both[0]), rows(both[1])) == ([c], [gr])
    exclusions = tmp_path / "x.csv"
    exclusions.write_text(
        f"insurer,symbol,number,branch,reason,started_on,ended_on\n{A},S,1,,pregnant,2024-06-01,\n",
        "utf-8",
    )
    [x] = rows(checkup_rates(lake, FY, exclusions=exclusions))
    assert (x["eligible"], x["examined"]) == (5, 5)


# -- 減少率 ---------------------------------------------------------------------------------


def _cells(male: float, female: float) -> dict[tuple[int, str], float]:
    return {(sex, band): value for sex, value in ((1, male), (2, female)) for band in BANDS}


def test_reduction_rate_worked_example() -> None:
    population = {(sex, band): 1000 * sex for sex in (1, 2) for band in BANDS}
    baseline = _cells(0.20, 0.20)
    now = _cells(0.15, 0.10)
    # 2008: 0.20 × (7 × 1000 + 7 × 2000) = 4200; FY: 0.15 × 7000 + 0.10 × 14000 = 2450.
    assert estimated_targets(baseline, population) == pytest.approx(4200)
    result = reduction_rate(baseline, now, population)
    assert result.estimate == pytest.approx(2450)
    assert result.rate == pytest.approx(1750 / 4200)
    # Ageing alone is not improvement: the same shares give 0 whatever the year's population.
    assert reduction_rate(baseline, baseline, population).rate == 0
    del now[(2, "70-74")]
    with pytest.raises(ValueError, match="no share or population"):
        reduction_rate(baseline, now, population)


def test_target_shares_from_lake_rows() -> None:
    snap = snapshot(
        member(1, sex=1, born=D(1982, 6, 1)),  # 40-44
        member(2, sex=1, born=D(1981, 6, 1)),  # 40-44
        member(3, sex=1, born=D(1980, 6, 1)),  # 40-44
        member(4, sex=2, born=D(1953, 6, 1)),  # 70-74
        member(5, sex=2, born=D(1954, 6, 1)),  # 70-74
    )
    ck = checkups(
        exam("1", D(2024, 6, 1), 1, born=D(1982, 6, 1)),
        exam("2", D(2024, 6, 1), 3, born=D(1981, 6, 1)),
        exam("3", D(2024, 6, 1), 4, born=D(1980, 6, 1)),  # 判定不能: left out
        exam("4", D(2024, 6, 1), 2, born=D(1953, 6, 1), sex=2),
        exam("5", D(2024, 6, 1), 2, born=D(1954, 6, 1), sex=2),
    )
    table = target_share_table(ibis.memtable(snap), ibis.memtable(ck), FY)
    assert [tuple(r.values()) for r in rows(table)] == [
        (1, "40-44", 2, 1, 0.5),
        (2, "70-74", 2, 2, 1.0),
    ]
    assert shares_of(table) == {(1, "40-44"): 0.5, (2, "70-74"): 1.0}


def test_reduction_baseline_from_a_lake_year(tmp_path: Path) -> None:
    snap = snapshot(
        *(
            member(10 * sex + n, sex=sex, born=D(2024 - 42 - 5 * n, 6, 1))
            for sex in (1, 2)
            for n in range(7)
        )
    )
    lake = Lake(tmp_path / "lake")
    path = snapshot_path(lake, FY)
    path.parent.mkdir(parents=True)
    pq.write_table(snap, path)
    levels: dict[str, int] = {}
    archive_checkups = []
    for r in snap.to_pylist():
        c = exam(r["number"], D(2024, 6, 1), born=r["birth_date"], sex=r["sex"])
        levels[c["document"]] = 2 if r["sex"] == 1 else 3
        archive_checkups.append(_as_checkup(c))
    lake = Lake(
        tmp_path / "lake",
        measures=MeasureSpec(
            {"level": pa.int16()}, lambda c: SimpleNamespace(level=levels[c.document])
        ),
    )
    lake.ingest_archive(
        _Archive(
            path=Path("a.zip"),
            digest="e" * 64,
            sender="s",
            receiver="r",
            created=None,
            checkups=archive_checkups,
            guidance=[],
        )
    )
    shares = target_shares(lake, FY)
    assert shares == _cells(1.0, 0.0)
    population = {(sex, band): 100 for sex in (1, 2) for band in BANDS}
    assert reduction_rate(shares, _cells(0.5, 0.0), population).rate == pytest.approx(0.5)


def test_reduction_inputs_file(tmp_path: Path) -> None:
    shipped = load_reduction_inputs()
    assert shipped.population is None and shipped.baseline_shares is None
    assert not shipped.population_confirmed and not shipped.baseline_confirmed
    text = (
        "reference_population:\n  source: test\n  confirmed: false\n  counts:\n"
        + "".join(
            f"    {sex}: {{{', '.join(f'{b!r}: {n}' for b in BANDS)}}}\n"
            for sex, n in (("male", 1000), ("female", 2000))
        )
        + "baseline_shares:\n  fiscal_year: 2008\n  source: test\n  confirmed: false\n"
        + "  shares:\n"
        + "".join(
            f"    {sex}: {{{', '.join(f'{b!r}: 0.2' for b in BANDS)}}}\n"
            for sex in ("male", "female")
        )
    )
    path = tmp_path / "baseline.yaml"
    path.write_text(text, "utf-8")
    inputs = load_reduction_inputs(path)
    assert inputs.population is not None and inputs.baseline_shares is not None
    assert inputs.population[(2, "70-74")] == 2000
    assert estimated_targets(inputs.baseline_shares, inputs.population) == pytest.approx(4200)
    path.write_text(text.replace("'70-74': 2000", "'70-74': null"), "utf-8")
    with pytest.raises(ValueError, match="lacks"):
        load_reduction_inputs(path)


# -- targets -------------------------------------------------------------------------------


def test_targets_file_and_fallback() -> None:
    targets = load_targets()
    assert targets.term_of(2023) == 3 and targets.term_of(2024) == 4
    national = targets.find(FY, "national", "checkup")
    assert national is not None and (national.rate, national.confirmed) == (0.70, True)
    municipal = targets.find(FY, "kokuho_municipal", "guidance")
    assert municipal is not None and (municipal.rate, municipal.confirmed) == (0.60, False)
    assert all(
        not t.confirmed for t in targets.targets if t.term == 4 and t.scope == "kokuho_municipal"
    )
    # A kind without its own target is measured against the national one.
    kumiai = targets.find(FY, "kumiai", "guidance")
    assert kumiai is not None and (kumiai.scope, kumiai.rate) == ("national", 0.45)
    reduction = targets.find(FY, "kyokai", "reduction")
    assert reduction is not None and reduction.rate == 0.25
    with pytest.raises(ValueError, match="FY2030"):
        targets.term_of(2030)


def test_progress_gives_the_gap_per_insurer() -> None:
    snap, ck = ibis.memtable(_population()), ibis.memtable(_population_checkups())
    found = {p.group["insurer"]: p for p in progress(checkup_rate_table(snap, ck, FY))}
    a, b, k = found[A], found[B], found[K]
    assert (a.scope, a.target, a.confirmed) == ("kokuho_municipal", 0.60, False)
    assert a.met and a.shortfall == 0 and a.gap == pytest.approx(0.60 - 2 / 3)
    # B: 1 of 3 examined against 60 %: ceil(1.8) = 2 受診者 needed, 1 more.
    assert not b.met and b.shortfall == 1 and b.gap == pytest.approx(0.60 - 1 / 3)
    assert (k.scope, k.target, k.met) == ("kyokai", 0.70, True)
    by_municipality = progress(checkup_rate_table(snap, ck, FY, by=("municipality",)))
    assert [(p.group["municipality"], p.scope) for p in by_municipality] == [
        ("372013", "kokuho_municipal"),
        ("372021", "kokuho_municipal"),
    ]
    g_snap, g_ck, g_g = (ibis.memtable(t) for t in _guidance_case())
    [g] = progress(guidance_rate_table(g_snap, g_ck, g_g, FY, by=()))
    # National 45 %: 2 of 5 完了, ceil(2.25) = 3 needed.
    assert (g.measure, g.target, g.shortfall, g.met) == ("guidance", 0.45, 1, False)
    r = reduction_progress(
        reduction_rate(
            _cells(0.2, 0.2), _cells(0.16, 0.16), {(s, b): 10 for s in (1, 2) for b in BANDS}
        ),
        FY,
    )
    assert r.gap == pytest.approx(0.05) and not r.met
