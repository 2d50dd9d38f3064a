"""The prefecture's 納付金 (国保法§75-7) per municipality and part, and each municipality's
標準保険料率 (§82-3), by the MHLW guideline (「国民健康保険における納付金及び標準保険料率の算定
方法について(ガイドライン)」; docs/premiums-levy.md gives the formula and its sources).

For part p and municipality i (shares are i's fraction of the prefecture's sum):

    weight_i = {1 + α(医療費指数_i − 1)} × {β·所得シェア_i + 人数シェア_i} / (1 + β)
    人数シェア_i = s·被保険者数シェア_i + (1 − s)·世帯数シェア_i     (s: 均等割 share of 応益)
    γ = 1 / Σ weight_i
    納付金_i = 納付金算定基礎額_p × weight_i × γ

All arithmetic is exact (fractions of the Decimal inputs); the 納付金 are apportioned to whole
yen by largest remainder (ties to the earlier municipality in the input), so they sum to the
total to the yen. 標準保険料率: 賦課総額 = (納付金 + adjustment) ÷ 標準的な収納率, split
応能:応益 = β′:1; 所得割率 = 応能 ÷ 所得, 均等割額 = 応益·s ÷ 被保険者数, 平等割額 =
応益·(1 − s) ÷ 世帯数, each rounded once, as the rule file says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from kokuho.premiums._levy_model import (
    ActualRates,
    LevyInputs,
    LevyResult,
    LevyRules,
    MunicipalityInput,
    MunicipalityLevy,
    PartLevy,
    PartParameters,
    PartSummary,
    RateDifference,
    Rounding,
    StandardRates,
)
from kokuho.premiums._model import PARTS, Part

_GAMMA_DECIMALS = 10


class LevyError(ValueError):
    """Inputs the formula cannot use (named by municipality and part)."""


def levy(inputs: LevyInputs, rules: LevyRules) -> LevyResult:
    """Every municipality's 納付金 and 標準保険料率 for each part."""
    if inputs.fiscal_year != rules.fiscal_year:
        raise LevyError(f"inputs of FY{inputs.fiscal_year} with the rules of FY{rules.fiscal_year}")
    summaries: list[PartSummary] = []
    levies: dict[Part, list[PartLevy]] = {}
    for part in PARTS:
        params = rules.parts[part]
        weights = part_weights(inputs.municipalities, part, params)
        total_weight = sum(weights, Fraction(0))
        amounts = apportion(inputs.totals[part], weights)
        gamma = 1 / total_weight if total_weight else Fraction(0)
        summaries.append(
            PartSummary(
                part,
                inputs.totals[part],
                params.alpha.value,
                params.beta.value,
                _round(gamma, _GAMMA_DECIMALS, "half_up"),
            )
        )
        levies[part] = [
            _part_levy(municipality, part, amount, params, rules)
            for municipality, amount in zip(inputs.municipalities, amounts, strict=True)
        ]
    municipalities = tuple(
        MunicipalityLevy(m.code, m.name, tuple(levies[part][index] for part in PARTS))
        for index, m in enumerate(inputs.municipalities)
    )
    return LevyResult(rules.fiscal_year, tuple(summaries), municipalities, unconfirmed(rules))


def part_weights(
    municipalities: Sequence[MunicipalityInput], part: Part, params: PartParameters
) -> list[Fraction]:
    """Each municipality's weight before γ:
    {1 + α(指数 − 1)} × {β·所得シェア + 人数シェア} / (1 + β)."""
    alpha = Fraction(params.alpha.value)
    beta = Fraction(params.beta.value)
    share = Fraction(params.per_capita_share.value)
    bases = [m.parts[part] for m in municipalities]
    incomes = sum(b.income for b in bases)
    members = sum(b.members for b in bases)
    households = sum(b.households for b in bases)
    weights = []
    for municipality, base in zip(municipalities, bases, strict=True):
        people = share * _share(base.members, members) + (1 - share) * _share(
            base.households, households
        )
        level = 1 + alpha * (Fraction(municipality.medical_index) - 1)
        weights.append(level * (beta * _share(base.income, incomes) + people) / (1 + beta))
    return weights


def _share(value: int, total: int) -> Fraction:
    return Fraction(value, total) if total else Fraction(0)


def apportion(total: int, weights: Sequence[Fraction]) -> list[int]:
    """``total`` yen split in proportion to ``weights`` by largest remainder: whole yen that
    sum to ``total`` exactly; equal remainders go to the earlier entry."""
    weight_sum = sum(weights, Fraction(0))
    if weight_sum <= 0:
        if total:
            raise LevyError(f"{total} yen to share but every weight is 0")
        return [0] * len(weights)
    exact = [total * weight / weight_sum for weight in weights]
    floors = [math.floor(value) for value in exact]
    left = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in order[:left]:
        floors[index] += 1
    return floors


def _part_levy(
    municipality: MunicipalityInput,
    part: Part,
    amount: int,
    params: PartParameters,
    rules: LevyRules,
) -> PartLevy:
    base = municipality.parts[part]
    where = f"{municipality.code} {municipality.name} {part}"
    required = amount + base.adjustment
    if required < 0:
        raise LevyError(
            f"{where}: 保険料収納必要額 {required} is negative"
            f" (納付金 {amount} + adjustment {base.adjustment})"
        )
    rate = municipality.collection_rate
    if rate is None:
        rate = rules.collection_rate(municipality.parts["medical"].members)
    assessment = Fraction(required) / Fraction(rate)
    beta_prime = Fraction(params.beta_prime.value)
    ability = assessment * beta_prime / (1 + beta_prime)
    benefit = assessment - ability
    share = Fraction(params.per_capita_share.value)
    mode = rules.rounding
    rates = StandardRates(
        income_rate=_round(
            _per(ability * 100, base.income, where, "income"), rules.income_rate_decimals, mode
        ),
        per_capita=int(_round(_per(benefit * share, base.members, where, "members"), 0, mode)),
        per_household=int(
            _round(_per(benefit * (1 - share), base.households, where, "households"), 0, mode)
        ),
        assessment_total=int(_round(assessment, 0, mode)),
    )
    return PartLevy(part, amount, required, rate, rates, base.actual)


def _per(amount: Fraction, base: int, where: str, label: str) -> Fraction:
    if base:
        return amount / base
    if amount:
        raise LevyError(f"{where}: {round(amount):,} yen to charge on 0 {label}")
    return Fraction(0)


def _round(value: Fraction, decimals: int, mode: Rounding) -> Decimal:
    """``value`` (≥ 0 in practice) to ``decimals`` places: 四捨五入, 切上げ or 切捨て."""
    scaled = value * 10**decimals
    if mode == "up":
        whole = math.ceil(scaled)
    elif mode == "down":
        whole = math.floor(scaled)
    else:
        whole = math.floor(scaled + Fraction(1, 2))
    return Decimal(whole).scaleb(-decimals)


def unconfirmed(rules: LevyRules) -> tuple[str, ...]:
    """The dotted names of the rule file's values not confirmed by a source."""
    out = [] if rules.confirmed else ["(file)"]
    for part, params in rules.parts.items():
        for name in ("alpha", "beta", "beta_prime", "per_capita_share"):
            if not getattr(params, name).confirmed:
                out.append(f"parts.{part}.{name}")
    if not rules.collection_rates_confirmed:
        out.append("collection_rates")
    if not rules.rounding_confirmed:
        out.append("rounding")
    return tuple(out)


def compare_rates(
    result: LevyResult, actual: Mapping[str, Mapping[Part, ActualRates]] | None = None
) -> tuple[RateDifference, ...]:
    """Each municipality's actual rates minus its 標準保険料率, per part.

    ``actual`` maps 市町村コード → part → rates (e.g. from the municipal rule files); without
    it the actual rates given in the inputs are used. Parts with no actual rates are left out.
    """
    out: list[RateDifference] = []
    for municipality in result.municipalities:
        for part in municipality.parts:
            rates = (
                part.actual if actual is None else actual.get(municipality.code, {}).get(part.part)
            )
            if rates is None:
                continue
            out.append(
                RateDifference(
                    municipality.code,
                    municipality.name,
                    part.part,
                    rates.income_rate - part.rates.income_rate,
                    rates.per_capita - part.rates.per_capita,
                    rates.per_household - part.rates.per_household,
                )
            )
    return tuple(out)
