"""The levy rule file of a fiscal year (``data/premiums/levy/fyYYYY.yaml``): α, β, β′, the
均等割:平等割 split of 応益 per part, the 標準的な収納率 by municipality size and the rounding of
the 標準保険料率. docs/premiums-levy.md describes every key.

Every coefficient carries ``source`` and ``confirmed``; problems are reported as
``fy2020.yaml:12: parts.medical.alpha.value: …``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Final, cast, get_args

from kokuho.premiums._levy_model import (
    CollectionRateBand,
    LevyRules,
    Parameter,
    PartParameters,
    Rounding,
)
from kokuho.premiums._levy_yaml import (
    LOWEST_COLLECTION_RATE,
    LevyFileError,
    Node,
    parse_document,
    shipped_text,
)
from kokuho.premiums._model import PARTS, Part
from kokuho.store import data_path, override_of, shipped_folder

_TOP: Final = frozenset(
    {
        "schema_version",
        "fiscal_year",
        "label",
        "source",
        "confirmed",
        "parts",
        "collection_rates",
        "rounding",
    }
)
_PART_KEYS: Final = frozenset({"alpha", "beta", "beta_prime", "per_capita_share"})
_PARAMETER_KEYS: Final = frozenset({"value", "source", "confirmed"})
_BANDS_KEYS: Final = frozenset({"source", "confirmed", "bands"})
_BAND_KEYS: Final = frozenset({"min_insured", "rate"})
_ROUNDING_KEYS: Final = frozenset({"income_rate_decimals", "mode", "source", "confirmed"})
_ZERO, _ONE = Decimal(0), Decimal(1)
_MAX_BETA: Final = Decimal(5)  # β is a ratio of income levels near 1; 5 is a typo guard


def levy_years() -> list[int]:
    """The fiscal years with a levy rule file shipped in ``kokuho/data/premiums/levy``."""
    folder = shipped_folder() / "premiums" / "levy"
    found = (re.fullmatch(r"fy([0-9]{4})\.yaml", entry.name) for entry in folder.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def load_levy_rules(source: int | Path | str) -> LevyRules:
    """The levy rule file of a fiscal year shipped with kokuho (or its local copy), or the file
    at a path. Raises LevyFileError naming file, line and field."""
    if isinstance(source, int):
        relative = f"premiums/levy/fy{source}.yaml"
        name = f"fy{source}.yaml"
        if not data_path(relative).is_file():
            raise LevyFileError(
                name, 0, "fiscal_year", f"no levy rule file for FY{source} (have {levy_years()})"
            )
        rules = parse_levy_rules(shipped_text(relative), str(override_of(relative) or name))
        if rules.fiscal_year != source:
            raise LevyFileError(
                rules.path, 0, "fiscal_year", f"{rules.fiscal_year} in the file for FY{source}"
            )
        return rules
    path = Path(source)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LevyFileError(str(path), 0, "(file)", str(error)) from None
    return parse_levy_rules(text, str(path))


def parse_levy_rules(text: str, name: str) -> LevyRules:
    """Validates the YAML ``text`` of a levy rule file called ``name`` (for messages)."""
    root = parse_document(text, name)
    top = root.mapping(_TOP)
    version = _required(root, top, "schema_version").integer(low=1)
    if version != 1:
        raise top["schema_version"].error(f"schema_version {version} is not known (1 is)")
    parts_node = _required(root, top, "parts")
    parts_map = parts_node.mapping(frozenset(PARTS))
    parts: dict[Part, PartParameters] = {}
    for part in PARTS:
        if part not in parts_map:
            raise parts_node.error(f"part {part!r} is missing (every part has its coefficients)")
        parts[part] = _part(part, parts_map[part])
    bands_node = _required(root, top, "collection_rates")
    bands = bands_node.mapping(_BANDS_KEYS)
    rounding_node = _required(root, top, "rounding")
    rounding = rounding_node.mapping(_ROUNDING_KEYS)
    mode = _required(rounding_node, rounding, "mode").text()
    if mode not in get_args(Rounding):
        raise rounding["mode"].error(f"{mode!r} is not one of {', '.join(get_args(Rounding))}")
    _required(rounding_node, rounding, "source").text()
    return LevyRules(
        fiscal_year=_required(root, top, "fiscal_year").integer(low=2018),
        label=_required(root, top, "label").text(),
        source=_required(root, top, "source").text(),
        confirmed=_required(root, top, "confirmed").boolean(),
        parts=parts,
        collection_rates=_bands(_required(bands_node, bands, "bands")),
        collection_rates_source=_required(bands_node, bands, "source").text(),
        collection_rates_confirmed=_required(bands_node, bands, "confirmed").boolean(),
        income_rate_decimals=_decimals(_required(rounding_node, rounding, "income_rate_decimals")),
        rounding=cast(Rounding, mode),
        rounding_confirmed=_required(rounding_node, rounding, "confirmed").boolean(),
        path=name,
    )


def _required(parent: Node, children: dict[str, Node], key: str) -> Node:
    if key not in children:
        path = f"{parent.path}.{key}" if parent.path else key
        raise LevyFileError(parent.file, parent.line, path, "is required")
    return children[key]


def _part(part: Part, node: Node) -> PartParameters:
    keys = node.mapping(_PART_KEYS)
    alpha = _parameter(_required(node, keys, "alpha"), low=_ZERO, high=_ONE)
    if part != "medical" and alpha.value != 0:
        # The guideline reflects 医療費水準 in 医療分 only (support and care: 所得 only).
        raise keys["alpha"].error(f"α is 0 for {part}: only 医療分 reflects 医療費水準")
    beta = _parameter(_required(node, keys, "beta"), low=_ZERO, high=_MAX_BETA, open_low=True)
    beta_prime = beta
    if "beta_prime" in keys:
        beta_prime = _parameter(keys["beta_prime"], low=_ZERO, high=_MAX_BETA, open_low=True)
    share = _parameter(_required(node, keys, "per_capita_share"), low=_ZERO, high=_ONE)
    return PartParameters(alpha, beta, beta_prime, share)


def _parameter(node: Node, *, low: Decimal, high: Decimal, open_low: bool = False) -> Parameter:
    keys = node.mapping(_PARAMETER_KEYS)
    return Parameter(
        value=_required(node, keys, "value").decimal(low=low, high=high, open_low=open_low),
        source=_required(node, keys, "source").text(),
        confirmed=_required(node, keys, "confirmed").boolean(),
    )


def _bands(node: Node) -> tuple[CollectionRateBand, ...]:
    bands: list[CollectionRateBand] = []
    items = node.sequence()
    if not items:
        raise node.error("at least one band (min_insured: 0)")
    for item in items:
        keys = item.mapping(_BAND_KEYS)
        minimum = _required(item, keys, "min_insured").integer()
        if not bands and minimum != 0:
            raise keys["min_insured"].error("the first band starts at 0")
        if bands and minimum <= bands[-1].min_insured:
            raise keys["min_insured"].error("bands go up in min_insured")
        rate = _required(item, keys, "rate").decimal(low=LOWEST_COLLECTION_RATE, high=_ONE)
        bands.append(CollectionRateBand(minimum, rate))
    return tuple(bands)


def _decimals(node: Node) -> int:
    value = node.integer()
    if value > 6:
        raise node.error(f"{value} decimals: at most 6")
    return value
