"""Whether a 本算定 has the incomes of its year: a year whose income file was never loaded
would charge every household as 未申告 (no 所得割, no 軽減), and a 本算定 is made once."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.premiums._tables import premium_incomes
from kokuho.registry import tables


class IncomesMissing(ValueError):
    """A 本算定 refused because no income of the year is loaded for any resident of the
    municipality: every household would be charged as 未申告 (no 所得割, no 軽減)."""

    def __init__(self, municipality: str, fiscal_year: int, households: int) -> None:
        super().__init__(
            f"{municipality} FY{fiscal_year}: no income of FY{fiscal_year} is loaded for the "
            f"municipality's residents: its {households} households would all be charged as "
            "未申告 (no 所得割, no 軽減); load the year's income file first "
            "(`kokuho premiums incomes import`); nothing was recorded"
        )


def check_incomes(engine: sa.Engine, municipality: str, fiscal_year: int, households: int) -> None:
    """IncomesMissing when ``households`` are to be assessed and not one income record of the
    year (declared or 未申告) belongs to a resident of the municipality."""
    if not households:
        return
    r = tables.residents
    query = (
        sa.select(premium_incomes.c.resident_id)
        .join(r, r.c.resident_id == premium_incomes.c.resident_id)
        .where(premium_incomes.c.fiscal_year == fiscal_year, r.c.municipality_code == municipality)
        .limit(1)
    )
    with engine.connect() as connection:
        if connection.scalar(query) is None:
            raise IncomesMissing(municipality, fiscal_year, households)
