"""The clerk's explanation of a bill (保険料算定の説明): an assessment as Japanese text, every
figure with the rule and values behind it. ``kokuho premiums explain HOUSEHOLD`` prints it."""

from __future__ import annotations

from kokuho.ids import FiscalYear
from kokuho.premiums._model import PART_NAMES, Assessment


def explain(assessment: Assessment) -> str:
    """The assessment as lines of Japanese text: 軽減, each part's 所得割・資産割・均等割・平等割
    with their reasons, the cap, the year's total and the 納期."""
    a = assessment
    lines = [
        f"世帯 {a.household_id} ({a.municipality}) {FiscalYear(a.fiscal_year).label}"
        f" (FY{a.fiscal_year}) 国民健康保険料",
        f"軽減: {a.reduction}割軽減" if a.reduction else "軽減: なし",
    ]
    lines += [f"  ・{r.text} [{r.rule}]" for r in a.reasons]
    for part in a.parts:
        cap = " (賦課限度額)" if part.capped else ""
        lines.append(f"{PART_NAMES[part.part]}: {part.amount:,}円{cap}")
        lines.append(
            f"  所得割 {part.income_levy:,}円 / 資産割 {part.asset_levy:,}円 / "
            f"均等割 {part.per_capita:,}円 / 平等割 {part.per_household:,}円 (月割後)"
        )
        lines += [f"  ・{r.text} [{r.rule}]" for r in part.reasons]
    lines.append(f"年額合計: {a.total:,}円")
    lines.append("納期:")
    lines += [f"  第{i.number}期 {i.due} {i.amount:,}円" for i in a.instalments]
    return "\n".join(lines) + "\n"
