"""更正: retroactive loss (減額賦課), retroactive acquisition (増額賦課), the §110-2(1) limit.

One member aged 30 with other income 1,330,000 (base 1,000,000) under the city's FY2020 rules:
full year 医療 113,000 + 支援 39,100 = 152,100; 10 納期 June–March: 15,210 → 15,200 × 10 =
152,000, the 100 left on the first: [15,300, 15,200 × 9]. First 納期 2020-06-30.
"""

from __future__ import annotations

from datetime import date

import pytest

from kokuho.premiums import (
    PeriodLimitError,
    PeriodLimitException,
    assess,
    correct,
    period_limit,
)
from tests.premiumcases import city_rules, household, member

BORN = date(1990, 7, 7)


def single(acquired: date = date(2010, 4, 1), lost: date | None = None):  # type: ignore[no-untyped-def]
    return household(member(1, BORN, other=1_330_000, acquired=acquired, lost=lost))


def test_a_retroactive_loss_is_a_reduction_taken_from_the_latest_instalments() -> None:
    rules = city_rules()
    before = assess(single(), rules)
    assert [i.amount for i in before.instalments] == [15_300] + [15_200] * 9
    # Lost 2020-10-01 (employee insurance from 30 September), found on 2020-11-15: 6 months,
    # 56,500 + 19,500 = 76,000; 減額 76,100 = 15,200 × 5 (納期 10…6) + 100 from 納期 5.
    fixed = correct(before, single(lost=date(2020, 10, 1)), rules, date(2020, 11, 15))
    assert fixed.kind == "decrease"
    assert fixed.difference == -76_100
    assert [i.amount for i in fixed.assessment.instalments] == (
        [15_300, 15_200, 15_200, 15_200, 15_100] + [0] * 5
    )
    assert [c.difference for c in fixed.changes] == [0, 0, 0, 0, -100] + [-15_200] * 5
    assert fixed.assessment.total == 76_000
    assert "更正 (2020-11-15)" in fixed.assessment.reasons[-1].text


def test_a_retroactive_acquisition_is_an_increase_on_the_instalments_ahead() -> None:
    rules = city_rules()
    # Assessed from October (6 months): 76,000 in 10 納期 of 7,600.
    before = assess(single(acquired=date(2020, 10, 1)), rules)
    assert [i.amount for i in before.instalments] == [7_600] * 10
    # Found on 2020-12-10 to have started in April: 152,100, 増額 76,100 over the 4 納期 ahead
    # (12-31, 1-31, 2-28, 3-31): 19,025 → 19,000 each, the 100 left on the first of them.
    fixed = correct(before, single(), rules, date(2020, 12, 10))
    assert fixed.kind == "increase"
    assert [c.difference for c in fixed.changes] == [0] * 6 + [19_100, 19_000, 19_000, 19_000]
    assert sum(i.amount for i in fixed.assessment.instalments) == 152_100


def test_an_increase_after_the_last_instalment_gets_a_new_one() -> None:
    rules = city_rules()
    before = assess(single(acquired=date(2020, 10, 1)), rules)
    fixed = correct(before, single(), rules, date(2021, 5, 10))
    added = fixed.assessment.instalments[-1]
    assert (added.number, added.due, added.amount) == (11, date(2021, 6, 30), 76_100)


def test_the_period_limit_is_two_years_from_the_day_after_the_first_instalment() -> None:
    rules = city_rules()
    # First 納期 2020-06-30; counting from 2020-07-01, two years have passed on 2022-07-01.
    assert period_limit(rules) == date(2022, 7, 1)
    before = assess(single(), rules)
    lost = single(lost=date(2020, 10, 1))
    assert correct(before, lost, rules, date(2022, 6, 30)).kind == "decrease"
    with pytest.raises(PeriodLimitError, match="§110-2") as refused:
        correct(before, lost, rules, date(2022, 7, 1))
    assert refused.value.limit == date(2022, 7, 1)


def test_the_exception_of_110_2_2_allows_reductions_only() -> None:
    rules = city_rules()
    ground = PeriodLimitException("社保の遡及加入 (未適用事業所)", "資格決定通知書 2022-09-01")
    before = assess(single(), rules)
    fixed = correct(
        before, single(lost=date(2020, 10, 1)), rules, date(2022, 10, 1), exception=ground
    )
    assert fixed.kind == "decrease" and fixed.exception == ground
    assert "§110-2(2)" in fixed.assessment.reasons[-1].text
    late = assess(single(acquired=date(2020, 10, 1)), rules)
    with pytest.raises(PeriodLimitError, match="reductions only"):
        correct(late, single(), rules, date(2022, 10, 1), exception=ground)


def test_a_later_day_the_premium_could_be_levied_moves_the_limit() -> None:
    # 資格取得届 received 2021-02-10, after the first 納期: the period counts from that day.
    assert period_limit(city_rules(), date(2021, 2, 10)) == date(2023, 2, 10)


def test_no_change_is_no_decision_and_needs_no_limit() -> None:
    rules = city_rules()
    before = assess(single(), rules)
    same = correct(before, single(), rules, date(2025, 1, 1))
    assert same.kind == "none" and all(c.difference == 0 for c in same.changes)


def test_another_households_assessment_is_refused() -> None:
    rules = city_rules()
    before = assess(single(), rules)
    other = household(member(1, BORN), fiscal_year=2021)
    with pytest.raises(ValueError, match="not H1 FY2021"):
        correct(before, other, city_rules(2021), date(2021, 8, 1))
