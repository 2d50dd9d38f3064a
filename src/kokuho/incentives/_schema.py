"""The schema of a rule file (評価指標・配点 and 調整交付金 parameters) as pydantic models.

``data/incentives/schema.md`` documents it for people; ``kokuho.incentives._rules`` loads and
cross-checks it.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, field_validator

from kokuho.incentives._adjust_rules import Adjustment
from kokuho.incentives._base import Budget, Strict

SCHEMA_VERSION: Final = 1
_KEY = r"^[a-z][a-z0-9_]*$"
Unit = Literal["rate", "count", "yen", "per_10k", "index", "points", "number"]


class FieldSpec(Strict):
    """A numeric indicator value (指標値) the tiers read, e.g. ``checkup_rate``."""

    label: str
    label_en: str = ""
    unit: Unit
    higher_is_better: bool = True
    #: A rate that may fall below 0, down to -1 (a 減少率: negative when the targets grew);
    #: every other rate is a fraction 0–1.
    signed: bool = False
    #: Years between the fiscal year scored and the year of the figures (実績年度).
    lag: int | None = Field(default=None, ge=0, le=5)
    #: Where kokuho finds it: checkups, claims, register, premiums (収納率 from 調定 and
    #: payments), file (an input file), aggregate.
    origin: Literal["checkups", "claims", "register", "premiums", "file", "aggregate"] = "file"
    #: For origin=premiums: 収納率 過年度分を含む (true) or 現年分 only (false).
    include_past_years: bool | None = None
    #: For origin=aggregate: the mean over a prefecture's municipalities of the points of
    #: ``indicators`` (all indicators when empty) of ``part``.
    part: str | None = None
    indicators: tuple[str, ...] = ()
    source: str = ""
    confirmed: bool = False

    def is_rate(self, value: float) -> bool:
        """Whether ``value`` is a rate of this field: 0–1, or -1–1 when ``signed``."""
        return (-1.0 if self.signed else 0.0) <= value <= 1.0


class EffortSpec(Strict):
    """A self-assessed item (取組), answered per municipality in efforts.csv."""

    label: str
    values: tuple[str, ...] = ("yes", "no")
    lag: int | None = Field(default=None, ge=0, le=5)
    source: str = ""
    confirmed: bool = False


class SizeBand(Strict):
    key: str
    label: str
    min: float | None = None  # inclusive
    below: float | None = None  # exclusive


class SizeGrouping(Strict):
    """市町村規模別 classes: units are grouped by ``basis`` (a field or ``insured``)."""

    basis: str = "insured"
    bands: tuple[SizeBand, ...]
    source: str
    confirmed: bool


def _two_decimals(value: float) -> float:
    if round(value, 2) != value:
        raise ValueError("points have at most two decimals")
    return value


class _Tier(Strict):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]+$")
    label: str = ""
    points: float = 0
    #: Tiers sharing a ladder are tried in file order; only the first satisfied one counts.
    ladder: str | None = None
    #: Ids of tiers (same indicator) whose conditions must also hold.
    requires: tuple[str, ...] = ()
    source: str | None = None
    confirmed: bool | None = None

    _check_points = field_validator("points")(_two_decimals)


class ThresholdTier(_Tier):
    """Absolute thresholds: every bound given must hold."""

    kind: Literal["threshold"]
    input: str
    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    below: float | None = None


class TargetTier(_Tier):
    """Reaching a target (目標値): a fixed value or another field (e.g. the plan's own)."""

    kind: Literal["target"]
    input: str
    target: float | None = None
    target_field: str | None = None


class RankTier(_Tier):
    """上位 X割 (``top``) or the first ``top_n`` among all units or within a size group.

    ``cutoffs`` gives published thresholds per size-group band; bands without one use the
    distribution of the units scored.
    """

    kind: Literal["rank"]
    input: str
    within: str = "all"
    top: float | None = Field(default=None, gt=0, le=1)
    top_n: int | None = Field(default=None, ge=1)
    cutoffs: dict[str, float] = Field(default_factory=dict)


class ImprovementTier(_Tier):
    """Improvement over the previous year by ``at_least`` (in the field's unit; 1ポイント of a
    rate is 0.01), or by a fraction of it with ``relative``; ``running: 2`` asks it of the
    last two years."""

    kind: Literal["improvement"]
    input: str
    at_least: float = 0
    strict: bool = False
    relative: bool = False
    running: int = Field(default=1, ge=1, le=2)


class PenaltyTier(_Tier):
    """Minus points for a low value (``bottom`` 下位 X割, ``bottom_n``, or ``below`` a value)
    and/or a fall from the previous year (``falling``; ``falling_years: 2`` = worse than
    both previous years)."""

    kind: Literal["penalty"]
    input: str
    within: str = "all"
    bottom: float | None = Field(default=None, gt=0, le=1)
    bottom_n: int | None = Field(default=None, ge=1)
    below: float | None = None
    falling: bool = True
    falling_years: int = Field(default=1, ge=1, le=2)


class EffortTier(_Tier):
    """Yes/no (or categorical) self-assessed efforts: ``item`` (or ``all_of`` / ``any_of``
    items) equals ``equals`` (default yes), or is one of ``one_of``."""

    kind: Literal["effort"]
    item: str | None = None
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    equals: str = "yes"
    one_of: tuple[str, ...] = ()


class CapTier(_Tier):
    """Caps the sum of the named tiers' points to [min, max] (no points of its own)."""

    kind: Literal["cap"]
    tiers: tuple[str, ...]
    max: float | None = None
    min: float | None = None


Tier = Annotated[
    ThresholdTier | TargetTier | RankTier | ImprovementTier | PenaltyTier | EffortTier | CapTier,
    Field(discriminator="kind"),
]
NUMERIC_KINDS: Final = ("threshold", "target", "rank", "improvement", "penalty")


class Indicator(Strict):
    """One 評価指標: points are the tiers' sum, capped to [min, max]."""

    id: str = Field(pattern=_KEY)
    label: str
    group: str = ""
    max: float
    min: float | None = None
    source: str
    confirmed: bool
    notes: str = ""
    tiers: tuple[Tier, ...]

    def tier_id(self, index: int) -> str:
        tier = self.tiers[index]
        return tier.id or f"{self.id}.{index + 1}"


class Part(Strict):
    """A part allocated on its own: grant = budget × points × insured ÷ Σ points × insured."""

    key: str = Field(pattern=_KEY)
    label: str
    unit: Literal["municipality", "prefecture"]
    budget: Budget
    #: What a negative total counts as in the allocation (docs/incentives.md).
    negative_total: Literal["floor_at_zero", "error"] = "floor_at_zero"
    source: str
    confirmed: bool
    indicators: tuple[Indicator, ...]


class InsuredBasis(Strict):
    """How 被保険者数 is counted from the register: the mean of the 12 month-end counts, or
    the count on one day (``as_of`` MM-DD) of the data year."""

    basis: Literal["monthly_average", "as_of"] = "monthly_average"
    as_of: str | None = Field(default=None, pattern=r"^[0-9]{2}-[0-9]{2}$")
    lag: int = Field(default=0, ge=0, le=5)
    source: str
    confirmed: bool


class RuleFile(Strict):
    schema_version: Literal[1]
    fiscal_year: int = Field(ge=2015, le=2100)
    label: str
    source: str
    confirmed: bool
    lag: int = Field(default=2, ge=0, le=5)
    insured: InsuredBasis
    fields: dict[str, FieldSpec]
    efforts: dict[str, EffortSpec] = Field(default_factory=dict)
    size_groups: dict[str, SizeGrouping] = Field(default_factory=dict)
    parts: tuple[Part, ...]
    adjustment: Adjustment | None = None

    def part(self, key: str) -> Part:
        for part in self.parts:
            if part.key == key:
                return part
        raise KeyError(f"no part {key!r} in the FY{self.fiscal_year} rules")

    def field_lag(self, name: str) -> int:
        spec = self.fields.get(name)
        if spec is not None:
            return self.lag if spec.lag is None else spec.lag
        effort = self.efforts.get(name)
        if effort is not None:
            return 1 if effort.lag is None else effort.lag
        return self.lag
