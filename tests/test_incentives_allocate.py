"""Allocation: budget × points × insured ÷ Σ, to the yen by the largest remainder, with the
negative-total policy; the 暫定措置 split by insured count; on a small national file end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kokuho.incentives import (
    NegativeTotalError,
    allocate,
    build_scoreboard,
    parse_rules,
    read_inputs,
    scoreboard_json,
    split_by_count,
)

RULES = """
schema_version: 1
fiscal_year: 2020
label: allocation test
source: test
confirmed: false
lag: 0
insured: {lag: 0, source: test, confirmed: false}
fields:
  rate: {label: 率, unit: rate}
efforts:
  plan: {label: 計画, values: [good, late], lag: 0}
parts:
  - key: municipal
    label: 市町村分
    unit: municipality
    budget: {yen: 1000000, source: test, confirmed: false}
    negative_total: POLICY
    source: test
    confirmed: false
    indicators:
      - id: x
        label: X
        max: 100
        min: -50
        source: test
        confirmed: false
        tiers:
          - {kind: threshold, input: rate, at_least: 0.5, points: 30}
          - {kind: effort, item: plan, equals: good, points: 20}
          - {kind: effort, item: plan, equals: late, points: -50}
"""

NATIONAL = """fiscal_year,kind,code,name,prefecture,insured,rate,plan
2020,prefecture,37,香川県,37,300,,
2020,prefecture,01,北海道,01,1000,,
2020,municipality,370015,高松市,37,200,0.6,good
2020,municipality,370023,丸亀市,37,100,0.4,good
2020,municipality,010017,札幌市,01,700,0.55,
2020,municipality,010025,函館市,01,200,0.3,late
2020,municipality,010033,小樽市,01,100,0.7,good
"""


def board(tmp_path: Path, policy: str = "floor_at_zero") -> object:
    (tmp_path / "national.csv").write_text(NATIONAL, encoding="utf-8")
    rules = parse_rules(RULES.replace("POLICY", policy), "test.yaml")
    inputs = read_inputs(tmp_path, rules.rules)
    return build_scoreboard(rules, inputs, prefecture="37")


def test_the_formula_on_a_small_national_file(tmp_path: Path) -> None:
    part = board(tmp_path).part("municipal")  # type: ignore[attr-defined]
    # Points: 高松 30 + 20 = 50; 丸亀 20; 札幌 30; 函館 −50 → counts 0; 小樽 50.
    # Weights (points × insured): 10,000; 2,000; 21,000; 0; 5,000 → Σ 38,000.
    assert part.denominator == 38_000 * 100  # points are kept in hundredths
    takamatsu, marugame = part.units
    assert (takamatsu.points, marugame.points) == (50, 20)
    # 1,000,000 × 10,000 / 38,000 = 263,157.89 → 263,157 (remainder .89)
    # 1,000,000 ×  2,000 / 38,000 =  52,631.57 →  52,631 (.57)
    # 札幌 552,631.57 → 552,631 (.57); 小樽 131,578.94 → 131,578 (.94); 函館 0.
    # Floors sum to 999,997: 3 yen to the largest remainders .94 (小樽), .89 (高松), then
    # the tie .57 between 丸亀 and 札幌 goes to the larger weight (札幌).
    assert (takamatsu.grant_yen, marugame.grant_yen) == (263_158, 52_631)
    state = board(tmp_path).state  # type: ignore[attr-defined]
    grants = dict(
        zip(
            state.evaluation.scored["municipal"].units.codes,
            state.evaluation.allocations["municipal"].grants,
            strict=True,
        )
    )
    assert grants == {
        "370015": 263_158, "370023": 52_631, "010017": 552_632, "010025": 0, "010033": 131_579,
    }  # fmt: skip
    assert sum(grants.values()) == 1_000_000


def test_the_json_says_the_denominator_is_in_hundredths_of_a_point(tmp_path: Path) -> None:
    [part] = scoreboard_json(board(tmp_path))["parts"]  # type: ignore[arg-type]
    # Σ points × insured = 38,000 (as above); the document counts points in hundredths.
    assert part["denominator"] == 3_800_000
    assert part["denominator_unit"] == "hundredths of a point × insured persons"


def test_a_negative_total_is_reported_but_counts_as_zero(tmp_path: Path) -> None:
    state = board(tmp_path).state  # type: ignore[attr-defined]
    units = state.evaluation.scored["municipal"].units
    i = units.codes.index("010025")
    assert state.evaluation.scored["municipal"].total[i] == -50
    allocation = state.evaluation.allocations["municipal"]
    assert allocation.counted[i] == 0 and allocation.grants[i] == 0


def test_the_error_policy_refuses_a_negative_total(tmp_path: Path) -> None:
    with pytest.raises(NegativeTotalError, match="010025: a total of -50 points is negative"):
        board(tmp_path, "error")


def test_allocate_by_hand() -> None:
    assert allocate(1000, [10, 20, 30], [1, 1, 1], ["A", "B", "C"]).grants == (167, 333, 500)
    # Equal remainders and weights: the code decides (A before B).
    assert allocate(1, [1, 1], [1, 1], ["B", "A"]).grants == (0, 1)
    # Nobody has points: nothing is allocated.
    assert allocate(100, [0, -5], [10, 10], ["A", "B"]).grants == (0, 0)
    # Two decimals of points are exact: 0.01 × 3 and 0.02 × 3 share 3 yen as 1 and 2.
    assert allocate(3, [0.01, 0.02], [3, 3], ["A", "B"]).grants == (1, 2)
    with pytest.raises(ValueError, match="negative-total policy"):
        allocate(1, [1], [1], ["A"], policy="keep")
    with pytest.raises(ValueError, match="insured count is negative"):
        allocate(1, [1], [-1], ["A"])


def test_the_provisional_measure_is_split_by_insured_count() -> None:
    # 暫定措置 200億 among three prefectures of 105,900 / 37,500 / 20,800 insured (Σ 164,200):
    # 12,898,903,775.88, 4,567,600,487.21, 2,533,495,736.91 → floors leave 2 yen, to the
    # remainders .91 (39) and .88 (37).
    grants = split_by_count(20_000_000_000, [105_900, 37_500, 20_800], ["37", "38", "39"])
    assert grants == (12_898_903_776, 4_567_600_487, 2_533_495_737)
    assert sum(grants) == 20_000_000_000


@given(
    budget=st.integers(min_value=0, max_value=10**11),
    rows=st.lists(
        st.tuples(
            st.integers(min_value=-2000, max_value=100_000).map(lambda h: h / 100),
            st.integers(min_value=0, max_value=2_000_000),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_grants_always_sum_to_the_budget_and_follow_the_weights(
    budget: int, rows: list[tuple[float, int]]
) -> None:
    points = [p for p, _ in rows]
    insured = [n for _, n in rows]
    codes = [f"{i:04d}" for i in range(len(rows))]
    result = allocate(budget, points, insured, codes)
    weights = [max(0, round(p * 100)) * n for p, n in rows]
    if sum(weights) == 0:
        assert result.grants == tuple(0 for _ in rows)
        return
    assert sum(result.grants) == budget
    for grant, weight in zip(result.grants, weights, strict=True):
        exact = budget * weight / sum(weights)
        assert exact - 1 < grant < exact + 1
