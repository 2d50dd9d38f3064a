"""The 年齢調整後医療費指数 of each municipality for the 納付金, from the claims room.

The guideline's index is the municipality's age-adjusted cost against the national average
(= 1). ``kokuho.claims.claims_figures`` computes exactly that per insurer as the 地域差指数
(``regional_index``: 年齢調整後一人当たり医療費 ÷ national per-capita cost). The register's
insurers table says which 市町村国保 belongs to which 市町村コード.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa

from kokuho.premiums._levy import LevyError
from kokuho.premiums._levy_model import LevyInputs
from kokuho.registry import tables

if TYPE_CHECKING:  # the claims room imports Ibis: only its figures are passed in here
    from kokuho.claims import ClaimFigures


def medical_indices(
    engine: sa.Engine, figures: ClaimFigures, *, decimals: int = 4
) -> dict[str, Decimal]:
    """市町村コード → 年齢調整後医療費指数 (四捨五入 to ``decimals``) for every 市町村国保 of
    the register that has a 地域差指数 in ``figures``."""
    i = tables.insurers.c
    query = sa.select(i.insurer_number, i.municipality_code).where(i.kind == "kokuho_municipal")
    with engine.connect() as connection:
        municipal = connection.execute(query).all()
    quantum = Decimal(1).scaleb(-decimals)
    out: dict[str, Decimal] = {}
    for number, code in municipal:
        found = figures.insurers.get(number)
        if code and found is not None and found.regional_index is not None:
            out[code] = Decimal(repr(found.regional_index)).quantize(quantum, ROUND_HALF_UP)
    return out


def with_medical_indices(inputs: LevyInputs, indices: Mapping[str, Decimal]) -> LevyInputs:
    """``inputs`` with each municipality's ``medical_index`` taken from ``indices``; a
    municipality without one is refused (its 納付金 would be wrong, not merely rough)."""
    missing = [m.code for m in inputs.municipalities if m.code not in indices]
    if missing:
        raise LevyError(f"no 年齢調整後医療費指数 from claims for {', '.join(missing)}")
    bad = [code for code in (m.code for m in inputs.municipalities) if indices[code] <= 0]
    if bad:
        raise LevyError(f"年齢調整後医療費指数 ≤ 0 for {', '.join(bad)}")
    return replace(
        inputs,
        municipalities=tuple(
            replace(m, medical_index=indices[m.code]) for m in inputs.municipalities
        ),
    )
