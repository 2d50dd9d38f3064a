"""実施率 of 特定健康診査 and 特定保健指導 read from the lake: the eligibility snapshot, the
checkups and the guidance records of one fiscal year, handed to the table functions of
kokuho.checkups._rates (which gives the rules and the figures' definitions).

Split from kokuho.checkups._rates along the seam between the rules (Ibis expressions over any
tables) and where the tables come from (the lake's Parquet files); the names stay importable
from kokuho.checkups._rates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._exclusions import ExclusionReason, read_exclusions
from kokuho.checkups._lake import CHECKUP_COLUMNS, GUIDANCE_COLUMNS, Lake, LakeTableMissing
from kokuho.checkups._rates import (
    as_fiscal_year,
    checkup_rate_table,
    guidance_rate_table,
    reporting_cutoff,
)
from kokuho.ids import FiscalYear


def _empty(columns: Mapping[str, pa.DataType], **extra: pa.DataType) -> ir.Table:
    schema = pa.schema({**columns, **extra})
    return ibis.memtable(schema.empty_table())


def exclusions_table(exclusions: Path | ir.Table | None) -> ir.Table | None:
    return read_exclusions(exclusions) if isinstance(exclusions, Path) else exclusions


def lake_eligibility(lake: Lake, fiscal_year: FiscalYear | int) -> ir.Table:
    """The eligibility snapshot of ``fiscal_year`` (raises when it was not exported)."""
    fy = as_fiscal_year(fiscal_year)
    try:
        return lake.table("eligibility", years=[fy.year])
    except LakeTableMissing:
        raise LakeTableMissing(
            f"no eligibility snapshot for {fy} in {lake.root}: export it first "
            "(kokuho.checkups.export_snapshot)"
        ) from None


def lake_checkups(lake: Lake, fiscal_year: FiscalYear | int) -> ir.Table:
    """The checkups of ``fiscal_year`` (an empty table when none were ingested)."""
    fy = as_fiscal_year(fiscal_year)
    try:
        return lake.table("checkups", years=[fy.year])
    except LakeTableMissing:
        return _empty(CHECKUP_COLUMNS, level=pa.int16(), fiscal_year=pa.int64())


def lake_guidance_inputs(
    lake: Lake, fy: FiscalYear, cutoff: dt.date
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The lake's members, checkups and guidance records for the 特定保健指導 rate of ``fy``
    (guidance completed by ``cutoff`` may fall in a later year's files)."""
    return (
        lake_eligibility(lake, fy),
        lake_checkups(lake, fy),
        lake_guidance(lake, range(fy.year, FiscalYear.of(cutoff).year + 1)),
    )


def lake_guidance(lake: Lake, years: Collection[int]) -> ir.Table:
    """The guidance records started in ``years`` (an empty table when none)."""
    try:
        return lake.table("guidance", years=years)
    except LakeTableMissing:
        return _empty(GUIDANCE_COLUMNS, fiscal_year=pa.int64())


def checkup_rates(
    lake: Lake,
    fiscal_year: FiscalYear | int,
    by: Sequence[str] = ("insurer",),
    *,
    exclusions: Path | ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
) -> ir.Table:
    """特定健康診査実施率 of ``fiscal_year`` from the lake (see ``checkup_rate_table``).

    ``exclusions``: a per-person exclusions file or table (data/exclusions.yaml).
    """
    fy = as_fiscal_year(fiscal_year)
    return checkup_rate_table(
        lake_eligibility(lake, fy),
        lake_checkups(lake, fy),
        fy,
        by=by,
        exclusions=exclusions_table(exclusions),
        reasons=reasons,
    )


def guidance_rates(
    lake: Lake,
    fiscal_year: FiscalYear | int,
    by: Sequence[str] = ("insurer",),
    *,
    exclusions: Path | ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    completed_by: dt.date | None = None,
    members_only: bool = True,
) -> ir.Table:
    """特定保健指導実施率 of ``fiscal_year`` from the lake (see ``guidance_rate_table``)."""
    fy = as_fiscal_year(fiscal_year)
    cutoff = completed_by or reporting_cutoff(fy)
    return guidance_rate_table(
        *lake_guidance_inputs(lake, fy, cutoff),
        fy,
        by=by,
        exclusions=exclusions_table(exclusions),
        reasons=reasons,
        completed_by=cutoff,
        members_only=members_only,
    )
