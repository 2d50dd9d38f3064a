"""The prefecture's levy input file (YAML, docs/premiums-levy.md §Inputs): the 納付金算定基礎額
per part and, per municipality, its 年齢調整後医療費指数, optional 標準的な収納率, and per part its
被保険者数, 世帯数, 基礎控除後の総所得金額等, the adjustment to the 保険料収納必要額 and optionally
its actual rates. Every problem names ``file:line: field``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Final

from kokuho.ids import half_width_number
from kokuho.premiums._levy_model import ActualRates, LevyInputs, MunicipalityInput, PartInput
from kokuho.premiums._levy_yaml import (
    LOWEST_COLLECTION_RATE,
    LevyFileError,
    Node,
    parse_document,
    shipped_text,
)
from kokuho.premiums._model import PARTS, Part
from kokuho.store import has_control, override_of

_TOP: Final = frozenset({"fiscal_year", "totals", "municipalities"})
_MUNICIPALITY: Final = frozenset({"code", "name", "medical_index", "collection_rate", "parts"})
_PART: Final = frozenset({"members", "households", "income", "adjustment", "actual"})
_ACTUAL: Final = frozenset({"income_rate", "per_capita", "per_household"})
_ZERO, _ONE, _HUNDRED = Decimal(0), Decimal(1), Decimal(100)
_MAX_INDEX: Final = Decimal(10)  # an index is a ratio near 1; 10 guards against a typo
_MAX_NAME: Final = 100


def load_levy_inputs(path: Path | str) -> LevyInputs:
    """Reads and validates the levy input file at ``path``."""
    name = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LevyFileError(name, 0, "(file)", str(error)) from None
    return parse_levy_inputs(text, name)


def example_levy_inputs() -> LevyInputs:
    """The synthetic example input file shipped with kokuho (three Kagawa municipalities)."""
    relative = "premiums/levy/example/inputs.yaml"
    text = shipped_text(relative)
    return parse_levy_inputs(text, str(override_of(relative) or "example/inputs.yaml"))


def parse_levy_inputs(text: str, name: str) -> LevyInputs:
    root = parse_document(text, name)
    top = root.mapping(_TOP)
    year = _required(root, top, "fiscal_year").integer(low=2018)
    totals_node = _required(root, top, "totals")
    totals_map = totals_node.mapping(frozenset(PARTS))
    totals: dict[Part, int] = {}
    for part in PARTS:
        if part not in totals_map:
            raise totals_node.error(f"part {part!r} is missing")
        totals[part] = totals_map[part].integer()
    items = _required(root, top, "municipalities").sequence()
    if not items:
        raise top["municipalities"].error("no municipality listed")
    municipalities: list[MunicipalityInput] = []
    seen: set[str] = set()
    for item in items:
        municipality = _municipality(item)
        if municipality.code in seen:
            raise item.error(f"municipality {municipality.code} is listed twice")
        seen.add(municipality.code)
        municipalities.append(municipality)
    inputs = LevyInputs(year, totals, tuple(municipalities), name)
    _check_bases(inputs, top["municipalities"])
    return inputs


def _required(parent: Node, children: dict[str, Node], key: str) -> Node:
    if key not in children:
        path = f"{parent.path}.{key}" if parent.path else key
        raise LevyFileError(parent.file, parent.line, path, "is required")
    return children[key]


def _municipality(node: Node) -> MunicipalityInput:
    keys = node.mapping(_MUNICIPALITY)
    # Full-width digits are made half-width, as the amounts' are; other scripts' are refused.
    code = half_width_number(_required(node, keys, "code").text())
    if not re.fullmatch(r"[0-9]{6}", code):
        raise keys["code"].error(f"{code!r} is not a 6-digit 全国地方公共団体コード (quote it)")
    index = _required(node, keys, "medical_index").decimal(
        low=_ZERO, high=_MAX_INDEX, open_low=True
    )
    rate = None
    if "collection_rate" in keys:
        rate = keys["collection_rate"].decimal(low=LOWEST_COLLECTION_RATE, high=_ONE)
    parts_node = _required(node, keys, "parts")
    parts_map = parts_node.mapping(frozenset(PARTS))
    parts: dict[Part, PartInput] = {}
    for part in PARTS:
        if part not in parts_map:
            raise parts_node.error(f"part {part!r} is missing")
        parts[part] = _part(parts_map[part])
    return MunicipalityInput(code, _name(_required(node, keys, "name")), index, parts, rate)


def _name(node: Node) -> str:
    """The municipality's name: printed on the terminal and into the CSV, so without control
    characters (ESC, NUL, a line break) or bidi controls, and at most ``_MAX_NAME`` long."""
    name = node.text()
    if has_control(name):
        raise node.error("a control character or a bidi control (ESC, NUL, U+202E …)")
    if len(name) > _MAX_NAME:
        raise node.error(f"at most {_MAX_NAME} characters")
    return name


def _part(node: Node) -> PartInput:
    keys = node.mapping(_PART)
    members = _required(node, keys, "members").integer()
    households = _required(node, keys, "households").integer()
    if households > members:
        raise keys["households"].error(f"{households} households for {members} members")
    if members and not households:
        raise keys["households"].error(f"0 households for {members} members")
    actual = None
    if "actual" in keys:
        rates = keys["actual"].mapping(_ACTUAL)
        actual = ActualRates(
            income_rate=_required(keys["actual"], rates, "income_rate").decimal(
                low=_ZERO, high=_HUNDRED
            ),
            per_capita=_required(keys["actual"], rates, "per_capita").integer(),
            per_household=_required(keys["actual"], rates, "per_household").integer(),
        )
    return PartInput(
        members=members,
        households=households,
        income=_required(node, keys, "income").integer(),
        adjustment=keys["adjustment"].integer(low=-(10**15)) if "adjustment" in keys else 0,
        actual=actual,
    )


def _check_bases(inputs: LevyInputs, node: Node) -> None:
    """A part with something to collect needs a base to share it by (and rates to divide by)."""
    for part in PARTS:
        if not inputs.totals[part]:
            continue
        for label, value in (
            ("members", sum(m.parts[part].members for m in inputs.municipalities)),
            ("households", sum(m.parts[part].households for m in inputs.municipalities)),
            ("income", sum(m.parts[part].income for m in inputs.municipalities)),
        ):
            if value == 0:
                raise node.error(
                    f"{part}: the {label} of all municipalities sum to 0"
                    f" but the total is {inputs.totals[part]}"
                )
