"""Rule files (評価指標・配点) per fiscal year: loading and validation.

A rule file (``data/incentives/fy2020.yaml`` …; ``data/incentives/schema.md`` describes it)
holds everything that changes from year to year: the indicators of each part (市町村分,
都道府県分, 事業費連動分), their maxima, tiers and negative points, the size groups (市町村規模),
the budgets and the 調整交付金 parameters. Each carries a ``source`` and ``confirmed`` flag.
Replacing a file with the official one changes the results and nothing else.

Problems are reported with the file, the YAML line and the dotted path of the field
(``fy2020.yaml:120: parts[0].indicators[3].tiers[1].points: …``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from kokuho.incentives._schema import (
    CapTier,
    EffortTier,
    FieldSpec,
    Indicator,
    Part,
    PenaltyTier,
    RankTier,
    RuleFile,
    SizeGrouping,
    TargetTier,
    ThresholdTier,
)
from kokuho.store import (
    FileProblem,
    FileProblemsError,
    compose_yaml,
    data_path,
    load_yaml,
    override_of,
    shipped_folder,
)

_KEY: Final = r"^[a-z][a-z0-9_]*$"


class RuleProblem(FileProblem):
    """One problem of a rule file: the file, the YAML line (0 when unknown), the dotted path
    of the field, and the reason."""

    __slots__ = ()


class RuleFileError(FileProblemsError):
    """A rule file that cannot be used; ``problems`` name file, line and field."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated rule file and where it came from."""

    rules: RuleFile
    path: str

    @property
    def fiscal_year(self) -> int:
        return self.rules.fiscal_year


# -- loading -------------------------------------------------------------------------------


def shipped_years() -> list[int]:
    """The fiscal years with a rule file in ``kokuho/data/incentives``."""
    folder = shipped_folder() / "incentives"
    years = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"fy([0-9]{4})\.yaml", entry.name)
        if match:
            years.append(int(match.group(1)))
    return sorted(years)


def load_rules(source: int | Path | str) -> RuleSet:
    """The rule file of a fiscal year shipped with kokuho (``load_rules(2020)``) or at a path.

    Raises RuleFileError naming file, line and field for anything wrong.
    """
    if isinstance(source, int):
        relative = f"incentives/fy{source}.yaml"
        resource = data_path(relative)
        if not resource.is_file():
            raise RuleFileError(
                [
                    RuleProblem(
                        f"fy{source}.yaml",
                        0,
                        "fiscal_year",
                        f"no rule file shipped for FY{source} (have {shipped_years()})",
                    )
                ]
            )
        name = str(override_of(relative) or f"fy{source}.yaml")
        return parse_rules(resource.read_text("utf-8"), name)
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RuleFileError([RuleProblem(str(path), 0, "(file)", str(error))]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:  # was an internal error; name the line of the byte
        line = data.count(b"\n", 0, error.start) + 1
        reason = f"not UTF-8 (byte 0x{data[error.start]:02x})"
        raise RuleFileError([RuleProblem(str(path), line, "(file)", reason)]) from None
    return parse_rules(text, str(path))


def parse_rules(text: str, name: str) -> RuleSet:
    """Validates the YAML ``text`` of a rule file called ``name`` (for messages)."""
    try:
        raw = load_yaml(text, name)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise RuleFileError([RuleProblem(name, line, "(yaml)", str(reason))]) from None
    if not isinstance(raw, dict):
        raise RuleFileError([RuleProblem(name, 1, "(top)", "a rule file is a YAML mapping")])
    try:
        rules = RuleFile.model_validate(raw)
    except ValidationError as error:
        node = compose_yaml(text, name)  # only now: for the lines of the problems
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"])
            problems.append(RuleProblem(name, _line(node, loc), _dotted(loc), item["msg"]))
        raise RuleFileError(problems) from None
    found = list(_check(rules))
    if found:
        node = compose_yaml(text, name)
        raise RuleFileError(
            [RuleProblem(name, _line(node, loc), _dotted(loc), reason) for loc, reason in found]
        )
    return RuleSet(rules, name)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) in _TIER_KINDS:
            continue  # pydantic's discriminator tag, not a field of the file
        else:
            out += ("." if out else "") + str(part)
    return out or "(top)"


_TIER_KINDS: Final = {"threshold", "target", "rank", "improvement", "penalty", "effort", "cap"}


def _line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at ``loc`` (the deepest one found)."""
    if node is None:
        return 0
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            continue  # a discriminator tag or a missing field: stay on the parent
        node = child
    return line


# -- checks across fields ------------------------------------------------------------------


def _check(rules: RuleFile) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Cross-references the schema alone cannot see."""
    fields, efforts = rules.fields, rules.efforts
    for name in sorted(set(fields) & set(efforts)):
        yield ("efforts", name), f"{name!r} is both a field and an effort item"
    for name in [*fields, *efforts]:
        if not re.fullmatch(_KEY, name):
            yield ("fields", name), "names are lower-case ASCII, digits and _"
    for key, grouping in rules.size_groups.items():
        if grouping.basis != "insured" and grouping.basis not in fields:
            yield ("size_groups", key, "basis"), f"unknown field {grouping.basis!r}"
        yield from _check_bands(key, grouping)
    yield from _check_insured(rules)
    keys = [p.key for p in rules.parts]
    for index, part in enumerate(rules.parts):
        if keys.count(part.key) > 1:
            yield ("parts", index, "key"), f"part {part.key!r} is listed twice"
        ids = [i.id for i in part.indicators]
        for j, indicator in enumerate(part.indicators):
            here = ("parts", index, "indicators", j)
            if ids.count(indicator.id) > 1:
                yield (*here, "id"), f"indicator {indicator.id!r} is listed twice"
            yield from _check_indicator(rules, indicator, here)
    for name, spec in fields.items():
        if spec.origin == "aggregate":
            yield from _check_aggregate(rules, name, spec)
        if (spec.origin == "premiums") != (spec.include_past_years is not None):
            yield (
                ("fields", name, "include_past_years"),
                "give include_past_years (true: 過年度分を含む, false: 現年分) exactly when "
                "origin is premiums",
            )
    if rules.adjustment is not None:
        yield from _check_adjustment(rules)


def _check_insured(rules: RuleFile) -> Iterator[tuple[tuple[Any, ...], str]]:
    """The day 被保険者数 is counted on is a day of every year: '02-30' loaded and scoring
    against the register ended with 'day is out of range for month', naming no field."""
    insured = rules.insured
    if insured.basis == "as_of" and insured.as_of is None:
        yield ("insured", "basis"), "basis as_of needs as_of: MM-DD"
    if insured.as_of is None:
        return
    month, day = int(insured.as_of[:2]), int(insured.as_of[3:])
    try:
        dt.date(2001, month, day)  # not a leap year: 02-29 is not a day of every year
    except ValueError:
        yield ("insured", "as_of"), f"{insured.as_of!r} is not a day of every year (MM-DD)"


def _check_bands(key: str, grouping: SizeGrouping) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every value from 0 up is in a band (overlaps are allowed: the first band wins). A gap
    (a band ending at 99,000 where the next starts at 100,000) put the units there in no band:
    no rank tier of the group could be given to them, and nothing said so."""
    at = ("size_groups", key, "bands")
    spans = []
    for index, band in enumerate(grouping.bands):
        low = -math.inf if band.min is None else band.min
        high = math.inf if band.below is None else band.below
        if low >= high:
            yield (*at, index), f"band {band.key!r} is empty (min {low:g} ≥ below {high:g})"
            continue
        spans.append((low, high))
    reached = 0.0
    for low, high in sorted(spans):
        if low > reached:
            yield at, f"values from {reached:g} to {low:g} are in no band"
        reached = max(reached, high)
    if reached < math.inf:
        yield at, f"values from {reached:g} up are in no band"


def _check_adjustment(rules: RuleFile) -> Iterator[tuple[tuple[Any, ...], str]]:
    adjustment = rules.adjustment
    assert adjustment is not None
    for loc, name in adjustment.field_names():
        if name not in rules.fields:
            yield ("adjustment", *loc), f"unknown field {name!r} (declare it under fields)"
    ordinary = adjustment.ordinary
    if ordinary is not None:
        benefit = ordinary.benefit
        if (benefit.coefficient is None) == (benefit.amount_field is None):
            yield ("adjustment", "ordinary", "benefit"), "give coefficient or amount_field"
        if ordinary.scale_to_budget and ordinary.budget is None:
            yield ("adjustment", "ordinary", "budget"), "scale_to_budget needs a budget"
    keys = [item.key for item in adjustment.special]
    for index, item in enumerate(adjustment.special):
        at = ("adjustment", "special", index)
        if keys.count(item.key) > 1:
            yield (*at, "key"), f"menu item {item.key!r} is listed twice"
        if (item.unit_cost_yen is None) == (item.unit_cost_field is None):
            yield at, "give unit_cost_yen or unit_cost_field"


def _check_aggregate(rules: RuleFile, name: str, spec: FieldSpec) -> Iterator[tuple[Any, str]]:
    here = ("fields", name)
    if spec.part is None:
        yield (*here, "part"), "an aggregate names the part whose points it averages"
        return
    parts = {p.key: p for p in rules.parts}
    position = [p.key for p in rules.parts]
    part = parts.get(spec.part)
    if part is None or part.unit != "municipality":
        yield (*here, "part"), f"{spec.part!r} is not a municipality part of this file"
        return
    users = [p.key for p in rules.parts if p.unit == "prefecture" and _reads(p, name)]
    if any(position.index(u) < position.index(spec.part) for u in users):
        yield (*here, "part"), f"part {spec.part!r} must come before the parts that use {name!r}"
    known = {i.id for i in part.indicators}
    for k, indicator in enumerate(spec.indicators):
        if indicator not in known:
            yield (*here, "indicators", k), f"no indicator {indicator!r} in part {spec.part!r}"


def _reads(part: Part, name: str) -> bool:
    return any(getattr(t, "input", None) == name for i in part.indicators for t in i.tiers)


def _check_indicator(
    rules: RuleFile, indicator: Indicator, here: tuple[Any, ...]
) -> Iterator[tuple[Any, str]]:
    ids = [indicator.tier_id(k) for k in range(len(indicator.tiers))]
    if indicator.max < 0:  # points are clipped to it: every unit would have it as its points
        yield (*here, "max"), "a maximum is 0 or more"
    elif indicator.min is not None and indicator.min > indicator.max:
        yield (*here, "min"), "min is above max"
    for k, tier in enumerate(indicator.tiers):
        at = (*here, "tiers", k)
        if ids.count(ids[k]) > 1:
            yield (*at, "id"), f"tier id {ids[k]!r} is used twice in {indicator.id}"
        for r, required in enumerate(tier.requires):
            if required not in ids or required == ids[k]:
                yield (*at, "requires", r), f"no other tier {required!r} in {indicator.id}"
        yield from _check_tier(rules, tier, at, ids)


def _check_tier(
    rules: RuleFile, tier: Any, at: tuple[Any, ...], ids: list[str]
) -> Iterator[tuple[Any, str]]:
    fields = rules.fields
    name = getattr(tier, "input", None)
    if name is not None and name not in fields:
        yield (*at, "input"), f"unknown field {name!r} (declared: {', '.join(sorted(fields))})"
    within = getattr(tier, "within", "all")
    if within != "all" and within not in rules.size_groups:
        yield (*at, "within"), f"unknown size group {within!r}"
    if isinstance(tier, ThresholdTier) and all(
        b is None for b in (tier.at_least, tier.above, tier.at_most, tier.below)
    ):
        yield at, "a threshold needs at_least, above, at_most or below"
    if isinstance(tier, TargetTier):
        if (tier.target is None) == (tier.target_field is None):
            yield at, "a target needs exactly one of target and target_field"
        elif tier.target_field is not None and tier.target_field not in fields:
            yield (*at, "target_field"), f"unknown field {tier.target_field!r}"
    if isinstance(tier, RankTier):
        if (tier.top is None) == (tier.top_n is None):
            yield at, "a rank tier needs exactly one of top and top_n"
        yield from _check_cutoffs(rules, tier, at)
    if isinstance(tier, PenaltyTier):
        if tier.points >= 0:
            yield (*at, "points"), "penalty points are negative"
        lows = [b for b in (tier.bottom, tier.bottom_n, tier.below) if b is not None]
        if len(lows) > 1:
            yield at, "give at most one of bottom, bottom_n and below"
        if not lows and not tier.falling:
            yield at, "a penalty needs a low condition, falling, or both"
    if isinstance(tier, EffortTier):
        items = ([tier.item] if tier.item else []) + list(tier.all_of) + list(tier.any_of)
        if sum(bool(x) for x in (tier.item, tier.all_of, tier.any_of)) != 1:
            yield at, "an effort tier needs exactly one of item, all_of and any_of"
        for item in items:
            spec = rules.efforts.get(item)
            if spec is None:
                yield at, f"unknown effort item {item!r} (declare it under efforts)"
                continue
            for value in tier.one_of or (tier.equals,):
                if value not in spec.values:
                    yield at, f"{item!r} takes {list(spec.values)}, not {value!r}"
    if isinstance(tier, CapTier):
        if tier.max is None and tier.min is None:
            yield at, "a cap needs max, min or both"
        for c, target in enumerate(tier.tiers):
            if target not in ids:
                yield (*at, "tiers", c), f"no tier {target!r} in this indicator"
        if tier.ladder or tier.requires or tier.points:
            yield at, "a cap has no points, ladder or requires"


def _check_cutoffs(rules: RuleFile, tier: RankTier, at: tuple[Any, ...]) -> Iterator[Any]:
    if not tier.cutoffs:
        return
    bands = (
        {b.key for b in rules.size_groups[tier.within].bands}
        if tier.within in rules.size_groups
        else {"all"}
    )
    for band in tier.cutoffs:
        if band not in bands:
            yield (*at, "cutoffs", band), f"no band {band!r} in size group {tier.within!r}"


def unconfirmed_items(rules: RuleFile) -> list[str]:
    """Every value of the rule file marked ``confirmed: false``, with its source."""
    out = []
    for part in rules.parts:
        if not part.budget.confirmed:
            out.append(f"{part.label} 予算 {part.budget.yen:,}円: {part.budget.source}")
        for indicator in part.indicators:
            if not indicator.confirmed:
                out.append(f"{part.label} {indicator.group} {indicator.label}: {indicator.source}")
            for k, tier in enumerate(indicator.tiers):
                if tier.confirmed is False and indicator.confirmed:
                    label = tier.label or indicator.tier_id(k)
                    out.append(
                        f"{part.label} {indicator.group} {label}: {tier.source or indicator.source}"
                    )
    for key, grouping in rules.size_groups.items():
        if not grouping.confirmed:
            out.append(f"市町村規模区分 {key}: {grouping.source}")
    if not rules.insured.confirmed:
        out.append(f"被保険者数の数え方: {rules.insured.source}")
    if rules.adjustment is not None:
        out += _adjustment_unconfirmed(rules)
    return out


def _adjustment_unconfirmed(rules: RuleFile) -> list[str]:
    a = rules.adjustment
    assert a is not None
    out: list[str] = []
    items: list[tuple[str, Any]] = []
    if a.ordinary is not None:
        items += [
            ("普通調整交付金 応能割率", a.ordinary.ability),
            ("普通調整交付金 応益割額", a.ordinary.benefit),
            ("普通調整交付金", a.ordinary),
        ]
        if a.ordinary.budget is not None:
            items.append(("普通調整交付金 予算", a.ordinary.budget))
    if a.provisional is not None:
        items += [("暫定措置", a.provisional), ("暫定措置 予算", a.provisional.budget)]
    items += [(f"特別調整交付金 {s.label}", s) for s in a.special]
    for label, item in items:
        if not item.confirmed:
            out.append(f"{label}: {item.source}")
    return out
