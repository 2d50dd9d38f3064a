"""The schema of the premium rule files as pydantic models (docs/premiums-rules.md), and
``PremiumRules``, the two files of a year that assess a household. ``_rules`` loads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from kokuho.premiums._model import PARTS, Part


def _ascii_number(value: object) -> object:
    # Decimal reads every script's digits ("٠.٠٧" as 0.07): a quoted rate in a rule file is
    # refused unless written in ASCII, as the levy files' numbers are (_levy_yaml).
    if isinstance(value, str) and not value.isascii():
        raise ValueError(f"{value!r} is not a number written in ASCII digits")
    return value


#: A rate or ratio of a rule file: a Decimal read from ASCII text only.
RuleDecimal = Annotated[Decimal, BeforeValidator(_ascii_number)]


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(_Strict):
    source: str = Field(min_length=1)
    confirmed: bool


#: The largest amount of yen a rule file may give (100億円, as for an income): far above any
#: 限度額 or 均等割, far below what the database's integer holds. Unbounded, 10**30 passed
#: `kokuho premiums rules --file` as a valid rule file.
MAX_RULE_YEN = 10_000_000_000


class Yen(Sourced):
    value: int = Field(ge=0, le=MAX_RULE_YEN)


class Ratio(Sourced):
    """A fraction 0–1 (0.3 for 30/100)."""

    value: RuleDecimal = Field(ge=0, le=1)


# -- the national file -------------------------------------------------------------------------


class Caps(_Strict):
    """賦課限度額 per part (政令の上限)."""

    medical: Yen
    support: Yen
    care: Yen


class PensionDeduction(Sourced):
    """高齢者特別控除 for the 軽減 judgement: ``value`` yen off 公的年金等所得 of a person aged
    ``min_age`` or over on 12月31日 of the income year."""

    value: int = Field(ge=0, le=MAX_RULE_YEN)
    min_age: int = Field(ge=0, le=120)


class Reduction(_Strict):
    """The 軽減 thresholds on the household's 総所得金額等 (7割: ≤ base + wage term;
    5割: ≤ base + per_member_5 × n + wage term; 2割: ≤ base + per_member_2 × n + wage term;
    the wage term is per_extra_wage_earner × (給与所得者等の数 − 1) when there are two or more)."""

    base: Yen
    per_member_5: Yen
    per_member_2: Yen
    per_extra_wage_earner: Yen
    pension_deduction: PensionDeduction


class SpecifiedHousehold(Sourced):
    """特定世帯: 平等割 of 医療分 and 支援分 reduced by ``first_rate`` for ``first_years`` from
    the month it became one, then by ``then_rate`` for ``then_years``."""

    first_years: int = Field(ge=0, le=20)
    first_rate: RuleDecimal = Field(ge=0, le=1)
    then_years: int = Field(ge=0, le=20)
    then_rate: RuleDecimal = Field(ge=0, le=1)


class FormerDependant(Sourced):
    """旧被扶養者: 所得割 exempt; 均等割 (and 平等割 of a household of former dependants only)
    reduced by ``rate`` for ``months`` from the month of acquisition, unless the 軽減 is larger."""

    income_exempt: bool
    rate: RuleDecimal = Field(ge=0, le=1)
    months: int = Field(ge=0, le=1200)


class Unemployment(Sourced):
    """非自発的失業者: 給与所得 counted at ``salary_ratio`` from the month of the day after leaving
    to the end of the next fiscal year."""

    salary_ratio: RuleDecimal = Field(ge=0, le=1)


class Preschool(Sourced):
    """未就学児: their 均等割 (after 軽減) reduced by ``rate``."""

    rate: RuleDecimal = Field(ge=0, le=1)


class Perinatal(Sourced):
    """産前産後: 所得割 and 均等割 of the mother exempt from ``months_before`` months before the
    month of the expected delivery to ``months_after`` months after it, for months from
    ``start``."""

    start: date
    months_before: int = Field(ge=0, le=12)
    months_after: int = Field(ge=0, le=12)


class Special(_Strict):
    specified_household: SpecifiedHousehold
    former_dependant: FormerDependant
    involuntary_unemployment: Unemployment
    preschool: Preschool | None = None
    perinatal: Perinatal | None = None


class NationalRules(_Strict):
    """One fiscal year's statutory part (法・政令), for every municipality."""

    schema_version: Literal[1]
    fiscal_year: int = Field(ge=2000, le=2100)
    label: str
    source: str = Field(min_length=1)
    confirmed: bool
    basic_deduction: Yen
    caps: Caps
    reduction: Reduction
    special: Special


# -- the municipal file ------------------------------------------------------------------------


class PartRates(Sourced):
    """One part's 所得割率, 資産割率, 均等割額, 平等割額 and, when the 条例 sets one below the
    政令's, its own cap."""

    income_rate: RuleDecimal = Field(ge=0, le=1)
    asset_rate: RuleDecimal = Field(default=Decimal(0), ge=0, le=10)
    per_capita: int = Field(ge=0, le=MAX_RULE_YEN)
    per_household: int = Field(default=0, ge=0, le=MAX_RULE_YEN)
    cap: int | None = Field(default=None, ge=0, le=MAX_RULE_YEN)


class PartsRates(_Strict):
    medical: PartRates
    support: PartRates
    care: PartRates

    def of(self, part: Part) -> PartRates:
        rates: PartRates = getattr(self, part)
        return rates


class Instalments(Sourced):
    """納期: the months in calendar order from the first (April–December of the fiscal year;
    later ones may run into the next fiscal year, e.g. [7, …, 12, 1, 2, 3, 4]) and the due day
    (a day past the month's end means its last day)."""

    months: tuple[int, ...] = Field(min_length=1, max_length=12)
    due_day: int = Field(ge=1, le=31)


Unit = Literal[1, 10, 100, 1000]


class UnitRule(Sourced):
    unit: Unit


class InstalmentRounding(Sourced):
    """Each 納期 is the total ÷ count floored to ``unit``; the remainder goes to the ``first``
    or the ``last`` one."""

    unit: Unit
    remainder: Literal["first", "last"]


class Rounding(_Strict):
    """All floors (切捨て): ``income_levy`` the 所得割 and 資産割 of a part, ``reduced`` each
    reduced 均等割/平等割, ``part`` the part's amount for the year, ``instalment`` the 納期."""

    income_levy: UnitRule
    reduced: UnitRule
    part: UnitRule
    instalment: InstalmentRounding


class MunicipalRules(_Strict):
    """One municipality's 条例 values for one fiscal year."""

    schema_version: Literal[1]
    fiscal_year: int = Field(ge=2000, le=2100)
    municipality: str = Field(pattern=r"^\d{6}$")
    name: str
    source: str = Field(min_length=1)
    confirmed: bool
    method: Literal[2, 3, 4]
    parts: PartsRates
    instalments: Instalments
    rounding: Rounding


@dataclass(frozen=True)
class Factors:
    """The rule values the engine multiplies by, as exact fractions (computed once per rules)."""

    income_rate: dict[str, Fraction]
    asset_rate: dict[str, Fraction]
    salary_ratio: Fraction
    former_dependant_rate: Fraction
    preschool_keep: Fraction | None
    specified_first_keep: Fraction
    specified_then_keep: Fraction


@dataclass(frozen=True)
class PremiumRules:
    """The rules that assess a household: the year's national file and the municipality's file,
    with the names they were read from (for the reasons of every figure)."""

    national: NationalRules
    municipal: MunicipalRules
    national_file: str
    municipal_file: str

    @property
    def fiscal_year(self) -> int:
        return self.national.fiscal_year

    @cached_property
    def factors(self) -> Factors:
        special = self.national.special
        parts = self.municipal.parts
        specified = special.specified_household
        return Factors(
            income_rate={p: Fraction(parts.of(p).income_rate) for p in PARTS},
            asset_rate={p: Fraction(parts.of(p).asset_rate) for p in PARTS},
            salary_ratio=Fraction(special.involuntary_unemployment.salary_ratio),
            former_dependant_rate=Fraction(special.former_dependant.rate),
            preschool_keep=(
                None if special.preschool is None else 1 - Fraction(special.preschool.rate)
            ),
            specified_first_keep=1 - Fraction(specified.first_rate),
            specified_then_keep=1 - Fraction(specified.then_rate),
        )

    def cap(self, part: Part) -> int:
        own = self.municipal.parts.of(part).cap
        statutory: int = getattr(self.national.caps, part).value
        return statutory if own is None else own
