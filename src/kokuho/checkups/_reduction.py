"""特定保健指導対象者の減少率 (checkups-claims.md): the 対象者 share among 受診者 by sex and
5-year band, estimated on the 2008 reference population, against the FY2008 baseline.

Split from kokuho.checkups._rates (the 実施率), whose 受診者 and bands it uses; the names are
importable from either module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._lake import Lake
from kokuho.checkups._rates import (
    BANDS,
    INTENSIVE,
    MOTIVATIONAL,
    SEXES,
    Cell,
    ExclusionReason,
    as_fiscal_year,
    count_if,
    ratio,
    stratified_takers,
)
from kokuho.checkups._rates_lake import exclusions_table, lake_checkups, lake_eligibility
from kokuho.ids import FiscalYear
from kokuho.store import data_text, load_yaml


def target_share_table(
    eligibility: ir.Table,
    checkups: ir.Table,
    fiscal_year: FiscalYear | int,
    *,
    exclusions: ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    members_only: bool = True,
    insurers: Collection[str] | None = None,
) -> ir.Table:
    """特定保健指導対象者の割合 among 受診者 by sex and band: sex, band, takers, targets, share.

    受診者 are those with a known level (判定不能 is left out of both counts, so a missing
    lab value does not read as "not a target"; UNCONFIRMED against the 基本指針's tables).
    """
    s = stratified_takers(
        eligibility,
        checkups,
        fiscal_year,
        exclusions=exclusions,
        reasons=reasons,
        members_only=members_only,
    )
    if insurers is not None:
        s = s.filter(s.insurer.isin(list(insurers)))
    takers = s.count()
    targets = count_if(s.level.isin((INTENSIVE, MOTIVATIONAL)))
    return (
        s.group_by(["sex", "band"])
        .aggregate(takers=takers, targets=targets, share=ratio(targets, takers))
        .order_by(["sex", "band"])
    )


def shares_of(table: ir.Table) -> dict[Cell, float]:
    """Runs a ``target_share_table`` and returns {(sex, band): share}."""
    return {
        (int(row["sex"]), str(row["band"])): float(row["share"])
        for row in table.to_pyarrow().to_pylist()
        if row["share"] is not None
    }


def target_shares(
    lake: Lake,
    fiscal_year: FiscalYear | int,
    *,
    exclusions: Path | ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    members_only: bool = True,
    insurers: Collection[str] | None = None,
) -> dict[Cell, float]:
    """{(sex, band): 特定保健指導対象者の割合} of one lake year (a 減少率 input)."""
    fy = as_fiscal_year(fiscal_year)
    return shares_of(
        target_share_table(
            lake_eligibility(lake, fy),
            lake_checkups(lake, fy),
            fy,
            exclusions=exclusions_table(exclusions),
            reasons=reasons,
            members_only=members_only,
            insurers=insurers,
        )
    )


@dataclass(frozen=True, slots=True)
class ReductionInputs:
    """data/reduction_baseline.yaml: 住民基本台帳 population (2008-03-31) and FY2008 shares."""

    population: Mapping[Cell, int] | None
    population_source: str
    population_confirmed: bool
    baseline_shares: Mapping[Cell, float] | None
    baseline_year: int
    baseline_source: str
    baseline_confirmed: bool


def _cells(raw: Mapping[str, Mapping[str, Any]], what: str) -> dict[Cell, Any] | None:
    cells: dict[Cell, Any] = {}
    for sex_name, sex in SEXES.items():
        values = raw.get(sex_name) or {}
        for band in BANDS:
            cells[(sex, band)] = values.get(band)
    unknown = {
        f"{s}/{b}" for s, v in raw.items() for b in (v or {}) if s not in SEXES or b not in BANDS
    }
    if unknown:
        raise ValueError(f"reduction inputs: unknown {what} cells {sorted(unknown)}")
    if all(v is None for v in cells.values()):
        return None  # not filled in
    empty = [f"{s}/{b}" for (s, b), v in cells.items() if v is None]
    if empty:
        raise ValueError(f"reduction inputs: {what} lacks {empty}")
    return cells


def load_reduction_inputs(path: Path | None = None) -> ReductionInputs:
    """Reads data/reduction_baseline.yaml (or ``path``; the file documents the format)."""
    text = path.read_text("utf-8") if path is not None else data_text("reduction_baseline.yaml")
    raw = load_yaml(text, str(path) if path is not None else "reduction_baseline.yaml")
    pop, base = raw["reference_population"], raw["baseline_shares"]
    population = _cells(pop["counts"], "population")
    shares = _cells(base["shares"], "shares")
    return ReductionInputs(
        population=None if population is None else {k: int(v) for k, v in population.items()},
        population_source=str(pop["source"]),
        population_confirmed=bool(pop["confirmed"]),
        baseline_shares=None if shares is None else {k: float(v) for k, v in shares.items()},
        baseline_year=int(base.get("fiscal_year", 2008)),
        baseline_source=str(base["source"]),
        baseline_confirmed=bool(base["confirmed"]),
    )


def estimated_targets(shares: Mapping[Cell, float], population: Mapping[Cell, int]) -> float:
    """推定特定保健指導対象者数 = Σ (sex × band) share × reference population.

    Every one of the 14 cells must have a share: a band without 受診者 has no share, and
    silently counting it as 0 would flatter the year.
    """
    cells = [(sex, band) for sex in SEXES.values() for band in BANDS]
    missing = [c for c in cells if c not in shares or c not in population]
    if missing:
        raise ValueError(f"no share or population for {missing}")
    return sum(shares[c] * population[c] for c in cells)


@dataclass(frozen=True, slots=True)
class Reduction:
    """特定保健指導対象者の減少率 against the baseline year (0.25 = 25 % fewer)."""

    baseline_estimate: float
    estimate: float
    rate: float


def reduction_rate(
    baseline_shares: Mapping[Cell, float],
    shares: Mapping[Cell, float],
    population: Mapping[Cell, int],
) -> Reduction:
    """減少率 = (推定数(2008) − 推定数(FY)) ÷ 推定数(2008), both on the 2008 population."""
    base = estimated_targets(baseline_shares, population)
    now = estimated_targets(shares, population)
    if base == 0:
        raise ValueError("the baseline estimate is 0: no 減少率")
    return Reduction(baseline_estimate=base, estimate=now, rate=(base - now) / base)
