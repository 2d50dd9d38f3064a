"""Indicator values kokuho computes from its own data, per home unit and fiscal year.

- the home units: the register's 市町村国保 (``insurers`` of kind ``kokuho_municipal``);
- 被保険者数: from the register's coverage periods (the rule file's ``insured`` basis);
- 特定健診受診率, 特定保健指導実施率 and the 対象者 count: ``kokuho.checkups`` rates on the
  lake (the register's snapshot of the year is exported first when missing);
- 後発医薬品使用割合, 重複・多剤, 医療費 and 地域差指数: ``kokuho.claims.claims_figures``
  (``claims_values``, the only function that touches the claims room).

A year without checkup archives in the lake gives no rates (not 0 %).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from kokuho.incentives._schema import InsuredBasis
from kokuho.registry import tables

#: InsurerClaimFigures attributes → rule-file fields.
CLAIM_FIELDS = {
    "generic_share": "generic_share",
    "duplicate_per_10k": "duplicate_per_10k",
    "multi_drug_per_10k": "multi_drug_per_10k",
    "cost_per_insured": "cost_per_insured",
    "age_adjusted_cost": "age_adjusted_cost",
    "regional_index": "regional_index",
}


@dataclass(frozen=True, slots=True)
class HomeUnit:
    """A 市町村国保 of the register: 保険者番号, the municipality's name, 都道府県番号."""

    code: str
    name: str
    prefecture: str
    municipality_code: str


@dataclass
class Derived:
    """Values by (unit code, fiscal year) → field → value; the prefecture's code is its
    2-digit number."""

    municipalities: tuple[HomeUnit, ...] = ()
    prefecture: str | None = None
    values: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    insured: dict[tuple[str, int], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def put(self, code: str, year: int, name: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault((code, year), {})[name] = float(value)


class InsurerFigures(Protocol):
    """What is read of ``kokuho.claims.InsurerClaimFigures`` (the claims contract)."""

    @property
    def insurer(self) -> str: ...
    @property
    def fiscal_year(self) -> int: ...
    @property
    def generic_share(self) -> float | None: ...
    @property
    def duplicate_per_10k(self) -> float | None: ...
    @property
    def multi_drug_per_10k(self) -> float | None: ...
    @property
    def cost_per_insured(self) -> float | None: ...
    @property
    def age_adjusted_cost(self) -> float | None: ...
    @property
    def regional_index(self) -> float | None: ...


class ClaimFiguresLike(Protocol):
    @property
    def insurers(self) -> Mapping[str, InsurerFigures]: ...
    @property
    def prefecture(self) -> InsurerFigures: ...


def home_units(engine: sa.Engine, prefecture: str | None = None) -> tuple[HomeUnit, ...]:
    """The register's 市町村国保, of ``prefecture`` when given (else the only one held)."""
    i = tables.insurers.c
    query = sa.select(i.insurer_number, i.name, i.prefecture, i.municipality_code).where(
        i.kind == "kokuho_municipal"
    )
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(i.municipality_code, i.insurer_number)).all()
    held = sorted({r.prefecture for r in rows})
    if prefecture is None and len(held) > 1:
        raise ValueError(f"the register holds 市町村国保 of prefectures {held}: choose one")
    return tuple(
        HomeUnit(r.insurer_number, _short_name(r.name), r.prefecture, r.municipality_code or "")
        for r in rows
        if prefecture is None or r.prefecture == prefecture
    )


def _short_name(name: str) -> str:
    """高松市国民健康保険 → 高松市."""
    for suffix in ("国民健康保険", "国保"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def insured_counts(
    engine: sa.Engine, codes: Iterable[str], year: int, basis: InsuredBasis
) -> dict[str, int]:
    """被保険者数 of each insurer in fiscal year ``year``: the mean of the 12 month-end counts
    (rounded half up), or the count on ``basis.as_of``."""
    c = tables.coverages.c
    wanted = list(codes)
    if basis.basis == "as_of":
        assert basis.as_of is not None
        month, day = (int(x) for x in basis.as_of.split("-"))
        days = [dt.date(year if month >= 4 else year + 1, month, day)]
    else:
        days = []
        for k in range(12):
            month = (4 + k - 1) % 12 + 1
            y = year if month >= 4 else year + 1
            days.append(dt.date(y, month, calendar.monthrange(y, month)[1]))
    # Covered on a day: acquired on or before it, lost (the first day not covered) after it.
    columns = [
        sa.func.sum(
            sa.case(
                (sa.and_(c.acquired_on <= d, sa.or_(c.lost_on.is_(None), c.lost_on > d)), 1),
                else_=0,
            )
        )
        for d in days
    ]
    query = (
        sa.select(c.insurer_number, *columns)
        .where(c.insurer_number.in_(wanted))
        .group_by(c.insurer_number)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    counts = {code: 0 for code in wanted}
    for row in rows:
        total = sum(int(v or 0) for v in row[1:])
        counts[row[0]] = (2 * total + len(days)) // (2 * len(days))  # half up
    return counts


def derive(
    engine: sa.Engine | None,
    lake_root: Path | None,
    years: Iterable[int],
    *,
    insured_years: Iterable[int],
    basis: InsuredBasis,
    prefecture: str | None = None,
    claims: bool = True,
) -> Derived:
    """Everything kokuho can compute for the home units in ``years``."""
    out = Derived()
    if engine is None:
        out.notes.append("no register: home units and values come from the input files")
        return out
    units = home_units(engine, prefecture)
    out.municipalities = units
    out.prefecture = units[0].prefecture if units else prefecture
    codes = [u.code for u in units]
    for year in sorted(set(insured_years)):
        counts = insured_counts(engine, codes, year, basis)
        if not any(counts.values()):
            out.notes.append(f"no 市町村国保 members in the register in FY{year}")
            continue
        for code, n in counts.items():
            out.insured[(code, year)] = n
        if out.prefecture is not None:
            out.insured[(out.prefecture, year)] = sum(counts.values())
    if lake_root is None:
        out.notes.append("no lake: checkup and claims figures come from the input files")
        return out
    for year in sorted(set(years)):
        _checkup_values(out, engine, lake_root, year, codes)
        if claims:
            figures = claims_values(engine, lake_root, year, out.notes)
            for code, values in (figures or {}).items():
                target = out.prefecture if code == "" else code
                if target is not None and (code == "" or code in codes):
                    for name, value in values.items():
                        out.put(target, year, name, value)
    return out


def _checkup_values(
    out: Derived, engine: sa.Engine, lake_root: Path, year: int, codes: list[str]
) -> None:
    from kokuho.checkups import Lake, checkup_rates, export_snapshot, guidance_rates

    lake = Lake(lake_root)
    if not lake.has_table("checkups", years=[year]):
        return
    if not lake.has_table("eligibility", years=[year]):
        export_snapshot(engine, lake, year)
    mine = set(codes)
    eligible = examined = targets = completed = 0
    # On the lake's own connection: an expression of in-memory tables only (a year without
    # data) would otherwise run on Ibis's one global connection, shared by every thread.
    for row in lake.con.to_pyarrow(checkup_rates(lake, year, ("insurer",))).to_pylist():
        if row["insurer"] in mine:
            out.put(row["insurer"], year, "checkup_rate", row["rate"])
            out.put(row["insurer"], year, "checkup_eligible", row["eligible"])
            eligible += row["eligible"] or 0
            examined += row["examined"] or 0
    for row in lake.con.to_pyarrow(guidance_rates(lake, year, ("insurer",))).to_pylist():
        if row["insurer"] in mine:
            out.put(row["insurer"], year, "guidance_rate", row["rate"])
            targets += row["targets"] or 0
            completed += row["completed"] or 0
    if out.prefecture is not None:
        out.put(out.prefecture, year, "checkup_eligible", eligible)
        out.put(out.prefecture, year, "checkup_rate", examined / eligible if eligible else None)
        out.put(out.prefecture, year, "guidance_rate", completed / targets if targets else None)


def values_from_claim_figures(figures: ClaimFiguresLike) -> dict[str, dict[str, float]]:
    """Rule-file fields from ``ClaimFigures``: {保険者番号: {field: value}}; the prefecture as a
    whole is under "" (the contract's ``insurer`` of the prefecture figures)."""
    out: dict[str, dict[str, float]] = {}
    for code, item in [*figures.insurers.items(), ("", figures.prefecture)]:
        values = {
            name: float(getattr(item, attribute))
            for attribute, name in CLAIM_FIELDS.items()
            if getattr(item, attribute, None) is not None
        }
        if values:
            out[code] = values
    return out


def claims_values(
    engine: sa.Engine, lake_root: Path, year: int, notes: list[str]
) -> dict[str, dict[str, float]] | None:
    """The claims figures of ``year`` (None when the claims lake holds none).

    The one call into ``kokuho.claims``: ``claims_figures(lake, engine, fiscal_year)`` on the
    ``ClaimsLake`` at ``lake_root`` (imported here: it loads Ibis and DuckDB).
    """
    from kokuho.claims import ClaimsLake, claims_figures

    lake = ClaimsLake(lake_root)
    if not lake.has_table("claims"):
        return None
    try:
        figures = claims_figures(lake, engine, year)
    except LookupError as error:  # e.g. no drug master loaded
        notes.append(f"claims figures of FY{year} not computed: {error}")
        return None
    return values_from_claim_figures(figures)
