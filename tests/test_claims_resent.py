"""A レセプト sent again in a later 請求年月 (a 月遅れ請求, a 再請求 after a 返戻, corrected or
not) replaces the earlier one instead of counting twice: one claim is (kind, 都道府県 +
医療機関コード, 診療年月, レセプト種別, 保険者番号・記号・番号・枝番, 生年月日, 男女区分,
処方医療機関), and of its versions those of the latest 請求年月 count, whatever the order the
files were ingested in. The レセプト番号 is not part of it: it numbers the claims of one file.
Worked on the outpatient fixture's two claims (docs/formats.md §7, "A claim sent again")."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from kokuho.claims import (
    BANDS,
    ClaimsLake,
    ReferencePopulation,
    cost_table,
    generic_share,
    read_claim_file,
    sample_masters,
    write_claim_file,
)
from kokuho.claims._insured import INSURED_COLUMNS
from kokuho.claims._lake import CLAIM_TABLES
from kokuho.claims._model import ClaimFile
from kokuho.provision import lake_claims

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
OLD_LAKE = Path(__file__).parent / "fixtures" / "claims_lake_v1"  # OUTPATIENT and INPATIENT
OUTPATIENT = FIXTURES / "medical_outpatient.UKE"
PHARMACY = FIXTURES / "pharmacy.UKE"
D = dt.date
MAY, JUNE, JULY = D(2024, 5, 1), D(2024, 6, 1), D(2024, 7, 1)
#: 請求年月 2024-05, 診療年月 2024-04: 香川太郎 (1112 本人外来, 463 点, 枝番 01) and
#: 讃岐花子 (1122 本人外来 + 公費, 500 点, no 記号 nor 枝番).
BASE = read_claim_file(OUTPATIENT)
TARO, HANAKO = BASE.claims


@pytest.fixture
def lake(tmp_path: Path) -> ClaimsLake:
    return ClaimsLake(tmp_path / "lake")


def billed(month: dt.date, file: ClaimFile = BASE, *claims: Any) -> ClaimFile:
    """``file`` with its 請求年月 changed (and its claims, when given)."""
    return dataclasses.replace(file, billing_month=month, claims=claims or file.claims)


def write(folder: Path, name: str, file: ClaimFile) -> Path:
    path = folder / name
    write_claim_file(file, path)
    return path


def corrected() -> ClaimFile:
    """The July 再請求: 太郎's claim corrected to 400 点 without its second drug; 花子's as
    before."""
    taro = dataclasses.replace(TARO, total_points=400, drugs=TARO.drugs[:1])
    return billed(JULY, BASE, taro, HANAKO)


def claim_rows(lake: ClaimsLake, **kwargs: Any) -> list[tuple[Any, ...]]:
    rows = lake.table("claims", **kwargs).to_pyarrow().to_pylist()
    return sorted((r["number"], r["receipt_type"], r["billing_month"], r["points"]) for r in rows)


def content(lake: ClaimsLake) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the claim tables, sorted (claim ids name the file a row came from)."""
    found = {}
    for name in CLAIM_TABLES:
        rows = lake.table(name).to_pyarrow().to_pylist()
        found[name] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return found


def count(lake: ClaimsLake, name: str, **kwargs: Any) -> int:
    return int(lake.table(name, **kwargs).count().to_pyarrow().as_py())


def test_a_claim_sent_again_counts_once(lake: ClaimsLake, tmp_path: Path) -> None:
    may = write(tmp_path, "may.UKE", BASE)
    july = write(tmp_path, "july.UKE", billed(JULY))
    alone = ClaimsLake(tmp_path / "alone")
    alone.ingest([july])
    lake.ingest([may, july])
    assert claim_rows(lake) == [
        ("1234", "1112", JULY, 463),
        ("5678", "1122", JULY, 500),
    ]
    assert content(lake) == content(alone)  # the July version's rows, every table
    assert lake.table("claims").points.sum().to_pyarrow().as_py() == 963
    every = {name: count(lake, name, versions=True) for name in CLAIM_TABLES}
    assert every == {name: 2 * count(alone, name) for name in CLAIM_TABLES}
    assert count(lake, "claims", months=["2024-04"]) == 2


def test_a_corrected_claim_keeps_the_later_amounts(lake: ClaimsLake, tmp_path: Path) -> None:
    lake.ingest([write(tmp_path, "may.UKE", BASE), write(tmp_path, "july.UKE", corrected())])
    assert claim_rows(lake) == [
        ("1234", "1112", JULY, 400),
        ("5678", "1122", JULY, 500),
    ]
    drugs = lake.table("claim_drugs").to_pyarrow().to_pylist()
    assert sorted((d["number"], d["code"]) for d in drugs) == [
        ("1234", "699000102"),  # 太郎's 699000123 was left out in July
        ("5678", "699000148"),
        ("5678", "699000173"),
    ]


def test_the_versions_read_the_same_in_any_order(tmp_path: Path) -> None:
    """May, a June re-send with only its 請求年月 changed, the corrected July one: ingested one
    call each in every order, or in one call: the July rows."""
    files = [
        write(tmp_path, "may.UKE", BASE),
        write(tmp_path, "june.UKE", billed(JUNE)),
        write(tmp_path, "july.UKE", corrected()),
    ]
    reference = ClaimsLake(tmp_path / "reference")
    reference.ingest([files[2]])
    orders = [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)]
    for number, order in enumerate(orders):
        one_by_one = ClaimsLake(tmp_path / f"one{number}")
        for index in order:
            one_by_one.ingest([files[index]])
        together = ClaimsLake(tmp_path / f"together{number}")
        together.ingest([files[i] for i in order])
        assert content(one_by_one) == content(reference), order
        assert content(together) == content(reference), order


def test_inpatient_and_outpatient_of_one_month_are_two_claims(
    lake: ClaimsLake, tmp_path: Path
) -> None:
    """入院 and 入院外 of one person-month at one institution are two レセプト (their レセプト種別
    differ: 1111 and 1112); re-sending the 外来 one replaces it alone."""
    ward = dataclasses.replace(
        TARO, receipt_number=3, receipt_type="1111", admission_date=D(2024, 4, 20),
        total_points=2000,
    )  # fmt: skip
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, BASE, TARO, ward))])
    assert claim_rows(lake) == [("1234", "1111", MAY, 2000), ("1234", "1112", MAY, 463)]
    taro = dataclasses.replace(TARO, total_points=400)
    lake.ingest([write(tmp_path, "july.UKE", billed(JULY, BASE, taro))])
    assert claim_rows(lake) == [("1234", "1111", MAY, 2000), ("1234", "1112", JULY, 400)]
    settings = lake.table("claims").to_pyarrow().column("setting").to_pylist()
    assert sorted(settings) == ["inpatient", "outpatient"]


def test_two_claims_of_one_billing_are_never_merged(lake: ClaimsLake, tmp_path: Path) -> None:
    """Twins on one 記号・番号 without 枝番 (same 生年月日, 男女区分, レセプト種別): kokuho cannot
    tell them apart, but two claims billed in the same 請求年月 both count, and both are replaced
    by their re-send."""
    twin = dataclasses.replace(HANAKO, receipt_number=3, name="讃岐　月子", total_points=300)
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, BASE, TARO, HANAKO, twin))])
    assert [r[3] for r in claim_rows(lake)] == [463, 300, 500]
    lake.ingest([write(tmp_path, "july.UKE", billed(JULY, BASE, TARO, HANAKO, twin))])
    assert [r[2:] for r in claim_rows(lake)] == [(JULY, 463), (JULY, 300), (JULY, 500)]


def test_what_differs_makes_another_claim(lake: ClaimsLake, tmp_path: Path) -> None:
    """Another 診療年月, insured number, 枝番, 生年月日 or レセプト種別 (e.g. 本人 → 家族 in the
    month: the 記載要領 asks for a second 明細書) is another claim: all count."""
    variants = [
        dataclasses.replace(TARO, service_month=D(2024, 3, 1), diagnoses=TARO.diagnoses[:2]),
        dataclasses.replace(TARO, number="1235"),
        dataclasses.replace(TARO, branch="02"),
        dataclasses.replace(TARO, birth_date=D(1950, 3, 3)),
        dataclasses.replace(TARO, receipt_type="1116"),
    ]
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, BASE, TARO))])
    for number, variant in enumerate(variants):
        lake.ingest([write(tmp_path, f"july{number}.UKE", billed(JULY, BASE, variant))])
    assert count(lake, "claims") == 6


def test_a_public_fund_only_claim_is_never_merged(lake: ClaimsLake, tmp_path: Path) -> None:
    """A 公費単独 claim (no HO) has no insured number in the lake: it stays a claim of its own
    (its re-send counts again; a 国保 insurer receives none)."""
    alone = dataclasses.replace(
        HANAKO, insurer_number="", symbol="", number="", receipt_type="1212"
    )
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, BASE, alone))])
    lake.ingest([write(tmp_path, "july.UKE", billed(JULY, BASE, alone))])
    assert claim_rows(lake) == [("", "1212", MAY, 500), ("", "1212", JULY, 500)]


def test_pharmacy_claims_of_two_prescribers_are_two(lake: ClaimsLake, tmp_path: Path) -> None:
    """One pharmacy, one person, one 調剤年月: a claim per 処方医療機関; re-sent, still two."""
    base = read_claim_file(PHARMACY)
    first = base.claims[0]
    other = dataclasses.replace(first, receipt_number=2, prescriber="7654325",
                                total_points=300)  # fmt: skip
    lake.ingest([write(tmp_path, "may.UKE", billed(MAY, base, first, other))])
    lake.ingest([write(tmp_path, "july.UKE", billed(JULY, base, first, other))])
    rows = lake.table("claims").to_pyarrow().to_pylist()
    assert sorted((r["prescriber"], r["billing_month"], r["points"]) for r in rows) == [
        ("3711234561", JULY, 650),
        ("3717654325", JULY, 300),
    ]


def test_a_lake_written_before_batches_applies_the_rule(tmp_path: Path) -> None:
    """The format-1 fixture lake (OUTPATIENT and the inpatient fixture, 請求年月 2024-05) has
    every column the rule reads: a July re-send of the outpatient file replaces its claims."""
    old = ClaimsLake(tmp_path / "old")
    shutil.copytree(OLD_LAKE, old.root)
    assert count(old, "claims") == 3
    old.ingest([write(tmp_path, "july.UKE", billed(JULY))])
    months = sorted(r["billing_month"] for r in old.table("claims").to_pyarrow().to_pylist())
    assert months == [MAY, JULY, JULY]  # the inpatient claim and the two re-sent ones


def test_the_figures_count_a_resent_claim_once(lake: ClaimsLake, tmp_path: Path) -> None:
    """医療費, the 後発医薬品使用割合's quantities and the provision extract's claims."""
    masters = sample_masters()
    lake.load_masters(masters.drugs, masters.generic_list)
    lake.ingest([write(tmp_path, "may.UKE", BASE), write(tmp_path, "july.UKE", corrected())])
    reference = ClaimsLake(tmp_path / "reference")
    reference.load_masters(masters.drugs, masters.generic_list)
    reference.ingest([write(tmp_path, "only.UKE", corrected())])
    # 医療費 of 370015 in FY2024: (400 + 500) 点 × 10 円, not the May 963 added to it.
    reference_population = ReferencePopulation(
        bands={band: 1.0 for band in BANDS}, age_month=9, age_day_of_month=30,
        national_cost={2024: 50_000.0}, default_national_cost=None, unconfirmed=(),
    )  # fmt: skip
    insured = ibis.memtable(
        pa.table(
            {"insurer": ["370015"], "service_month": [D(2024, 4, 1)], "band": ["70-74"],
             "persons": [2]},
            schema=pa.schema(INSURED_COLUMNS),
        )
    )  # fmt: skip
    costs = cost_table(
        lake.table("claims"), insured, fiscal_year=2024, reference=reference_population,
        prefecture=False,
    ).to_pyarrow().to_pylist()  # fmt: skip
    assert [(r["insurer"], r["cost"]) for r in costs] == [("370015", 9_000)]
    shares = generic_share(lake, months=["2024-04"], by=()).to_pyarrow().to_pylist()
    expected = generic_share(reference, months=["2024-04"], by=()).to_pyarrow().to_pylist()
    assert shares == expected
    extracted = lake_claims(lake, D(2024, 4, 1), D(2024, 4, 30))
    assert sorted(c.points for c in extracted) == [400, 500]


def test_a_lake_reads_a_version_ingested_after_it_was_read(
    lake: ClaimsLake, tmp_path: Path
) -> None:
    """What one ``ClaimsLake`` found replaced is kept for the files its manifest names: a
    later ingest (here through another instance) is seen by the next read."""
    lake.ingest([write(tmp_path, "may.UKE", BASE), write(tmp_path, "june.UKE", billed(JUNE))])
    assert [r[2] for r in claim_rows(lake)] == [JUNE, JUNE]
    assert [r[2] for r in claim_rows(lake, months=["2024-04"])] == [JUNE, JUNE]
    ClaimsLake(lake.root).ingest([write(tmp_path, "july.UKE", corrected())])
    assert claim_rows(lake, months=["2024-04"]) == [
        ("1234", "1112", JULY, 400),
        ("5678", "1122", JULY, 500),
    ]
    assert count(lake, "claim_drugs") == 3
