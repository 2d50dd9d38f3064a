"""Scores and grants of every part from the units, without reasons (the fast path).

Parts are scored in file order; before a prefecture part, the aggregate fields (the mean
points of a prefecture's municipalities in an earlier municipality part) are refreshed, so a
change to one municipality moves its prefecture's points too. ``evaluate`` can reuse the
indicators of an earlier evaluation that read none of the changed fields: a what-if re-scores
only what it touches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from kokuho.incentives._allocate import Allocation, allocate
from kokuho.incentives._schema import Part, RuleFile
from kokuho.incentives._score import PartArrays, score_indicators
from kokuho.incentives._units import Floats, Units


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Scored parts, their allocations, and the prefecture units with aggregates filled."""

    scored: dict[str, PartArrays]
    allocations: dict[str, Allocation]
    prefectures: Units


def prefecture_index(municipalities: Units, prefectures: Units) -> np.ndarray:
    """For each municipality, the index of its prefecture among ``prefectures`` (−1: none)."""
    where = {code: i for i, code in enumerate(prefectures.codes)}
    return np.array([where.get(p, -1) for p in municipalities.prefectures], dtype=np.int64)


def with_aggregates(
    rules: RuleFile, prefectures: Units, scored: Mapping[str, PartArrays], index: np.ndarray
) -> tuple[Units, set[str]]:
    """``prefectures`` with every aggregate field whose part is scored: the mean over each
    prefecture's municipalities of the points of the named indicators (the backdrop's value
    where no municipality of the prefecture has them)."""
    changes: dict[str, Floats] = {}
    for name, spec in rules.fields.items():
        if spec.origin != "aggregate" or spec.part is None or spec.part not in scored:
            continue
        arrays = scored[spec.part]
        if spec.indicators:
            chosen = [i.points for i in arrays.indicators if i.indicator.id in spec.indicators]
            per_unit = np.sum(chosen, axis=0) if chosen else np.full(arrays.units.size, np.nan)
        else:
            per_unit = arrays.total
        ok = ~np.isnan(per_unit) & (index >= 0)
        size = prefectures.size
        sums = np.bincount(index[ok], weights=per_unit[ok], minlength=size)
        counts = np.bincount(index[ok], minlength=size).astype(np.float64)
        mean = np.divide(sums, counts, out=np.full(size, np.nan), where=counts > 0)
        base = prefectures.values[name]
        table = base.copy()
        table[0] = np.where(np.isnan(mean), base[0], mean)
        changes[name] = table
    return prefectures.with_values(changes), set(changes)


def evaluate(
    rules: RuleFile,
    municipalities: Units,
    prefectures: Units,
    *,
    budgets: Mapping[str, int],
    overrides: Mapping[str, Floats],
    index: np.ndarray,
    previous: Evaluation | None = None,
    changed: frozenset[str] | None = None,
) -> Evaluation:
    """Scores and allocates every part. With ``previous`` and ``changed`` (the fields and
    items that differ from it), indicators reading none of them are reused."""
    scored: dict[str, PartArrays] = {}
    allocations: dict[str, Allocation] = {}
    touched_municipal = False
    pref_units = prefectures
    aggregate_names: set[str] = set()
    for part in rules.parts:
        if part.unit == "municipality":
            units = municipalities
        else:
            pref_units, aggregate_names = with_aggregates(rules, prefectures, scored, index)
            units = pref_units
        if part.key in overrides:
            units = replace(units, override=overrides[part.key])
        dirty = None
        if previous is not None and changed is not None:
            dirty = set(changed)
            if part.unit == "prefecture" and touched_municipal:
                dirty |= aggregate_names
        reuse = previous.scored.get(part.key) if previous is not None else None
        arrays, moved = score_indicators(rules, part, units, reuse, dirty)
        if part.unit == "municipality" and moved:
            touched_municipal = True
        scored[part.key] = arrays
        if not moved and previous is not None:
            allocations[part.key] = previous.allocations[part.key]
        else:
            allocations[part.key] = _allocate(part, arrays, budgets)
    if not any(p.unit == "prefecture" for p in rules.parts):
        pref_units, _ = with_aggregates(rules, prefectures, scored, index)
    return Evaluation(scored, allocations, pref_units)


def _allocate(part: Part, arrays: PartArrays, budgets: Mapping[str, int]) -> Allocation:
    units = arrays.units
    return allocate(
        budgets.get(part.key, part.budget.yen),
        arrays.total.tolist(),
        units.insured.tolist(),
        units.codes,
        policy=part.negative_total,
    )
