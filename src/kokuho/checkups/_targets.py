"""特定健康診査等実施計画の目標値 (data/checkup_targets.yaml) and each insurer's progress
towards them: the gap between its 実施率 and its target, and how many more people that is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._reduction import Reduction
from kokuho.ids import FiscalYear
from kokuho.store import data_text, load_yaml

Measure = Literal["checkup", "guidance", "reduction"]
MEASURES: Final[tuple[Measure, ...]] = ("checkup", "guidance", "reduction")
NATIONAL: Final = "national"
#: The scope of a municipality's figures: its 市町村国保.
MUNICIPAL: Final = "kokuho_municipal"


@dataclass(frozen=True, slots=True)
class Target:
    """One 目標値: ``rate`` is a fraction (for ``reduction``, the reduction sought)."""

    term: int  # 期 (3: FY2018–2023, 4: FY2024–2029)
    scope: str  # national or an insurer kind
    measure: Measure
    rate: float
    confirmed: bool
    source: str


@dataclass(frozen=True)
class Targets:
    """Every target of the data file, found by fiscal year, scope and measure."""

    terms: Mapping[int, tuple[int, int]]  # 期 → (first, last fiscal year)
    targets: tuple[Target, ...]

    def term_of(self, fiscal_year: FiscalYear | int) -> int:
        year = fiscal_year.year if isinstance(fiscal_year, FiscalYear) else int(fiscal_year)
        for term, (first, last) in self.terms.items():
            if first <= year <= last:
                return term
        raise ValueError(f"no 計画期間 in the targets covers FY{year}")

    def find(self, fiscal_year: FiscalYear | int, scope: str, measure: Measure) -> Target | None:
        """The target of ``scope`` for ``measure``; the national one when the scope has none."""
        term = self.term_of(fiscal_year)
        for wanted in (scope, NATIONAL):
            for target in self.targets:
                if (target.term, target.scope, target.measure) == (term, wanted, measure):
                    return target
        return None


def load_targets(path: Path | None = None) -> Targets:
    """Reads data/checkup_targets.yaml (or ``path``, same format)."""
    text = path.read_text("utf-8") if path is not None else data_text("checkup_targets.yaml")
    raw = load_yaml(text, str(path) if path is not None else "checkup_targets.yaml")
    terms: dict[int, tuple[int, int]] = {}
    targets: list[Target] = []
    for item in raw["terms"]:
        term = int(item["term"])
        first, last = (int(y) for y in item["fiscal_years"])
        terms[term] = (first, last)
        for entry in item["targets"]:
            for measure in MEASURES:
                value = entry.get(measure)
                if value is None:
                    continue
                rate = float(value["rate"])
                if not 0 <= rate <= 1:
                    raise ValueError(f"targets: term {term} {entry['scope']} {measure}: {rate}")
                targets.append(
                    Target(
                        term=term,
                        scope=str(entry["scope"]),
                        measure=measure,
                        rate=rate,
                        confirmed=bool(value["confirmed"]),
                        source=str(value["source"]).strip(),
                    )
                )
    return Targets(terms=terms, targets=tuple(targets))


@dataclass(frozen=True, slots=True)
class Progress:
    """One row of rates against its target.

    ``gap`` = target − rate (positive: short of the target); ``shortfall`` = how many more
    受診者 (or 終了者) would reach the target, 0 when met.
    """

    fiscal_year: int
    group: Mapping[str, Any]  # the row's keys: insurer, municipality, sex, band
    scope: str  # the scope whose target applied (national when the kind has none)
    measure: Measure
    rate: float | None
    target: float
    gap: float | None
    met: bool
    shortfall: int | None
    confirmed: bool  # the target value is confirmed
    term: int


def _scope_of(row: Mapping[str, Any]) -> str:
    if row.get("insurer_kind"):
        return str(row["insurer_kind"])
    if "municipality" in row:
        return MUNICIPAL
    return NATIONAL


def progress(rates: ir.Table | Any, targets: Targets | None = None) -> list[Progress]:
    """Compares every row of ``checkup_rates`` or ``guidance_rates`` with its target.

    ``rates`` is the Ibis table those functions return (or its pyarrow result). Each row is
    compared with the target of its insurer's kind (``insurer_kind``), of 市町村国保 for rows by
    municipality, else with the national target.
    """
    targets = targets or load_targets()
    table = rates.to_pyarrow() if hasattr(rates, "to_pyarrow") else rates
    names = set(table.column_names)
    if "examined" in names:
        measure: Measure = "checkup"
        done, base = "examined", "eligible"
    elif "completed" in names:
        measure, done, base = "guidance", "completed", "targets"
    else:
        raise ValueError("progress: not a checkup_rates or guidance_rates table")
    keys = [k for k in ("insurer", "insurer_kind", "municipality", "sex", "band") if k in names]
    found: list[Progress] = []
    for row in table.to_pylist():
        scope = _scope_of(row)
        target = targets.find(row["fiscal_year"], scope, measure)
        if target is None:
            continue
        rate = row["rate"]
        gap = None if rate is None else target.rate - rate
        needed = math.ceil(target.rate * row[base] - 1e-9)
        found.append(
            Progress(
                fiscal_year=int(row["fiscal_year"]),
                group={k: row[k] for k in keys},
                scope=target.scope,
                measure=measure,
                rate=rate,
                target=target.rate,
                gap=gap,
                met=rate is not None and rate >= target.rate,
                shortfall=max(0, needed - int(row[done])),
                confirmed=target.confirmed,
                term=target.term,
            )
        )
    return found


def reduction_progress(
    reduction: Reduction, fiscal_year: FiscalYear | int, targets: Targets | None = None
) -> Progress:
    """The national 減少率 target (−25 % against FY2008) against a computed ``Reduction``."""
    targets = targets or load_targets()
    year = fiscal_year.year if isinstance(fiscal_year, FiscalYear) else int(fiscal_year)
    target = targets.find(year, NATIONAL, "reduction")
    if target is None:
        raise ValueError(f"no reduction target for FY{year}")
    return Progress(
        fiscal_year=year,
        group={},
        scope=target.scope,
        measure="reduction",
        rate=reduction.rate,
        target=target.rate,
        gap=target.rate - reduction.rate,
        met=reduction.rate >= target.rate,
        shortfall=None,
        confirmed=target.confirmed,
        term=target.term,
    )
