"""Which improvements are worth most yen to each home unit (改善効果の試算).

For every tier a unit does not get (and every penalty it does), the smallest change that would
reach it: the tier's threshold or target, the rank cutoff of its band, last year's value plus
the improvement asked, leaving the bottom band or not falling, or answering the item "yes".
Each is tried as a what-if; per indicator and field the smallest change that gains points is
"the next tier". The list is sorted by the yen the unit gains.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kokuho.incentives._board import Scoreboard
from kokuho.incentives._model import IndicatorScore, TierResult, UnitScore
from kokuho.incentives._schema import (
    EffortTier,
    ImprovementTier,
    Indicator,
    PenaltyTier,
    RankTier,
    RuleFile,
    TargetTier,
    ThresholdTier,
)
from kokuho.incentives._whatif import Change, rescore


@dataclass(frozen=True, slots=True)
class Improvement:
    """One improvement of one home unit and what it is worth."""

    part: str
    code: str
    name: str
    indicator: str
    indicator_label: str
    tier: str
    tier_label: str
    field: str
    before: float | str | None
    after: float | str
    points_gain: float
    yen_gain: int
    prefecture_yen_gain: int
    change: Change


def _step(rules: RuleFile, name: str) -> float:
    return 0.0001 if rules.fields[name].unit == "rate" else 0.01


def _numeric_target(rules: RuleFile, tier: object, result: TierResult) -> float | None:
    """The value that would meet ``tier`` (or escape a penalty), or None."""
    name = getattr(tier, "input", "")
    high = rules.fields[name].higher_is_better
    sign = 1 if high else -1
    step = _step(rules, name)
    if isinstance(tier, ThresholdTier):
        for bound, strict in ((tier.at_least, False), (tier.above, True)):
            if bound is not None:
                return bound + (step if strict else 0)
        for bound, strict in ((tier.at_most, False), (tier.below, True)):
            if bound is not None:
                return bound - (step if strict else 0)
        return None
    if isinstance(tier, TargetTier | RankTier):
        return result.cutoff
    if isinstance(tier, ImprovementTier):
        if result.previous is None:
            return None
        need = abs(result.previous) * tier.at_least if tier.relative else tier.at_least
        return result.previous + sign * (need + (step if tier.strict else 0))
    if isinstance(tier, PenaltyTier):
        if tier.falling and result.previous is not None:
            return result.previous  # not falling any more
        if result.cutoff is not None:
            return result.cutoff + sign * step
    return None


def _candidates(
    rules: RuleFile, indicator: Indicator, score: IndicatorScore
) -> Iterator[tuple[TierResult, str, float | str]]:
    tiers = {indicator.tier_id(k): t for k, t in enumerate(indicator.tiers)}
    for result in score.tiers:
        tier = tiers.get(result.tier)
        if tier is None:
            continue
        penalty_given = isinstance(tier, PenaltyTier) and result.status == "given"
        if not penalty_given and (result.status == "given" or result.possible <= 0):
            continue
        if isinstance(tier, EffortTier):
            answer = tier.one_of[0] if tier.one_of else tier.equals
            for item in [tier.item] if tier.item else list(tier.all_of or tier.any_of)[:1]:
                if item:
                    yield result, item, answer
            continue
        name = getattr(tier, "input", None)
        if not isinstance(name, str):
            continue
        value = _numeric_target(rules, tier, result)
        if value is None:
            continue
        if rules.fields[name].unit == "rate":
            value = min(1.0, max(0.0, value))
        current = result.value
        better = rules.fields[name].higher_is_better
        if current is not None and (value <= current if better else value >= current):
            continue
        yield result, name, round(value, 10)


def improvements(
    scoreboard: Scoreboard, *, unit: str | None = None, part: str | None = None
) -> tuple[Improvement, ...]:
    """The improvements of each home unit (or of ``unit``), most yen first."""
    state = scoreboard.state
    rules = state.rules.rules
    found: dict[tuple[str, str, str, str], Improvement] = {}
    for part_score in scoreboard.parts:
        if part is not None and part not in (part_score.key, part_score.label):
            continue
        indicators = {i.id: i for i in rules.part(part_score.key).indicators}
        for unit_score in part_score.units:
            if unit is not None and unit not in (unit_score.code, unit_score.name):
                continue
            for score in unit_score.indicators:
                indicator = indicators[score.indicator]
                for result, name, value in _candidates(rules, indicator, score):
                    item = _try(scoreboard, part_score.key, unit_score, score, result, name, value)
                    if item is None or item.points_gain <= 0:
                        continue
                    effort = name in rules.efforts
                    key = (
                        part_score.key,
                        unit_score.code,
                        score.indicator,
                        f"{name}:{value}" if effort else name,
                    )
                    kept = found.get(key)
                    if kept is None or _smaller(item, kept):
                        found[key] = item
    return tuple(sorted(found.values(), key=lambda i: (-i.yen_gain, -i.points_gain, i.code)))


def _smaller(item: Improvement, kept: Improvement) -> bool:
    if isinstance(item.after, float) and isinstance(kept.after, float):
        base = item.before if isinstance(item.before, float) else 0.0
        return abs(item.after - base) < abs(kept.after - base)
    return False


def _try(
    scoreboard: Scoreboard,
    part: str,
    unit: UnitScore,
    score: IndicatorScore,
    result: TierResult,
    name: str,
    value: float | str,
) -> Improvement | None:
    state = scoreboard.state
    change = Change(unit.code, name, value)
    try:
        after = rescore(state, [change]).evaluation
    except ValueError:
        return None
    before = state.evaluation
    units = before.scored[part].units
    i = units.codes.index(unit.code)
    gain = float(after.scored[part].total[i] - before.scored[part].total[i])
    yen = after.allocations[part].grants[i] - before.allocations[part].grants[i]
    prefecture_yen = 0
    if units.prefectures[i] and part_unit(scoreboard, part) == "municipality":
        for p in scoreboard.parts:
            if p.unit == "prefecture":
                prefecture_yen += after.allocations[p.key].grants[0]
                prefecture_yen -= before.allocations[p.key].grants[0]
    current: float | str | None = result.value
    if name in state.rules.rules.efforts:
        current = dict(unit.efforts).get(name)
    return Improvement(
        part=part,
        code=unit.code,
        name=unit.name,
        indicator=score.indicator,
        indicator_label=f"{score.group} {score.label}".strip(),
        tier=result.tier,
        tier_label=result.label,
        field=name,
        before=current,
        after=value,
        points_gain=gain,
        yen_gain=yen,
        prefecture_yen_gain=prefecture_yen,
        change=change,
    )


def part_unit(scoreboard: Scoreboard, key: str) -> str:
    return scoreboard.part(key).unit
