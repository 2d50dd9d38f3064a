"""調整交付金 by hand: 普通調整交付金 (応能割率 rounded and capped, 応益割額 capped, only when the
需要額 exceeds the 収入額), the 暫定措置 and the 特別調整交付金 menu items."""

from __future__ import annotations

import numpy as np

from kokuho.incentives import load_rules
from kokuho.incentives._adjust import adjust, ordinary_grant, special_grants
from kokuho.incentives._units import Units, build_units

ADJUSTMENT = load_rules(2020).rules.adjustment
assert ADJUSTMENT is not None and ADJUSTMENT.ordinary is not None


def prefectures(insured: list[int], **fields: list[float | None]) -> Units:
    n = len(insured)
    values = {}
    for name, row in fields.items():
        table = np.full((3, n), np.nan)
        table[0] = [np.nan if v is None else v for v in row]
        values[name] = table
    codes = ["37", "38", "39"][:n]
    return build_units(codes, codes, codes, [True] + [False] * (n - 1), insured, values, {})


def test_ordinary_grant_by_hand() -> None:
    units = prefectures(
        [100_000],
        adj_demand=[10_000_000_000],
        adj_deductions=[3_000_000_000],
        adj_income=[70_000_000_000],
        adj_benefit_per_insured=[40_000],
    )
    grant = ordinary_grant(ADJUSTMENT.ordinary, units, 0)  # type: ignore[union-attr]
    # 応能割率 = 0.0000007003787 × 7,000,000,000 ÷ 100,000 = 0.049026509
    assert grant.ability_rate == 0.049026509
    # 応能 = 70,000,000,000 × 0.049026509 = 3,431,855,630; 応益 = 40,000 × 100,000
    assert (grant.ability_yen, grant.benefit_yen) == (3_431_855_630, 4_000_000_000)
    # 収入額 7,431,855,630; 普調 = 10,000,000,000 − 7,431,855,630
    assert grant.revenue_yen == 7_431_855_630
    assert grant.yen == grant.computed_yen == 2_568_144_370
    assert grant.missing == ()


def test_the_rate_is_rounded_to_13_places_and_capped() -> None:
    # (需要額 − 控除額) ÷ 被保険者 = 7,000,000,000 ÷ 3 = 2,333,333,333.33…
    # × 0.0000007003787 = 1634.22… → capped at 0.0865016721009; 応益 capped at 46,330.86.
    units = prefectures(
        [3],
        adj_demand=[7_000_000_000],
        adj_deductions=[0],
        adj_income=[1_000_000],
        adj_benefit_per_insured=[50_000],
    )
    grant = ordinary_grant(ADJUSTMENT.ordinary, units, 0)  # type: ignore[union-attr]
    assert grant.ability_rate == 0.0865016721009
    assert grant.benefit_per_insured == 46_330.86
    # 応能 1,000,000 × 0.0865016721009 = 86,501.67; 応益 46,330.86 × 3 = 138,992.58
    assert (grant.ability_yen, grant.benefit_yen) == (86_501, 138_992)
    assert grant.revenue_yen == 225_494  # 225,494.25 cut to the yen
    # 13 places, half up: 0.0000007003787 × 70,000 ÷ 1 = 0.049026509 exactly, and
    # × 12,345 = 0.0086461750515 (13 places: …0515 stays).
    units = prefectures(
        [1],
        adj_demand=[12_345],
        adj_deductions=[0],
        adj_income=[0],
        adj_benefit_per_insured=[0],
    )
    assert ordinary_grant(ADJUSTMENT.ordinary, units, 0).ability_rate == 0.0086461750515  # type: ignore[union-attr]


def test_no_grant_when_revenue_covers_demand_and_missing_inputs_are_named() -> None:
    units = prefectures(
        [100_000, 100_000],
        adj_demand=[1_000_000_000, 1_000_000_000],
        adj_deductions=[0, None],
        adj_income=[100_000_000_000, 1],
        adj_benefit_per_insured=[40_000, 40_000],
    )
    rich = ordinary_grant(ADJUSTMENT.ordinary, units, 0)  # type: ignore[union-attr]
    assert rich.revenue_yen is not None and rich.revenue_yen > 1_000_000_000 and rich.yen == 0
    lacking = ordinary_grant(ADJUSTMENT.ordinary, units, 1)  # type: ignore[union-attr]
    assert lacking.missing == ("adj_deductions",) and lacking.yen == 0


def test_special_items_by_their_formulas() -> None:
    # 未就学児: national rate = (400 + 100 + 100) / (10,000 + 5,000 + 5,000) = 0.03;
    # 37: 400 − 10,000 × 0.03 = 100 over the average; 38 and 39: at or below it.
    # Unit cost: count-weighted national mean of preschool_cost =
    # (400 × 200,000 + 100 × 300,000 + 100 × 100,000) / 600 = 200,000.
    # 100 × 200,000 × 1/2 × 9/10 = 9,000,000.
    units = prefectures(
        [10_000, 5_000, 5_000],
        preschool_children=[400, 100, 100],
        preschool_cost=[200_000, 300_000, 100_000],
        involuntary_unemployed=[10, None, 3],
    )
    children, _psychiatric, unemployed = ADJUSTMENT.special
    grants = special_grants(children, units)
    assert [g.yen for g in grants] == [9_000_000, 0, 0]
    assert grants[0].excess == 100 and grants[0].unit_cost == 200_000
    # 非自発的失業: count × 30,000.
    assert [g.yen for g in special_grants(unemployed, units)] == [300_000, 0, 90_000]


def test_adjust_puts_it_together_with_the_provisional_split() -> None:
    units = prefectures(
        [105_900, 37_500, 20_800],
        adj_demand=[10_590_000_000, None, None],
        adj_deductions=[3_177_000_000, None, None],
        adj_income=[74_130_000_000, None, None],
        adj_benefit_per_insured=[40_000, None, None],
    )
    result = adjust(ADJUSTMENT, units, 2020)  # type: ignore[arg-type]
    home = result.home
    assert home.prefecture == "37"
    # 0.0000007003787 × 7,413,000,000 ÷ 105,900 = 0.049026509; the rest as in the docs.
    assert home.ordinary is not None and home.ordinary.yen == 2_719_664_887
    assert [r.provisional_yen for r in result.rows] == [
        12_898_903_776,
        4_567_600_487,
        2_533_495_737,
    ]
    assert home.total_yen == 2_719_664_887 + 12_898_903_776
    assert result.notes == ("普通調整交付金: inputs missing for 2 prefecture(s)",)
