"""The prefecture's scoreboard: every home unit's values, points with reasons, totals and
grants, the prefecture's parts and its 調整交付金 (保険者努力支援制度 スコアボード)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from kokuho.incentives._adjust import AdjustmentResult, adjust
from kokuho.incentives._allocate import Allocation
from kokuho.incentives._assemble import Years, build_part_units, home_municipalities, with_overrides
from kokuho.incentives._derive import Derived, derive
from kokuho.incentives._derive_premiums import override_notes, premium_values
from kokuho.incentives._evaluate import Evaluation, evaluate, prefecture_index
from kokuho.incentives._inputs import Inputs, read_inputs
from kokuho.incentives._model import FieldValue, IndicatorScore, PartScore, UnitScore
from kokuho.incentives._reasons import indicator_score, unit_answers
from kokuho.incentives._rules import RuleSet, load_rules, unconfirmed_items
from kokuho.incentives._schema import Part, RuleFile
from kokuho.incentives._score import PartArrays
from kokuho.incentives._units import Floats, Units


@dataclass(frozen=True)
class BoardState:
    """What a what-if needs to re-score quickly (not part of the public result)."""

    rules: RuleSet
    years: Years
    municipalities: Units
    prefectures: Units
    budgets: Mapping[str, int]
    overrides: Mapping[str, Floats]
    index: np.ndarray
    evaluation: Evaluation


@dataclass(frozen=True)
class Scoreboard:
    """Everything about the home prefecture in one fiscal year.

    ``parts`` holds, per part (市町村分, 都道府県分, 事業費連動分 …), the home units with their
    values, points per indicator with the reason for each tier, totals and grants;
    ``adjustment`` the 調整交付金 of every prefecture (when the rules define it).
    """

    fiscal_year: int
    label: str
    rules_file: str
    data_year: int | None
    prefecture: str
    prefecture_name: str
    parts: tuple[PartScore, ...]
    adjustment: AdjustmentResult | None
    notes: tuple[str, ...]
    unconfirmed: tuple[str, ...]
    state: BoardState = field(repr=False, compare=False)

    def part(self, key: str) -> PartScore:
        for part in self.parts:
            if key in (part.key, part.label):
                return part
        raise KeyError(f"no part {key!r}; have {[p.key for p in self.parts]}")

    @property
    def municipalities(self) -> tuple[UnitScore, ...]:
        """The home municipalities in the first municipality part (市町村分)."""
        for part in self.parts:
            if part.unit == "municipality":
                return part.units
        return ()

    def prefecture_scores(self) -> dict[str, UnitScore]:
        """The home prefecture's score in each prefecture part, by part key."""
        return {p.key: p.units[0] for p in self.parts if p.unit == "prefecture" and p.units}

    @property
    def total_yen(self) -> int:
        """All grants to the home units (市町村分 + 都道府県分 + …), 調整交付金 excluded."""
        return sum(p.home_yen for p in self.parts)


def prefecture_scoreboard(
    engine: sa.Engine | None,
    lake_root: Path | None,
    fiscal_year: int,
    inputs_dir: Path,
    *,
    rules: RuleSet | Path | None = None,
    data_year: int | None = None,
    prefecture: str | None = None,
    budgets: Mapping[str, int] | None = None,
) -> Scoreboard:
    """The scoreboard of ``fiscal_year`` (保険者努力支援制度 and 調整交付金).

    ``engine`` and ``lake_root``: the register and the lake kokuho derives values from (None:
    everything from the input files, the home units being the backdrop's rows of
    ``prefecture``). ``inputs_dir``: the input files (docs/incentives.md). ``rules``: a rule
    file instead of the one shipped for the year. ``data_year``: score with the figures of
    that year for every field (a preview of a later year's result from current data) instead
    of each field's lag. ``budgets``: part key → yen, replacing the rule file's.
    """
    ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules or fiscal_year)
    if ruleset.fiscal_year != fiscal_year:
        raise ValueError(f"{ruleset.path} holds the rules of FY{ruleset.fiscal_year}")
    inputs = read_inputs(inputs_dir, ruleset.rules)
    years = Years(fiscal_year, data_year, ruleset.rules)
    derived_names = [
        n for n, s in ruleset.rules.fields.items() if s.origin in ("checkups", "claims")
    ]
    derived = derive(
        engine,
        lake_root,
        years.needed(derived_names),
        insured_years=[years.insured],
        basis=ruleset.rules.insured,
        prefecture=prefecture,
    )
    premium_fields = {
        n: (years.needed([n]), bool(s.include_past_years))
        for n, s in ruleset.rules.fields.items()
        if s.origin == "premiums"
    }
    if engine is not None and premium_fields:
        premium_values(derived, engine, derived.municipalities, premium_fields)
    return build_scoreboard(
        ruleset, inputs, derived, data_year=data_year, prefecture=prefecture, budgets=budgets
    )


def build_scoreboard(
    ruleset: RuleSet,
    inputs: Inputs,
    derived: Derived | None = None,
    *,
    data_year: int | None = None,
    prefecture: str | None = None,
    budgets: Mapping[str, int] | None = None,
) -> Scoreboard:
    """The scoreboard from inputs already read (and values already derived, if any)."""
    rules = ruleset.rules
    years = Years(ruleset.fiscal_year, data_year, rules)
    derived = derived or Derived()
    home_prefecture = derived.prefecture or prefecture
    if home_prefecture is None:
        raise ValueError("no register to find the home prefecture in: give prefecture (01–47)")
    municipalities = home_municipalities(derived, inputs, home_prefecture, years)
    if not municipalities:
        raise ValueError(
            f"no 市町村国保 of prefecture {home_prefecture} in the register or backdrop"
        )

    def insured_of(code: str) -> int:
        n = derived.insured.get((code, years.insured))
        if n is None:
            for kind in ("municipality", "prefecture"):
                row = inputs.national.get((kind, code, years.insured))
                if row is not None and row.insured is not None:
                    return row.insured
            if code == home_prefecture:
                return sum(insured_of(u.code) for u in municipalities)
            return 0
        return n

    muni = build_part_units(
        rules,
        inputs,
        derived,
        years,
        kind="municipality",
        home=[(u.code, u.name) for u in municipalities],
        prefecture=home_prefecture,
        insured_of_home=insured_of,
    )
    name = _prefecture_name(inputs, home_prefecture, years)
    pref = build_part_units(
        rules,
        inputs,
        derived,
        years,
        kind="prefecture",
        home=[(home_prefecture, name)],
        prefecture=home_prefecture,
        insured_of_home=insured_of,
    )
    overrides: dict[str, Floats] = {}
    for part in rules.parts:
        units = muni if part.unit == "municipality" else pref
        given = with_overrides(units, inputs, part.unit, part.key, years.fiscal_year)
        if given is not units:
            overrides[part.key] = given.override
    budget_of = {p.key: p.budget.yen for p in rules.parts} | dict(budgets or {})
    index = prefecture_index(muni, pref)
    evaluation = evaluate(rules, muni, pref, budgets=budget_of, overrides=overrides, index=index)
    state = BoardState(ruleset, years, muni, pref, budget_of, overrides, index, evaluation)
    overridden = override_notes(rules, inputs, derived)
    notes = list(dict.fromkeys([*derived.notes, *overridden, *inputs.notes]))
    for part in rules.parts:
        units = evaluation.scored[part.key].units
        lacking = int(((units.insured == 0) & ~units.home).sum())
        if lacking:
            notes.append(f"{part.label}: {lacking} backdrop unit(s) without insured count")
    return assemble(state, tuple(notes))


def _prefecture_name(inputs: Inputs, code: str, years: Years) -> str:
    rows = [r for (k, c, _), r in inputs.national.items() if k == "prefecture" and c == code]
    if rows:
        return max(rows, key=lambda r: r.year).name
    return f"都道府県{code}"


def assemble(
    state: BoardState, notes: tuple[str, ...], previous: Scoreboard | None = None
) -> Scoreboard:
    """The public scoreboard (with reasons) of an evaluation.

    With ``previous`` (the scoreboard the state was re-scored from), the reasons of every
    indicator that was not re-scored, and the 調整交付金 when no prefecture figure changed, are
    taken over: a what-if writes only the reasons that can differ.
    """
    rules = state.rules.rules
    evaluation = state.evaluation
    parts = tuple(
        part_score(
            rules,
            part,
            evaluation.scored[part.key],
            evaluation.allocations[part.key],
            state.years,
            _reusable(previous, part.key, evaluation.scored[part.key]),
        )
        for part in rules.parts
    )
    if rules.adjustment is None:
        adjustment = None
    elif previous is not None and previous.state.prefectures is state.prefectures:
        adjustment = previous.adjustment
    else:
        adjustment = adjust(rules.adjustment, state.prefectures, state.years.fiscal_year)
    pref = state.prefectures
    return Scoreboard(
        fiscal_year=rules.fiscal_year,
        label=rules.label,
        rules_file=state.rules.path,
        data_year=state.years.data_year,
        prefecture=pref.codes[0],
        prefecture_name=pref.names[0],
        parts=parts,
        adjustment=adjustment,
        notes=tuple(dict.fromkeys(notes + (adjustment.notes if adjustment else ()))),
        unconfirmed=tuple(unconfirmed_items(rules)),
        state=state,
    )


def _shown_fields(rules: RuleFile, part: Part) -> list[str]:
    read: list[str] = []
    for indicator in part.indicators:
        for tier in indicator.tiers:
            for attribute in ("input", "target_field"):
                name = getattr(tier, attribute, None)
                if isinstance(name, str) and name not in read:
                    read.append(name)
    if part.unit == "municipality":
        read += [
            n
            for n, s in rules.fields.items()
            if s.origin in ("checkups", "claims") and n not in read
        ]
    return read


def _reusable(
    previous: Scoreboard | None, key: str, arrays: PartArrays
) -> dict[tuple[int, int], IndicatorScore]:
    """(unit index, indicator index) → the previous IndicatorScore, where the indicator's
    arrays are the very same objects (not re-scored)."""
    if previous is None:
        return {}
    before = previous.state.evaluation.scored[key]
    scores = previous.part(key).units
    out = {}
    for k, (old, new) in enumerate(zip(before.indicators, arrays.indicators, strict=True)):
        if old is new:
            for i, unit in enumerate(scores):
                out[(i, k)] = unit.indicators[k]
    return out


def part_score(
    rules: RuleFile,
    part: Part,
    arrays: PartArrays,
    allocation: Allocation,
    years: Years,
    reuse: Mapping[tuple[int, int], IndicatorScore] | None = None,
) -> PartScore:
    units = arrays.units
    reuse = reuse or {}
    shown = _shown_fields(rules, part)
    home = [i for i in range(units.size) if units.home[i]]
    scores = []
    for n, i in enumerate(home):
        values = []
        for name in shown:
            spec = rules.fields[name]
            history = units.values[name][:, i]
            origin = (
                "aggregate"
                if spec.origin == "aggregate"
                else units.origins.get((units.codes[i], name), "missing")
            )
            values.append(
                FieldValue(
                    name,
                    spec.label,
                    spec.unit,
                    _opt(history[0]),
                    _opt(history[1]),
                    _opt(history[2]),
                    origin if not math.isnan(history[0]) else "missing",
                    years.of(name),
                )
            )
        scores.append(
            UnitScore(
                code=units.codes[i],
                name=units.names[i],
                prefecture=units.prefectures[i],
                insured=int(units.insured[i]),
                points=float(arrays.total[i]),
                counted_points=allocation.counted[i],
                grant_yen=allocation.grants[i],
                indicators=tuple(
                    reuse.get((n, k)) or indicator_score(rules, a, units, i)
                    for k, a in enumerate(arrays.indicators)
                ),
                values=tuple(values),
                efforts=tuple(sorted(unit_answers(units, rules.efforts, i).items())),
            )
        )
    national = ~units.home
    totals = arrays.total[national]
    return PartScore(
        key=part.key,
        label=part.label,
        unit=part.unit,
        budget_yen=allocation.budget,
        budget_confirmed=part.budget.confirmed,
        negative_total=part.negative_total,
        source=part.source,
        confirmed=part.confirmed,
        units=tuple(scores),
        national_units=int(national.sum()),
        national_mean_points=float(totals.mean()) if totals.size else None,
        denominator=allocation.denominator,
    )


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
