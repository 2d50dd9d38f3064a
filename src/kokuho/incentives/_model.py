"""The results a scoreboard carries: per unit, indicator and tier, with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["given", "withheld", "superseded", "requires", "adjustment"]


@dataclass(frozen=True, slots=True)
class TierResult:
    """One tier for one unit: given or withheld, and why (加点・減点の根拠).

    ``status``: given; withheld (condition not met); superseded (an earlier tier of the same
    ladder was given); requires (met, but a tier it requires was not); adjustment (a cap or
    the indicator's limit, ``awarded`` being what it took away).
    """

    tier: str
    kind: str
    label: str
    possible: float
    awarded: float
    status: Status
    value: float | None
    previous: float | None
    cutoff: float | None
    reason_ja: str
    reason_en: str
    confirmed: bool
    source: str


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    """Points of one 評価指標 for one unit, with every tier's result."""

    indicator: str
    label: str
    group: str
    max: float
    min: float | None
    points: float
    tiers: tuple[TierResult, ...]
    confirmed: bool
    source: str


@dataclass(frozen=True, slots=True)
class FieldValue:
    """An indicator value of a unit: this year's, the two before, and where it came from
    (derived: computed by kokuho; file: an input file; national: the backdrop's row;
    aggregate: computed from another part's points; missing)."""

    field: str
    label: str
    unit: str
    value: float | None
    previous: float | None
    before_previous: float | None
    origin: str
    year: int


@dataclass(frozen=True, slots=True)
class UnitScore:
    """A home unit in one part: values, points with reasons, and its grant."""

    code: str
    name: str
    prefecture: str
    insured: int
    points: float
    counted_points: float
    grant_yen: int
    indicators: tuple[IndicatorScore, ...]
    values: tuple[FieldValue, ...]
    efforts: tuple[tuple[str, str], ...]

    @property
    def per_insured_yen(self) -> float | None:
        """一人当たり交付額."""
        return self.grant_yen / self.insured if self.insured else None

    def indicator(self, key: str) -> IndicatorScore:
        for item in self.indicators:
            if key in (item.indicator, item.label, item.group):
                return item
        raise KeyError(f"{self.name}: no indicator {key!r}")


@dataclass(frozen=True, slots=True)
class PartScore:
    """One part (市町村分, 都道府県分, 事業費連動分) of a scoreboard."""

    key: str
    label: str
    unit: str
    budget_yen: int
    budget_confirmed: bool
    negative_total: str
    source: str
    confirmed: bool
    units: tuple[UnitScore, ...]  # the home units
    national_units: int
    national_mean_points: float | None
    denominator: int  # Σ counted points (hundredths) × insured, over every unit

    @property
    def home_yen(self) -> int:
        return sum(u.grant_yen for u in self.units)

    def unit_score(self, key: str) -> UnitScore:
        """A home unit by 保険者番号 (or 都道府県番号) or name."""
        for unit in self.units:
            if key in (unit.code, unit.name):
                return unit
        raise KeyError(f"{self.label}: no unit {key!r}")
