"""後発医薬品使用割合 (数量ベース): worked cases of the definition."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kokuho.claims import (
    GenericClasses,
    generic_share,
    generic_share_table,
    load_generic_classes,
    parse_generic_classes,
)
from tests.claimrows import INSURER, OTHER_INSURER, MemoryLake, claim, drug, master

CLASSES = GenericClasses(generic=frozenset({"3", "★"}), originator=frozenset({"2", "☆"}))
MASTER = [
    master("610000001", "2149", "3"),  # 後発医薬品
    master("610000002", "2149", "★"),  # 後発, priced at or above its originator
    master("610000003", "2149", "2"),  # 先発 with a generic
    master("610000004", "2149", "☆"),  # 先発 with a generic priced at or above it
    master("610000005", "2149", "1"),  # 先発 without a generic: on neither side
    master("610000006", "2149", ""),  # not on the MHLW list: on neither side
]


def lake() -> MemoryLake:
    a_out = claim("a1:1", "2020-04", setting="outpatient")
    a_rx = claim("a2:1", "2020-04", kind="pharmacy", setting="pharmacy", prescriber="3710112345")
    a_may = claim("a3:1", "2020-05")
    b_in = claim("b1:1", "2020-04", insurer=f"00{OTHER_INSURER}", setting="inpatient")
    late = claim("a4:1", "2021-04")
    drugs = [
        drug(a_out, "610000001", 30), drug(a_out, "610000003", 10),
        drug(a_out, "610000005", 100), drug(a_out, "610000006", 50),
        drug(a_out, "699999999", 7),  # not in the master at all
        drug(a_rx, "610000002", 20), drug(a_rx, "610000004", 40),
        drug(a_may, "610000005", 12),  # only a drug without a generic in May
        drug(b_in, "610000001", 3), drug(b_in, "610000003", 1),
        drug(late, "610000001", 1000),
    ]  # fmt: skip
    return MemoryLake(
        claims=[a_out, a_rx, a_may, b_in, late], claim_drugs=drugs, drug_master=MASTER
    )


def rows(table: Any) -> list[dict[str, Any]]:
    return list(table.to_pyarrow().to_pylist())


def test_share_by_insurer_and_month() -> None:
    found = rows(generic_share(lake(), fiscal_year=2020, classes=CLASSES))
    assert found == [
        # 30 (3) + 20 (★) generic; 10 (2) + 40 (☆) originator: 50 / 100.
        {"insurer": INSURER, "service_month": dt.date(2020, 4, 1), "generic_quantity": 50.0,
         "originator_quantity": 50.0, "share": 0.5},
        # Nothing on either side: the share is null, not 0.
        {"insurer": INSURER, "service_month": dt.date(2020, 5, 1), "generic_quantity": 0.0,
         "originator_quantity": 0.0, "share": None},
        # The 8-digit form of the 国保 number is the same insurer.
        {"insurer": OTHER_INSURER, "service_month": dt.date(2020, 4, 1), "generic_quantity": 3.0,
         "originator_quantity": 1.0, "share": 0.75},
    ]  # fmt: skip


def test_share_by_setting_and_kind() -> None:
    source = lake()
    found = rows(generic_share(source, months=["2020-04"], by=("insurer", "setting"),
                               classes=CLASSES))  # fmt: skip
    assert [(r["insurer"], r["setting"], r["share"]) for r in found] == [
        (INSURER, "outpatient", 30 / 40),  # 医科入院外
        (INSURER, "pharmacy", 20 / 60),  # 調剤
        (OTHER_INSURER, "inpatient", 0.75),  # 医科入院
    ]
    by_kind = rows(generic_share(source, months=["2020-04"], by=("kind",), classes=CLASSES))
    assert [(r["kind"], r["generic_quantity"], r["originator_quantity"]) for r in by_kind] == [
        ("medical", 33.0, 11.0), ("pharmacy", 20.0, 40.0),
    ]  # fmt: skip
    # The whole lake in one row, the late claim of FY2021 included.
    [whole] = rows(generic_share(source, by=(), classes=CLASSES))
    assert (whole["generic_quantity"], whole["originator_quantity"]) == (1053.0, 51.0)


def test_bad_groupings_are_refused() -> None:
    source = lake()
    drugs, master_table = source.table("claim_drugs"), source.table("drug_master")
    with pytest.raises(ValueError, match="cannot group the generic share by prefecture"):
        generic_share_table(drugs, master_table, by=("prefecture",), classes=CLASSES)
    with pytest.raises(ValueError, match="needs the claims table"):
        generic_share_table(drugs, master_table, by=("setting",), classes=CLASSES)
    with pytest.raises(ValueError, match="named twice"):
        generic_share_table(drugs, master_table, by=("kind", "kind"), classes=CLASSES)
    with pytest.raises(ValueError, match="not a month"):
        generic_share(source, months=["2020/04"], classes=CLASSES)


def test_the_packaged_classes_put_3_and_star_on_the_generic_side() -> None:
    classes = load_generic_classes()
    assert classes.generic == {"3", "★"}
    assert classes.originator == {"2", "☆"}
    assert rows(generic_share(lake(), months=["2020-04"], by=("insurer",))) == rows(
        generic_share(lake(), months=["2020-04"], by=("insurer",), classes=CLASSES)
    )
    head = "format: kokuho generic classes 1\nclasses:\n"
    with pytest.raises(ValueError, match="counts_as 'both'"):
        parse_generic_classes(head + "  '3': {counts_as: generic}\n  '2': {counts_as: both}\n")
    with pytest.raises(ValueError, match="need a generic and an originator"):
        parse_generic_classes(head + "  '3': {counts_as: generic}\n")
    with pytest.raises(ValueError, match="unknown format"):
        parse_generic_classes("classes: {}\n")


# -- end to end: hand-written レセ電 files through the lake ---------------------------------------
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "claims"


def test_hand_written_files_through_the_lake(tmp_path: Path) -> None:
    from kokuho.claims import (
        ClaimsLake,
        ClaimsTreatment,
        duplicate_prescribing,
        load_prescribing_rules,
        sample_masters,
    )

    lake = ClaimsLake(tmp_path / "lake")
    lake.ingest([FIXTURES / "medical_outpatient.UKE", FIXTURES / "pharmacy.UKE"])
    masters = sample_masters()
    lake.load_masters(masters.drugs, masters.generic_list)
    lake.load_disease_master(masters.diseases)
    [row] = rows(generic_share(lake, fiscal_year=2024))
    # 香川太郎 at the clinic: メトホルミン「ＳＹＮ」(3) 2 錠 × 14 days = 28, シンセカンデ (2) 1 × 14
    # = 14. 讃岐花子: ランソプラゾール「ＳＹＮ」(3) 1 × 28 = 28, シンセロキソテープ (2) 7 × 1 = 7.
    # The pharmacy (太郎): メトホルミン 2 × 28 = 56, シンセカンデ 1 × 28 = 28,
    # ロキソテープ「ＳＹＮ」(3) 7 × 1 = 7, ゾルピデム「ＳＹＮ」(3) 1 × (10 + 5) = 15.
    generic, originator = 28 + 28 + 56 + 7 + 15, 14 + 7 + 28
    assert (row["insurer"], row["service_month"]) == (INSURER, dt.date(2024, 4, 1))
    assert (row["generic_quantity"], row["originator_quantity"]) == (generic, originator)
    assert row["share"] == pytest.approx(134 / 183)
    # The clinic's own drug and the pharmacy's fill of its prescription are one institution.
    assert rows(duplicate_prescribing(lake, fiscal_year=2024)) == []
    # 太郎's 2型糖尿病 (9900002, E11 in the loaded 傷病名マスター) with no code or drug in the
    # rules: treated through the master alone.
    bare = dataclasses.replace(
        load_prescribing_rules(), diabetes_diagnoses=frozenset(),
        diabetes_efficacies=frozenset(), diabetes_drug_codes=frozenset(),
    )  # fmt: skip
    treatment = ClaimsTreatment(lake, rules=bare)
    assert treatment.status(f"{INSURER}:香川:1234:01", 2024) == "treated"
    assert treatment.status(f"{INSURER}::5678:", 2024) == "untreated"


@pytest.mark.parametrize("month", ["2020-4", " 2020-04", "+2020-04", "２０２０-０４", "٢٠٢٠-٠٤"])
def test_a_month_is_written_yyyy_mm(month: str) -> None:
    """int() read each of these, so the month was taken, matched no partition (the lake's are
    named 2020-04) and the report was empty: as if nothing had been prescribed."""
    with pytest.raises(ValueError, match="not a month"):
        generic_share(lake(), months=[month], classes=CLASSES)
