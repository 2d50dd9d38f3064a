"""The synth's local judgement of a checkup: メタボ判定 and 保健指導レベル.

A minimal copy of the stratification (階層化) and metabolic-syndrome (メタボ判定) rules of
checkups-claims.md §1.1–1.2, written here only so that the synth can decide who is offered
guidance and what the institution reports; the official implementation lives in
``kokuho/checkups/_stratify.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kokuho.synth._checkups_codes import FASTING, RANDOM, Codes, Ints
from kokuho.synth._checkups_draw import Drawn


@dataclass(frozen=True)
class Judgement:
    """メタボ判定 (1 基準該当, 2 予備群, 3 非該当) and 保健指導レベル (1 積極的, 2 動機付け,
    3 なし) of each checkup, by the synth's local rule."""

    metabolic: Codes
    level: Codes


def judge(drawn: Drawn, sex: Ints, age_at_year_end: Ints, fiscal_year: int) -> Judgement:
    """The minimal stratification (階層化) of checkups-claims.md §1.1 and メタボ判定 of §1.2,
    with the choices ``checkups/_stratify.py`` and ``checkups/_metabolic.py`` make.

    階層化: glucose by fasting glucose, else HbA1c, else random glucose drawn 3.5–10 h after
    a meal; TG fasting ≥150, or from FY2024 (第4期) random ≥175 drawn 3.5–10 h after a meal;
    people on any of the three medications are not offered guidance (level 3); at 65–74 on
    the fiscal year's last day 積極的支援 becomes 動機付け支援.
    メタボ判定: glucose by fasting ≥110, else random (3.5–10 h) ≥110, else HbA1c ≥6.0; TG by
    the fasting value only; a medication meets its factor.

    The official implementation is ``kokuho/checkups/_stratify.py``; this copy only decides
    whom the synth offers guidance and what the institution writes into the file. It relies
    on the synth never leaving out an item the rules need (waist, BMI, BP, HDL, TG, glucose).
    """
    v = drawn.value
    waist, bmi, sbp, dbp = v("waist"), v("bmi"), v("sbp"), v("dbp")
    tg, hdl, glucose, hba1c = v("tg"), v("hdl"), v("glucose"), v("hba1c")
    timing = drawn.timing
    fasting, random = timing == FASTING, timing == RANDOM
    visceral = np.where(sex == 1, waist >= 85, waist >= 90)
    bmi_only = ~visceral & (bmi >= 25)
    has_a1c = ~np.isnan(hba1c)

    bp = (sbp >= 130) | (dbp >= 85)
    tg_fasting = fasting & (tg >= 150)
    tg_risk = tg_fasting | (random & (tg >= 175) & (fiscal_year >= 2024))
    lipid = tg_risk | (hdl < 40)
    glucose_risk = np.where(
        fasting, glucose >= 100, np.where(has_a1c, hba1c >= 5.6, random & (glucose >= 100))
    )
    base = bp.astype(np.int64) + lipid + glucose_risk
    risks = base + ((drawn.smoking == 1) & (base > 0))
    level = np.full(len(sex), 3, dtype=np.int8)
    level[visceral & (risks >= 2)] = 1
    level[visceral & (risks == 1)] = 2
    level[bmi_only & (risks >= 3)] = 1
    level[bmi_only & (risks >= 1) & (risks <= 2)] = 2
    level[(level == 1) & (age_at_year_end >= 65)] = 2
    level[drawn.med_bp | drawn.med_glucose | drawn.med_lipid] = 3

    meta_glucose = (
        np.where(fasting | random, glucose >= 110, has_a1c & (hba1c >= 6.0)) | drawn.med_glucose
    )
    meta_lipid = tg_fasting | (hdl < 40) | drawn.med_lipid
    meta_bp = bp | drawn.med_bp
    count = meta_glucose.astype(np.int64) + meta_lipid + meta_bp
    metabolic = np.full(len(sex), 3, dtype=np.int8)
    metabolic[visceral & (count >= 2)] = 1
    metabolic[visceral & (count == 1)] = 2
    return Judgement(metabolic=metabolic, level=level)
