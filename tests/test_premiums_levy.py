"""納付金 and 標準保険料率: worked cases computed by hand from the guideline formula
(docs/premiums-levy.md), the exact apportionment to the yen, and properties over any inputs.

The worked prefecture has three municipalities chosen so the shares are round:

    code    members  households  income (yen)   index   shares (members, households, income)
    X       60,000   20,000      6,000,000,000   1.2     0.6, 0.4, 0.6
    Y       30,000   20,000      2,000,000,000   0.8     0.3, 0.4, 0.2
    Z       10,000   10,000      2,000,000,000   1.0     0.1, 0.2, 0.2

With s (均等割 share of 応益) = 0.5 the 人数シェア are X 0.5, Y 0.35, Z 0.15; with β = 1 the
income-and-people factor {β·所得シェア + 人数シェア}/(1 + β) is X 0.55, Y 0.275, Z 0.175.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokuho.premiums import (
    PARTS,
    ActualRates,
    CollectionRateBand,
    LevyError,
    LevyInputs,
    LevyRules,
    MunicipalityInput,
    Parameter,
    Part,
    PartInput,
    PartParameters,
    apportion,
    compare_rates,
    levy,
)

D = Decimal


def _param(value: str) -> Parameter:
    return Parameter(D(value), "test", True)


def make_rules(
    alpha: str = "1",
    beta: str = "1",
    share: str = "0.5",
    beta_prime: str | None = None,
    rounding: str = "half_up",
) -> LevyRules:
    def part(a: str) -> PartParameters:
        return PartParameters(_param(a), _param(beta), _param(beta_prime or beta), _param(share))

    return LevyRules(
        fiscal_year=2020,
        label="test",
        source="test",
        confirmed=True,
        parts={"medical": part(alpha), "support": part("0"), "care": part("0")},
        collection_rates=(CollectionRateBand(0, D("0.96")), CollectionRateBand(50_000, D("0.95"))),
        collection_rates_source="test",
        collection_rates_confirmed=True,
        income_rate_decimals=2,
        rounding=rounding,  # type: ignore[arg-type]
        rounding_confirmed=True,
        path="test",
    )


def _municipality(
    code: str,
    members: int,
    households: int,
    income: int,
    index: str,
    rate: str | None = None,
    actual: ActualRates | None = None,
) -> MunicipalityInput:
    base = PartInput(members, households, income, 0, actual)
    return MunicipalityInput(
        code, code, D(index), {part: base for part in PARTS}, D(rate) if rate else None
    )


def worked(total: int = 1_055_000_000, actual: ActualRates | None = None) -> LevyInputs:
    return LevyInputs(
        2020,
        {"medical": total, "support": total, "care": total},
        (
            _municipality("372013", 60_000, 20_000, 6_000_000_000, "1.2", actual=actual),
            _municipality("372021", 30_000, 20_000, 2_000_000_000, "0.8"),
            _municipality("372030", 10_000, 10_000, 2_000_000_000, "1.0", rate="0.875"),
        ),
    )


def _levies(result: object, part: Part) -> list[int]:
    return [next(p.levy for p in m.parts if p.part == part) for m in result.municipalities]  # type: ignore[attr-defined]


def test_alpha_one_reflects_the_medical_index() -> None:
    # weights 1.2·0.55 = 0.66, 0.8·0.275 = 0.22, 1.0·0.175 = 0.175; Σ 1.055, γ = 1/1.055.
    result = levy(worked(), make_rules(alpha="1"))
    assert _levies(result, "medical") == [660_000_000, 220_000_000, 175_000_000]
    medical = result.parts[0]
    assert (medical.part, medical.gamma) == ("medical", D("0.9478672986"))


def test_alpha_zero_ignores_the_medical_index() -> None:
    # weights 0.55, 0.275, 0.175 (Σ 1, γ = 1) of 1,055,000,000.
    result = levy(worked(), make_rules(alpha="0"))
    assert _levies(result, "medical") == [580_250_000, 290_125_000, 184_625_000]
    assert result.parts[0].gamma == D("1.0000000000")


def test_support_and_care_reflect_income_only() -> None:
    # α is 0 for them whatever the medical α: the index changes nothing.
    result = levy(worked(), make_rules(alpha="1"))
    for part in ("support", "care"):
        assert _levies(result, part) == [580_250_000, 290_125_000, 184_625_000]


def test_beta_weights_the_income_share() -> None:
    # β = 0.5: X (0.5·0.6 + 0.5)/1.5 = 8/15, Y (0.1 + 0.35)/1.5 = 3/10, Z (0.1 + 0.15)/1.5 = 1/6.
    result = levy(worked(total=1_500_000), make_rules(alpha="0", beta="0.5"))
    assert _levies(result, "medical") == [800_000, 450_000, 250_000]


def test_the_per_capita_share_weighs_members_against_households() -> None:
    # s = 0.7, α = 0, β = 1: 人数シェア X 0.7·0.6 + 0.3·0.4 = 0.54, Y 0.21 + 0.12 = 0.33,
    # Z 0.07 + 0.06 = 0.13; factors (所得 + 人数)/2: 0.57, 0.265, 0.165.
    result = levy(worked(total=1_000_000), make_rules(alpha="0", share="0.7"))
    assert _levies(result, "medical") == [570_000, 265_000, 165_000]
    # Z of 1,055,000,000: 174,075,000 / 0.875 = 198,942,857.14; 応益 = 応能 = 99,471,428.57;
    # 均等割 × 0.7 / 10,000 members = 6,963; 平等割 × 0.3 / 10,000 households = 2,984.14;
    # 所得割率 99,471,428.57 / 2e9 = 4.9736 %.
    z = levy(worked(), make_rules(alpha="0", share="0.7")).municipalities[2].parts[0]
    assert z.levy == 174_075_000
    assert (z.rates.income_rate, z.rates.per_capita, z.rates.per_household) == (
        D("4.97"),
        6_963,
        2_984,
    )


def test_standard_rates_by_hand() -> None:
    result = levy(worked(), make_rules(alpha="1"))
    x, y, z = (m.parts[0] for m in result.municipalities)
    # X: 60,000 members → band 0.95. 660,000,000 / 0.95 = 694,736,842.105…; 応能 = 応益 = half.
    assert x.collection_rate == D("0.95")
    assert x.rates.assessment_total == 694_736_842
    assert x.rates.income_rate == D("5.79")  # 347,368,421.05 / 6e9 = 5.789…%
    assert x.rates.per_capita == 2_895  # 347,368,421.05 · 0.5 / 60,000 = 2,894.74
    assert x.rates.per_household == 8_684  # 347,368,421.05 · 0.5 / 20,000 = 8,684.21
    # Y: 30,000 members → band 0.96. 220,000,000 / 0.96 = 229,166,666.67; half 114,583,333.33.
    assert y.collection_rate == D("0.96")
    assert (y.rates.income_rate, y.rates.per_capita, y.rates.per_household) == (
        D("5.73"),  # 5.729…%
        1_910,  # 1,909.72
        2_865,  # 2,864.58
    )
    # Z: its own 収納率 0.875. 175,000,000 / 0.875 = 200,000,000; half 100,000,000.
    assert z.collection_rate == D("0.875")
    assert (z.rates.income_rate, z.rates.per_capita, z.rates.per_household) == (
        D("5.00"),
        5_000,
        5_000,
    )


@pytest.mark.parametrize(
    ("mode", "expected"), [("up", (D("5.79"), 2_895, 8_685)), ("down", (D("5.78"), 2_894, 8_684))]
)
def test_rounding_modes(mode: str, expected: tuple[Decimal, int, int]) -> None:
    x = levy(worked(), make_rules(rounding=mode)).municipalities[0].parts[0]
    assert (x.rates.income_rate, x.rates.per_capita, x.rates.per_household) == expected


def test_beta_prime_moves_the_split_of_the_standard_rates() -> None:
    # Z with β′ = 0.25: 200,000,000 → 応能 40,000,000 (2.00 %), 応益 160,000,000 → 8,000 / 8,000.
    z = levy(worked(), make_rules(beta_prime="0.25")).municipalities[2].parts[0]
    assert (z.rates.income_rate, z.rates.per_capita, z.rates.per_household) == (
        D("2.00"),
        8_000,
        8_000,
    )


def test_the_adjustment_is_added_before_the_collection_rate() -> None:
    inputs = worked()
    z = inputs.municipalities[2]
    base = replace(z.parts["medical"], adjustment=-17_500_000)
    inputs = replace(
        inputs,
        municipalities=(*inputs.municipalities[:2], replace(z, parts={**z.parts, "medical": base})),
    )
    z_levy = levy(inputs, make_rules()).municipalities[2].parts[0]
    # (175,000,000 − 17,500,000) / 0.875 = 180,000,000 → 応能 90,000,000 = 4.50 %.
    assert (z_levy.levy, z_levy.required, z_levy.rates.assessment_total) == (
        175_000_000,
        157_500_000,
        180_000_000,
    )
    assert z_levy.rates.income_rate == D("4.50")


def test_a_negative_requirement_is_refused_with_the_municipality() -> None:
    inputs = worked()
    z = inputs.municipalities[2]
    base = replace(z.parts["care"], adjustment=-184_625_001)
    inputs = replace(
        inputs,
        municipalities=(*inputs.municipalities[:2], replace(z, parts={**z.parts, "care": base})),
    )
    with pytest.raises(LevyError, match="372030 .* care: 保険料収納必要額 -1 is negative"):
        levy(inputs, make_rules(alpha="0"))


def test_inputs_and_rules_of_different_years_are_refused() -> None:
    with pytest.raises(LevyError, match="FY2021 with the rules of FY2020"):
        levy(replace(worked(), fiscal_year=2021), make_rules())


def test_actual_rates_against_the_standard() -> None:
    actual = ActualRates(D("6.00"), 3_000, 8_000)
    result = levy(worked(actual=actual), make_rules())
    medical = [d for d in compare_rates(result) if d.part == "medical"]
    assert [(d.code, d.income_rate, d.per_capita, d.per_household) for d in medical] == [
        ("372013", D("0.21"), 105, -684)  # 6.00 − 5.79, 3,000 − 2,895, 8,000 − 8,684
    ]
    # A mapping (e.g. from the municipal rule files) replaces the rates in the inputs.
    mapping = {"372030": {"care": ActualRates(D("4.5"), 5_100, 4_900)}}
    (only,) = compare_rates(result, mapping)
    # Z care with α = 0: 184,625,000 / 0.875 = 211,000,000 → half 105,500,000:
    # 5.275 % → 5.28, 5,275, 5,275.
    assert (only.code, only.part, only.income_rate, only.per_capita, only.per_household) == (
        "372030",
        "care",
        D("-0.78"),
        -175,
        -375,
    )


def test_largest_remainder_by_hand() -> None:
    # 101 yen by 0.55 / 0.275 / 0.175: 55.55, 27.775, 17.675 → floors 55, 27, 17 (99);
    # the 2 yen left go to the largest remainders, Y (.775) and Z (.675).
    weights = [D("0.55"), D("0.275"), D("0.175")]
    from fractions import Fraction

    assert apportion(101, [Fraction(w) for w in weights]) == [55, 28, 18]
    # Equal remainders: the earlier entries first.
    assert apportion(100, [Fraction(1, 3)] * 3) == [34, 33, 33]


def test_members_without_income_cannot_carry_an_income_levy() -> None:
    inputs = worked()
    y = inputs.municipalities[1]
    base = replace(y.parts["support"], income=0)
    inputs = replace(
        inputs,
        municipalities=(
            inputs.municipalities[0],
            replace(y, parts={**y.parts, "support": base}),
            inputs.municipalities[2],
        ),
    )
    with pytest.raises(LevyError, match="372021 372021 support: .* yen to charge on 0 income"):
        levy(inputs, make_rules())


def test_a_part_with_nothing_to_collect() -> None:
    inputs = replace(worked(), totals={"medical": 1_055_000_000, "support": 0, "care": 0})
    result = levy(inputs, make_rules())
    assert _levies(result, "care") == [0, 0, 0]
    assert result.municipalities[0].parts[2].rates.per_capita == 0


# -- properties ------------------------------------------------------------------------------

_bases = st.tuples(st.integers(1, 200_000), st.integers(1, 200_000), st.integers(1, 10**11)).map(
    lambda t: (t[0], min(t[0], t[1]), t[2])
)
_indices = st.decimals(D("0.5"), D("1.6"), places=3)


def _inputs(total: int, rows: list[tuple[tuple[int, int, int], Decimal]]) -> LevyInputs:
    municipalities = tuple(
        MunicipalityInput(
            f"37{n:04d}",
            f"m{n}",
            index,
            {part: PartInput(*base) for part in PARTS},
        )
        for n, (base, index) in enumerate(rows)
    )
    return LevyInputs(2020, {part: total for part in PARTS}, municipalities)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 10**12),
    rows=st.lists(st.tuples(_bases, _indices), min_size=1, max_size=12),
    alpha=st.decimals(D(0), D(1), places=2),
    beta=st.decimals(D("0.1"), D(2), places=3),
    share=st.decimals(D(0), D(1), places=2),
)
def test_levies_sum_to_the_total(
    total: int,
    rows: list[tuple[tuple[int, int, int], Decimal]],
    alpha: Decimal,
    beta: Decimal,
    share: Decimal,
) -> None:
    result = levy(_inputs(total, rows), make_rules(str(alpha), str(beta), str(share)))
    for part in PARTS:
        levies = _levies(result, part)
        assert sum(levies) == total
        assert all(amount >= 0 for amount in levies)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 10**12),
    members=st.lists(st.integers(1, 100_000), min_size=1, max_size=12),
    per_member=st.integers(1, 5_000_000),
    beta=st.decimals(D("0.1"), D(2), places=3),
    share=st.decimals(D(0), D(1), places=2),
    indices=st.lists(_indices, min_size=12, max_size=12),
)
def test_alpha_zero_and_equal_incomes_share_by_members(
    total: int,
    members: list[int],
    per_member: int,
    beta: Decimal,
    share: Decimal,
    indices: list[Decimal],
) -> None:
    # Households and incomes in proportion to members (equal income per member) and α = 0:
    # every share is the member share, whatever β, s and the medical indices.
    rows = [((n, n, n * per_member), indices[i]) for i, n in enumerate(members)]
    result = levy(_inputs(total, rows), make_rules("0", str(beta), str(share)))
    whole = sum(members)
    for part in PARTS:
        for amount, n in zip(_levies(result, part), members, strict=True):
            assert abs(amount * whole - total * n) < whole  # within one yen of total·n/Σ


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(_bases, _indices), min_size=2, max_size=8),
    alpha=st.decimals(D("0.1"), D(1), places=2),
)
def test_a_higher_medical_index_never_lowers_the_medical_levy(
    rows: list[tuple[tuple[int, int, int], Decimal]], alpha: Decimal
) -> None:
    total = 10**10
    before = _levies(levy(_inputs(total, rows), make_rules(str(alpha))), "medical")[0]
    higher = [((rows[0][0]), rows[0][1] + D("0.2")), *rows[1:]]
    after = _levies(levy(_inputs(total, higher), make_rules(str(alpha))), "medical")[0]
    assert after >= before
