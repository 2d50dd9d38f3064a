"""The vocabulary of the premiums room: one household's inputs for a fiscal year and the parts of
its premium. Every other module of the room speaks these types; storage and files map to them.

Amounts are integer yen. Dates are calendar dates; a coverage's ``lost`` date is the 資格喪失日,
the first day not covered (as in the register).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

Part = Literal["medical", "support", "care"]
"""医療分 (基礎賦課分), 後期高齢者支援金等分, 介護納付金分."""

PARTS: Final[tuple[Part, ...]] = ("medical", "support", "care")

PART_NAMES: Final[dict[Part, str]] = {
    "medical": "医療分",
    "support": "後期高齢者支援金等分",
    "care": "介護納付金分",
}

ReductionClass = Literal["7", "5", "2"]
"""The statutory 軽減 of 均等割 and 平等割: 7割, 5割, 2割."""


@dataclass(frozen=True)
class Income:
    """One person's 所得 of the previous calendar year (前年所得), from 市町村民税 data.

    ``salary`` is 給与所得 (after 給与所得控除), ``pension`` 公的年金等に係る雑所得, ``other``
    every other 所得 counted in 総所得金額等. ``declared`` is False for 未申告: no 軽減 is
    judged without a declaration. ``wage_earner`` marks a 給与所得者等 for the FY2021 rule of
    10万円 × (給与所得者等の数 − 1) in the 軽減 thresholds.
    """

    salary: int = 0
    pension: int = 0
    other: int = 0
    declared: bool = True
    wage_earner: bool = False

    @property
    def total(self) -> int:
        """総所得金額等."""
        return self.salary + self.pension + self.other


@dataclass(frozen=True)
class Member:
    """A person of the household for one fiscal year.

    ``acquired``/``lost`` bound the person's 国保 coverage in the municipality (None/None: not a
    member, e.g. a 擬制世帯主 or a 特定同一世帯所属者). ``specified_same_household`` marks a
    特定同一世帯所属者 (moved to 後期高齢者医療, still in the household): counted for the 軽減
    judgement only. ``involuntary_unemployment_from`` is the day after leaving a job as a
    非自発的失業者 (特定受給資格者・特定理由離職者, under 65 at leaving); ``former_dependant``
    marks a 旧被扶養者 (the households module sets it only for one who qualifies: aged 65–74,
    joined when the employee moved to 後期).
    """

    person_id: int
    birth_date: date
    acquired: date | None
    lost: date | None
    income: Income = field(default_factory=Income)
    specified_same_household: bool = False
    involuntary_unemployment_from: date | None = None
    former_dependant: bool = False
    delivery_due: date | None = None
    """出産予定日 of a member who notified it (産前産後期間の保険料免除, from 2024-01)."""
    gaps: tuple[tuple[date, date], ...] = ()
    """[from, to) periods inside ``acquired``–``lost`` when the member was not in the household
    (a 転出 and a return): no month whose last day falls in one is charged."""

    @property
    def is_member(self) -> bool:
        return self.acquired is not None


@dataclass(frozen=True)
class HouseholdInput:
    """One household (世帯) of one municipality for one fiscal year, as assessed.

    ``municipality`` is the 6-digit 全国地方公共団体コード. ``members`` holds everyone whose income
    counts: the 世帯主 (also when not a member: 擬制世帯主), every 国保 member and every
    特定同一世帯所属者. ``specified_household_since`` is the day the household became a
    特定世帯 (a member moved to 後期 and one member is left), if it is one.
    """

    household_id: str
    municipality: str
    fiscal_year: int
    head_person_id: int
    members: tuple[Member, ...]
    fixed_asset_tax: int = 0
    specified_household_since: date | None = None


@dataclass(frozen=True)
class Reason:
    """Why a figure is what it is: the rule applied and the values it was applied to."""

    rule: str
    text: str


@dataclass(frozen=True)
class PartAssessment:
    """One part (医療・支援・介護) of a household's annual premium, before proration by months."""

    part: Part
    income_levy: int
    """所得割."""
    asset_levy: int
    """資産割."""
    per_capita: int
    """均等割 (after 軽減 and special reductions)."""
    per_household: int
    """平等割 (after 軽減 and special reductions)."""
    capped: bool
    """賦課限度額 applied."""
    amount: int
    """The part's premium for the year (after proration)."""
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Instalment:
    """One 納期: its number (1-based), due date and amount."""

    number: int
    due: date
    amount: int


@dataclass(frozen=True)
class Assessment:
    """A household's premium for a fiscal year (本算定 or 更正)."""

    household_id: str
    municipality: str
    fiscal_year: int
    parts: tuple[PartAssessment, ...]
    reduction: ReductionClass | None
    instalments: tuple[Instalment, ...]
    reasons: tuple[Reason, ...] = ()

    @property
    def total(self) -> int:
        return sum(part.amount for part in self.parts)
