"""メタボリックシンドローム判定 (item 9N501) of one checkup: 基準該当, 予備群該当, 非該当 or
判定不能.

Its own criteria, not those of 階層化:

- **必須項目: 腹囲** ≥85 cm (male) / ≥90 cm (female). BMI is not used, and neither is the
  内臓脂肪面積 (the sources name the waist only). No waist (or no usable sex) → 判定不能;
  a waist below the cut-off → 非該当.
- **選択項目** (each met or not; a missing value does not meet it):

  - 血糖: 空腹時血糖 ≥110. Without it, a 随時血糖 ≥110 drawn 3.5–10 h after a meal (9N141
    "3") when ``metabolic.random_glucose`` is on (UNCONFIRMED). HbA1c(NGSP) ≥6.0 only when
    no glucose value was usable.
  - 脂質: 中性脂肪 ≥150 (the fasting value; 随時中性脂肪 has no metabolic cut-off in the
    sources) or HDL <40.
  - 血圧: SBP ≥130 or DBP ≥85.
  - 服薬 (9N701/9N706/9N711 = 1 はい) for a factor meets that factor.

- **判定**: 腹囲 + 2 or 3 items → 基準該当; + exactly 1 → 予備群該当; + 0 → 非該当.
"""

from __future__ import annotations

from dataclasses import dataclass

from kokuho.checkups._measures import Measures
from kokuho.checkups._model import Metabolic
from kokuho.checkups._rules import CheckupRules, load_rules
from kokuho.checkups._stratify import SEX_LABELS, check_value, fmt, random_allowed, waist_cut

FACTOR_NAMES = ("glucose", "lipid", "bp")
"""The 選択項目, in the order of ``MetabolicResult.factors``."""


@dataclass(frozen=True, slots=True)
class MetabolicResult:
    """メタボ判定 (9N501) with the 選択項目 met (names from ``FACTOR_NAMES``) and the reasons."""

    result: Metabolic
    reasons: tuple[str, ...]
    factors: tuple[str, ...] = ()


_NO_VALUE = "検査値なし (非該当として数える)"


def _glucose(m: Measures, rules: CheckupRules) -> tuple[bool, str]:
    r = rules.metabolic
    if m.med_glucose:
        return True, "血糖: 服薬あり → 該当"
    parts: list[str] = []
    if m.glucose_fasting is not None:
        met = check_value(parts, "空腹時血糖", m.glucose_fasting, r.glucose_fasting)
    elif (
        m.glucose_random is not None
        and r.random_glucose
        and random_allowed(m, rules.stratification)
    ):
        met = check_value(parts, "随時血糖", m.glucose_random, r.glucose_random)
    else:
        met = check_value(parts, "血糖値がないため HbA1c", m.hba1c, r.hba1c)
    return bool(met), "血糖: " + (", ".join(parts) or _NO_VALUE)


def _lipid(m: Measures, rules: CheckupRules) -> tuple[bool, str]:
    r = rules.metabolic
    if m.med_lipid:
        return True, "脂質: 服薬あり → 該当"
    parts: list[str] = []
    tg = check_value(parts, "中性脂肪", m.tg_fasting, r.tg)
    hdl = check_value(parts, "HDLコレステロール", m.hdl, r.hdl_below, below=True)
    return bool(tg or hdl), "脂質: " + (", ".join(parts) or _NO_VALUE)


def _bp(m: Measures, rules: CheckupRules) -> tuple[bool, str]:
    r = rules.metabolic
    if m.med_bp:
        return True, "血圧: 服薬あり → 該当"
    parts: list[str] = []
    sbp = check_value(parts, "収縮期血圧", m.sbp, r.sbp)
    dbp = check_value(parts, "拡張期血圧", m.dbp, r.dbp)
    return bool(sbp or dbp), "血圧: " + (", ".join(parts) or _NO_VALUE)


def metabolic(m: Measures, *, rules: CheckupRules | None = None) -> MetabolicResult:
    """メタボリックシンドローム判定 of one checkup (基準該当 / 予備群該当 / 非該当 / 判定不能)."""
    rules = rules or load_rules()
    r = rules.metabolic
    cut = waist_cut(m.sex, r.waist_male, r.waist_female)
    if m.waist is None or cut is None:
        why = "腹囲なし" if m.waist is None else f"性別 {m.sex} が不明で腹囲の基準がない"
        return MetabolicResult(Metabolic.UNDETERMINED, (f"{why} → 判定不能",))
    waist = f"腹囲({SEX_LABELS[m.sex]}) {fmt(m.waist)}"
    if m.waist < cut:
        return MetabolicResult(Metabolic.NO, (f"{waist} < {fmt(cut)} → 非該当",))

    checks = (_glucose(m, rules), _lipid(m, rules), _bp(m, rules))
    factors = tuple(name for name, (met, _) in zip(FACTOR_NAMES, checks, strict=True) if met)
    result = Metabolic.MEETS if len(factors) >= 2 else Metabolic.PRE if factors else Metabolic.NO
    label = {Metabolic.MEETS: "基準該当", Metabolic.PRE: "予備群該当", Metabolic.NO: "非該当"}
    reasons = (
        f"{waist} ≥ {fmt(cut)} (必須項目)",
        *(text for _, text in checks),
        f"選択項目 {len(factors)} → {label[result]}",
    )
    return MetabolicResult(result, reasons, factors)
