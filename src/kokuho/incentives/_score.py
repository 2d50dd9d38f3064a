"""Points per indicator and in total, for every unit of a part (評価指標ごとの加点).

For each indicator: every tier's condition is evaluated; a tier counts when its condition
and those of the tiers it ``requires`` hold; among tiers sharing a ``ladder`` only the first
that counts (in file order) is given; ``cap`` tiers clip the sum of the tiers they name; the
indicator's total is clipped to [min, max]. A unit's total is the sum over indicators, or the
total the backdrop gives for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kokuho.incentives._schema import CapTier, Indicator, Part, RuleFile
from kokuho.incentives._tiers import Bands, Condition, bands_of, evaluate
from kokuho.incentives._units import Bools, Floats, Units

GIVEN, WITHHELD, SUPERSEDED, UNMET_REQUIRES, ADJUSTMENT = range(5)


@dataclass(frozen=True, slots=True)
class TierArrays:
    """One tier's outcome for every unit. ``status`` is GIVEN, WITHHELD, SUPERSEDED (a tier
    earlier on its ladder was given) or UNMET_REQUIRES; caps and the indicator's own limits
    have ADJUSTMENT with the points they took away (or added) in ``awarded``."""

    tier_id: str
    condition: Condition | None
    awarded: Floats
    status: np.ndarray


@dataclass(frozen=True, slots=True)
class IndicatorArrays:
    indicator: Indicator
    points: Floats
    tiers: tuple[TierArrays, ...]
    limit: Floats  # what the indicator's min/max took away (≤ 0) or added (≥ 0)
    bands: dict[str, Bands]


@dataclass(frozen=True, slots=True)
class PartArrays:
    """A scored part: points (units × indicators) and totals."""

    part: Part
    units: Units
    indicators: tuple[IndicatorArrays, ...]
    total: Floats

    @property
    def points(self) -> Floats:
        if not self.indicators:
            return np.zeros((self.units.size, 0))
        return np.column_stack([i.points for i in self.indicators])


def references(rules: RuleFile, indicator: Indicator) -> frozenset[str]:
    """Every field and effort item an indicator reads (size-group bases included)."""
    names: set[str] = set()
    for tier in indicator.tiers:
        for attribute in ("input", "target_field", "item"):
            value = getattr(tier, attribute, None)
            if isinstance(value, str):
                names.add(value)
        names.update(getattr(tier, "all_of", ()) or ())
        names.update(getattr(tier, "any_of", ()) or ())
        within = getattr(tier, "within", "all")
        if within in rules.size_groups:
            names.add(rules.size_groups[within].basis)
    return frozenset(names)


def score_part(rules: RuleFile, part: Part, units: Units) -> PartArrays:
    """Scores every unit of ``part``."""
    return score_indicators(rules, part, units, None, None)[0]


def score_indicators(
    rules: RuleFile,
    part: Part,
    units: Units,
    reuse: PartArrays | None,
    dirty: set[str] | None,
) -> tuple[PartArrays, bool]:
    """Scores ``part``; with ``reuse`` (an earlier result on units that differ only in the
    ``dirty`` fields), indicators reading none of them are taken over. Returns the result and
    whether any points may have changed."""
    bands: dict[str, Bands] = {"all": bands_of(units, None)}
    for key, grouping in rules.size_groups.items():
        bands[key] = bands_of(units, grouping)
    recomputed = reuse is None or dirty is None or "insured" in dirty
    scored_list = []
    for k, indicator in enumerate(part.indicators):
        if reuse is not None and dirty is not None and not references(rules, indicator) & dirty:
            scored_list.append(reuse.indicators[k])
            continue
        recomputed = True
        scored_list.append(_indicator(rules, indicator, units, bands))
    if reuse is not None and not np.array_equal(
        reuse.units.override, units.override, equal_nan=True
    ):
        recomputed = True
    scored = tuple(scored_list)
    total = np.zeros(units.size)
    for item in scored:
        total = total + item.points
    total = np.where(np.isnan(units.override), total, units.override)
    # A unit given by its total has no per-indicator points.
    given = ~np.isnan(units.override)
    if given.any():
        scored = tuple(
            IndicatorArrays(
                i.indicator, np.where(given, np.nan, i.points), i.tiers, i.limit, i.bands
            )
            for i in scored
        )
    return PartArrays(part, units, scored, total), recomputed


def _indicator(
    rules: RuleFile, indicator: Indicator, units: Units, bands: dict[str, Bands]
) -> IndicatorArrays:
    n = units.size
    ids = [indicator.tier_id(k) for k in range(len(indicator.tiers))]
    conditions: dict[str, Condition] = {}
    for tier_id, tier in zip(ids, indicator.tiers, strict=True):
        if isinstance(tier, CapTier):
            continue
        within = getattr(tier, "within", "all")
        conditions[tier_id] = evaluate(tier, units, rules.fields, rules.efforts, bands[within])
    awarded: dict[str, Floats] = {}
    results: list[TierArrays] = []
    taken: dict[str, Bools] = {}
    for tier_id, tier in zip(ids, indicator.tiers, strict=True):
        if isinstance(tier, CapTier):
            continue
        met = conditions[tier_id].met
        counts = met.copy()
        for required in tier.requires:
            counts &= conditions[required].met
        given = counts
        if tier.ladder is not None:
            before = taken.get(tier.ladder, np.zeros(n, dtype=bool))
            given = counts & ~before
            taken[tier.ladder] = before | given
        points = np.where(given, tier.points, 0.0)
        awarded[tier_id] = points
        status = np.full(n, WITHHELD, dtype=np.int8)
        status[met & ~counts] = UNMET_REQUIRES
        status[counts & ~given] = SUPERSEDED
        status[given] = GIVEN
        results.append(TierArrays(tier_id, conditions[tier_id], points, status))
    adjustments = np.zeros(n)
    for tier_id, tier in zip(ids, indicator.tiers, strict=True):
        if not isinstance(tier, CapTier):
            continue
        subtotal = sum((awarded[t] for t in tier.tiers), np.zeros(n))
        clipped = np.clip(
            subtotal,
            -np.inf if tier.min is None else tier.min,
            np.inf if tier.max is None else tier.max,
        )
        change = clipped - subtotal
        adjustments = adjustments + change
        results.append(TierArrays(tier_id, None, change, np.full(n, ADJUSTMENT, dtype=np.int8)))
    raw = sum(awarded.values(), np.zeros(n)) + adjustments
    low = -np.inf if indicator.min is None else indicator.min
    final = np.clip(raw, low, indicator.max)
    return IndicatorArrays(indicator, final, tuple(results), final - raw, bands)
