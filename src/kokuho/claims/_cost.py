"""医療費: cost per insured, 年齢調整後一人当たり医療費 and the 地域差指数
(checkups-claims.md §4.4).

- **Cost** of a fiscal year = Σ HO 合計点数 × 10 円 over the claims whose 診療年月 falls in
  the year (医科 and 調剤; 入院時食事療養 is in yen outside the points and is not counted).
- **Per insured** = cost ÷ average insured (person-months of the register ÷ 12, see
  ``_insured.py``).
- The figures are the same whatever order the engine meets the rows in: costs and
  person-months are summed as whole numbers, and the bands' weighted costs are added in the
  order of the bands (the engine's float sums varied in their last digits between runs).
- **年齢調整後一人当たり医療費** by direct standardisation (MHLW 医療費の地域差分析):
  Σ_i (N_i / N) × a_i, where a_i is the region's cost per insured in 5-year band i and N_i / N
  the national reference structure of ``data/reference_population.yaml``. Ages are taken on
  one day of the fiscal year (``age_on`` there, by default 30 September, the reference day of
  the 国民健康保険実態調査 behind N_i), from the claim's 生年月日 for the cost and the
  register's for the insured. Bands where the region has no insured have no a_i: they are left
  out and the remaining weights rescaled to sum to 1 (kokuho's choice; the method assumes
  every band is populated).
- **地域差指数** = 年齢調整後一人当たり医療費 ÷ the national per-capita cost (same file).

Claims of people outside the register's insured (no band match) count in the crude cost but
not in any a_i.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa

from kokuho.claims._insured import PREFECTURE_KINDS, insured_months, prefecture_pool
from kokuho.claims._reference import (
    ReferencePopulation,
    ReferenceRejected,
    load_reference_population,
    parse_reference,
)
from kokuho.claims._sources import (
    TableSource,
    age_band,
    age_on,
    claim_insurers,
    insurer_number,
    read,
)
from kokuho.ids import FiscalYear

__all__ = [
    "ReferencePopulation", "ReferenceRejected", "cost", "cost_table",
    "load_reference_population", "parse_reference",
]  # fmt: skip

YEN_PER_POINT = 10


def _figures(
    cells: ir.Table, weights: ir.Table, national: float | None, bands: Sequence[str]
) -> ir.Table:
    """Per insurer, from cells ``insurer, band, cost (whole yen), months (person-months)``,
    one per insurer and band. The sums are of whole numbers, and the bands' weighted costs
    are added in the order of ``bands``: an engine sums floats in whatever order its threads
    meet the rows, which made the figures differ in their last digits from run to run."""
    # view(): a fresh relation, so that cells built from a join can be joined again.
    cells = cells.view().join(weights, "band", how="left")
    populated = cells.months > 0
    weight = cells.weight.fill_null(0.0)
    rate = populated.ifelse(cells.cost.cast("float64") * 12 / cells.months, ibis.null("float64"))
    terms: dict[str, ir.Value] = {}
    for n, band in enumerate(bands):  # the one cell of the band, as a column of its own
        here = populated & (cells.band == band)
        terms[f"term_{n}"] = (weight * rate).max(where=here)
        terms[f"weight_{n}"] = weight.max(where=here)
    figures = cells.group_by("insurer").aggregate(
        months=cells.months.sum(), cost=cells.cost.sum(), **terms
    )
    numerator: ir.FloatingValue = ibis.literal(0.0)
    weights_sum: ir.FloatingValue = ibis.literal(0.0)
    for n in range(len(bands)):
        numerator = numerator + figures[f"term_{n}"].fill_null(0.0)
        weights_sum = weights_sum + figures[f"weight_{n}"].fill_null(0.0)
    nothing = ibis.null("float64")
    adjusted = (weights_sum > 0).ifelse(numerator / weights_sum, nothing)
    regional = nothing if national is None else adjusted / national
    insured = figures.months.cast("float64") / 12
    cost = figures.cost.cast("float64")
    return figures.select(
        "insurer",
        insured=insured,
        cost=cost,
        cost_per_insured=(figures.months > 0).ifelse(cost / insured, nothing),
        age_adjusted_cost=adjusted,
        regional_index=regional,
    )


def cost_table(
    claims: ir.Table,
    insured: ir.Table,
    *,
    fiscal_year: int,
    reference: ReferencePopulation | None = None,
    prefecture: bool = True,
    pool: Collection[str] | None = None,
) -> ir.Table:
    """医療費 per insurer of ``fiscal_year``: ``insurer, insured, cost (円), cost_per_insured,
    age_adjusted_cost, regional_index``, for every insurer with claims in the year, plus (with
    ``prefecture``) a row ``insurer = ""`` pooling the insurers of ``pool`` (default: all).

    ``insured`` has the columns of :func:`insured_months` (month-end persons by insurer,
    month and band, ages on the reference's day).
    """
    ref = reference or load_reference_population()
    fy = FiscalYear(fiscal_year)
    day = ref.age_day(fiscal_year)
    rows = claims.filter(claims.service_month.between(fy.first_day, fy.last_day))
    rows = rows.select(
        insurer=insurer_number(rows.insurer),
        band=age_band(age_on(rows.birth_date, day)),
        cost=rows.points.fill_null(0).cast("int64") * YEN_PER_POINT,
    )
    costs = rows.group_by(["insurer", "band"]).aggregate(cost=rows.cost.sum())
    months = insured.filter(insured.service_month.between(fy.first_day, fy.last_day))
    people = months.group_by(["insurer", "band"]).aggregate(
        months=months.persons.sum().cast("int64")
    )
    people = people.join(costs.select("insurer").distinct(), "insurer", how="semi")
    cells = costs.join(people, ["insurer", "band"], how="outer")
    cells = cells.select(
        insurer=cells.insurer.fill_null(cells.insurer_right),
        band=cells.band.fill_null(cells.band_right),
        cost=cells.cost.fill_null(0),
        months=cells.months.fill_null(0),
    )
    weights = ibis.memtable(
        pa.table(
            {
                "band": pa.array(list(ref.weights()), pa.string()),
                "weight": pa.array(list(ref.weights().values()), pa.float64()),
            }
        )
    )
    national = ref.national(fiscal_year)
    bands = list(ref.weights())
    result = _figures(cells, weights, national, bands)
    if prefecture:
        members = cells if pool is None else cells.filter(cells.insurer.isin(sorted(pool)))
        pooled = members.group_by("band").aggregate(
            cost=members.cost.sum(), months=members.months.sum()
        )
        pooled = pooled.select(insurer=ibis.literal(""), band="band", cost="cost", months="months")
        result = result.union(_figures(pooled, weights, national, bands))
    return result.order_by("insurer")


def cost(
    lake: TableSource,
    engine: sa.Engine,
    *,
    fiscal_year: int,
    reference: ReferencePopulation | None = None,
    kinds: Collection[str] | None = PREFECTURE_KINDS,
) -> ir.Table:
    """:func:`cost_table` over the lake's claims of ``fiscal_year`` and the register; the
    prefecture row pools the insurers of ``kinds`` (see :func:`prefecture_pool`)."""
    ref = reference or load_reference_population()
    months = insured_months(engine, fiscal_year, age_day=ref.age_day(fiscal_year))
    claims = read(lake, "claims", fiscal_year=fiscal_year)
    pool = prefecture_pool(engine, claim_insurers(lake, fiscal_year=fiscal_year), kinds)
    return cost_table(
        claims, ibis.memtable(months), fiscal_year=fiscal_year, reference=ref, pool=pool
    )
