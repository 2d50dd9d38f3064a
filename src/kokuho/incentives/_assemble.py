"""The units of a run, built from the input files, kokuho's own figures and the backdrop.

For a home unit each value is taken, in this order, from: ``indicators.csv`` /
``collection_rates.csv`` (explicit beats computed), what kokuho derived from its data, and
the backdrop's row for the same code. Efforts come from ``efforts.csv``, else the backdrop's
row. The national units are the backdrop's rows of the other prefectures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from kokuho.incentives._derive import Derived, HomeUnit
from kokuho.incentives._inputs import BackdropRow, Inputs
from kokuho.incentives._schema import RuleFile
from kokuho.incentives._units import HISTORY, MISSING_CODE, Codes, Floats, Units, build_units


@dataclass(frozen=True, slots=True)
class Years:
    """Which fiscal year's figures each field and effort is read from."""

    fiscal_year: int
    data_year: int | None
    rules: RuleFile

    def of(self, name: str) -> int:
        if self.data_year is not None:
            return self.data_year
        return self.fiscal_year - self.rules.field_lag(name)

    @property
    def insured(self) -> int:
        if self.data_year is not None:
            return self.data_year
        return self.fiscal_year - self.rules.insured.lag

    def needed(self, names: list[str]) -> set[int]:
        return {self.of(n) - back for n in names for back in range(HISTORY)}


def home_municipalities(
    derived: Derived, inputs: Inputs, prefecture: str, years: Years
) -> tuple[HomeUnit, ...]:
    """The register's 市町村国保, or without a register the backdrop's rows of the prefecture."""
    if derived.municipalities:
        return derived.municipalities
    found: dict[str, HomeUnit] = {}
    for (kind, code, year), row in sorted(inputs.national.items(), key=lambda kv: kv[0][2]):
        if kind == "municipality" and row.prefecture == prefecture and year <= years.fiscal_year:
            found[code] = HomeUnit(code, row.name, prefecture, "")
    return tuple(sorted(found.values(), key=lambda u: u.code))


def _national(inputs: Inputs, kind: str, home_prefecture: str) -> dict[str, BackdropRow]:
    """The latest row of each backdrop unit outside the home prefecture (names, prefecture)."""
    latest: dict[str, BackdropRow] = {}
    for (k, code, _year), row in inputs.national.items():
        if k != kind or row.prefecture == home_prefecture:
            continue
        if code not in latest or row.year > latest[code].year:
            latest[code] = row
    return dict(sorted(latest.items()))


def build_part_units(
    rules: RuleFile,
    inputs: Inputs,
    derived: Derived,
    years: Years,
    *,
    kind: str,
    home: list[tuple[str, str]],
    prefecture: str,
    insured_of_home: Callable[[str], int],
) -> Units:
    """Units of ``kind`` (municipality | prefecture): ``home`` (code, name) first."""
    national = _national(inputs, kind, prefecture)
    codes = [c for c, _ in home] + list(national)
    names = [n for _, n in home] + [r.name for r in national.values()]
    prefectures = [prefecture if kind == "municipality" else c for c, _ in home]
    prefectures += [r.prefecture for r in national.values()]
    n_home = len(home)
    rows = inputs.national
    insured = [insured_of_home(c) for c, _ in home]
    for code in national:
        row = rows.get((kind, code, years.insured))
        insured.append(row.insured if row is not None and row.insured is not None else 0)
    values: dict[str, Floats] = {}
    origins: dict[tuple[str, str], str] = {}
    for name, spec in rules.fields.items():
        if spec.origin == "aggregate":
            values[name] = np.full((HISTORY, len(codes)), np.nan)
            continue
        year = years.of(name)
        table = np.full((HISTORY, len(codes)), np.nan)
        for back in range(HISTORY):
            y = year - back
            for i, code in enumerate(codes):
                if i < n_home:
                    value, origin = _home_value(inputs, derived, kind, code, y, name)
                    if back == 0:
                        origins[(code, name)] = origin
                else:
                    row = rows.get((kind, code, y))
                    value = None if row is None else row.values.get(name)
                if value is not None:
                    table[back, i] = value
        values[name] = table
    efforts: dict[str, Codes] = {}
    for item, effort in rules.efforts.items():
        year = years.of(item)
        answers = np.full(len(codes), MISSING_CODE, dtype=np.int16)
        for i, code in enumerate(codes):
            answer = inputs.efforts.get((code, year), {}).get(item) if i < n_home else None
            if answer is None:
                row = rows.get((kind, code, year))
                answer = None if row is None else row.efforts.get(item)
            if answer is not None:
                answers[i] = effort.values.index(answer)
        efforts[item] = answers
    return build_units(
        codes,
        names,
        prefectures,
        [i < n_home for i in range(len(codes))],
        insured,
        values,
        efforts,
        None,
        origins,
    )


def _home_value(
    inputs: Inputs, derived: Derived, kind: str, code: str, year: int, name: str
) -> tuple[float | None, str]:
    explicit = inputs.values.get((code, year), {}).get(name)
    if explicit is not None:
        return explicit, "file"
    computed = derived.values.get((code, year), {}).get(name)
    if computed is not None:
        return computed, "derived"
    row = inputs.national.get((kind, code, year))
    if row is not None and name in row.values:
        return row.values[name], "national"
    return None, "missing"


def with_overrides(
    units: Units, inputs: Inputs, kind: str, part_key: str, fiscal_year: int
) -> Units:
    """``units`` with the backdrop's official totals of ``part_key`` (column
    ``points:<part>`` of the rows of the fiscal year scored) for the national units."""
    override = np.full(units.size, np.nan)
    for i, code in enumerate(units.codes):
        row = None if units.home[i] else inputs.national.get((kind, code, fiscal_year))
        if row is not None and part_key in row.points:
            override[i] = row.points[part_key]
    if np.isnan(override).all():
        return units
    return replace(units, override=override)
