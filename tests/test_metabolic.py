"""メタボリックシンドローム判定 (9N501: 基準該当 / 予備群該当 / 非該当 / 判定不能), worked by
hand from its criteria (checkups-claims.md §1.2): the waist is mandatory, BMI is not used;
glucose ≥110 (HbA1c ≥6.0 only without a glucose value), TG ≥150 or HDL <40, BP ≥130/≥85;
medication for a factor meets it; waist + ≥2 → 基準該当, waist + 1 → 予備群該当.

Every expected value is written from that text. The agreement of the Ibis version on random
records is tested in test_stratify.py together with 階層化.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ibis
import pyarrow as pa
import pytest

from kokuho.checkups import Metabolic
from kokuho.checkups._measures import MEASURE_COLUMNS, MEASURE_SCHEMA, Measures
from kokuho.checkups._metabolic import metabolic
from kokuho.checkups._rules import load_rules
from kokuho.checkups._stratify_ibis import metabolic_table

MEETS = Metabolic.MEETS  # 基準該当
PRE = Metabolic.PRE  # 予備群該当
NO = Metabolic.NO  # 非該当
UNDETERMINED = Metabolic.UNDETERMINED  # 判定不能

# A man with a waist of 90 (over the cut-off) and every 選択項目 measured and normal.
WAIST = dict(
    sex=1,
    age=55,
    waist=90.0,
    bmi=23.0,
    sbp=120.0,
    dbp=70.0,
    tg_fasting=100.0,
    hdl=60.0,
    glucose_fasting=90.0,
    blood_draw_timing="2",
    med_bp=False,
    med_glucose=False,
    med_lipid=False,
)
HIGH_BP = dict(sbp=140.0)
HIGH_GLUCOSE = dict(glucose_fasting=120.0)
HIGH_TG = dict(tg_fasting=200.0)
NO_GLUCOSE = dict(glucose_fasting=None, blood_draw_timing="3")


def person(*parts: dict[str, Any], **changes: Any) -> Measures:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    merged.update(changes)
    return Measures(**merged)


# (name, measures, result, factors)
CASES: list[tuple[str, Measures, Metabolic, tuple[str, ...]]] = [
    # 必須項目: 腹囲
    ("male waist 85.0 with one item is 予備群", person(WAIST, HIGH_BP, waist=85.0), PRE, ("bp",)),
    (
        "male waist 84.9 with three items is 非該当",
        person(WAIST, HIGH_BP, HIGH_GLUCOSE, HIGH_TG, waist=84.9),
        NO,
        (),
    ),
    (
        "female waist 90.0 with one item is 予備群",
        person(WAIST, HIGH_BP, sex=2, waist=90.0),
        PRE,
        ("bp",),
    ),
    (
        "female waist 89.9 with one item is 非該当",
        person(WAIST, HIGH_BP, sex=2, waist=89.9),
        NO,
        (),
    ),
    (
        "BMI 30 does not replace the waist",
        person(WAIST, HIGH_BP, HIGH_GLUCOSE, waist=80.0, bmi=30.0),
        NO,
        (),
    ),
    (
        "no waist is 判定不能 whatever the rest",
        person(WAIST, HIGH_BP, HIGH_GLUCOSE, HIGH_TG, waist=None, bmi=30.0),
        UNDETERMINED,
        (),
    ),
    (
        "no waist with a large visceral fat area is 判定不能",
        person(WAIST, HIGH_BP, HIGH_GLUCOSE, waist=None, visceral_fat_area=150.0),
        UNDETERMINED,
        (),
    ),
    ("unknown sex: no cut-off, 判定不能", person(WAIST, HIGH_BP, sex=9), UNDETERMINED, ()),
    # 判定
    ("waist and no item is 非該当", person(WAIST), NO, ()),
    ("waist and two items is 基準該当", person(WAIST, HIGH_BP, HIGH_TG), MEETS, ("lipid", "bp")),
    (
        "waist and three items is 基準該当",
        person(WAIST, HIGH_BP, HIGH_TG, HIGH_GLUCOSE),
        MEETS,
        ("glucose", "lipid", "bp"),
    ),
    # 血糖
    ("fasting glucose 110 meets glucose", person(WAIST, glucose_fasting=110.0), PRE, ("glucose",)),
    ("fasting glucose 109.9 does not", person(WAIST, glucose_fasting=109.9), NO, ()),
    (
        "fasting glucose 100 (the 階層化 cut-off) does not",
        person(WAIST, glucose_fasting=100.0),
        NO,
        (),
    ),
    (
        "HbA1c 6.0 without a glucose value meets glucose",
        person(WAIST, glucose_fasting=None, hba1c=6.0),
        PRE,
        ("glucose",),
    ),
    (
        "HbA1c 5.9 without a glucose value does not",
        person(WAIST, glucose_fasting=None, hba1c=5.9),
        NO,
        (),
    ),
    (
        "HbA1c 6.0 is not used when a fasting glucose was measured",
        person(WAIST, glucose_fasting=105.0, hba1c=6.0),
        NO,
        (),
    ),
    (
        "random glucose 110 drawn 3.5–10 h meets glucose",
        person(WAIST, NO_GLUCOSE, glucose_random=110.0, hba1c=5.0),
        PRE,
        ("glucose",),
    ),
    (
        "random glucose 109.9 keeps HbA1c 6.5 out",
        person(WAIST, NO_GLUCOSE, glucose_random=109.9, hba1c=6.5),
        NO,
        (),
    ),
    (
        "random glucose drawn <3.5 h is not a glucose value: HbA1c 6.0 decides",
        person(WAIST, NO_GLUCOSE, glucose_random=90.0, hba1c=6.0, blood_draw_timing="4"),
        PRE,
        ("glucose",),
    ),
    (
        "no glucose and no HbA1c does not meet glucose",
        person(WAIST, HIGH_BP, glucose_fasting=None),
        PRE,
        ("bp",),
    ),
    # 脂質
    ("TG 150 meets lipids", person(WAIST, tg_fasting=150.0), PRE, ("lipid",)),
    ("TG 149 does not", person(WAIST, tg_fasting=149.0), NO, ()),
    ("HDL 39.9 meets lipids", person(WAIST, hdl=39.9), PRE, ("lipid",)),
    ("HDL 40 does not", person(WAIST, hdl=40.0), NO, ()),
    (
        "a random TG of 300 has no metabolic cut-off",
        person(WAIST, tg_fasting=None, tg_random=300.0, blood_draw_timing="3"),
        NO,
        (),
    ),
    # 血圧
    ("SBP 130 meets blood pressure", person(WAIST, sbp=130.0), PRE, ("bp",)),
    ("SBP 129 does not", person(WAIST, sbp=129.0), NO, ()),
    ("DBP 85 meets blood pressure", person(WAIST, dbp=85.0), PRE, ("bp",)),
    ("DBP 84 does not", person(WAIST, dbp=84.0), NO, ()),
    # 服薬 counts as meeting the factor
    ("medication for blood pressure meets it", person(WAIST, med_bp=True), PRE, ("bp",)),
    ("medication for glucose meets it", person(WAIST, med_glucose=True), PRE, ("glucose",)),
    ("medication for lipids meets it", person(WAIST, med_lipid=True), PRE, ("lipid",)),
    (
        "medication for BP and glucose is 基準該当",
        person(WAIST, med_bp=True, med_glucose=True),
        MEETS,
        ("glucose", "bp"),
    ),
    (
        "medication plus a high value of the same factor counts once",
        person(WAIST, HIGH_BP, med_bp=True),
        PRE,
        ("bp",),
    ),
    (
        "medication without the waist is still 非該当",
        person(WAIST, med_bp=True, med_glucose=True, waist=80.0),
        NO,
        (),
    ),
]


@pytest.mark.parametrize(
    ("m", "result", "factors"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_worked_case(m: Measures, result: Metabolic, factors: tuple[str, ...]) -> None:
    got = metabolic(m)
    assert (got.result, got.factors) == (result, factors), got.reasons


def test_the_worked_cases_give_the_same_answers_as_tables() -> None:
    rows = []
    for _, m, _, _ in CASES:
        row: dict[str, Any] = {name: None for name in MEASURE_COLUMNS}
        row.update(dataclasses.asdict(m), fiscal_year=2024)
        rows.append(row)
    table = ibis.memtable(pa.Table.from_pylist(rows, schema=MEASURE_SCHEMA))
    got = ibis.duckdb.connect().to_pyarrow(metabolic_table(table)).column("metabolic").to_pylist()
    assert got == [int(result) for _, _, result, _ in CASES]


def test_reasons_show_why() -> None:
    reasons = metabolic(person(WAIST, glucose_fasting=None, hba1c=6.0)).reasons
    assert reasons[0] == "腹囲(男性) 90 ≥ 85 (必須項目)"
    assert "血糖: 血糖値がないため HbA1c 6 ≥ 6" in reasons
    assert reasons[-1] == "選択項目 1 → 予備群該当"
    assert metabolic(person(WAIST, waist=None)).reasons == ("腹囲なし → 判定不能",)


def test_random_glucose_is_a_setting() -> None:
    rules = load_rules()
    off = dataclasses.replace(
        rules, metabolic=dataclasses.replace(rules.metabolic, random_glucose=False)
    )
    m = person(WAIST, NO_GLUCOSE, glucose_random=130.0, hba1c=5.0)
    assert metabolic(m).result is PRE  # the random glucose 130 ≥ 110 counts
    assert metabolic(m, rules=off).result is NO  # only HbA1c 5.0 is left
    assert {"metabolic.random_glucose", "metabolic.glucose_random_mg_dl"} <= set(rules.unconfirmed)
