"""``measures`` and the lake's measurement columns (``measure_columns``, one pass a checkup,
no ``Measures`` object) give each field the value of the first of its item's codes that
carries a measured value, as the reference below reads it code by code: field by field and
type by type, whichever codes are present, 未実施, nullFlavor or of another value type."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from kokuho.checkups import Checkup, Items, Observation
from kokuho.checkups._lake_rows import default_measures
from kokuho.checkups._measures import Measures, measure_columns, measures
from kokuho.ids import FiscalYear, age_at_fiscal_year_end

MEASURED_CODES = sorted(
    {
        code
        for name, value in vars(Items).items()
        if not name.startswith("_") and isinstance(value, tuple)
        for code in value
    }
)
VALUES = st.sampled_from(["1", "2", "3", "04", "12.5", "", "x", "١", None])


@st.composite
def observation(draw: st.DrawFn, code: str) -> Observation:
    # Mostly measured values, so that an item often has several codes that carry one.
    kind = draw(st.sampled_from(["PQ", "PQ", "CD", "CO", "CO", "ST", ""]))
    value = draw(st.sampled_from(["12.5", "0", "99", None]) if kind == "PQ" else VALUES)
    not_done = draw(st.sampled_from([False, False, False, True]))
    null_flavor = draw(st.sampled_from([None, None, None, "NI", ""]))
    return Observation(code, kind, value, None, None, not_done, null_flavor)


@st.composite
def checkup(draw: st.DrawFn) -> Checkup:
    codes = draw(st.lists(st.sampled_from(MEASURED_CODES), max_size=40, unique=True))
    birth = draw(st.dates(dt.date(1930, 1, 1), dt.date(1985, 12, 31)))
    return Checkup(
        document="",
        insurer="01370014",
        symbol="",
        number="1",
        branch=None,
        sex=draw(st.sampled_from([1, 2])),
        birth_date=birth,
        exam_date=draw(st.dates(dt.date(2020, 4, 1), dt.date(2025, 3, 31))),
        institution="3710000012",
        observations={code: draw(observation(code)) for code in codes},
    )


def _first(record: Checkup, codes: tuple[str, ...], kinds: tuple[str, ...]) -> str | None:
    for code in codes:
        item = record.observations.get(code)
        measured = item is not None and not item.not_done and not item.null_flavor
        if measured and item.kind in kinds and item.value is not None:
            return item.value
    return None


def _reference(record: Checkup) -> dict[str, object]:
    """What each field should hold, read code by code."""

    def number(codes: tuple[str, ...]) -> float | None:
        value = _first(record, codes, ("PQ",))
        return None if value is None else float(value)

    def coded(codes: tuple[str, ...]) -> str | None:
        return _first(record, codes, ("CD", "CO"))

    def answer(codes: tuple[str, ...]) -> bool | None:
        return {"1": True, "2": False}.get(coded(codes) or "")

    def reported(codes: tuple[str, ...]) -> int | None:
        code = coded(codes)
        return int(code) if code is not None and code.isascii() and code.isdigit() else None

    return {
        "age": age_at_fiscal_year_end(record.birth_date, FiscalYear.of(record.exam_date)),
        "waist": number(Items.WAIST),
        "bmi": number(Items.BMI),
        "visceral_fat_area": number(Items.VISCERAL_FAT_AREA),
        "sbp": number(Items.SBP),
        "dbp": number(Items.DBP),
        "tg_fasting": number(Items.TG_FASTING),
        "tg_random": number(Items.TG_RANDOM),
        "hdl": number(Items.HDL),
        "glucose_fasting": number(Items.GLUCOSE_FASTING),
        "glucose_random": number(Items.GLUCOSE_RANDOM),
        "hba1c": number(Items.HBA1C),
        "blood_draw_timing": coded(Items.BLOOD_DRAW_TIMING),
        "med_bp": answer(Items.MEDICATION_BP),
        "med_glucose": answer(Items.MEDICATION_GLUCOSE),
        "med_lipid": answer(Items.MEDICATION_LIPID),
        "smoking": coded(Items.SMOKING),
        "reported_metabolic": reported(Items.METABOLIC),
        "reported_level": reported(Items.GUIDANCE_LEVEL),
    }


@settings(max_examples=100, deadline=None)
@given(st.lists(checkup(), max_size=4))
def test_measures_and_their_columns_hold_the_first_measured_code(checkups: list[Checkup]) -> None:
    columns = measure_columns(checkups)
    names = [f.name for f in fields(Measures) if f.name != "sex"]
    assert sorted(columns) == sorted(names)
    for index, record in enumerate(checkups):
        expected = _reference(record)
        measured = measures(record)
        assert measured.sex == record.sex
        for name in names:
            wanted = expected[name]
            for value in (columns[name][index], getattr(measured, name)):
                assert (value, type(value)) == (wanted, type(wanted)), name


def test_the_default_spec_computes_its_columns_at_once() -> None:
    spec = default_measures()
    assert spec.columns_of is measure_columns
    assert set(spec.measured) == set(measure_columns([]))
