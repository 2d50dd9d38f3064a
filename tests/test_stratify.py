"""階層化 (特定保健指導の対象者の選定), worked by hand from the rule text of
標準的な健診・保健指導プログラム ステップ1〜4 (checkups-claims.md §1.1).

Every expected level, group and risk below was written from the rule text, never computed by
the code under test. The last test checks that the Ibis version (on DuckDB) and the pure-Python
version agree row by row on random records, for both terms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokuho.checkups import Checkup, GuidanceLevel, Items, Observation
from kokuho.checkups._measures import (
    IDENTIFIER_COLUMNS,
    MEASURE_COLUMNS,
    MEASURE_SCHEMA,
    Measures,
    measure_row,
    measures,
)
from kokuho.checkups._metabolic import metabolic
from kokuho.checkups._rules import load_rules, parse_rules, term_for
from kokuho.checkups._stratify import stratify
from kokuho.checkups._stratify_ibis import disagreements, metabolic_table, stratify_table
from kokuho.ids import FiscalYear

INTENSIVE = GuidanceLevel.INTENSIVE  # 積極的支援
MOTIVATIONAL = GuidanceLevel.MOTIVATIONAL  # 動機付け支援
NONE = GuidanceLevel.NONE  # なし (情報提供)
UNDETERMINED = GuidanceLevel.UNDETERMINED  # 判定不能

# A 50-year-old man with every risk item measured and normal, not smoking, no medication,
# blood drawn fasting; each case changes only what it is about.
NORMAL: dict[str, Any] = dict(
    sex=1,
    age=50,
    waist=80.0,
    bmi=22.0,
    sbp=120.0,
    dbp=70.0,
    tg_fasting=100.0,
    hdl=60.0,
    glucose_fasting=90.0,
    blood_draw_timing="2",
    med_bp=False,
    med_glucose=False,
    med_lipid=False,
    smoking="3",
)
GROUP_1 = dict(NORMAL, waist=90.0)  # 腹囲 ≥85 (male)
GROUP_2 = dict(NORMAL, waist=80.0, bmi=26.0)  # 腹囲 <85, BMI ≥25
NOT_FASTING = dict(tg_fasting=None, glucose_fasting=None, blood_draw_timing="3")

BP = dict(sbp=140.0)
LIPID = dict(hdl=35.0)
GLUCOSE = dict(glucose_fasting=110.0)
SMOKER = dict(smoking="1")


def person(*parts: dict[str, Any], **changes: Any) -> Measures:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    merged.update(changes)
    return Measures(**merged)


# (name, measures, term, level, group, risks)
CASES: list[tuple[str, Measures, int, GuidanceLevel, int | None, tuple[str, ...]]] = [
    # ステップ1: 腹囲, 内臓脂肪面積, BMI
    ("male waist 85.0 is group 1", person(NORMAL, BP, waist=85.0), 4, MOTIVATIONAL, 1, ("bp",)),
    ("male waist 84.9 is not", person(NORMAL, BP, waist=84.9), 4, NONE, None, ("bp",)),
    (
        "female waist 90.0 is group 1",
        person(NORMAL, BP, sex=2, waist=90.0),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    ("female waist 89.9 is not", person(NORMAL, BP, sex=2, waist=89.9), 4, NONE, None, ("bp",)),
    (
        "female waist 89.9 with BMI 25.0 is group 2",
        person(NORMAL, BP, sex=2, waist=89.9, bmi=25.0),
        4,
        MOTIVATIONAL,
        2,
        ("bp",),
    ),
    (
        "male waist 85.0 decides before BMI 30",
        person(NORMAL, BP, waist=85.0, bmi=30.0),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    ("BMI 25.0 is group 2", person(NORMAL, BP, bmi=25.0), 4, MOTIVATIONAL, 2, ("bp",)),
    ("BMI 24.9 is 情報提供", person(NORMAL, BP, bmi=24.9), 4, NONE, None, ("bp",)),
    (
        "visceral fat 100 is group 1 under a small waist",
        person(NORMAL, BP, visceral_fat_area=100.0),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    (
        "visceral fat 99.9 decides over a large waist",
        person(NORMAL, BP, waist=95.0, visceral_fat_area=99.9),
        4,
        NONE,
        None,
        ("bp",),
    ),
    (
        "visceral fat 99.9 with BMI 25 is group 2",
        person(NORMAL, BP, visceral_fat_area=99.9, bmi=25.0),
        4,
        MOTIVATIONAL,
        2,
        ("bp",),
    ),
    (
        "visceral fat 100 without a waist",
        person(NORMAL, BP, waist=None, visceral_fat_area=100.0),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    # ステップ1 with items missing
    (
        "no waist, no visceral fat, no BMI: 判定不能",
        person(NORMAL, BP, waist=None, bmi=None),
        4,
        UNDETERMINED,
        None,
        ("bp",),
    ),
    (
        "no waist with BMI 19.9 (waist may be omitted): 情報提供",
        person(NORMAL, BP, waist=None, bmi=19.9),
        4,
        NONE,
        None,
        ("bp",),
    ),
    (
        "no waist with BMI 20.0: 判定不能",
        person(NORMAL, BP, waist=None, bmi=20.0),
        4,
        UNDETERMINED,
        None,
        ("bp",),
    ),
    (
        "no waist with BMI 27: (1) or (2) unknown, 判定不能",
        person(NORMAL, BP, waist=None, bmi=27.0),
        4,
        UNDETERMINED,
        None,
        ("bp",),
    ),
    (
        "waist below without BMI: 判定不能",
        person(NORMAL, BP, bmi=None),
        4,
        UNDETERMINED,
        None,
        ("bp",),
    ),
    (
        "waist 90 without BMI is still group 1",
        person(GROUP_1, BP, bmi=None),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    (
        "unknown sex: the waist has no cut-off",
        person(GROUP_1, BP, sex=9),
        4,
        UNDETERMINED,
        None,
        ("bp",),
    ),
    # ステップ2 ① 血圧
    ("SBP 130 is a risk", person(GROUP_1, sbp=130.0), 4, MOTIVATIONAL, 1, ("bp",)),
    ("SBP 129 is not", person(GROUP_1, sbp=129.0), 4, NONE, 1, ()),
    ("DBP 85 is a risk", person(GROUP_1, dbp=85.0), 4, MOTIVATIONAL, 1, ("bp",)),
    ("DBP 84 is not", person(GROUP_1, dbp=84.0), 4, NONE, 1, ()),
    ("DBP 85 alone, SBP missing", person(GROUP_1, sbp=None, dbp=85.0), 4, MOTIVATIONAL, 1, ("bp",)),
    # ② 脂質
    ("TG 150 is a risk", person(GROUP_1, tg_fasting=150.0), 4, MOTIVATIONAL, 1, ("lipid",)),
    ("TG 149 is not", person(GROUP_1, tg_fasting=149.0), 4, NONE, 1, ()),
    ("HDL 40 is not a risk", person(GROUP_1, hdl=40.0), 4, NONE, 1, ()),
    ("HDL 39.9 is a risk", person(GROUP_1, hdl=39.9), 4, MOTIVATIONAL, 1, ("lipid",)),
    (
        "4th term: random TG 175 drawn 3.5–10 h is a risk",
        person(GROUP_1, NOT_FASTING, tg_random=175.0),
        4,
        MOTIVATIONAL,
        1,
        ("lipid",),
    ),
    (
        "4th term: random TG 174 drawn 3.5–10 h is not",
        person(GROUP_1, NOT_FASTING, tg_random=174.0),
        4,
        NONE,
        1,
        (),
    ),
    (
        "4th term: random TG 175 drawn <3.5 h is never used",
        person(GROUP_1, NOT_FASTING, tg_random=175.0, blood_draw_timing="4"),
        4,
        NONE,
        1,
        (),
    ),
    (
        "4th term: random TG 175 under timing ≥10 h is not used",
        person(GROUP_1, NOT_FASTING, tg_random=175.0, blood_draw_timing="2"),
        4,
        NONE,
        1,
        (),
    ),
    (
        "4th term: random TG 175 without a timing is not used",
        person(GROUP_1, NOT_FASTING, tg_random=175.0, blood_draw_timing=None),
        4,
        NONE,
        1,
        (),
    ),
    (
        "3rd term: random TG 175 is not used",
        person(GROUP_1, NOT_FASTING, tg_random=175.0),
        3,
        NONE,
        1,
        (),
    ),
    (
        "4th term: fasting TG 149 wins over random TG 200",
        person(GROUP_1, tg_fasting=149.0, tg_random=200.0, blood_draw_timing="3"),
        4,
        NONE,
        1,
        (),
    ),
    # ③ 血糖
    (
        "fasting glucose 100 is a risk",
        person(GROUP_1, glucose_fasting=100.0),
        4,
        MOTIVATIONAL,
        1,
        ("glucose",),
    ),
    ("fasting glucose 99 is not", person(GROUP_1, glucose_fasting=99.0), 4, NONE, 1, ()),
    (
        "HbA1c 5.6 without fasting glucose is a risk",
        person(GROUP_1, glucose_fasting=None, hba1c=5.6),
        4,
        MOTIVATIONAL,
        1,
        ("glucose",),
    ),
    (
        "HbA1c 5.5 without fasting glucose is not",
        person(GROUP_1, glucose_fasting=None, hba1c=5.5),
        4,
        NONE,
        1,
        (),
    ),
    (
        "fasting glucose 99 takes priority over HbA1c 5.6",
        person(GROUP_1, glucose_fasting=99.0, hba1c=5.6),
        4,
        NONE,
        1,
        (),
    ),
    (
        "fasting glucose 100 with HbA1c 5.5 is a risk",
        person(GROUP_1, glucose_fasting=100.0, hba1c=5.5),
        4,
        MOTIVATIONAL,
        1,
        ("glucose",),
    ),
    (
        "4th term: random glucose 100 drawn 3.5–10 h is a risk",
        person(GROUP_1, NOT_FASTING, glucose_random=100.0),
        4,
        MOTIVATIONAL,
        1,
        ("glucose",),
    ),
    (
        "3rd term: random glucose 100 drawn 3.5–10 h is a risk too",
        person(GROUP_1, NOT_FASTING, glucose_random=100.0),
        3,
        MOTIVATIONAL,
        1,
        ("glucose",),
    ),
    ("random glucose 99 is not", person(GROUP_1, NOT_FASTING, glucose_random=99.0), 4, NONE, 1, ()),
    (
        "random glucose 150 drawn <3.5 h is never used",
        person(GROUP_1, NOT_FASTING, glucose_random=150.0, blood_draw_timing="4"),
        4,
        NONE,
        1,
        (),
    ),
    (
        "HbA1c 5.5 takes priority over random glucose 150",
        person(GROUP_1, NOT_FASTING, glucose_random=150.0, hba1c=5.5),
        4,
        NONE,
        1,
        (),
    ),
    # ④ 喫煙
    ("smoking alone counts for nothing", person(GROUP_1, SMOKER), 4, NONE, 1, ()),
    (
        "a former smoker (2) does not count",
        person(GROUP_1, BP, smoking="2"),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    # ステップ3
    (
        "group 1 with 1 risk + smoking is 積極的支援",
        person(GROUP_1, BP, SMOKER),
        4,
        INTENSIVE,
        1,
        ("bp", "smoking"),
    ),
    (
        "group 1 with 2 risks is 積極的支援",
        person(GROUP_1, BP, GLUCOSE),
        4,
        INTENSIVE,
        1,
        ("bp", "glucose"),
    ),
    (
        "group 1 with 3 risks + smoking is 積極的支援",
        person(GROUP_1, BP, LIPID, GLUCOSE, SMOKER),
        4,
        INTENSIVE,
        1,
        ("bp", "lipid", "glucose", "smoking"),
    ),
    ("group 1 with 0 risks is 情報提供", person(GROUP_1), 4, NONE, 1, ()),
    ("group 2 with 1 risk is 動機付け支援", person(GROUP_2, LIPID), 4, MOTIVATIONAL, 2, ("lipid",)),
    (
        "group 2 with 2 risks is 動機付け支援",
        person(GROUP_2, BP, LIPID),
        4,
        MOTIVATIONAL,
        2,
        ("bp", "lipid"),
    ),
    (
        "group 2 with 1 risk + smoking is 動機付け支援",
        person(GROUP_2, BP, SMOKER),
        4,
        MOTIVATIONAL,
        2,
        ("bp", "smoking"),
    ),
    (
        "group 2 with 2 risks + smoking is 積極的支援",
        person(GROUP_2, BP, LIPID, SMOKER),
        4,
        INTENSIVE,
        2,
        ("bp", "lipid", "smoking"),
    ),
    (
        "group 2 with 3 risks is 積極的支援",
        person(GROUP_2, BP, LIPID, GLUCOSE),
        4,
        INTENSIVE,
        2,
        ("bp", "lipid", "glucose"),
    ),
    ("group 2 with 0 risks is 情報提供", person(GROUP_2, SMOKER), 4, NONE, 2, ()),
    (
        "3rd term counts the same",
        person(GROUP_2, BP, LIPID, SMOKER),
        3,
        INTENSIVE,
        2,
        ("bp", "lipid", "smoking"),
    ),
    # ステップ4: 65歳以上 and the age range
    (
        "age 64 keeps 積極的支援",
        person(GROUP_1, BP, GLUCOSE, age=64),
        4,
        INTENSIVE,
        1,
        ("bp", "glucose"),
    ),
    (
        "age 65 is capped at 動機付け支援",
        person(GROUP_1, BP, GLUCOSE, age=65),
        4,
        MOTIVATIONAL,
        1,
        ("bp", "glucose"),
    ),
    (
        "age 70 in group 2 is capped",
        person(GROUP_2, BP, LIPID, GLUCOSE, age=70),
        4,
        MOTIVATIONAL,
        2,
        ("bp", "lipid", "glucose"),
    ),
    (
        "age 70 with 1 risk stays 動機付け支援",
        person(GROUP_1, BP, age=70),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    ("age 39 is outside the target", person(GROUP_1, BP, age=39), 4, UNDETERMINED, 1, ("bp",)),
    ("age 40 is inside", person(GROUP_1, BP, age=40), 4, MOTIVATIONAL, 1, ("bp",)),
    (
        "age 75 at the year's end is still a target, capped",
        person(GROUP_1, BP, GLUCOSE, age=75),
        4,
        MOTIVATIONAL,
        1,
        ("bp", "glucose"),
    ),
    ("age 76 is outside the target", person(GROUP_1, BP, age=76), 4, UNDETERMINED, 1, ("bp",)),
    # ⑤ 服薬
    (
        "medicated for blood pressure: excluded",
        person(GROUP_1, BP, GLUCOSE, med_bp=True),
        4,
        NONE,
        1,
        ("bp", "glucose"),
    ),
    ("medicated for glucose: excluded", person(GROUP_1, BP, med_glucose=True), 4, NONE, 1, ("bp",)),
    ("medicated for lipids: excluded", person(GROUP_1, BP, med_lipid=True), 4, NONE, 1, ("bp",)),
    (
        "medicated even without a waist or BMI: excluded",
        person(NORMAL, waist=None, bmi=None, med_lipid=True),
        4,
        NONE,
        None,
        (),
    ),
    (
        "unanswered medication does not exclude",
        person(GROUP_1, BP, med_bp=None, med_glucose=None, med_lipid=None),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    # 判定不能 for missing risk items
    (
        "group 1 with no risk item at all: 判定不能",
        person(GROUP_1, sbp=None, dbp=None, tg_fasting=None, hdl=None, glucose_fasting=None),
        4,
        UNDETERMINED,
        1,
        (),
    ),
    (
        "group 1 with only a smoker's answer: 判定不能",
        person(
            GROUP_1, SMOKER, sbp=None, dbp=None, tg_fasting=None, hdl=None, glucose_fasting=None
        ),
        4,
        UNDETERMINED,
        1,
        (),
    ),
    (
        "group 2 with one normal HDL is evaluated: 情報提供",
        person(GROUP_2, sbp=None, dbp=None, tg_fasting=None, glucose_fasting=None),
        4,
        NONE,
        2,
        (),
    ),
    (
        "group 1 with only a random TG drawn <3.5 h: 判定不能",
        person(
            GROUP_1,
            NOT_FASTING,
            sbp=None,
            dbp=None,
            hdl=None,
            tg_random=300.0,
            blood_draw_timing="4",
        ),
        4,
        UNDETERMINED,
        1,
        (),
    ),
    (
        "group 1 with only blood pressure, high: 動機付け支援",
        person(GROUP_1, BP, tg_fasting=None, hdl=None, glucose_fasting=None),
        4,
        MOTIVATIONAL,
        1,
        ("bp",),
    ),
    (
        "情報提供 needs no risk item",
        person(NORMAL, sbp=None, dbp=None, tg_fasting=None, hdl=None, glucose_fasting=None),
        4,
        NONE,
        None,
        (),
    ),
]


@pytest.mark.parametrize(
    ("m", "term", "level", "group", "risks"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_worked_case(
    m: Measures, term: int, level: GuidanceLevel, group: int | None, risks: tuple[str, ...]
) -> None:
    result = stratify(m, term=term)
    assert (result.level, result.group, result.risks) == (level, group, risks), result.reasons


def test_the_worked_cases_give_the_same_answers_as_tables() -> None:
    rows = []
    for _, m, term, _, _, _ in CASES:
        rows.append(_row(m, fiscal_year=2023 if term == 3 else 2024))
    got = _run(stratify_table(ibis.memtable(_arrow(rows))))
    for (name, _, _, level, group, risks), row in zip(CASES, got, strict=True):
        flags = tuple(r for r in ("bp", "lipid", "glucose", "smoking") if row[f"risk_{r}"])
        assert (row["level"], row["group"], flags) == (int(level), group, risks), name


def test_reasons_name_the_exclusion_and_the_age() -> None:
    medicated = stratify(person(GROUP_1, BP, med_bp=True), term=4)
    assert "服薬中のため対象外" in medicated.reasons
    assert "対象年齢外" in stratify(person(GROUP_1, age=39), term=4).reasons
    capped = stratify(person(GROUP_1, BP, GLUCOSE, age=65), term=4)
    assert any(reason.startswith("ステップ4") for reason in capped.reasons)


def test_priority_of_fasting_glucose_over_hba1c_is_a_setting() -> None:
    rules = load_rules()
    either = dataclasses.replace(
        rules,
        stratification=dataclasses.replace(rules.stratification, fasting_glucose_over_hba1c=False),
    )
    both = person(GROUP_1, glucose_fasting=99.0, hba1c=5.6)
    assert stratify(both, term=4).level is NONE  # the fasting glucose alone decides
    assert stratify(both, term=4, rules=either).level is MOTIVATIONAL  # either one counts
    got = _run(stratify_table(ibis.memtable(_arrow([_row(both)])), term=4, rules=either))
    assert got[0]["level"] == int(MOTIVATIONAL)
    assert "stratification.fasting_glucose_over_hba1c" in rules.unconfirmed


# --- age on the fiscal year's last day, through a real Checkup ---------------------------


def _obs(code: str, value: str, kind: str = "PQ", **extra: Any) -> Observation:
    return Observation(code=code, kind=kind, value=value, **extra)


def checkup(birth: dt.date, exam: dt.date, *observations: Observation, sex: int = 1) -> Checkup:
    return Checkup(
        document="h0001.xml",
        insurer="00370015",
        symbol="高松",
        number="123",
        branch="01",
        sex=sex,
        birth_date=birth,
        exam_date=exam,
        institution="3710000001",
        observations={o.code: o for o in observations},
    )


# Group (1) with ① (SBP 140) and ③ (fasting glucose 110): 積極的支援 before ステップ4.
TWO_RISKS = (
    _obs(Items.WAIST[0], "90.0"),
    _obs(Items.BMI[0], "24.0"),
    _obs(Items.SBP[0], "140"),
    _obs(Items.DBP[0], "80"),
    _obs(Items.TG_FASTING[0], "100"),
    _obs(Items.HDL[0], "60"),
    _obs(Items.GLUCOSE_FASTING[0], "110"),
    _obs(Items.MEDICATION_BP[0], "2", "CO"),
    _obs(Items.MEDICATION_GLUCOSE[0], "2", "CO"),
    _obs(Items.MEDICATION_LIPID[0], "2", "CO"),
)


@pytest.mark.parametrize(
    ("birth", "age", "level"),
    [
        # Born 1 April 1960: 65 at the end of 31 March 2025 (年齢計算ニ関スル法律).
        (dt.date(1960, 4, 1), 65, MOTIVATIONAL),
        (dt.date(1960, 4, 2), 64, INTENSIVE),
    ],
    ids=["born 1960-04-01 is 65 on FY2024's last day: capped", "born 1960-04-02 is 64: not capped"],
)
def test_age_on_the_fiscal_years_last_day_caps_intensive(
    birth: dt.date, age: int, level: GuidanceLevel
) -> None:
    m = measures(checkup(birth, dt.date(2024, 10, 1), *TWO_RISKS))
    assert m.age == age
    assert stratify(m, term=term_for(2024)).level is level


def test_an_exam_in_january_belongs_to_the_fiscal_year_before() -> None:
    m = measures(checkup(dt.date(1960, 4, 1), dt.date(2025, 1, 15), *TWO_RISKS))
    assert m.age == 65  # FY2024 ends 2025-03-31
    assert measure_row(checkup(dt.date(1960, 4, 1), dt.date(2025, 1, 15)))["fiscal_year"] == 2024


# --- measures(): one value per item ------------------------------------------------------


def test_measures_picks_the_first_method_code_with_a_value() -> None:
    m = measures(
        checkup(
            dt.date(1970, 5, 5),
            dt.date(2024, 6, 1),
            _obs(Items.WAIST[0], "", not_done=True),  # 未実施: ignored
            _obs(Items.WAIST[1], "88.5"),
            _obs(Items.SBP[0], "", null_flavor="NA"),  # 測定不能: ignored
            _obs(Items.SBP[2], "128"),
            _obs(Items.HBA1C[3], "5.7"),
            _obs(Items.TG_RANDOM[1], "180"),
            _obs(Items.BLOOD_DRAW_TIMING[0], "3", "CO"),
            _obs(Items.MEDICATION_BP[0], "1", "CO"),
            _obs(Items.MEDICATION_GLUCOSE[0], "2", "CO"),
            _obs(Items.SMOKING[0], "1", "CO"),
            _obs(Items.METABOLIC[0], "2", "CD"),
            _obs(Items.GUIDANCE_LEVEL[0], "3", "CD"),
        )
    )
    assert m == Measures(
        sex=1,
        age=54,
        waist=88.5,
        sbp=128.0,
        hba1c=5.7,
        tg_random=180.0,
        blood_draw_timing="3",
        med_bp=True,
        med_glucose=False,
        med_lipid=None,
        smoking="1",
        reported_metabolic=2,
        reported_level=3,
    )


def test_the_table_columns_are_the_identifiers_and_the_measures_fields() -> None:
    fields = [f.name for f in dataclasses.fields(Measures)]
    assert list(MEASURE_COLUMNS) == [*IDENTIFIER_COLUMNS, *(f for f in fields if f != "sex")]
    assert "sex" in IDENTIFIER_COLUMNS
    row = measure_row(checkup(dt.date(1970, 5, 5), dt.date(2024, 6, 1), *TWO_RISKS))
    assert list(row) == list(MEASURE_COLUMNS)
    table = pa.Table.from_pylist([row], schema=MEASURE_SCHEMA)
    assert Measures.from_row(table.to_pylist()[0]) == measures(
        checkup(dt.date(1970, 5, 5), dt.date(2024, 6, 1), *TWO_RISKS)
    )


# --- terms and rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "term"), [(2018, 3), (2023, 3), (2024, 4), (2029, 4)], ids=lambda v: str(v)
)
def test_term_for(year: int, term: int) -> None:
    assert term_for(year) == term
    assert term_for(FiscalYear(year)) == term


def test_no_rules_before_the_3rd_term() -> None:
    with pytest.raises(ValueError, match="FY2017"):
        term_for(2017)
    with pytest.raises(ValueError, match="term 2"):
        stratify(person(GROUP_1), term=2)
    with pytest.raises(ValueError, match="term 2"):
        stratify_table(ibis.memtable(_arrow([_row(person(GROUP_1))])), term=2)


def test_table_rows_take_the_term_of_their_fiscal_year() -> None:
    random_tg = person(GROUP_1, NOT_FASTING, tg_random=175.0)
    rows = [_row(random_tg, fiscal_year=year) for year in (2017, 2023, 2024)]
    got = _run(stratify_table(ibis.memtable(_arrow(rows))))
    # FY2017: no rules; FY2023: 3rd term ignores random TG; FY2024: 4th term counts it.
    assert [row["level"] for row in got] == [None, int(NONE), int(MOTIVATIONAL)]


def test_the_rules_file_rejects_an_item_without_a_source() -> None:
    from importlib import resources

    text = resources.files("kokuho").joinpath("data/checkup_rules.yaml").read_text("utf-8")
    broken = text.replace(
        "bmi: {value: 25.0, source: *program, confirmed: true}", "bmi: {value: 25.0}"
    )
    assert broken != text
    with pytest.raises(ValueError, match="stratification.bmi needs a source"):
        parse_rules(broken)


# --- disagreements with the institution's own 9N506 / 9N501 ------------------------------


def test_disagreements_list_both_values() -> None:
    agree = _row(person(GROUP_1, BP, reported_level=2, reported_metabolic=2), document="a")
    level = _row(person(GROUP_1, BP, GLUCOSE, reported_level=2, reported_metabolic=1), document="b")
    metabo = _row(person(GROUP_1, BP, reported_level=2, reported_metabolic=3), document="c")
    silent = _row(person(GROUP_1, BP, GLUCOSE), document="d")
    got = _run(
        disagreements(ibis.memtable(_arrow([agree, level, metabo, silent]))).order_by("document")
    )
    assert [
        (r["document"], r["reported_level"], r["level"], r["reported_metabolic"], r["metabolic"])
        for r in got
    ] == [
        ("b", 2, 1, 1, 1),  # 2 risks in group (1): 積極的支援, not 動機付け支援
        ("c", 2, 2, 3, 2),  # waist 90 + blood pressure: 予備群該当, not 非該当
    ]


# --- the two implementations agree -------------------------------------------------------


def _row(m: Measures, *, fiscal_year: int = 2024, document: str = "h.xml") -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in MEASURE_COLUMNS}
    row.update(dataclasses.asdict(m), fiscal_year=fiscal_year, document=document)
    return row


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=MEASURE_SCHEMA)


_CON = ibis.duckdb.connect()


def _run(expr: Any) -> list[dict[str, Any]]:
    return _CON.to_pyarrow(expr).to_pylist()


def _value(cuts: list[float], low: float, high: float) -> st.SearchStrategy[float | None]:
    """A measurement: missing (1 in 4), on a cut-off or 0.1 either side of it (2 in 4), or
    anywhere in a plausible range (1 in 4)."""
    near = st.sampled_from([round(c + d, 1) for c in cuts for d in (-0.1, 0.0, 0.1)])
    anywhere = st.floats(low, high, allow_nan=False).map(lambda v: round(v, 1))
    return st.one_of(st.none(), near, near, anywhere)


ANSWER = st.sampled_from([False, None, False, True])
RANDOM_MEASURES = st.builds(
    Measures,
    sex=st.sampled_from([1, 2, 1, 2, 9]),
    age=st.integers(38, 78),
    waist=_value([85.0, 90.0], 60.0, 120.0),
    bmi=_value([20.0, 25.0], 15.0, 40.0),
    visceral_fat_area=st.one_of(st.none(), st.none(), _value([100.0], 40.0, 200.0)),
    sbp=_value([130.0], 90.0, 200.0),
    dbp=_value([85.0], 50.0, 120.0),
    tg_fasting=_value([150.0], 30.0, 500.0),
    tg_random=_value([150.0, 175.0], 30.0, 500.0),
    hdl=_value([40.0], 20.0, 100.0),
    glucose_fasting=_value([100.0, 110.0], 60.0, 250.0),
    glucose_random=_value([100.0, 110.0], 60.0, 300.0),
    hba1c=_value([5.6, 6.0], 4.0, 10.0),
    blood_draw_timing=st.sampled_from([None, "1", "2", "3", "3", "4"]),
    med_bp=ANSWER,
    med_glucose=ANSWER,
    med_lipid=ANSWER,
    smoking=st.sampled_from([None, "1", "2", "3"]),
)


def test_tables_agree_with_the_python_rules_row_by_row() -> None:
    # Hypothesis draws the records (200 examples of 1–10 rows); the table side then judges all
    # of them in one DuckDB query, since planning one query per example would take minutes.
    # Each record is judged three ways: by its fiscal year (FY2023 → 3rd term, FY2024 → 4th)
    # and with each term given explicitly.
    records: list[Measures] = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.lists(RANDOM_MEASURES, min_size=1, max_size=10))
    def draw(drawn: list[Measures]) -> None:
        records.extend(drawn)

    draw()
    rows = [
        _row(m, fiscal_year=year, document=str(i))
        for i, m in enumerate(records)
        for year in (2023, 2024)
    ]
    t = ibis.memtable(_arrow(rows))
    parts = [stratify_table(t).mutate(mode=ibis.literal("fy"))]
    parts += [stratify_table(t, term=n).mutate(mode=ibis.literal(f"t{n}")) for n in (3, 4)]
    got = _run(metabolic_table(ibis.union(*parts)))
    assert len(got) == 3 * len(rows) >= 400
    # Not vacuous: the random records reach every level and every メタボ判定.
    assert {row["level"] for row in got} == {1, 2, 3, 4}
    assert {row["metabolic"] for row in got} == {1, 2, 3, 4}
    for row in got:
        m = records[int(row["document"])]
        term = {"t3": 3, "t4": 4}.get(row["mode"]) or term_for(row["fiscal_year"])
        expected = stratify(m, term=term)
        flags = tuple(r for r in ("bp", "lipid", "glucose", "smoking") if row[f"risk_{r}"])
        assert (row["level"], row["group"], flags) == (
            int(expected.level),
            expected.group,
            expected.risks,
        ), (m, term, expected.reasons)
        assert row["metabolic"] == int(metabolic(m).result), (m, metabolic(m).reasons)
