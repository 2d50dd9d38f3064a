"""本算定 worked by hand from the rules (tests/premiumcases.py lists the city's rates).

Every expected figure is written out as arithmetic in the comments: 所得割 = rate × 基準総所得金額
(総所得金額等 − 基礎控除, 33万円 in FY2020, 43万円 from FY2021), 1円未満切捨て; 均等割 and
平等割 after 軽減 1円未満切捨て; each part capped, then Σ(annual × months) ÷ 12 floored to 100円.
"""

from __future__ import annotations

from datetime import date

import pytest

from kokuho.premiums import Assessment, AssessmentInputError, Member, assess, explain
from tests.premiumcases import city_rules, household, member


def amounts(a: Assessment) -> dict[str, int]:
    return {p.part: p.amount for p in a.parts}


def test_the_published_city_example_to_the_yen() -> None:
    # The city's own 算定例 (3人家族): 所得割 134,000 / 46,000 / 42,000, 均等割 80,400 / 27,300 /
    # 11,000, 平等割 19,200 / 7,000 / 5,500, 合計 372,400円. Its figures imply 基準総所得金額
    # 2,000,000円 for all three parts, so the whole income is that of the one member aged 40–64
    # (総所得金額等 2,330,000), with two members under 40 and no income.
    h = household(
        member(1, date(1975, 6, 1), salary=2_330_000),
        member(2, date(1985, 6, 1)),
        member(3, date(2012, 6, 1)),
    )
    a = assess(h, city_rules())
    medical, support, care = a.parts
    assert (medical.income_levy, medical.per_capita, medical.per_household) == (
        134_000,
        80_400,
        19_200,
    )
    assert (support.income_levy, support.per_capita, support.per_household) == (
        46_000,
        27_300,
        7_000,
    )
    assert (care.income_levy, care.per_capita, care.per_household) == (42_000, 11_000, 5_500)
    assert a.total == 372_400
    # 2,330,000 > 2割 limit 330,000 + 520,000 × 3 = 1,890,000: no 軽減.
    assert a.reduction is None


def test_three_members_with_salary_and_pension() -> None:
    # Head 45 (給与所得 1,800,000), spouse 66 (年金所得 700,000), child 10.
    # 基準総所得金額: 1,470,000 + 370,000 + 0 = 1,840,000.
    # 軽減: 1,800,000 + (700,000 − 150,000 高齢者特別控除) = 2,350,000 > 1,890,000: none.
    # 医療 1,840,000 × 6.7% = 123,280 + 26,800 × 3 + 19,200 = 222,880 → 222,800
    # 支援 1,840,000 × 2.3% = 42,320 + 9,100 × 3 + 7,000 = 76,620 → 76,600
    # 介護 (head only) 1,470,000 × 2.1% = 30,870 + 11,000 + 5,500 = 47,370 → 47,300
    h = household(
        member(1, date(1975, 5, 10), salary=1_800_000, wage_earner=True),
        member(2, date(1954, 1, 1), pension=700_000),
        member(3, date(2010, 2, 3)),
    )
    a = assess(h, city_rules())
    assert a.reduction is None
    assert amounts(a) == {"medical": 222_800, "support": 76_600, "care": 47_300}
    # 346,700 in 10 納期: 34,670 → 34,600 × 10 = 346,000; the 700 left go on the first.
    assert [i.amount for i in a.instalments] == [35_300] + [34_600] * 9
    assert a.instalments[0].due == date(2020, 6, 30)
    assert a.instalments[-1].due == date(2021, 3, 31)


# One member aged 30 with other income X (n = 1), FY2020: 7割 X ≤ 330,000; 5割 X ≤ 330,000 +
# 285,000 = 615,000; 2割 X ≤ 330,000 + 520,000 = 850,000.
@pytest.mark.parametrize(
    ("income", "reduction", "medical", "support"),
    [
        # 7割: 26,800 × 0.3 = 8,040 + 19,200 × 0.3 = 5,760 → 13,800; 2,730 + 2,100 = 4,830 → 4,800
        (330_000, "7", 13_800, 4_800),
        # 5割 (base 1 yen: 所得割 0): 13,400 + 9,600 = 23,000; 4,550 + 3,500 = 8,050 → 8,000
        (330_001, "5", 23_000, 8_000),
        # 5割: 285,000 × 6.7% = 19,095 + 23,000 = 42,095 → 42,000; 6,555 + 8,050 = 14,605 → 14,600
        (615_000, "5", 42_000, 14_600),
        # 2割: 19,095 + 21,440 + 15,360 = 55,895 → 55,800; 6,555 + 7,280 + 5,600 = 19,435 → 19,400
        (615_001, "2", 55_800, 19_400),
        # 2割: 520,000 × 6.7% = 34,840 + 36,800 = 71,640 → 71,600; 11,960 + 12,880 → 24,800
        (850_000, "2", 71_600, 24_800),
        # none: 34,840 + 26,800 + 19,200 = 80,840 → 80,800; 11,960 + 16,100 = 28,060 → 28,000
        (850_001, None, 80_800, 28_000),
    ],
)
def test_reductions_at_the_threshold_and_one_yen_over(
    income: int, reduction: str | None, medical: int, support: int
) -> None:
    a = assess(household(member(1, date(1990, 7, 7), other=income)), city_rules())
    assert a.reduction == reduction
    assert amounts(a) == {"medical": medical, "support": support, "care": 0}


def test_the_basic_deduction_rises_from_fy2020_to_fy2021() -> None:
    # One member aged 30, other income 1,000,000, the city's rates in both years.
    # FY2020: base 670,000 → 44,890 + 46,000 = 90,890 → 90,800; 15,410 + 16,100 = 31,510 → 31,500
    # FY2021: base 570,000 → 38,190 + 46,000 = 84,190 → 84,100; 13,110 + 16,100 = 29,210 → 29,200
    # (軽減: FY2020 1,000,000 > 850,000; FY2021 > 430,000 + 520,000 = 950,000: none in both.)
    one = member(1, date(1990, 7, 7), other=1_000_000)
    fy2020 = assess(household(one), city_rules(2020))
    fy2021 = assess(household(one, fiscal_year=2021), city_rules(2021))
    assert (fy2020.total, fy2021.total) == (90_800 + 31_500, 84_100 + 29_200)


def test_the_fy2021_thresholds_and_the_wage_earner_term() -> None:
    # 400,000: FY2020 5割 (> 330,000, ≤ 615,000); FY2021 7割 (≤ 430,000).
    one = member(1, date(1990, 7, 7), other=400_000)
    assert assess(household(one), city_rules(2020)).reduction == "5"
    assert assess(household(one, fiscal_year=2021), city_rules(2021)).reduction == "7"

    # Two 給与所得者等: 7割 ≤ 430,000 + 100,000 × (2 − 1) = 530,000.
    def two(first: int) -> str | None:
        h = household(
            member(1, date(1990, 7, 7), salary=first, wage_earner=True),
            member(2, date(1991, 7, 7), salary=265_000, wage_earner=True),
            fiscal_year=2021,
        )
        return assess(h, city_rules(2021)).reduction

    assert two(265_000) == "7"
    assert two(265_001) == "5"


def test_care_part_from_the_month_the_member_reaches_40() -> None:
    # Born 1980-10-15: reaches 40 on 2020-10-14, liable October–March = 6 months.
    # 介護 annual 1,000,000 × 2.1% = 21,000 + 11,000 + 5,500 = 37,500; × 6 ÷ 12 = 18,750 → 18,700
    # 医療 67,000 + 26,800 + 19,200 = 113,000; 支援 23,000 + 9,100 + 7,000 = 39,100.
    a = assess(household(member(1, date(1980, 10, 15), other=1_330_000)), city_rules())
    assert amounts(a) == {"medical": 113_000, "support": 39_100, "care": 18_700}
    # Born on the 1st (1980-10-01): reaches 40 on 2020-09-30, liable from September: 7 months,
    # 37,500 × 7 ÷ 12 = 21,875 → 21,800.
    first = assess(household(member(1, date(1980, 10, 1), other=1_330_000)), city_rules())
    assert amounts(first)["care"] == 21_800


def test_care_part_ends_the_month_the_member_reaches_65() -> None:
    # Born 1955-10-15: reaches 65 on 2020-10-14, liable April–September = 6 months: 18,700.
    a = assess(household(member(1, date(1955, 10, 15), other=1_330_000)), city_rules())
    assert amounts(a)["care"] == 18_700


def test_a_75th_birthday_mid_year_ends_the_members_months() -> None:
    # A born 1945-08-20: 後期 from 2020-08-20, so 国保 April–July (4 months). B 70, C 29, no income.
    # 軽減 on 1 April (n = 3): 2,000,000 − 150,000 = 1,850,000 ≤ 1,890,000 → 2割.
    # 医療 Apr–Jul: 1,670,000 × 6.7% = 111,890 + 21,440 × 3 + 15,360 = 191,570
    #      Aug–Mar: 21,440 × 2 + 15,360 = 58,240
    #      (191,570 × 4 + 58,240 × 8) ÷ 12 = 1,232,200 ÷ 12 = 102,683 → 102,600
    # 支援 Apr–Jul: 38,410 + 7,280 × 3 + 5,600 = 65,850; Aug–Mar: 14,560 + 5,600 = 20,160
    #      (65,850 × 4 + 20,160 × 8) ÷ 12 = 424,680 ÷ 12 = 35,390 → 35,300
    h = household(
        member(1, date(1945, 8, 20), pension=2_000_000),
        member(2, date(1950, 5, 5)),
        member(3, date(1991, 1, 1)),
    )
    a = assess(h, city_rules())
    assert a.reduction == "2"
    assert amounts(a) == {"medical": 102_600, "support": 35_300, "care": 0}


def test_the_cap_of_each_part() -> None:
    # Aged 50, base 10,000,000: 医療 670,000 + 46,000 > 630,000; 支援 230,000 + 16,100 > 190,000;
    # 介護 210,000 + 16,500 > 170,000: 99万 in all (FY2020).
    a = assess(household(member(1, date(1970, 1, 1), other=10_330_000)), city_rules())
    assert amounts(a) == {"medical": 630_000, "support": 190_000, "care": 170_000}
    assert all(p.capped for p in a.parts)
    assert any("賦課限度額" in r.text for r in a.parts[0].reasons)


@pytest.mark.parametrize(
    ("lost", "medical", "support"),
    [
        # Lost 2020-10-01 (left on 30 September): April–September, 6 months.
        # 113,000 × 6 ÷ 12 = 56,500; 39,100 × 6 ÷ 12 = 19,550 → 19,500
        (date(2020, 10, 1), 56_500, 19_500),
        # Lost 2020-10-02: the month of loss is not liable, still 6 months.
        (date(2020, 10, 2), 56_500, 19_500),
        # Lost 2020-09-30: 5 months; 113,000 × 5 ÷ 12 = 47,083 → 47,000; 16,291 → 16,200
        (date(2020, 9, 30), 47_000, 16_200),
    ],
)
def test_a_mid_year_loss_prorates_by_months(lost: date, medical: int, support: int) -> None:
    a = assess(household(member(1, date(1990, 7, 7), other=1_330_000, lost=lost)), city_rules())
    assert amounts(a) == {"medical": medical, "support": support, "care": 0}
    assert sum(i.amount for i in a.instalments) == a.total


def test_specified_household_halves_the_per_household_levy() -> None:
    # B aged 70 alone since the spouse moved to 後期 (2019-08-20); pension 1,000,000 → base 670,000.
    # 軽減 (n = 2 with the spouse, 特定同一世帯所属者, whose income counts too):
    # (1,000,000 − 150,000) × 2 = 1,700,000 > 330,000 + 520,000 × 2 = 1,370,000: none.
    # 医療 44,890 + 26,800 + 19,200 × 0.5 = 81,290 → 81,200; 支援 15,410 + 9,100 + 3,500 → 28,000
    h = household(
        member(2, date(1950, 5, 5), pension=1_000_000),
        member(
            1, date(1944, 8, 21), acquired=None, pension=1_000_000, specified_same_household=True
        ),
        specified_since=date(2019, 8, 20),
    )
    a = assess(h, city_rules())
    assert a.reduction is None
    assert amounts(a) == {"medical": 81_200, "support": 28_000, "care": 0}
    # After 5 years (since 2014-08: 68 months at April 2020) the 平等割 is reduced by 1/4:
    # 44,890 + 26,800 + 14,400 = 86,090 → 86,000; 15,410 + 9,100 + 5,250 = 29,760 → 29,700
    later = assess(household(*h.members, specified_since=date(2014, 8, 1)), city_rules())
    assert amounts(later) == {"medical": 86_000, "support": 29_700, "care": 0}


def test_specified_same_household_members_count_in_n() -> None:
    # B (70, no income) and the spouse in 後期 (pension 1,000,000 − 150,000 = 850,000), n = 2:
    # 5割 limit 330,000 + 285,000 × 2 = 900,000 ≥ 850,000 → 5割 (with n = 1 it would be 2割).
    h = household(
        member(2, date(1950, 5, 5)),
        member(
            1, date(1944, 8, 21), acquired=None, pension=1_000_000, specified_same_household=True
        ),
    )
    assert assess(h, city_rules()).reduction == "5"


def test_former_dependant_pays_no_income_levy_and_half_the_flat_amounts() -> None:
    # B 67 joined 2019-10-01 as 旧被扶養者 (within 24 months all FY2020); head A in 後期.
    # 軽減: 1,850,000 (B) + 0 (A), n = 2: > 1,370,000: none.
    # 医療 0 + 26,800 × 0.5 + 19,200 × 0.5 (single member) = 23,000; 支援 4,550 + 3,500 → 8,000
    h = household(
        member(1, date(1944, 8, 21), acquired=None, specified_same_household=True),
        member(
            2,
            date(1953, 6, 1),
            acquired=date(2019, 10, 1),
            pension=2_000_000,
            former_dependant=True,
        ),
    )
    a = assess(h, city_rules())
    assert a.reduction is None
    assert amounts(a) == {"medical": 23_000, "support": 8_000, "care": 0}


def test_involuntary_unemployment_counts_salary_at_30_percent() -> None:
    # Left on 2020-03-31: 給与所得 2,800,000 × 30/100 = 840,000 → 2割 (≤ 850,000), base 510,000.
    # 医療 34,170 + 21,440 + 15,360 = 70,970 → 70,900; 支援 11,730 + 7,280 + 5,600 → 24,600
    one = member(
        1, date(1985, 1, 1), salary=2_800_000, involuntary_unemployment_from=date(2020, 4, 1)
    )
    a = assess(household(one), city_rules())
    assert a.reduction == "2"
    assert amounts(a) == {"medical": 70_900, "support": 24_600, "care": 0}


def test_a_head_who_is_not_a_member_counts_for_the_reduction_only() -> None:
    # 擬制世帯主 (salary 700,000, not covered) and his wife aged 45 with no income.
    # 軽減: 700,000, n = 1 (the head is not counted): 5割 limit 615,000 < 700,000 ≤ 850,000 → 2割.
    # 医療 21,440 + 15,360 = 36,800; 支援 7,280 + 5,600 = 12,880 → 12,800;
    # 介護 11,000 × 0.8 = 8,800 + 5,500 × 0.8 = 4,400 → 13,200. No 所得割: his income is not hers.
    h = household(
        member(1, date(1975, 1, 1), acquired=None, salary=700_000),
        member(2, date(1975, 3, 3)),
    )
    a = assess(h, city_rules())
    assert a.reduction == "2"
    assert amounts(a) == {"medical": 36_800, "support": 12_800, "care": 13_200}


def test_an_undeclared_income_gets_no_reduction() -> None:
    # 未申告, income 0: 26,800 + 19,200 = 46,000; 9,100 + 7,000 = 16,100 → 16,100.
    a = assess(household(member(1, date(1990, 7, 7), declared=False)), city_rules())
    assert a.reduction is None
    assert a.total == 46_000 + 16_100
    assert "未申告" in a.reasons[0].text


@pytest.mark.parametrize(
    ("born", "child"), [(date(2016, 4, 2), 10_720), (date(2016, 4, 1), 21_440)]
)
def test_preschool_children_from_fy2022(born: date, child: int) -> None:
    # FY2022: parent 30 (other 1,430,000 → base 1,000,000), child. 軽減: 1,430,000 ≤ 430,000 +
    # 520,000 × 2 = 1,470,000 → 2割. A child born 2016-04-02 starts school in April 2023 (未就学児:
    # 26,800 × 0.8 × 0.5 = 10,720); one born 2016-04-01 started in April 2022 (21,440).
    # 医療 67,000 + 21,440 + child + 15,360.
    h = household(member(1, date(1990, 7, 7), other=1_430_000), member(2, born), fiscal_year=2022)
    a = assess(h, city_rules(2022))
    assert a.reduction == "2"
    assert a.parts[0].amount == (67_000 + 21_440 + child + 15_360) // 100 * 100


def test_perinatal_exemption_from_january_2024() -> None:
    # FY2023, due 2024-02-15: exempt from January (the month before) to April; in FY2023 that is
    # January–March. Base 1,000,000 (1,430,000 − 430,000); 軽減 none (> 965,000).
    # 医療 9 months × 113,000 + 3 months × 19,200 (平等割 only) = 1,074,600 ÷ 12 = 89,550 → 89,500
    # 支援 9 × 39,100 + 3 × 7,000 = 372,900 ÷ 12 = 31,075 → 31,000
    one = member(1, date(1993, 7, 7), other=1_430_000, delivery_due=date(2024, 2, 15))
    a = assess(household(one, fiscal_year=2023), city_rules(2023))
    assert amounts(a) == {"medical": 89_500, "support": 31_000, "care": 0}
    # Due 2023-11-15: October–January, but only January is from 2024-01: 11 × 113,000 + 19,200 =
    # 1,262,200 ÷ 12 = 105,183 → 105,100.
    early = member(1, date(1993, 7, 7), other=1_430_000, delivery_due=date(2023, 11, 15))
    assert assess(household(early, fiscal_year=2023), city_rules(2023)).parts[0].amount == 105_100


def test_rules_of_another_year_or_municipality_are_refused() -> None:
    h = household(member(1, date(1990, 7, 7)), fiscal_year=2021)
    with pytest.raises(AssessmentInputError, match="FY2021"):
        assess(h, city_rules(2020))


def test_the_explanation_names_every_figure_and_its_rule() -> None:
    h = household(member(1, date(1990, 7, 7), other=615_000))
    text = explain(assess(h, city_rules()))
    assert "5割軽減" in text
    assert "総所得金額等 615,000円 ≤ 615,000円" in text
    assert "基準総所得金額 285,000円 × 6.7% = 19,095円" in text
    assert (
        "26,800円 × 1人" in text and "[example/city_fy2020.yaml: parts.medical.per_capita]" in text
    )
    assert "年額合計: 56,600円" in text
    assert "第1期 2020-06-30" in text


@pytest.mark.parametrize(
    ("people", "head", "reason"),
    [
        ((member(1, date(1990, 7, 7)),), 2, "the 世帯主 2 is not listed"),
        ((member(1, date(1990, 7, 7)), member(1, date(1991, 1, 1))), 1, "listed twice"),
        ((member(1, date(1990, 7, 7), other=-1),), 1, "person 1: a negative income"),
        (
            (member(1, date(1990, 7, 7), acquired=date(2020, 5, 1), lost=date(2020, 5, 1)),),
            1,
            "lost 2020-05-01 is not after acquired 2020-05-01",
        ),
    ],
)
def test_inputs_that_would_give_a_wrong_bill_are_refused(
    people: tuple[Member, ...], head: int, reason: str
) -> None:
    with pytest.raises(AssessmentInputError, match=reason):
        assess(household(*people, head=head), city_rules())


@pytest.mark.parametrize(
    ("fiscal_year", "label"),
    [(2018, "平成30年度"), (2019, "令和元年度"), (2020, "令和2年度"), (2023, "令和5年度")],
)
def test_the_explanation_names_the_fiscal_year_in_its_era(fiscal_year: int, label: str) -> None:
    """A municipality may add rule files for earlier years (docs/data.md): the clerk's text
    printed FY2019 as 令和1年度 and FY2018 as 令和0年度."""
    from tests.premiumrows import assessment

    text = explain(assessment("H1", fiscal_year, [1_000] * 10))
    assert text.splitlines()[0] == f"世帯 H1 (372013) {label} (FY{fiscal_year}) 国民健康保険料"
