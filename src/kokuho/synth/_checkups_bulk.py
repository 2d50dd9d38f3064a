"""Bulk synthetic checkup rows for benchmarks: millions of 特定健診 results without a
simulated prefecture, one flat row per checkup.

The values come from the same distributions and the same correlated draw as the synthetic
prefecture (:mod:`kokuho.synth._checkups_values`); the people are independent draws (sex,
age 40–74 with an older 国保 mix, an insurer of the Kagawa reference data), so nobody
repeats across rows. Deterministic from ``seed`` and ``count`` (and the batch size).

Two layouts:

- ``lake`` (default): exactly the columns and Arrow types of the checkup-measures table
  (``kokuho.checkups.MEASURE_COLUMNS``), what stratification and rates read, so a benchmark
  can point the Ibis rules at the file. ``document`` is ``DATA/b{seed}-{n:09d}.xml``; 記号
  "1", 番号 ``n + 1``, 枝番 "00"; 健診機関番号 invented (37 1 …); columns the synth does
  not make (内臓脂肪面積) are null.
- ``full``: every value the synth draws, one flat row per checkup (numeric values null where
  the document would carry none — item absent, not done or not measurable):

  ========================  =================================================================
  person_key                ``B{seed}-{n:09d}``
  insurer                   保険者番号, 8 digits (6-digit 国保 numbers zero-padded)
  sex                       1 male, 2 female
  birth_date, exam_date     dates; exam_date within ``fiscal_year``
  fiscal_year, age          年度 and 年度末年齢 (age on 31 March)
  timing                    採血時間(食後) 9N141: 2 ≥10 h, 3 3.5–10 h, 4 <3.5 h
  height weight bmi waist   cm, kg, kg/m², cm
  sbp dbp                   mmHg
  tg, glucose               mg/dl: fasting when timing is 2, random otherwise
  hdl ldl                   mg/dl
  hba1c                     % (NGSP)
  ast alt ggt               U/l
  creatinine egfr           mg/dl, ml/min/1.73m²
  urine_protein/_sugar      1 −, 2 ±, 3 +, 4 ++, 5 +++ (OID 1.2.392.200119.6.2102)
  med_bp/_glucose/_lipid    服薬1–3 answered はい
  smoking                   9N736: 1 はい, 2 以前は吸っていた, 3 いいえ
  metabolic_reported        9N501 as the institution wrote it (a few planted wrong)
  level_reported            9N506 as the institution wrote it (a few planted wrong)
  ========================  =================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from kokuho.ids import luhn_2_1
from kokuho.synth._checkups_values import (
    EMPLOYEE,
    FASTING,
    KOKUHO_LIKE,
    MEASURES,
    VALUE,
    Y_LEVEL_WRONG,
    Y_METABOLIC_WRONG,
    Y_WRONG_VALUE,
    Drawn,
    GeneratorNoise,
    Judgement,
    draw,
    judge,
    load_distributions,
    seed_key,
)
from kokuho.synth._data import load_prefecture

Layout = Literal["lake", "full"]
BATCH = 250_000
FISCAL_YEAR = 2022
_EPOCH = dt.date(1970, 1, 1).toordinal()


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed_key(f"checkups-bulk-{seed}")))


def _insurers() -> tuple[list[str], npt.NDArray[np.float64], list[str], npt.NDArray[np.float64]]:
    """国保 numbers weighted by municipal population; employee schemes by their shares."""
    prefecture = load_prefecture()
    kokuho = [m.nhi_number.zfill(8) for m in prefecture.municipalities]
    k_weights = np.array([m.population for m in prefecture.municipalities], dtype=np.float64)
    employee = [i for i in prefecture.insurers if i.kind in ("kyokai", "kumiai", "kyosai")]
    kind_share = {"kyokai": 0.65, "kumiai": 0.22, "kyosai": 0.13}
    e_weights = np.array([kind_share[i.kind] * i.share for i in employee], dtype=np.float64)
    return (
        kokuho,
        k_weights / k_weights.sum(),
        [i.number.zfill(8) for i in employee],
        e_weights / e_weights.sum(),
    )


def _batch(
    seed: int, start: int, size: int, fiscal_year: int
) -> tuple[dict[str, Any], Drawn, Judgement]:
    rng = _rng(seed * 1_000_003 + start)
    d = load_distributions()
    bulk = d.node("bulk")
    group = np.where(rng.random(size) < bulk["kokuho_share"], KOKUHO_LIKE, EMPLOYEE)
    group = group.astype(np.int64)
    band = np.zeros(size, dtype=np.int64)
    female = np.zeros(size, dtype=np.float64)
    for code, name in ((KOKUHO_LIKE, "kokuho"), (EMPLOYEE, "employee")):
        mix = np.array(bulk["age_mix"][name], dtype=np.float64)
        band = np.where(group == code, rng.choice(7, size=size, p=mix / mix.sum()), band)
        female = np.where(group == code, float(bulk["female_share"][name]), female)
    age = 40 + 5 * band + rng.integers(0, 5, size)
    sex = np.where(rng.random(size) < female, 2, 1)
    fy_start = dt.date(fiscal_year, 4, 1).toordinal()
    exam = fy_start + rng.integers(0, 365, size)
    # 年度末年齢 = age: born from 2 April of (fiscal_year − age) to 1 April of the next year
    # (a year of age is completed at the end of the day before the birthday).
    first = np.array(
        [dt.date(fiscal_year - a, 4, 2).toordinal() for a in range(40, 75)], dtype=np.int64
    )[age - 40]
    length = (
        np.array(
            [dt.date(fiscal_year + 1 - a, 4, 2).toordinal() for a in range(40, 75)], dtype=np.int64
        )[age - 40]
        - first
    )
    birth = first + np.floor(rng.random(size) * length).astype(np.int64)
    birth_dates = (birth - _EPOCH).astype("datetime64[D]")
    kokuho, k_weights, employee, e_weights = _insurers()
    insurer = np.where(
        group == KOKUHO_LIKE,
        np.array(kokuho)[rng.choice(len(kokuho), size=size, p=k_weights)],
        np.array(employee)[rng.choice(len(employee), size=size, p=e_weights)],
    )
    person = GeneratorNoise(rng, size)
    year = GeneratorNoise(rng, size)
    drawn = draw(d, sex, age, group, person, year)
    judgement = judge(drawn, sex, age, fiscal_year)
    columns: dict[str, Any] = {
        "person_key": [f"B{seed}-{start + n:09d}" for n in range(size)],
        "insurer": insurer,
        "sex": sex.astype(np.int8),
        "birth_date": birth_dates,
        "exam_date": (exam - _EPOCH).astype("datetime64[D]"),
        "fiscal_year": np.full(size, fiscal_year, dtype=np.int16),
        "age": age.astype(np.int8),
        "timing": drawn.timing,
    }
    j = d.node("judgement")
    other = 1 + np.floor(year.uniform(Y_WRONG_VALUE) * 2).astype(np.int64)
    for name, correct, stream, rate in (
        ("metabolic_reported", judgement.metabolic, Y_METABOLIC_WRONG, j["metabolic_wrong"]),
        ("level_reported", judgement.level, Y_LEVEL_WRONG, j["level_wrong"]),
    ):
        wrong = year.uniform(stream) < float(rate)
        shifted = (correct.astype(np.int64) - 1 + other) % 3 + 1
        columns[name] = np.where(wrong, shifted, correct).astype(np.int8)
    return columns, drawn, judgement


def _full(columns: dict[str, Any], drawn: Drawn) -> dict[str, Any]:
    """The ``full`` layout: every column of a batch, measures NaN where there is no value,
    urine codes 0 where there is none."""
    out = dict(columns)
    for name in MEASURES:
        out[name] = drawn.value(name)
    for name, codes in (("urine_protein", drawn.urine_protein), ("urine_sugar", drawn.urine_sugar)):
        out[name] = np.where(drawn.state[name] == VALUE, codes, 0).astype(np.int8)
    out["med_bp"] = drawn.med_bp
    out["med_glucose"] = drawn.med_glucose
    out["med_lipid"] = drawn.med_lipid
    out["smoking"] = drawn.smoking
    return {name: out[name] for name in FULL_COLUMNS}


FULL_COLUMNS: Final = (
    "person_key", "insurer", "sex", "birth_date", "exam_date", "fiscal_year", "age", "timing",
    *MEASURES, "urine_protein", "urine_sugar", "med_bp", "med_glucose", "med_lipid", "smoking",
    "metabolic_reported", "level_reported",
)  # fmt: skip


def _lake(columns: dict[str, Any], drawn: Drawn, seed: int, start: int) -> dict[str, Any]:
    """The ``lake`` layout's values by column name (``kokuho.checkups.MEASURE_COLUMNS``):
    fasting and random TG and glucose in their own columns as the blood-drawing time says,
    codes as text, the 保険者番号 as the reader normalises it."""
    size = len(columns["sex"])
    fasting = drawn.timing == FASTING
    tg, glucose = drawn.value("tg"), drawn.value("glucose")
    institutions = _institution_codes()
    pick = np.arange(start, start + size) % len(institutions)
    return {
        "document": [f"DATA/b{seed}-{start + n:09d}.xml" for n in range(size)],
        "insurer": [i[2:] if i.startswith("00") else i for i in columns["insurer"].tolist()],
        "symbol": np.full(size, "1"),
        "number": [str(start + n + 1) for n in range(size)],
        "branch": np.full(size, "00"),
        "sex": columns["sex"],
        "birth_date": columns["birth_date"],
        "exam_date": columns["exam_date"],
        "fiscal_year": columns["fiscal_year"],
        "institution": np.array(institutions)[pick],
        "age": columns["age"],
        "waist": drawn.value("waist"),
        "bmi": drawn.value("bmi"),
        "sbp": drawn.value("sbp"),
        "dbp": drawn.value("dbp"),
        "tg_fasting": np.where(fasting, tg, np.nan),
        "tg_random": np.where(fasting, np.nan, tg),
        "hdl": drawn.value("hdl"),
        "glucose_fasting": np.where(fasting, glucose, np.nan),
        "glucose_random": np.where(fasting, np.nan, glucose),
        "hba1c": drawn.value("hba1c"),
        "blood_draw_timing": drawn.timing.astype(str),
        "med_bp": drawn.med_bp,
        "med_glucose": drawn.med_glucose,
        "med_lipid": drawn.med_lipid,
        "smoking": drawn.smoking.astype(str),
        "reported_metabolic": columns["metabolic_reported"],
        "reported_level": columns["level_reported"],
    }


@lru_cache(maxsize=1)
def _institution_codes() -> list[str]:
    """Ten invented 健診機関番号 per municipality (37 1 郡市区 番号 検証番号)."""
    codes = []
    for district in range(1, len(load_prefecture().municipalities) + 1):
        for serial in range(10):
            body = f"371{district:02d}{district * 10 + serial:04d}"
            codes.append(body + str(luhn_2_1(body)))
    return codes


def _table(seed: int, start: int, size: int, fiscal_year: int, layout: Layout) -> Any:
    """One batch as a pyarrow Table in ``layout``."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    columns, drawn, _ = _batch(seed, start, size, fiscal_year)
    arrays: dict[str, Any] = {}
    if layout == "full":
        for name, values in _full(columns, drawn).items():
            if name in MEASURES:
                arrays[name] = pa.array(values, mask=np.isnan(values))
            elif name in ("urine_protein", "urine_sugar"):
                arrays[name] = pa.array(values, mask=values == 0)
            else:
                arrays[name] = pa.array(values)
        return pa.table(arrays)
    from kokuho.checkups import MEASURE_COLUMNS

    values = _lake(columns, drawn, seed, start)
    for name, kind in MEASURE_COLUMNS.items():
        found = values.get(name)
        if found is None:  # a column the synth does not make (内臓脂肪面積): null
            arrays[name] = pa.nulls(size, type=kind)
        elif isinstance(found, np.ndarray) and found.dtype.kind == "f":
            arrays[name] = pa.array(found, type=kind, mask=np.isnan(found))
        else:
            arrays[name] = pa.array(found, type=kind)
    return pa.table(arrays)


def iter_measure_rows(
    seed: int,
    count: int,
    *,
    layout: Layout = "lake",
    fiscal_year: int = FISCAL_YEAR,
    batch: int = BATCH,
) -> Iterator[dict[str, Any]]:
    """``count`` synthetic checkup rows as dicts, in ``layout`` (module docstring)."""
    for start in range(0, count, batch):
        table = _table(seed, start, min(batch, count - start), fiscal_year, layout)
        yield from table.to_pylist()


def write_measure_parquet(
    path: Path,
    seed: int,
    count: int,
    *,
    layout: Layout = "lake",
    fiscal_year: int = FISCAL_YEAR,
    batch: int = BATCH,
) -> int:
    """Writes ``count`` synthetic checkup rows in ``layout`` (module docstring) to one
    Parquet file, a batch at a time; returns the number of rows."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    writer: Any = None
    try:
        for start in range(0, count, batch):
            table = _table(seed, start, min(batch, count - start), fiscal_year, layout)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return count
