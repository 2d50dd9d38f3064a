"""Whether each unit meets a tier's condition, for all units of a part at once.

Rank bands (上位 X割) are computed over the units that have a value, per size-group band:
with ``m`` such units, the top fraction ``f`` is the best ``k = ⌈f × m⌉`` of them (at least
one), and a unit qualifies when its value is at least as good as the k-th best (ties
qualify). ``top_n`` takes k = n directly. A published cutoff for a band replaces the
computed one. 下位 X割 (penalties) mirror this from the worst end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from kokuho.incentives._schema import (
    EffortSpec,
    EffortTier,
    FieldSpec,
    ImprovementTier,
    PenaltyTier,
    RankTier,
    SizeGrouping,
    TargetTier,
    ThresholdTier,
)
from kokuho.incentives._units import Bools, Floats, Units

NumericTier = ThresholdTier | TargetTier | RankTier | ImprovementTier | PenaltyTier


@dataclass(frozen=True, slots=True)
class Bands:
    """The size-group band of every unit (−1: none, e.g. no basis value)."""

    keys: tuple[str, ...]
    labels: tuple[str, ...]
    of: np.ndarray


def bands_of(units: Units, grouping: SizeGrouping | None) -> Bands:
    """Each unit's band of ``grouping`` (``None``: one band "all")."""
    n = units.size
    if grouping is None:
        return Bands(("all",), ("全体",), np.zeros(n, dtype=np.int64))
    if grouping.basis == "insured":
        basis = units.insured.astype(np.float64)
    else:
        basis = units.values.get(grouping.basis, np.full((1, n), np.nan))[0]
    of = np.full(n, -1, dtype=np.int64)
    for b in range(len(grouping.bands) - 1, -1, -1):  # the first matching band wins
        band = grouping.bands[b]
        inside = ~np.isnan(basis)
        if band.min is not None:
            inside &= basis >= band.min
        if band.below is not None:
            inside &= basis < band.below
        of[inside] = b
    return Bands(tuple(b.key for b in grouping.bands), tuple(b.label for b in grouping.bands), of)


def best_count(fraction: float | None, top_n: int | None, available: int) -> int:
    """How many units the top (or bottom) band holds among ``available`` with a value.

    Exact decimal arithmetic: ⌈0.3 × 10⌉ is 3, not the 4 that binary floats would give.
    """
    if top_n is not None:
        return min(top_n, available)
    assert fraction is not None
    return max(1, min(available, math.ceil(Fraction(str(fraction)) * available)))


def cutoffs(
    values: Floats,
    bands: Bands,
    *,
    fraction: float | None,
    count: int | None,
    better_high: bool,
    from_best: bool,
    published: Mapping[str, float] | None = None,
) -> Floats:
    """The cutoff value each unit is compared with (NaN where its band has no value).

    ``from_best``: the k-th best value (上位); otherwise the k-th worst (下位).
    """
    cut = np.full(values.shape[0], np.nan)
    valid = ~np.isnan(values)
    for b, key in enumerate(bands.keys):
        members = bands.of == b
        if published and key in published:
            cut[members] = published[key]
            continue
        present = np.sort(values[members & valid])
        if present.size == 0:
            continue
        k = best_count(fraction, count, present.size)
        high_first = better_high == from_best
        cut[members] = present[-k] if high_first else present[k - 1]
    return cut


def _at_least_as_good(values: Floats, cut: Floats, better_high: bool) -> Bools:
    ok = ~np.isnan(values) & ~np.isnan(cut)
    compare = values >= np.where(ok, cut, 0) if better_high else values <= np.where(ok, cut, 0)
    result: Bools = ok & compare
    return result


@dataclass(frozen=True, slots=True)
class Condition:
    """Whether each unit meets a tier, and the cutoff it was compared with (rank tiers)."""

    met: Bools
    cutoff: Floats | None = None


def evaluate(
    tier: NumericTier | EffortTier,
    units: Units,
    fields: Mapping[str, FieldSpec],
    efforts: Mapping[str, EffortSpec],
    bands: Bands,
) -> Condition:
    """The condition of one (non-cap) tier for every unit."""
    if isinstance(tier, EffortTier):
        return Condition(_effort(tier, units, efforts))
    spec = fields[tier.input]
    high = spec.higher_is_better
    history = units.values.get(tier.input)
    if history is None:
        history = np.full((3, units.size), np.nan)
    now, before, before2 = history[0], history[1], history[2]
    have = ~np.isnan(now)
    if isinstance(tier, ThresholdTier):
        met = have.copy()
        safe = np.where(have, now, 0.0)
        if tier.at_least is not None:
            met &= safe >= tier.at_least
        if tier.above is not None:
            met &= safe > tier.above
        if tier.at_most is not None:
            met &= safe <= tier.at_most
        if tier.below is not None:
            met &= safe < tier.below
        return Condition(met)
    if isinstance(tier, TargetTier):
        if tier.target is not None:
            target = np.full(units.size, tier.target)
        else:
            assert tier.target_field is not None
            target = units.values.get(tier.target_field, np.full((3, units.size), np.nan))[0]
        return Condition(_at_least_as_good(now, target, high), target)
    if isinstance(tier, RankTier):
        cut = cutoffs(
            now,
            bands,
            fraction=tier.top,
            count=tier.top_n,
            better_high=high,
            from_best=True,
            published=tier.cutoffs,
        )
        return Condition(_at_least_as_good(now, cut, high), cut)
    if isinstance(tier, ImprovementTier):
        met = _improved(now, before, tier, high)
        if tier.running == 2:
            met &= _improved(before, before2, tier, high)
        return Condition(met)
    return _penalty(tier, now, before, before2, bands, high)


def _improved(now: Floats, before: Floats, tier: ImprovementTier, high: bool) -> Bools:
    ok = ~np.isnan(now) & ~np.isnan(before)
    a, b = np.where(ok, now, 0.0), np.where(ok, before, 0.0)
    change = a - b if high else b - a
    if tier.relative:
        ok &= b != 0
        change = np.divide(change, np.abs(b), out=np.zeros_like(change), where=b != 0)
    # Rates are fractions: 0.45 − 0.42 must count as 0.03 (three ポイント), not 0.0299….
    change = np.round(change, 12)
    met = change > tier.at_least if tier.strict else change >= tier.at_least
    result: Bools = ok & met
    return result


def _penalty(
    tier: PenaltyTier, now: Floats, before: Floats, before2: Floats, bands: Bands, high: bool
) -> Condition:
    met = ~np.isnan(now)
    cut: Floats | None = None
    if tier.bottom is not None or tier.bottom_n is not None:
        cut = cutoffs(
            now,
            bands,
            fraction=tier.bottom,
            count=tier.bottom_n,
            better_high=high,
            from_best=False,
        )
        met &= _at_least_as_good(now, cut, not high)  # as bad as the k-th worst, or worse
    elif tier.below is not None:
        cut = np.full(now.shape[0], tier.below)
        safe = np.where(met, now, 0.0)
        met &= safe < tier.below if high else safe > tier.below
    if tier.falling:
        for previous in (before, before2)[: tier.falling_years]:
            ok = ~np.isnan(previous)
            a, b = np.where(met & ok, now, 0.0), np.where(ok, previous, 0.0)
            met &= ok & (a < b if high else a > b)
    return Condition(met, cut)


def _effort(tier: EffortTier, units: Units, efforts: Mapping[str, EffortSpec]) -> Bools:
    items = [tier.item] if tier.item else list(tier.all_of or tier.any_of)
    wanted = tier.one_of or (tier.equals,)
    checks = []
    for item in items:
        answers = units.efforts.get(item)
        if answers is None:
            checks.append(np.zeros(units.size, dtype=bool))
            continue
        values = efforts[item].values
        codes = [values.index(v) for v in wanted]
        checks.append(np.isin(answers, codes))
    if tier.any_of:
        met: Bools = np.logical_or.reduce(checks)
    else:
        met = np.logical_and.reduce(checks)
    return met
