"""The flat measurement record that 階層化 and メタボ判定 read: one row per checkup.

``MEASURE_COLUMNS`` is the single definition of the lake's checkup-measures table (column
name → Arrow type). Its names are the identifier columns followed by the fields of
``Measures``; the pure-Python rules read a ``Measures`` and the Ibis rules read the same
names as columns, which is what lets the two be compared row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

import pyarrow as pa

from kokuho.checkups._model import Checkup, Items, Observation
from kokuho.ids import FiscalYear, age_at_fiscal_year_end

# Identifier columns of the flat table, in order (``sex`` is also a ``Measures`` field).
_IDENTIFIERS: Final[dict[str, Any]] = {
    "document": pa.string(),
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "sex": pa.int8(),  # 1 male, 2 female
    "birth_date": pa.date32(),
    "exam_date": pa.date32(),
    "fiscal_year": pa.int16(),  # 年度 of the exam date
    "institution": pa.string(),
}

_MEASURES: Final[dict[str, Any]] = {
    "age": pa.int16(),  # 年度末年齢
    "waist": pa.float64(),  # cm
    "bmi": pa.float64(),  # kg/m²
    "visceral_fat_area": pa.float64(),  # cm²
    "sbp": pa.float64(),  # mmHg
    "dbp": pa.float64(),  # mmHg
    "tg_fasting": pa.float64(),  # mg/dl
    "tg_random": pa.float64(),  # mg/dl
    "hdl": pa.float64(),  # mg/dl
    "glucose_fasting": pa.float64(),  # mg/dl
    "glucose_random": pa.float64(),  # mg/dl
    "hba1c": pa.float64(),  # % (NGSP)
    "blood_draw_timing": pa.string(),  # 9N141 code
    "med_bp": pa.bool_(),
    "med_glucose": pa.bool_(),
    "med_lipid": pa.bool_(),
    "smoking": pa.string(),  # 9N736 code
    "reported_metabolic": pa.int8(),  # 9N501 as the institution reported it
    "reported_level": pa.int8(),  # 9N506 as the institution reported it
}

MEASURE_COLUMNS: Final[Mapping[str, Any]] = {**_IDENTIFIERS, **_MEASURES}
"""Column name → Arrow type of the checkup-measures table (``ibis.Schema.from_pyarrow`` of
``MEASURE_SCHEMA`` gives the Ibis types)."""

MEASURE_SCHEMA: Final[Any] = pa.schema(list(MEASURE_COLUMNS.items()))

IDENTIFIER_COLUMNS: Final = tuple(_IDENTIFIERS)
"""The columns that say whose checkup a row is (they come first in ``MEASURE_COLUMNS``)."""


@dataclass(frozen=True, slots=True)
class Measures:
    """What 階層化 and メタボ判定 need from one 特定健診, each item already reduced to one
    value: the first of its method codes that carries a measured value. ``None`` means not
    measured (absent, 未実施 ``negationInd`` or 測定不能 ``nullFlavor``).

    - ``age``: 年度末年齢, the age on the last day of the exam's fiscal year (the age reached
      during the year, which is what 階層化 uses).
    - ``blood_draw_timing``: 9N141 採血時間(食後): "2" ≥10 h (空腹時), "3" 3.5–10 h (随時 values
      allowed), "4" <3.5 h (食直後, not allowed); other codes are kept as written.
    - ``med_*``: 9N701/9N706/9N711 服薬 (血圧/血糖/脂質): True for 1 はい, False for 2 いいえ.
    - ``smoking``: 9N736 as written. 4th term: 1 はい (現在吸っている), 2 以前は吸っていたが最近
      1ヶ月は吸っていない, 3 いいえ. 3rd-term files use 1 はい, 2 いいえ. Only "1" counts as a
      smoker in either, so a 3rd-term "2" and a 4th-term "2" both mean not smoking now.
    - ``reported_metabolic``/``reported_level``: 9N501/9N506 as the institution reported them.
    """

    sex: int
    age: int
    waist: float | None = None
    bmi: float | None = None
    visceral_fat_area: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    tg_fasting: float | None = None
    tg_random: float | None = None
    hdl: float | None = None
    glucose_fasting: float | None = None
    glucose_random: float | None = None
    hba1c: float | None = None
    blood_draw_timing: str | None = None
    med_bp: bool | None = None
    med_glucose: bool | None = None
    med_lipid: bool | None = None
    smoking: str | None = None
    reported_metabolic: int | None = None
    reported_level: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Measures:
        """The ``Measures`` of one row of the measures table (extra columns are ignored)."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})


# How each field after ``sex`` and ``age`` is read, in ``Measures``'s order: its item's codes
# (first method first) and what the first of them that carries a value becomes (a PQ number,
# a CD/CO code as written, a 1/2 answer, a reported digit).
_NUMBER: Final = 0
_CODE: Final = 1
_ANSWER: Final = 2
_REPORTED: Final = 3
_FIELDS: Final = (
    ("waist", Items.WAIST, _NUMBER),
    ("bmi", Items.BMI, _NUMBER),
    ("visceral_fat_area", Items.VISCERAL_FAT_AREA, _NUMBER),
    ("sbp", Items.SBP, _NUMBER),
    ("dbp", Items.DBP, _NUMBER),
    ("tg_fasting", Items.TG_FASTING, _NUMBER),
    ("tg_random", Items.TG_RANDOM, _NUMBER),
    ("hdl", Items.HDL, _NUMBER),
    ("glucose_fasting", Items.GLUCOSE_FASTING, _NUMBER),
    ("glucose_random", Items.GLUCOSE_RANDOM, _NUMBER),
    ("hba1c", Items.HBA1C, _NUMBER),
    ("blood_draw_timing", Items.BLOOD_DRAW_TIMING, _CODE),
    ("med_bp", Items.MEDICATION_BP, _ANSWER),
    ("med_glucose", Items.MEDICATION_GLUCOSE, _ANSWER),
    ("med_lipid", Items.MEDICATION_LIPID, _ANSWER),
    ("smoking", Items.SMOKING, _CODE),
    ("reported_metabolic", Items.METABOLIC, _REPORTED),
    ("reported_level", Items.GUIDANCE_LEVEL, _REPORTED),
)
_NAMES: Final = tuple(name for name, _, _ in _FIELDS)
_CODED: Final = frozenset(("CD", "CO"))
_ANSWERS: Final = {"1": True, "2": False}


def _reported(code: str) -> int | None:
    return int(code) if code.isascii() and code.isdigit() else None


def _answer(code: str) -> bool | None:
    # Value set 1.2.392.200119.6.2003: 1 はい, 2 いいえ; anything else is no answer.
    return _ANSWERS.get(code or "")


def _as_written(code: str) -> str:
    return code


_REDUCERS: Final[dict[int, Callable[[str], Any]]] = {
    _NUMBER: float,
    _CODE: _as_written,
    _ANSWER: _answer,
    _REPORTED: _reported,
}
#: What each field's value becomes, by field.
_REDUCE: Final = tuple(_REDUCERS[how] for _, _, how in _FIELDS)
#: Whether each field reads a PQ number (else a CD/CO code).
_NUMERIC: Final = tuple(how == _NUMBER for _, _, how in _FIELDS)


def _slots() -> dict[str, tuple[int, int]]:
    slots: dict[str, tuple[int, int]] = {}
    for index, (name, codes, _) in enumerate(_FIELDS):
        for rank, code in enumerate(codes):
            if code in slots:
                raise ValueError(f"item code {code} is listed for two fields ({name})")
            slots[code] = (index, rank)
    return slots


#: Item code → (the field it measures, its rank among the field's codes).
_SLOTS: Final = _slots()


def _values(observations: Mapping[str, Observation]) -> list[Any]:
    """The fields after ``sex`` and ``age``, in order. One pass over the observations: each
    field takes the value of its best-ranked code whose observation carries a measured value
    (PQ for a number, CD/CO for the others; not 未実施, no nullFlavor). The lake measures
    every checkup it ingests, so this is on the ingest's path."""
    found: dict[int, tuple[int, str]] = {}
    for code, item in observations.items():
        slot = _SLOTS.get(code)
        if slot is None or item.value is None or item.not_done or item.null_flavor:
            continue
        index, rank = slot
        if item.kind == "PQ" if _NUMERIC[index] else item.kind in _CODED:
            held = found.get(index)
            if held is None or rank < held[0]:
                found[index] = (rank, item.value)
    values: list[Any] = [None] * len(_FIELDS)
    for index, (_, value) in found.items():
        values[index] = _REDUCE[index](value)
    return values


def _age(checkup: Checkup) -> int:
    return age_at_fiscal_year_end(checkup.birth_date, FiscalYear.of(checkup.exam_date))


def measures(checkup: Checkup) -> Measures:
    """Reduces one checkup to the values the rules read."""
    age = _age(checkup)
    return Measures(
        sex=checkup.sex, age=age, **dict(zip(_NAMES, _values(checkup.observations), strict=True))
    )


def measure_columns(checkups: Sequence[Checkup]) -> dict[str, list[Any]]:
    """The fields of ``measures`` but ``sex``, each as a column in the order of ``checkups``:
    the lake's measurement columns, without a ``Measures`` object per checkup."""
    ages: dict[tuple[dt.date, dt.date], int] = {}
    age_column: list[int] = []
    rows: list[list[Any]] = []
    for checkup in checkups:
        dates = (checkup.birth_date, checkup.exam_date)
        age = ages.get(dates)
        if age is None:
            age = ages[dates] = _age(checkup)
        age_column.append(age)
        rows.append(_values(checkup.observations))
    columns: dict[str, list[Any]] = {"age": age_column}
    for index, name in enumerate(_NAMES):
        columns[name] = [row[index] for row in rows]
    return columns


def measure_row(checkup: Checkup) -> dict[str, Any]:
    """One row of the measures table, keyed by ``MEASURE_COLUMNS`` and in its order."""
    identifiers: dict[str, Any] = {
        "document": checkup.document,
        "insurer": checkup.insurer,
        "symbol": checkup.symbol,
        "number": checkup.number,
        "branch": checkup.branch,
        "sex": checkup.sex,
        "birth_date": checkup.birth_date,
        "exam_date": checkup.exam_date,
        "fiscal_year": FiscalYear.of(checkup.exam_date).year,
        "institution": checkup.institution,
    }
    values = asdict(measures(checkup))
    return {
        name: identifiers[name] if name in identifiers else values[name] for name in MEASURE_COLUMNS
    }
