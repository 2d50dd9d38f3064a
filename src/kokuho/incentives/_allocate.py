"""Allocation (交付額の按分): grant = budget × (points × insured) ÷ Σ (points × insured).

Integer yen by the largest-remainder method, so that the grants sum to the budget to the yen:
each unit first gets ⌊budget × w ÷ W⌋, then the yen left over go one each to the units with
the largest remainders (ties: the larger weight first, then the code). The arithmetic is exact
(Python integers on points in hundredths), so the result does not depend on float rounding.

Negative totals (possible since FY2020 introduced minus points) follow the part's
``negative_total`` policy:

- ``floor_at_zero`` (default): a negative total counts as 0 points; the unit gets nothing and
  takes nothing from the others. Its reported points stay negative.
- ``error``: refuse to allocate while any total is negative (to be told, not to guess).

The official treatment was not seen (UNCONFIRMED, incentives-grants-premiums.md §1.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NEGATIVE_POLICIES = ("floor_at_zero", "error")
#: What ``Allocation.denominator`` counts: Σ (points × 100) × insured, integers so that the
#: arithmetic is exact (a part where every unit has 1 point and 10 insured has 1,000 per unit).
DENOMINATOR_UNIT = "hundredths of a point × insured persons"


class NegativeTotalError(ValueError):
    """A unit's total is negative and the policy is ``error``."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """Grants in yen (same order as the inputs), the points counted, and Σ weights."""

    grants: tuple[int, ...]
    counted: tuple[float, ...]
    weights: tuple[int, ...]
    denominator: int
    budget: int

    @property
    def allocated(self) -> int:
        return sum(self.grants)


def hundredths(points: float) -> int:
    """Points as an exact integer of hundredths (points have at most two decimals)."""
    return round(points * 100)


def counted_points(points: float, policy: str) -> float:
    """The points a total counts for under ``policy``."""
    if points < 0:
        if policy == "error":
            raise NegativeTotalError(f"a total of {points:g} points is negative")
        return 0.0
    return float(points)


def allocate(
    budget: int,
    points: Sequence[float],
    insured: Sequence[int],
    codes: Sequence[str],
    *,
    policy: str = "floor_at_zero",
) -> Allocation:
    """Splits ``budget`` yen in proportion to points × insured (see the module docstring).

    Nothing is allocated when every weight is 0 (all grants 0).
    """
    if policy not in NEGATIVE_POLICIES:
        raise ValueError(f"unknown negative-total policy {policy!r}")
    if budget < 0:
        raise ValueError("the budget is negative")
    if not len(points) == len(insured) == len(codes):
        raise ValueError("points, insured and codes differ in length")
    counted: list[float] = []
    weights: list[int] = []
    for code, p, n in zip(codes, points, insured, strict=True):
        if n < 0:
            raise ValueError(f"{code}: insured count is negative")
        try:
            kept = counted_points(p, policy)
        except NegativeTotalError as error:
            raise NegativeTotalError(f"{code}: {error}") from None
        counted.append(kept)
        weights.append(hundredths(kept) * int(n))
    total = sum(weights)
    if total == 0:
        zero = tuple(0 for _ in weights)
        return Allocation(zero, tuple(counted), tuple(weights), 0, budget)
    grants = [budget * w // total for w in weights]
    left = budget - sum(grants)
    order = sorted(
        range(len(weights)), key=lambda i: (-(budget * weights[i] % total), -weights[i], codes[i])
    )
    for i in order[:left]:
        grants[i] += 1
    return Allocation(tuple(grants), tuple(counted), tuple(weights), total, budget)


def split_by_count(budget: int, counts: Sequence[int], codes: Sequence[str]) -> tuple[int, ...]:
    """``budget`` in proportion to ``counts`` (the 暫定措置 by insured count), to the yen."""
    return allocate(budget, [1.0] * len(counts), counts, codes).grants
