"""階層化 (特定保健指導の対象者の選定) of one checkup, with the reasons, for the 3rd term
(FY2018–2023) and the 4th term (FY2024–).

The official steps (標準的な健診・保健指導プログラム, ステップ1〜4) and the choices kokuho
made where the text leaves a gap:

- **Age.** ``Measures.age`` is the 年度末年齢. Only 40–75 (``eligible_age`` in the rules file)
  is stratified: 75 is still a 特定健診 target when examined before the 75th birthday. Any
  other age gives 判定不能 with the reason 「対象年齢外」 (no exception: a whole table is
  judged at once and one odd row must not stop it).
- **⑤ 服薬.** Anyone answering 1 はい to 服薬1/2/3 (血圧/血糖/脂質) is excluded from 特定保健指導:
  level ``NONE`` (9N506 "3 なし"), reason 「服薬中のため対象外」, whatever the other items say.
  The program reports them as 情報提供 (saiyakukokuho.or.jp: 薬剤を服用している場合は情報提供).
  An unanswered 服薬 item does not exclude.
- **Step 1 (内臓脂肪蓄積).** Waist ≥85 cm (male) / ≥90 cm (female) → group (1); otherwise
  BMI ≥25 → group (2); otherwise 情報提供. A measured 内臓脂肪面積 decides instead of the waist
  (≥100 cm² → (1)). With neither waist nor 内臓脂肪面積, the person gets 情報提供 only when the
  waist could lawfully be omitted (BMI <20); otherwise 判定不能 (group (1) and (2) cannot be
  told apart). A waist below the cut-off with no BMI is 判定不能 too.
- **Step 2 (追加リスク).** Each of ①〜③ is met, not met, or not evaluable (none of its values
  present). A present value that misses its cut-off and an absent one both leave it unmet: one
  measured value is enough to evaluate it.

  - ① 血圧高: SBP ≥130 or DBP ≥85.
  - ② 脂質異常: TG ≥150 (空腹時), or HDL <40. In the 4th term a 随時中性脂肪 ≥175 stands in
    when there is no fasting TG and 9N141 says 3.5–10 h ("3"); never for "4" (<3.5 h, 食直後),
    "2" (≥10 h: the value belongs under the fasting code) or a missing timing.
  - ③ 血糖高値: 空腹時血糖 ≥100 or HbA1c(NGSP) ≥5.6. When both are present the fasting glucose
    alone decides (``fasting_glucose_over_hba1c``, UNCONFIRMED). Without either, a 随時血糖
    ≥100 under timing "3" decides (allowed since FY2018, i.e. both terms).
  - ④ 喫煙: 9N736 = "1" (現在吸っている), counted only with at least one of ①〜③.

  A group-(1)/(2) person with none of ①〜③ evaluable is 判定不能.
- **Step 3.** Group (1): ≥2 risks → 積極的支援, 1 → 動機付け支援, 0 → 情報提供. Group (2): ≥3 →
  積極的支援, 1–2 → 動機付け支援, 0 → 情報提供.
- **Step 4.** 65歳以上 (年度末) → 積極的支援 becomes 動機付け支援.

``group`` and ``risks`` are facts about the measurements, given for every person (also the
excluded ones); only ``level`` applies the exclusions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kokuho.checkups._measures import Measures
from kokuho.checkups._model import GuidanceLevel
from kokuho.checkups._rules import CheckupRules, StratificationRules, Term, load_rules

RISK_NAMES = ("bp", "lipid", "glucose", "smoking")
"""The additional risks ①〜④, in the order of ``Stratification.risks``."""

SEX_LABELS = {1: "男性", 2: "女性"}


@dataclass(frozen=True, slots=True)
class Stratification:
    """The result of 階層化: the 保健指導レベル (9N506), the step-1 group, the risks met
    (names from ``RISK_NAMES``) and the reasons, in Japanese, in the order they were found."""

    level: GuidanceLevel
    group: Literal[1, 2] | None
    risks: tuple[str, ...]
    reasons: tuple[str, ...]


def fmt(value: float) -> str:
    """A measured value as people write it: 85.0 → "85", 84.9 → "84.9"."""
    return f"{value:g}"


def any_met(*checks: bool | None) -> bool | None:
    """Met if any check is met; not met if at least one was evaluated; else not evaluable."""
    if any(check is True for check in checks):
        return True
    if any(check is False for check in checks):
        return False
    return None


def waist_cut(sex: int, male: float, female: float) -> float | None:
    return {1: male, 2: female}.get(sex)


def random_allowed(m: Measures, rules: StratificationRules) -> bool:
    """A 随時 value may be used only for a draw 3.5–10 h after a meal (9N141 = "3")."""
    return m.blood_draw_timing in rules.random_allowed_timing


def versus(label: str, value: float, cut: float, met: bool, *, below: bool = False) -> str:
    """A comparison as a reason: "収縮期血圧 132 ≥ 130", "HDLコレステロール 40 ≥ 40"."""
    sign = ("<" if met else "≥") if below else ("≥" if met else "<")
    return f"{label} {fmt(value)} {sign} {fmt(cut)}"


def check_value(
    parts: list[str], label: str, value: float | None, cut: float, *, below: bool = False
) -> bool | None:
    """Whether a measured value meets its cut-off (at or above it; strictly below it when
    ``below``), noting the comparison in ``parts``; None when it was not measured."""
    if value is None:
        return None
    met = value < cut if below else value >= cut
    parts.append(versus(label, value, cut, met, below=below))
    return met


@dataclass(frozen=True, slots=True)
class _Risks:
    bp: bool | None
    lipid: bool | None
    glucose: bool | None
    smoking: bool
    reasons: tuple[str, ...]

    @property
    def met(self) -> tuple[str, ...]:
        flags = (self.bp, self.lipid, self.glucose, self.smoking)
        return tuple(name for name, flag in zip(RISK_NAMES, flags, strict=True) if flag)


def _describe(title: str, met: bool | None, parts: list[str]) -> str:
    verdict = {True: "該当", False: "非該当", None: "判定できる検査値なし"}[met]
    return f"{title}: {verdict}" + (f" ({', '.join(parts)})" if parts else "")


def _risks(m: Measures, term: Term, r: StratificationRules) -> _Risks:
    reasons: list[str] = []

    parts: list[str] = []
    bp = any_met(
        check_value(parts, "収縮期血圧", m.sbp, r.sbp),
        check_value(parts, "拡張期血圧", m.dbp, r.dbp),
    )
    reasons.append(_describe("① 血圧高", bp, parts))

    parts = []
    tg: bool | None = None
    if m.tg_fasting is not None:
        tg = check_value(parts, "空腹時中性脂肪", m.tg_fasting, r.tg_fasting)
    elif m.tg_random is not None:
        if term.random_tg and random_allowed(m, r):
            tg = check_value(parts, "随時中性脂肪", m.tg_random, r.tg_random)
        elif not term.random_tg:
            parts.append(f"随時中性脂肪は第{term.term}期では使わない")
        else:
            parts.append(f"随時中性脂肪は採血時間 {m.blood_draw_timing or '不明'} のため使えない")
    hdl = check_value(parts, "HDLコレステロール", m.hdl, r.hdl_below, below=True)
    lipid = any_met(tg, hdl)
    reasons.append(_describe("② 脂質異常", lipid, parts))

    parts = []
    fasting = check_value(parts, "空腹時血糖", m.glucose_fasting, r.glucose_fasting)
    hba1c: bool | None = None
    if fasting is not None and m.hba1c is not None and r.fasting_glucose_over_hba1c:
        parts.append(f"HbA1c {fmt(m.hba1c)} は空腹時血糖があるため使わない")
    else:
        hba1c = check_value(parts, "HbA1c", m.hba1c, r.hba1c)
    glucose = any_met(fasting, hba1c)
    if glucose is None and m.glucose_random is not None:
        if term.random_glucose and random_allowed(m, r):
            glucose = check_value(parts, "随時血糖", m.glucose_random, r.glucose_random)
        else:
            parts.append(f"随時血糖は採血時間 {m.blood_draw_timing or '不明'} のため使えない")
    reasons.append(_describe("③ 血糖高値", glucose, parts))

    smoker = m.smoking == "1"
    smoking = smoker and True in (bp, lipid, glucose)
    if smoker:
        note = "①〜③のいずれかがあるため数える" if smoking else "①〜③がないため数えない"
        reasons.append(f"④ 喫煙: あり ({note})")
    return _Risks(bp, lipid, glucose, smoking, tuple(reasons))


def _step1(m: Measures, r: StratificationRules) -> tuple[Literal[1, 2] | None, bool, str]:
    """(group, decided, reason): group (1), (2) or None; ``decided`` is False for 判定不能."""
    central: bool | None = None
    if m.visceral_fat_area is not None:
        central = m.visceral_fat_area >= r.visceral_fat_area
        text = versus("内臓脂肪面積", m.visceral_fat_area, r.visceral_fat_area, central)
    elif (
        m.waist is not None and (cut := waist_cut(m.sex, r.waist_male, r.waist_female)) is not None
    ):
        central = m.waist >= cut
        text = versus(f"腹囲({SEX_LABELS[m.sex]})", m.waist, cut, central)
    elif m.waist is not None:
        text = f"性別 {m.sex} が不明で腹囲の基準がない"
    else:
        text = "腹囲・内臓脂肪面積なし"

    if central:
        return 1, True, f"ステップ1: {text} → (1)"
    if m.bmi is None:
        return None, False, f"ステップ1: {text}, BMIなし → 判定不能"
    if central is False:
        if m.bmi >= r.bmi:
            return 2, True, f"ステップ1: {text}, {versus('BMI', m.bmi, r.bmi, True)} → (2)"
        return None, True, f"ステップ1: {text}, {versus('BMI', m.bmi, r.bmi, False)} → 情報提供"
    if m.bmi < r.waist_omitted_below_bmi:
        limit = fmt(r.waist_omitted_below_bmi)
        return None, True, f"ステップ1: {text}, BMI {fmt(m.bmi)} < {limit} (腹囲省略可) → 情報提供"
    return (
        None,
        False,
        f"ステップ1: {text}, BMI {fmt(m.bmi)} では (1) と (2) を区別できない → 判定不能",
    )


def stratify(m: Measures, *, term: int, rules: CheckupRules | None = None) -> Stratification:
    """階層化 of one checkup under the rules of ``term`` (3 or 4; see ``term_for``).

    Raises ValueError for a term without rules; every record gets a level, 判定不能
    (``GuidanceLevel.UNDETERMINED``) when the items needed to decide are missing.
    """
    rules = rules or load_rules()
    r = rules.stratification
    the_term = rules.term(term)
    group, decided, step1 = _step1(m, r)
    risks = _risks(m, the_term, r)
    facts = (f"第{term}期の基準, 年度末年齢 {m.age}歳", step1, *risks.reasons)

    def result(level: GuidanceLevel, *why: str) -> Stratification:
        return Stratification(level, group, risks.met, (*facts, *why))

    if not r.min_age <= m.age <= r.max_age:
        return result(GuidanceLevel.UNDETERMINED, "対象年齢外")
    medicated = [
        name
        for name, answer in (("血圧", m.med_bp), ("血糖", m.med_glucose), ("脂質", m.med_lipid))
        if answer is True
    ]
    if medicated:
        return result(GuidanceLevel.NONE, "服薬中のため対象外", f"服薬あり: {'・'.join(medicated)}")
    if not decided:
        return result(GuidanceLevel.UNDETERMINED, "腹囲・BMIが不足し判定不能")
    if group is None:
        return result(GuidanceLevel.NONE, "情報提供 (内臓脂肪蓄積なし)")
    if (risks.bp, risks.lipid, risks.glucose) == (None, None, None):
        return result(GuidanceLevel.UNDETERMINED, "追加リスク①〜③を判定できる検査値がなく判定不能")

    count = len(risks.met)
    intensive_from = 2 if group == 1 else 3  # (1): 2 or more risks; (2): 3 or more
    level = (
        GuidanceLevel.INTENSIVE
        if count >= intensive_from
        else GuidanceLevel.MOTIVATIONAL
        if count >= 1
        else GuidanceLevel.NONE
    )
    label = {
        GuidanceLevel.INTENSIVE: "積極的支援",
        GuidanceLevel.MOTIVATIONAL: "動機付け支援",
        GuidanceLevel.NONE: "情報提供",
    }[level]
    decision = f"ステップ3: ({group}) で追加リスク {count} → {label}"
    if level is GuidanceLevel.INTENSIVE and m.age >= r.capped_from_age:
        cap = f"ステップ4: {r.capped_from_age}歳以上 (年度末年齢 {m.age}歳) のため動機付け支援"
        return result(GuidanceLevel.MOTIVATIONAL, decision, cap)
    return result(level, decision)
