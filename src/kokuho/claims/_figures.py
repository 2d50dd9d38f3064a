"""The claims figures of a fiscal year per insurer and for the prefecture, in one call: what
the incentives room (保険者努力支援制度) and the dashboard read.

Insurers are those with claims in the year (a 保険者番号 of the claims, normalised as the
register keeps it). The prefecture row (``insurer == ""``) pools those of them the register
lists as 市町村国保 (``kinds``; all of them when it knows none): its insured are the sum of
theirs, its generic share is quantity-weighted, its persons are counted once each, its costs
are recomputed over the pooled age bands.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import ibis  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa

from kokuho.claims._cost import ReferencePopulation, cost_table, load_reference_population
from kokuho.claims._generic import GenericClasses, generic_share_table
from kokuho.claims._indicator_rules import PrescribingRules, load_prescribing_rules
from kokuho.claims._insured import PREFECTURE_KINDS, insured_months, prefecture_pool
from kokuho.claims._prescribing import (
    duplicate_prescribing_table,
    multi_drug_table,
    person_counts,
)
from kokuho.claims._sources import TableSource, claim_insurers, read

PER = 10_000  # counts per 10,000 insured (保険者努力支援制度 共通指標⑤)


@dataclass(frozen=True)
class InsurerClaimFigures:
    """One insurer's (or, with ``insurer == ""``, the prefecture's) figures of a year."""

    insurer: str  # 保険者番号 ("" for the prefecture as a whole)
    fiscal_year: int
    insured: float  # average insured persons over the year (person-months / 12)
    generic_quantity: float
    originator_quantity: float
    generic_share: float | None  # 後発医薬品使用割合 (数量ベース)
    duplicate_persons: int  # 重複投与者 (persons listed in any month of the year)
    multi_drug_persons: int  # 多剤投与者
    duplicate_per_10k: float | None
    multi_drug_per_10k: float | None
    cost_per_insured: float | None  # 円 per insured per year (点数 × 10)
    age_adjusted_cost: float | None  # 年齢調整後一人当たり医療費 (direct standardisation)
    regional_index: float | None  # 地域差指数


@dataclass(frozen=True)
class ClaimFigures:
    fiscal_year: int
    insurers: dict[str, InsurerClaimFigures]
    prefecture: InsurerClaimFigures
    unconfirmed: tuple[str, ...] = field(default=())  # rules and references not confirmed


def _per(count: int, insured: float) -> float | None:
    return count / insured * PER if insured > 0 else None


def claims_figures(
    lake: TableSource,
    engine: sa.Engine,
    fiscal_year: int,
    *,
    reference: ReferencePopulation | None = None,
    rules: PrescribingRules | None = None,
    classes: GenericClasses | None = None,
    kinds: Collection[str] | None = PREFECTURE_KINDS,
) -> ClaimFigures:
    """Every claims figure of ``fiscal_year`` (see the module docstring)."""
    ref = reference or load_reference_population()
    rules = rules or load_prescribing_rules()
    claims = read(lake, "claims", fiscal_year=fiscal_year)
    drugs = read(lake, "claim_drugs", fiscal_year=fiscal_year)
    master = lake.table("drug_master")
    insured = ibis.memtable(insured_months(engine, fiscal_year, age_day=ref.age_day(fiscal_year)))
    pool = prefecture_pool(engine, claim_insurers(lake, fiscal_year=fiscal_year), kinds)
    table = cost_table(claims, insured, fiscal_year=fiscal_year, reference=ref, pool=pool)
    costs = {row["insurer"]: row for row in table.to_pyarrow().to_pylist()}
    by_insurer = generic_share_table(drugs, master, by=("insurer",), classes=classes)
    generic = {row["insurer"]: row for row in by_insurer.to_pyarrow().to_pylist()}
    pooled = {
        side: sum(generic[i][side] for i in pool if i in generic)
        for side in ("generic_quantity", "originator_quantity")
    }
    total = pooled["generic_quantity"] + pooled["originator_quantity"]
    generic[""] = {**pooled, "share": pooled["generic_quantity"] / total if total else None}
    counted: dict[str, dict[str, int]] = {}
    for name, listing in (
        ("duplicate", duplicate_prescribing_table(drugs, claims, master, rules=rules)),
        ("multi", multi_drug_table(drugs, claims, master, rules=rules)),
    ):
        rows = person_counts(listing).to_pyarrow().to_pylist()
        counted[name] = {row["insurer"]: row["persons"] for row in rows}
        counted[name][""] = sum(n for i, n in counted[name].items() if i in pool)

    def figures(insurer: str) -> InsurerClaimFigures:
        cost: dict[str, Any] = costs[insurer]
        share: dict[str, Any] = generic.get(insurer, {})
        people = float(cost["insured"])
        duplicates = counted["duplicate"].get(insurer, 0)
        multi = counted["multi"].get(insurer, 0)
        return InsurerClaimFigures(
            insurer=insurer,
            fiscal_year=fiscal_year,
            insured=people,
            generic_quantity=float(share.get("generic_quantity") or 0.0),
            originator_quantity=float(share.get("originator_quantity") or 0.0),
            generic_share=share.get("share"),
            duplicate_persons=duplicates,
            multi_drug_persons=multi,
            duplicate_per_10k=_per(duplicates, people),
            multi_drug_per_10k=_per(multi, people),
            cost_per_insured=cost["cost_per_insured"],
            age_adjusted_cost=cost["age_adjusted_cost"],
            regional_index=cost["regional_index"],
        )

    insurers = {insurer: figures(insurer) for insurer in sorted(costs) if insurer}
    if "" in costs:
        prefecture = figures("")
    else:  # no claims at all in the year
        prefecture = InsurerClaimFigures("", fiscal_year, 0.0, 0.0, 0.0, None, 0, 0, None, None,
                                         None, None, None)  # fmt: skip
    unconfirmed = tuple(f"prescribing_rules: {name}" for name in rules.unconfirmed) + tuple(
        f"reference_population: {name}" for name in ref.unconfirmed
    )
    return ClaimFigures(fiscal_year, insurers, prefecture, unconfirmed)
