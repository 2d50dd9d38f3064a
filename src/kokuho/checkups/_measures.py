"""The flat measurement record that 階層化 and メタボ判定 read: one row per checkup.

``MEASURE_COLUMNS`` is the single definition of the lake's checkup-measures table (column
name → Arrow type). Its names are the identifier columns followed by the fields of
``Measures``; the pure-Python rules read a ``Measures`` and the Ibis rules read the same
names as columns, which is what lets the two be compared row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
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


# The helpers take the observations mapping and test an observation's fields themselves
# (what ``Observation.number`` and ``Observation.coded`` test): the lake measures every
# checkup it ingests, and these calls were most of that time.
_CODED: Final = frozenset(("CD", "CO"))
_ANSWERS: Final = {"1": True, "2": False}


def _number(observations: Mapping[str, Observation], codes: tuple[str, ...]) -> float | None:
    for code in codes:
        item = observations.get(code)
        if (
            item is not None
            and item.kind == "PQ"
            and item.value is not None
            and not item.not_done
            and not item.null_flavor
        ):
            return float(item.value)
    return None


def _coded(observations: Mapping[str, Observation], codes: tuple[str, ...]) -> str | None:
    for code in codes:
        item = observations.get(code)
        if (
            item is not None
            and item.kind in _CODED
            and item.value is not None
            and not item.not_done
            and not item.null_flavor
        ):
            return item.value
    return None


def _answer(observations: Mapping[str, Observation], codes: tuple[str, ...]) -> bool | None:
    # Value set 1.2.392.200119.6.2003: 1 はい, 2 いいえ; anything else is no answer.
    return _ANSWERS.get(_coded(observations, codes) or "")


def _reported(observations: Mapping[str, Observation], codes: tuple[str, ...]) -> int | None:
    code = _coded(observations, codes)
    return int(code) if code is not None and code.isascii() and code.isdigit() else None


def measures(checkup: Checkup) -> Measures:
    """Reduces one checkup to the values the rules read."""
    found = checkup.observations
    return Measures(
        sex=checkup.sex,
        age=age_at_fiscal_year_end(checkup.birth_date, FiscalYear.of(checkup.exam_date)),
        waist=_number(found, Items.WAIST),
        bmi=_number(found, Items.BMI),
        visceral_fat_area=_number(found, Items.VISCERAL_FAT_AREA),
        sbp=_number(found, Items.SBP),
        dbp=_number(found, Items.DBP),
        tg_fasting=_number(found, Items.TG_FASTING),
        tg_random=_number(found, Items.TG_RANDOM),
        hdl=_number(found, Items.HDL),
        glucose_fasting=_number(found, Items.GLUCOSE_FASTING),
        glucose_random=_number(found, Items.GLUCOSE_RANDOM),
        hba1c=_number(found, Items.HBA1C),
        blood_draw_timing=_coded(found, Items.BLOOD_DRAW_TIMING),
        med_bp=_answer(found, Items.MEDICATION_BP),
        med_glucose=_answer(found, Items.MEDICATION_GLUCOSE),
        med_lipid=_answer(found, Items.MEDICATION_LIPID),
        smoking=_coded(found, Items.SMOKING),
        reported_metabolic=_reported(found, Items.METABOLIC),
        reported_level=_reported(found, Items.GUIDANCE_LEVEL),
    )


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
