"""Every tier kind on hand-made units, computed by hand: thresholds, targets, rank bands (all
units and within a size group, published cutoffs, top_n, ties), improvement, minus points,
yes/no and categorical efforts, ladders, requires, caps and the indicator's limits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from kokuho.incentives import RuleSet, parse_rules
from kokuho.incentives._score import PartArrays, score_part
from kokuho.incentives._tiers import best_count
from kokuho.incentives._units import MISSING_CODE, Units, build_units

HEAD = """
schema_version: 1
fiscal_year: 2020
label: test
source: hand-made
confirmed: false
insured: {source: test, confirmed: false}
fields:
  rate: {label: 率, unit: rate}
  cost: {label: 医療費, unit: yen, higher_is_better: false}
  size: {label: 規模, unit: count}
  goal: {label: 目標, unit: rate}
efforts:
  a: {label: 取組A}
  b: {label: 取組B}
  status: {label: 状況, values: [none, plan, late]}
size_groups:
  s:
    basis: size
    bands: [{key: big, label: 大, min: 1000}, {key: small, label: 小, below: 1000}]
    source: test
    confirmed: false
parts:
  - key: p
    label: P
    unit: municipality
    budget: {yen: 1000, source: test, confirmed: false}
    source: test
    confirmed: false
    indicators:
      - id: x
        label: X
        max: MAX
        MIN
        source: test
        confirmed: false
        tiers:
"""

Values = dict[str, Sequence[Sequence[float | None]]]


def rules(tiers: str, *, max: float = 1000, min: float | None = None) -> RuleSet:
    head = HEAD.replace("MAX", f"{max:g}").replace("MIN", "" if min is None else f"min: {min:g}")
    body = "\n".join(f"          - {line.strip()}" for line in tiers.strip().splitlines())
    return parse_rules(head + body + "\n", "test.yaml")


def units(
    n: int,
    values: Values | None = None,
    answers: dict[str, Sequence[str | None]] | None = None,
    ruleset: RuleSet | None = None,
    override: Sequence[float] | None = None,
) -> Units:
    arrays = {}
    for name, years in (values or {}).items():
        table = np.full((3, n), np.nan)
        for back, row in enumerate(years):
            table[back] = [np.nan if v is None else v for v in row]
        arrays[name] = table
    efforts = {}
    for item, given in (answers or {}).items():
        assert ruleset is not None
        allowed = ruleset.rules.efforts[item].values
        efforts[item] = np.array(
            [MISSING_CODE if a is None else allowed.index(a) for a in given], dtype=np.int16
        )
    codes = [f"u{i}" for i in range(n)]
    return build_units(codes, codes, ["37"] * n, [True] * n, [100] * n, arrays, efforts, override)


def score(
    tiers: str,
    n: int,
    values: Values | None = None,
    answers: dict[str, Sequence[str | None]] | None = None,
    **limits: float,
) -> tuple[list[float], PartArrays]:
    ruleset = rules(tiers, **limits)
    scored = score_part(ruleset.rules, ruleset.rules.parts[0], units(n, values, answers, ruleset))
    return scored.indicators[0].points.tolist(), scored


TEN = [0.1 * k for k in range(1, 11)]  # 0.1 … 1.0


# -- thresholds and targets ----------------------------------------------------------------


def test_threshold_at_least_is_inclusive_and_a_missing_value_gets_nothing() -> None:
    points, _ = score(
        "{kind: threshold, input: rate, at_least: 0.80, points: 70}",
        3,
        {"rate": [[0.80, 0.7999, None]]},
    )
    assert points == [70, 0, 0]


def test_threshold_bounds_combine() -> None:
    # 0.2 < rate ≤ 0.5: 0.2 no (not above), 0.3 yes, 0.5 yes (at most), 0.51 no.
    points, _ = score(
        "{kind: threshold, input: rate, above: 0.2, at_most: 0.5, points: 5}",
        4,
        {"rate": [[0.2, 0.3, 0.5, 0.51]]},
    )
    assert points == [0, 5, 5, 0]


def test_target_fixed_and_per_unit() -> None:
    points, _ = score(
        "{kind: target, input: rate, target: 0.60, points: 50}", 2, {"rate": [[0.60, 0.5999]]}
    )
    assert points == [50, 0]
    # Each unit's own target (e.g. the plan's): 0.40 ≥ 0.40 yes, 0.45 < 0.50 no.
    points, _ = score(
        "{kind: target, input: rate, target_field: goal, points: 10}",
        2,
        {"rate": [[0.40, 0.45]], "goal": [[0.40, 0.50]]},
    )
    assert points == [10, 0]


def test_target_of_a_lower_is_better_field_is_reached_from_below() -> None:
    points, _ = score(
        "{kind: target, input: cost, target: 300000, points: 10}", 2, {"cost": [[300000, 300001]]}
    )
    assert points == [10, 0]


# -- rank bands ----------------------------------------------------------------------------


def test_top_three_tenths_of_ten_is_three_units_not_four() -> None:
    # ⌈0.3 × 10⌉ = 3 (binary floats would make 0.3 × 10 = 3.0000000000000004 → 4).
    assert best_count(0.3, None, 10) == 3
    assert best_count(0.1, None, 5) == 1  # ⌈0.5⌉
    assert best_count(0.5, None, 7) == 4  # ⌈3.5⌉
    assert best_count(None, 10, 4) == 4  # top_n beyond the units present
    points, scored = score("{kind: rank, input: rate, top: 0.3, points: 25}", 10, {"rate": [TEN]})
    assert points == [0] * 7 + [25] * 3  # 0.8, 0.9, 1.0
    cutoff = scored.indicators[0].tiers[0].condition
    assert cutoff is not None and cutoff.cutoff is not None
    assert cutoff.cutoff[0] == pytest.approx(0.8)


def test_rank_ties_qualify_and_units_without_a_value_are_not_counted() -> None:
    # Values 5, 5, 5, 4 and one missing: m = 4, top 1割 → k = ⌈0.4⌉ = 1, cutoff 5: all 5s.
    points, _ = score(
        "{kind: rank, input: cost, top: 0.1, points: 9}", 5, {"cost": [[5, 5, 5, 4, None]]}
    )
    # cost is lower-is-better: the best is 4, so only that unit qualifies.
    assert points == [0, 0, 0, 9, 0]
    points, _ = score(
        "{kind: rank, input: rate, top: 0.1, points: 9}", 5, {"rate": [[0.5, 0.5, 0.5, 0.4, None]]}
    )
    assert points == [9, 9, 9, 0, 0]


def test_rank_within_size_groups_and_published_cutoffs() -> None:
    # Units 0–4 are big (size ≥ 1000), 5–9 small; rates 0.1 … 1.0.
    values = {"rate": [TEN], "size": [[5000] * 5 + [500] * 5]}
    # top 4割 in each band of 5: k = 2. Big: 0.4, 0.5; small: 0.9, 1.0.
    points, _ = score("{kind: rank, input: rate, within: s, top: 0.4, points: 10}", 10, values)
    assert points == [0, 0, 0, 10, 10, 0, 0, 0, 10, 10]
    # A published threshold for the big band (0.25) replaces the computed one; the small band
    # has none and keeps its own.
    points, _ = score(
        '{kind: rank, input: rate, within: s, top: 0.4, points: 10, cutoffs: {"big": 0.25}}',
        10,
        values,
    )
    assert points == [0, 0, 10, 10, 10, 0, 0, 0, 10, 10]


def test_rank_top_n() -> None:
    points, _ = score("{kind: rank, input: rate, top_n: 2, points: 10}", 10, {"rate": [TEN]})
    assert points == [0] * 8 + [10, 10]


def test_a_unit_without_a_size_band_is_not_ranked() -> None:
    points, _ = score(
        "{kind: rank, input: rate, within: s, top: 1.0, points: 1}",
        2,
        {"rate": [[0.5, 0.6]], "size": [[2000, None]]},
    )
    assert points == [1, 0]


# -- improvement ---------------------------------------------------------------------------


def test_improvement_by_points_of_a_rate() -> None:
    # 0.45 − 0.42 is 0.030000000000000027 or 0.0299… in binary: it must count as 3 ポイント.
    points, _ = score(
        "{kind: improvement, input: rate, at_least: 0.03, points: 20}",
        4,
        {"rate": [[0.45, 0.449, 0.50, 0.50], [0.42, 0.42, None, 0.60]]},
    )
    assert points == [20, 0, 0, 0]  # no previous year: nothing; a fall: nothing


def test_improvement_strict_relative_running_and_lower_is_better() -> None:
    points, _ = score(
        "{kind: improvement, input: rate, at_least: 0, strict: true, points: 5}",
        2,
        {"rate": [[0.5, 0.51], [0.5, 0.50]]},
    )
    assert points == [0, 5]  # level is not "上昇"
    points, _ = score(
        "{kind: improvement, input: cost, at_least: 0.1, relative: true, points: 5}",
        2,
        {"cost": [[90, 91], [100, 100]]},
    )
    assert points == [5, 0]  # cost fell 10 % and 9 %
    points, _ = score(
        "{kind: improvement, input: rate, at_least: 0.01, running: 2, points: 15}",
        2,
        {"rate": [[0.50, 0.50], [0.45, 0.45], [0.40, 0.46]]},
    )
    assert points == [15, 0]


# -- minus points --------------------------------------------------------------------------


def test_penalty_low_and_falling() -> None:
    # Ten units 0.1 … 1.0; 下位1割 = the worst k = 1, i.e. 0.1. Unit 0 fell (0.2 → 0.1): −5;
    # with a rise instead it keeps its points.
    tier = "{kind: penalty, input: rate, bottom: 0.1, falling: true, points: -5}"
    previous = [0.2] + TEN[1:]
    points, _ = score(tier, 10, {"rate": [TEN, previous]})
    assert points == [-5] + [0] * 9
    previous[0] = 0.05
    points, _ = score(tier, 10, {"rate": [TEN, previous]})
    assert points == [0] * 10


def test_penalty_below_a_value_and_worse_than_both_years() -> None:
    points, _ = score(
        "{kind: penalty, input: rate, below: 0.2, falling: false, points: -3}",
        3,
        {"rate": [[0.19, 0.2, None]]},
    )
    assert points == [-3, 0, 0]
    # falling_years 2: worse than both previous years (0.3 < 0.35 and 0.3 < 0.32), or only
    # than last year (0.3 < 0.35 but not < 0.29).
    points, _ = score(
        "{kind: penalty, input: rate, falling: true, falling_years: 2, points: -10}",
        2,
        {"rate": [[0.30, 0.30], [0.35, 0.35], [0.32, 0.29]]},
    )
    assert points == [-10, 0]


# -- efforts -------------------------------------------------------------------------------


def test_effort_items_all_of_any_of_and_categories() -> None:
    answers = {"a": ["yes", "yes", "no", None], "b": ["yes", "no", "yes", None]}
    points, _ = score("{kind: effort, item: a, points: 20}", 4, answers=answers)
    assert points == [20, 20, 0, 0]
    points, _ = score("{kind: effort, all_of: [a, b], points: 20}", 4, answers=answers)
    assert points == [20, 0, 0, 0]
    points, _ = score("{kind: effort, any_of: [a, b], points: 20}", 4, answers=answers)
    assert points == [20, 20, 20, 0]
    status = {"status": ["none", "plan", "late", None]}
    points, _ = score(
        """
        {kind: effort, item: status, equals: none, points: 35, ladder: s}
        {kind: effort, item: status, equals: plan, points: 30, ladder: s}
        {kind: effort, item: status, equals: late, points: -15, ladder: s}
        """,
        4,
        answers=status,
        min=-15,
    )
    assert points == [35, 30, -15, 0]
    points, _ = score(
        "{kind: effort, item: status, one_of: [none, plan], points: 30}", 4, answers=status
    )
    assert points == [30, 30, 0, 0]


# -- ladders, requires, caps and limits ----------------------------------------------------


def test_a_ladder_gives_only_its_first_step_met() -> None:
    tiers = """
        {kind: target, input: rate, target: 0.6, points: 50, ladder: level}
        {kind: rank, input: rate, top: 0.1, points: 35, ladder: level}
        {kind: rank, input: rate, top: 0.3, points: 25, ladder: level}
        {kind: improvement, input: rate, at_least: 0.03, points: 20}
    """
    rates = [0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.52, 0.55, 0.65]
    previous = [None] * 8 + [0.50, 0.60]
    points, scored = score(tiers, 10, {"rate": [rates, previous]})
    # 0.65: target 50 (not also 35) + improvement 5 ポイント 20 = 70; 0.55: top 3割
    # (k = 3: 0.52) 25 + improvement 20 = 45; 0.52: 25.
    assert points == [0] * 7 + [25, 45, 70]
    statuses = [int(t.status[9]) for t in scored.indicators[0].tiers]
    assert statuses == [0, 2, 2, 0]  # given, superseded, superseded, given


def test_requires_counts_only_when_the_named_tier_is_met() -> None:
    tiers = """
        {id: reach80, kind: target, input: rate, target: 0.8, points: 70}
        {kind: rank, input: rate, top: 0.5, points: 20, requires: [reach80]}
    """
    # Top half of four: 0.79 and 0.85; 0.79 has not reached 80 %.
    points, scored = score(tiers, 4, {"rate": [[0.5, 0.6, 0.79, 0.85]]})
    assert points == [0, 0, 0, 90]
    assert int(scored.indicators[0].tiers[1].status[2]) == 3  # met, but requires unmet


def test_cap_on_named_tiers_and_the_indicator_maximum_and_minimum() -> None:
    tiers = """
        {id: i1, kind: effort, item: a, points: 15}
        {id: i2, kind: effort, item: b, points: 15}
        {kind: cap, tiers: [i1, i2], max: 20}
        {kind: threshold, input: rate, at_least: 0.5, points: 90}
    """
    answers = {"a": ["yes", "yes", "no"], "b": ["yes", "no", "no"]}
    points, scored = score(tiers, 3, {"rate": [[0.1, 0.9, 0.9]]}, answers, max=100)
    # 15 + 15 capped at 20; 15 + 90 = 105 clipped to the maximum 100; 90.
    assert points == [20, 100, 90]
    assert scored.indicators[0].limit.tolist() == [0, -5, 0]
    points, _ = score(
        """
        {kind: effort, item: a, points: -20}
        {kind: effort, item: b, points: -15}
        """,
        1,
        answers={"a": ["yes"], "b": ["yes"]},
        min=-30,
    )
    assert points == [-30]


def test_a_unit_given_by_its_official_total_is_not_scored() -> None:
    ruleset = rules("{kind: effort, item: a, points: 20}")
    given = units(2, answers={"a": ["yes", "yes"]}, ruleset=ruleset, override=[np.nan, 333])
    scored = score_part(ruleset.rules, ruleset.rules.parts[0], given)
    assert scored.total.tolist() == [20, 333]
    assert np.isnan(scored.indicators[0].points[1])
