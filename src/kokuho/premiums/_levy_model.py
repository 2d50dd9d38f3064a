"""The vocabulary of the prefecture's 国民健康保険事業費納付金 (納付金, 国保法§75-7) and
標準保険料率 (§82-3): the per-year parameters, the per-municipality inputs and the results.

Money is integer yen; coefficients and rates are Decimal (never float), so a result can be
checked by hand from the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from kokuho.premiums._model import Part

Rounding = Literal["half_up", "up", "down"]
"""How a standard rate is rounded to its published unit (四捨五入, 切上げ, 切捨て)."""


@dataclass(frozen=True)
class Parameter:
    """One coefficient of the rule file with where it comes from."""

    value: Decimal
    source: str
    confirmed: bool


@dataclass(frozen=True)
class PartParameters:
    """The coefficients of one part (医療分, 後期高齢者支援金等分, 介護納付金分).

    ``alpha`` is α (医療費指数反映係数); the guideline reflects 医療費水準 in 医療分 only, so it
    is 0 for the other parts. ``beta`` is β (所得係数): 応能:応益 = β:1 in the 納付金.
    ``beta_prime`` is β′, the 応能:応益 split of the 標準保険料率 (β unless the prefecture
    chose otherwise). ``per_capita_share`` is the 均等割 share of 応益 (the rest is 平等割).
    """

    alpha: Parameter
    beta: Parameter
    beta_prime: Parameter
    per_capita_share: Parameter


@dataclass(frozen=True)
class CollectionRateBand:
    """標準的な収納率 for municipalities with at least ``min_insured`` insured persons."""

    min_insured: int
    rate: Decimal


@dataclass(frozen=True)
class LevyRules:
    """A validated levy rule file (``data/premiums/levy/fyYYYY.yaml``)."""

    fiscal_year: int
    label: str
    source: str
    confirmed: bool
    parts: dict[Part, PartParameters]
    collection_rates: tuple[CollectionRateBand, ...]
    """Ordered by ``min_insured``; the first band starts at 0."""
    collection_rates_source: str
    collection_rates_confirmed: bool
    income_rate_decimals: int
    """Decimals of the 所得割率 in percent (2: ``7.53`` %)."""
    rounding: Rounding
    rounding_confirmed: bool
    path: str

    def collection_rate(self, insured: int) -> Decimal:
        """The 標準的な収納率 of a municipality with ``insured`` insured persons."""
        rate = self.collection_rates[0].rate
        for band in self.collection_rates:
            if insured >= band.min_insured:
                rate = band.rate
        return rate


@dataclass(frozen=True)
class ActualRates:
    """A municipality's own rates for one part: 所得割率 (percent), 均等割額, 平等割額."""

    income_rate: Decimal
    per_capita: int
    per_household: int


@dataclass(frozen=True)
class PartInput:
    """One municipality's base for one part.

    ``members``: 被保険者数 (for 介護分 the 第2号被保険者 aged 40–64); ``households``: 世帯数
    (for 介護分 the households with such a member); ``income``: 基礎控除後の総所得金額等 of
    those members, the base of both the 所得シェア and the 所得割率. ``adjustment`` is added
    to the 納付金 to get the 保険料収納必要額 (保健事業費等 − 公費・交付金等; negative when the
    municipality receives more than it spends on top of the 納付金).
    """

    members: int
    households: int
    income: int
    adjustment: int = 0
    actual: ActualRates | None = None


@dataclass(frozen=True)
class MunicipalityInput:
    """One municipality: 6-digit code, name, 年齢調整後医療費指数, the 標準的な収納率 when the
    prefecture sets one for it (else the rule file's band), and the base of each part."""

    code: str
    name: str
    medical_index: Decimal
    parts: dict[Part, PartInput]
    collection_rate: Decimal | None = None


@dataclass(frozen=True)
class LevyInputs:
    """The prefecture's inputs for a fiscal year: per part the 納付金算定基礎額 to collect
    (医療給付費等の見込み − 公費等, worked out by the prefecture) and the municipalities."""

    fiscal_year: int
    totals: dict[Part, int]
    municipalities: tuple[MunicipalityInput, ...]
    path: str = ""


@dataclass(frozen=True)
class StandardRates:
    """標準保険料率 of one part: 所得割率 (percent), 均等割額 and 平等割額 (yen), rounded as the
    rule file says; ``assessment_total`` is the 保険料賦課総額 (収納必要額 ÷ 標準的な収納率)."""

    income_rate: Decimal
    per_capita: int
    per_household: int
    assessment_total: int


@dataclass(frozen=True)
class PartLevy:
    """One municipality's 納付金 and 標準保険料率 for one part."""

    part: Part
    levy: int
    """納付金 (integer yen; the municipalities' amounts sum to the part's total)."""
    required: int
    """保険料収納必要額 (納付金 + adjustment)."""
    collection_rate: Decimal
    rates: StandardRates
    actual: ActualRates | None


@dataclass(frozen=True)
class MunicipalityLevy:
    code: str
    name: str
    parts: tuple[PartLevy, ...]

    @property
    def levy(self) -> int:
        return sum(part.levy for part in self.parts)


@dataclass(frozen=True)
class PartSummary:
    """A part's prefecture figures: the total, α, β and the γ that hits the total."""

    part: Part
    total: int
    alpha: Decimal
    beta: Decimal
    gamma: Decimal
    """γ (納付金基礎額調整係数), shown to 10 decimals; the 納付金 use its exact value."""


@dataclass(frozen=True)
class LevyResult:
    fiscal_year: int
    parts: tuple[PartSummary, ...]
    municipalities: tuple[MunicipalityLevy, ...]
    unconfirmed: tuple[str, ...]


@dataclass(frozen=True)
class RateDifference:
    """A municipality's actual rates minus its 標準保険料率 for one part (positive: it charges
    more than the standard)."""

    code: str
    name: str
    part: Part
    income_rate: Decimal
    per_capita: int
    per_household: int
