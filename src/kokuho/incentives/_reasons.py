"""Reasons for every point given or withheld, in Japanese and English, for one unit."""

from __future__ import annotations

import math
from collections.abc import Mapping

from kokuho.incentives._model import IndicatorScore, Status, TierResult
from kokuho.incentives._schema import (
    CapTier,
    EffortSpec,
    EffortTier,
    FieldSpec,
    ImprovementTier,
    Indicator,
    PenaltyTier,
    RankTier,
    RuleFile,
    TargetTier,
    ThresholdTier,
)
from kokuho.incentives._score import (
    ADJUSTMENT,
    GIVEN,
    SUPERSEDED,
    UNMET_REQUIRES,
    IndicatorArrays,
    TierArrays,
)
from kokuho.incentives._units import Units

_STATUS: dict[int, Status] = {
    GIVEN: "given",
    SUPERSEDED: "superseded",
    UNMET_REQUIRES: "requires",
    ADJUSTMENT: "adjustment",
}


def number(value: float | None, unit: str) -> str:
    """A value as staff read it: rates in %, yen with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit in ("yen", "count"):
        return f"{value:,.0f}"
    if unit == "index":
        return f"{value:.3f}"
    return f"{value:,.1f}"


def points_text(points: float) -> str:
    return f"{points:+g}" if points else "0"


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def indicator_score(
    rules: RuleFile, arrays: IndicatorArrays, units: Units, i: int
) -> IndicatorScore:
    """The score of one indicator for unit ``i``, with every tier's reason."""
    indicator = arrays.indicator
    tiers = {indicator.tier_id(k): t for k, t in enumerate(indicator.tiers)}
    results = [
        _tier(
            rules,
            indicator,
            tiers[t.tier_id],
            t,
            units,
            i,
            _band_label(arrays, tiers[t.tier_id], i),
        )
        for t in arrays.tiers
    ]
    limit = float(arrays.limit[i])
    if limit:
        bound = indicator.max if limit < 0 else indicator.min
        results.append(
            TierResult(
                tier=f"{indicator.id}.limit",
                kind="limit",
                label="上限" if limit < 0 else "下限",
                possible=0,
                awarded=limit,
                status="adjustment",
                value=None,
                previous=None,
                cutoff=bound,
                reason_ja=f"{'上限' if limit < 0 else '下限'} {bound:g}点: {points_text(limit)}点",
                reason_en=f"limit of {bound:g} points: {points_text(limit)}",
                confirmed=indicator.confirmed,
                source=indicator.source,
            )
        )
    return IndicatorScore(
        indicator=indicator.id,
        label=indicator.label,
        group=indicator.group,
        max=indicator.max,
        min=indicator.min,
        points=float(arrays.points[i]),
        tiers=tuple(results),
        confirmed=indicator.confirmed,
        source=indicator.source,
    )


def _band_label(arrays: IndicatorArrays, tier: object, i: int) -> str:
    within = getattr(tier, "within", "all")
    if within == "all" or within not in arrays.bands:
        return ""
    bands = arrays.bands[within]
    band = int(bands.of[i])
    return bands.labels[band] if band >= 0 else "規模区分なし"


def _tier(
    rules: RuleFile,
    indicator: Indicator,
    tier: object,
    arrays: TierArrays,
    units: Units,
    i: int,
    band: str,
) -> TierResult:
    status = _STATUS.get(int(arrays.status[i]), "withheld")
    awarded = float(arrays.awarded[i])
    name = getattr(tier, "input", None)
    spec = rules.fields.get(name) if isinstance(name, str) else None
    value = previous = cutoff = None
    if spec is not None and isinstance(name, str) and name in units.values:
        history = units.values[name][:, i]
        value, previous = _opt(history[0]), _opt(history[1])
    condition = arrays.condition
    if condition is not None and condition.cutoff is not None:
        cutoff = _opt(float(condition.cutoff[i]))
    label = getattr(tier, "label", "") or _default_label(tier, rules)
    ja, en = _explain(rules, tier, spec, units, i, value, previous, cutoff, label, band)
    if status == "superseded":
        ja += " (同じ区分の上位の段階で加点済み)"
        en += " (a higher step of the same ladder was given)"
    elif status == "requires":
        needed = ", ".join(getattr(tier, "requires", ()))
        ja += f" (前提 {needed} を満たさない)"
        en += f" (requires {needed}, not met)"
    if status != "adjustment":
        possible = float(getattr(tier, "points", 0.0))
        if awarded:
            ja += f" → {points_text(awarded)}点"
            en += f" → {points_text(awarded)}"
        else:
            ja += f" → 0点 ({points_text(possible)}点の区分)"
            en += f" → 0 (tier of {points_text(possible)})"
    else:
        possible = 0.0
        ja += f" → {points_text(awarded)}点"
        en += f" → {points_text(awarded)}"
    confirmed = getattr(tier, "confirmed", None)
    source = getattr(tier, "source", None)
    return TierResult(
        tier=arrays.tier_id,
        kind=str(getattr(tier, "kind", "")),
        label=label,
        possible=possible,
        awarded=awarded,
        status=status,
        value=value,
        previous=previous,
        cutoff=cutoff,
        reason_ja=ja,
        reason_en=en,
        confirmed=indicator.confirmed if confirmed is None else bool(confirmed),
        source=indicator.source if source is None else str(source),
    )


def _default_label(tier: object, rules: RuleFile) -> str:
    if isinstance(tier, EffortTier):
        items = [tier.item] if tier.item else list(tier.all_of or tier.any_of)
        return "・".join(rules.efforts[item].label for item in items if item in rules.efforts)
    return str(getattr(tier, "kind", ""))


def _explain(
    rules: RuleFile,
    tier: object,
    spec: FieldSpec | None,
    units: Units,
    i: int,
    value: float | None,
    previous: float | None,
    cutoff: float | None,
    label: str,
    band: str,
) -> tuple[str, str]:
    if isinstance(tier, EffortTier):
        return _effort(rules.efforts, tier, units, i, label)
    if isinstance(tier, CapTier):
        bound = " – ".join(f"{b:g}" for b in (tier.min, tier.max) if b is not None)
        return (f"{label}: 対象区分の合計を {bound}点に制限", f"{label}: capped at {bound}")
    assert spec is not None
    unit = spec.unit
    shown = number(value, unit)
    en_name = spec.label_en or spec.label
    if value is None:
        return (f"{label}: {spec.label} の値なし", f"{label}: no value of {en_name}")
    if isinstance(tier, ThresholdTier):
        bounds = [
            (op, bound)
            for op, bound in (
                ("≥", tier.at_least),
                (">", tier.above),
                ("≤", tier.at_most),
                ("<", tier.below),
            )
            if bound is not None
        ]
        text = " かつ ".join(f"{op} {number(b, unit)}" for op, b in bounds)
        text_en = " and ".join(f"{op} {number(b, unit)}" for op, b in bounds)
        return (
            f"{label}: {spec.label} {shown} (基準 {text})",
            f"{label}: {en_name} {shown} (needs {text_en})",
        )
    if isinstance(tier, TargetTier):
        target = number(cutoff, unit)
        return (
            f"{label}: {spec.label} {shown} (目標 {target})",
            f"{label}: {en_name} {shown} (target {target})",
        )
    if isinstance(tier, RankTier):
        band = f"{band} " if band else ""
        return (
            f"{label}: {spec.label} {shown} ({band}基準値 {number(cutoff, unit)})",
            f"{label}: {en_name} {shown} ({band}cutoff {number(cutoff, unit)})",
        )
    if isinstance(tier, ImprovementTier):
        change = "—" if previous is None else _change(value, previous, unit)
        op = ">" if tier.strict else "≥"
        if tier.relative:
            need = f"{op} +{tier.at_least * 100:g}%"
        elif unit == "rate":
            need = f"{op} +{tier.at_least * 100:g}ポイント"
        else:
            need = f"{op} +{tier.at_least:g}"
        return (
            f"{label}: 前年度 {number(previous, unit)} → {shown} ({change}; 基準 {need})",
            f"{label}: {number(previous, unit)} → {shown} ({change}; needs {need})",
        )
    assert isinstance(tier, PenaltyTier)
    parts_ja, parts_en = [], []
    if cutoff is not None:
        parts_ja.append(f"{band + ' ' if band else ''}下位基準 {number(cutoff, unit)}")
        parts_en.append(f"low cutoff {number(cutoff, unit)}")
    if tier.falling:
        parts_ja.append(f"前年度 {number(previous, unit)}")
        parts_en.append(f"previous year {number(previous, unit)}")
    return (
        f"{label}: {spec.label} {shown} ({'、'.join(parts_ja)})",
        f"{label}: {en_name} {shown} ({', '.join(parts_en)})",
    )


def _change(value: float, previous: float, unit: str) -> str:
    if unit == "rate":
        return f"{(value - previous) * 100:+.1f}ポイント"
    return f"{value - previous:+,.1f}"


def _effort(
    efforts: Mapping[str, EffortSpec], tier: EffortTier, units: Units, i: int, label: str
) -> tuple[str, str]:
    items = [tier.item] if tier.item else list(tier.all_of or tier.any_of)
    answers = []
    for item in items:
        codes = units.efforts.get(item)
        code = -1 if codes is None else int(codes[i])
        answers.append("未回答" if code < 0 else efforts[item].values[code])
    shown = ", ".join(f"{item}={a}" for item, a in zip(items, answers, strict=True))
    wanted = "/".join(tier.one_of or (tier.equals,))
    return (
        f"{label}: 回答 {shown} (要件 {wanted})",
        f"{label}: answered {shown.replace('未回答', 'none')} (needs {wanted})",
    )


def unit_answers(units: Units, efforts: Mapping[str, EffortSpec], i: int) -> dict[str, str]:
    out = {}
    for item, codes in units.efforts.items():
        code = int(codes[i])
        if code >= 0 and item in efforts:
            out[item] = efforts[item].values[code]
    return out
