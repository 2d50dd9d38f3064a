"""What-if (試算): change indicator values or answers, see points and yen before and after —
for the unit changed and for every other unit, whose shares move with it.

A change names a home unit (保険者番号, 都道府県番号 or name), a field or effort item (key or
Japanese label) and the new value: ``坂出市:checkup_rate=45%``, ``香川県:generic_share=0.80``,
``高松市:incentive_program=yes``. The value replaces the figure of the year scored.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from kokuho.ids import half_width_number
from kokuho.incentives._board import BoardState, Scoreboard, assemble
from kokuho.incentives._evaluate import Evaluation, evaluate
from kokuho.incentives._inputs import MAX_INSURED
from kokuho.incentives._numbers import read_number, read_percent
from kokuho.incentives._schema import RuleFile
from kokuho.incentives._units import Units

_CHANGE = re.compile(r"^\s*(?P<unit>[^:=]+?)\s*:\s*(?P<field>[^=]+?)\s*=\s*(?P<value>.+?)\s*$")


@dataclass(frozen=True, slots=True)
class Change:
    """One what-if change: ``value`` is a number (rates as fractions) or an answer."""

    unit: str
    field: str
    value: float | str
    #: Written with % (45% = 0.45): only a rate may be, as in the input files.
    percent: bool = dataclasses.field(default=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Change:
        """``UNIT:FIELD=VALUE``; a number ending in % is a percentage (45% = 0.45)."""
        match = _CHANGE.match(text)
        if match is None:
            raise ValueError(f"{text!r}: write UNIT:FIELD=VALUE, e.g. 坂出市:checkup_rate=45%")
        raw = match["value"]
        percent = half_width_number(raw).endswith("%")
        text = half_width_number(raw).removesuffix("%")
        number = read_percent(text) if percent else read_number(text)
        value: float | str = raw if number is None else number
        return cls(match["unit"], match["field"], value, percent and number is not None)


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    """A home unit in one part, before and after."""

    part: str
    code: str
    name: str
    points_before: float
    points_after: float
    yen_before: int
    yen_after: int

    @property
    def points_change(self) -> float:
        return self.points_after - self.points_before

    @property
    def yen_change(self) -> int:
        return self.yen_after - self.yen_before


@dataclass(frozen=True, slots=True)
class OthersChange:
    """The national backdrop of one part: its yen before and after, and how many units'
    grants moved."""

    part: str
    yen_before: int
    yen_after: int
    units_moved: int

    @property
    def yen_change(self) -> int:
        return self.yen_after - self.yen_before


@dataclass(frozen=True)
class WhatIf:
    changes: tuple[Change, ...]
    before: Scoreboard
    after: Scoreboard
    rows: tuple[WhatIfRow, ...]
    others: tuple[OthersChange, ...]

    def row(self, part: str, unit: str) -> WhatIfRow:
        for r in self.rows:
            if r.part == part and unit in (r.code, r.name):
                return r
        raise KeyError(f"no row for {unit!r} in {part!r}")


def _resolve_unit(state: BoardState, key: str) -> tuple[str, int]:
    for kind, units in (("municipality", state.municipalities), ("prefecture", state.prefectures)):
        for i in range(units.size):
            if units.home[i] and key in (units.codes[i], units.names[i]):
                return kind, i
    if key in ("prefecture", "県", "都道府県"):
        return "prefecture", 0
    raise KeyError(f"{key!r} is not a home municipality or the prefecture")


def resolve_field(rules: RuleFile, key: str) -> str:
    """A field or effort item by key or label."""
    if key in rules.fields or key in rules.efforts:
        return key
    for name, spec in rules.fields.items():
        if key in (spec.label, spec.label_en):
            return name
    for name, effort in rules.efforts.items():
        if key == effort.label:
            return name
    raise KeyError(f"{key!r} is not a field or effort item of the FY{rules.fiscal_year} rules")


def apply_changes(
    state: BoardState, changes: Sequence[Change]
) -> tuple[Units, Units, frozenset[str]]:
    """The municipality and prefecture units with ``changes`` applied, and the names changed."""
    rules = state.rules.rules
    units = {"municipality": state.municipalities, "prefecture": state.prefectures}
    changed: set[str] = set()
    for change in changes:
        kind, i = _resolve_unit(state, change.unit)
        name = resolve_field(rules, change.field)
        target = units[kind]
        if name in rules.fields:
            if rules.fields[name].origin == "aggregate":
                raise ValueError(f"{name} is computed from the municipalities' points")
            if not isinstance(change.value, float):
                raise ValueError(f"{name} takes a number, not {change.value!r}")
            spec = rules.fields[name]
            # The bounds of the input files (``read_inputs``), with the field named.
            if not math.isfinite(change.value):
                raise ValueError(f"{name}: {change.value:g} is not a finite number")
            if change.percent and spec.unit != "rate":
                raise ValueError(f"{name}: only rates take % (write the figure itself)")
            if spec.unit == "rate" and not spec.is_rate(change.value):
                low = "-1" if spec.signed else "0"
                raise ValueError(
                    f"{name}: {change.value:g} is not a rate ({low} to 1; write 45% or 0.45)"
                )
            if spec.unit == "count" and not (
                0 <= change.value <= MAX_INSURED and change.value.is_integer()
            ):
                raise ValueError(
                    f"{name}: {change.value:g} is not a whole number of persons up to "
                    f"{MAX_INSURED:,}"
                )
            table = target.values[name].copy()
            table[0, i] = change.value
            units[kind] = target.with_values({name: table})
        else:
            allowed = rules.efforts[name].values
            answer = _answer(change.value, allowed)
            codes = target.efforts[name].copy()
            codes[i] = allowed.index(answer)
            units[kind] = target.with_efforts({name: codes})
        changed.add(name)
    return units["municipality"], units["prefecture"], frozenset(changed)


def _answer(value: float | str, allowed: tuple[str, ...]) -> str:
    if isinstance(value, float) and value.is_integer() and str(int(value)) in allowed:
        return str(int(value))
    text = str(value).strip().lower()
    if set(allowed) == {"yes", "no"}:
        text = {"1.0": "yes", "0.0": "no", "はい": "yes", "いいえ": "no"}.get(text, text)
    if text not in allowed:
        raise ValueError(f"{value!r} is not one of {list(allowed)}")
    return text


def rescore(state: BoardState, changes: Sequence[Change]) -> BoardState:
    """The state after ``changes`` (only indicators reading a changed name are re-scored)."""
    municipalities, prefectures, changed = apply_changes(state, changes)
    evaluation = evaluate(
        state.rules.rules,
        municipalities,
        prefectures,
        budgets=state.budgets,
        overrides=state.overrides,
        index=state.index,
        previous=state.evaluation,
        changed=changed,
    )
    return replace(
        state, municipalities=municipalities, prefectures=prefectures, evaluation=evaluation
    )


def what_if(scoreboard: Scoreboard, changes: Sequence[Change | str]) -> WhatIf:
    """Points and yen before and after ``changes``, for the home units and the backdrop."""
    parsed = tuple(c if isinstance(c, Change) else Change.parse(c) for c in changes)
    state = rescore(scoreboard.state, parsed)
    after = assemble(state, scoreboard.notes, scoreboard)
    rows = []
    for old, new in zip(scoreboard.parts, after.parts, strict=True):
        for a, b in zip(old.units, new.units, strict=True):
            rows.append(
                WhatIfRow(old.key, a.code, a.name, a.points, b.points, a.grant_yen, b.grant_yen)
            )
    others = tuple(
        _others(key, scoreboard.state.evaluation, state.evaluation)
        for key in (p.key for p in scoreboard.parts)
    )
    return WhatIf(parsed, scoreboard, after, tuple(rows), others)


def _others(key: str, before: Evaluation, after: Evaluation) -> OthersChange:
    national = ~before.scored[key].units.home
    a = np.array(before.allocations[key].grants, dtype=np.int64)[national]
    b = np.array(after.allocations[key].grants, dtype=np.int64)[national]
    return OthersChange(key, int(a.sum()), int(b.sum()), int((a != b).sum()))
