"""固有① 保険料(税)収納率 from the premiums room: 収納額 ÷ 調定額 of each 市町村国保.

A field of ``origin: premiums`` is computed from the 調定 and payments the database holds
(``kokuho.premiums.collection_rates``), 過年度分を含む or 現年分 as the rule file's
``include_past_years`` says. A municipality without 調定 for the year gets no value (not 0 %),
so ``collection_rates.csv`` or the backdrop still applies; the prefecture's value is the
ratio of the sums over the register's municipalities that have one. The CSV beats the
computed value (docs/incentives.md); ``override_notes`` tells where it did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

import sqlalchemy as sa

from kokuho.incentives._derive import Derived, HomeUnit
from kokuho.incentives._inputs import Inputs
from kokuho.incentives._schema import RuleFile


def _definition(include_past_years: bool) -> str:
    return "過年度分を含む" if include_past_years else "現年分"


def premium_values(
    out: Derived,
    engine: sa.Engine,
    units: Iterable[HomeUnit],
    wanted: Mapping[str, tuple[Iterable[int], bool]],
) -> None:
    """Puts each field of ``wanted`` (name → (fiscal years, include_past_years)) into ``out``
    for the home ``units`` whose municipality has 調定 in the year."""
    from kokuho.premiums import collection_rates

    by_municipality = {u.municipality_code: u for u in units if u.municipality_code}
    for name, (years, include_past_years) in sorted(wanted.items()):
        for year in sorted(set(years)):
            found = []
            collected = charged = 0
            for rate in collection_rates(engine, year):
                unit = by_municipality.get(rate.municipality)
                if unit is None:
                    out.notes.append(
                        f"{name} FY{year}: 調定 of municipality {rate.municipality} not used "
                        "(no 市町村国保 of the register has that code)"
                    )
                    continue
                value = rate.total_rate if include_past_years else rate.current_rate
                if value is None:
                    continue
                out.put(unit.code, year, name, float(value))
                found.append(f"{unit.name} ({unit.code}) {float(value) * 100:.2f}%")
                collected += rate.current_collected
                charged += rate.current_charged
                if include_past_years:
                    collected += rate.carried_collected
                    charged += rate.carried_charged
            if not found:
                continue
            if out.prefecture is not None:
                out.put(out.prefecture, year, name, float(Fraction(collected, charged)))
            out.notes.append(
                f"{name} FY{year} ({_definition(include_past_years)}) computed from the "
                f"premiums room's 調定 and payments: {', '.join(found)}"
            )


def override_notes(rules: RuleFile, inputs: Inputs, derived: Derived) -> list[str]:
    """Where an input file's value replaced a computed ``origin: premiums`` value."""
    notes = []
    for (code, year), values in sorted(inputs.values.items()):
        for name, explicit in sorted(values.items()):
            spec = rules.fields.get(name)
            computed = derived.values.get((code, year), {}).get(name)
            if spec is None or spec.origin != "premiums" or computed is None:
                continue
            notes.append(
                f"{name} of {code} FY{year}: the input file's {explicit * 100:.2f}% overrides "
                f"the {computed * 100:.2f}% computed from 調定 and payments"
            )
    return notes
