"""Premium rule files (保険料の賦課ルール) per fiscal year and municipality: loading and checks.

Two kinds of file, both YAML (docs/premiums-rules.md describes every key; ``_rules_schema``
holds the models):

- ``premiums/national/fyYYYY.yaml``: what 政令 and 法 fix for everyone in a fiscal year:
  賦課限度額 (caps), 基礎控除, the 軽減 thresholds (7/5/2割), the special reductions (特定世帯,
  旧被扶養者, 非自発的失業, 未就学児, 産前産後).
- ``premiums/municipal/fyYYYY/<団体コード>.yaml``: what the municipality's 条例 fixes: 方式,
  rates and amounts per part, its own caps when below the 政令's, 納期, rounding.

Every value carries ``source`` and ``confirmed``. Problems name the file, the YAML line and the
dotted field (``372013.yaml:14: parts.care: Field required``), like the incentive rule files.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kokuho.premiums._model import PARTS
from kokuho.premiums._rules_schema import (
    Factors,
    Instalments,
    MunicipalRules,
    NationalRules,
    PremiumRules,
)
from kokuho.store import (
    FileProblem,
    FileProblemsError,
    compose_yaml,
    data_path,
    data_text,
    load_yaml,
    override_folder,
    override_of,
    shipped_folder,
)

__all__ = [
    "Factors",
    "Instalments",
    "MunicipalRules",
    "NationalRules",
    "PremiumRuleError",
    "PremiumRuleProblem",
    "PremiumRules",
    "combine",
    "load_premium_rules",
    "load_rules_file",
]

NATIONAL: Final = "premiums/national"
MUNICIPAL: Final = "premiums/municipal"

# -- problems ----------------------------------------------------------------------------------


class PremiumRuleProblem(FileProblem):
    """One problem of a premium rule file: file, YAML line (0 when unknown), field, reason."""

    __slots__ = ()


class PremiumRuleError(FileProblemsError):
    """A premium rule file that cannot be used; ``problems`` name file, line and field."""


# -- loading -----------------------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def national_relative(fiscal_year: int) -> str:
    return f"{NATIONAL}/fy{fiscal_year}.yaml"


def municipal_relative(fiscal_year: int, municipality: str) -> str:
    return f"{MUNICIPAL}/fy{fiscal_year}/{municipality}.yaml"


def load_premium_rules(fiscal_year: int, municipality: str) -> PremiumRules:
    """The rules of ``municipality`` (団体コード) for ``fiscal_year``, shipped or local copies.

    Raises PremiumRuleError naming file, line and field for anything wrong or missing.
    """
    if not re.fullmatch(r"[0-9]{6}", municipality):
        problem = PremiumRuleProblem("(argument)", 0, "municipality", "a 6-digit 団体コード")
        raise PremiumRuleError([problem])
    national_name = national_relative(fiscal_year)
    municipal_name = municipal_relative(fiscal_year, municipality)
    national_text, national_shown = _read(national_name), _shown(national_name)
    municipal_text, municipal_shown = _read(municipal_name), _shown(municipal_name)
    # Keyed by what was read, not by path and mtime: a file replaced while a server runs
    # (even within one mtime tick, with the same size) is parsed again.
    national = _kept(
        _NATIONAL,
        (national_shown, national_text),
        lambda: parse_national(national_text, national_shown),
    )
    return _kept(
        _PARSED,
        (national_shown, national_text, municipal_shown, municipal_text),
        lambda: combine(
            national,
            national_shown,
            parse_municipal(municipal_text, municipal_shown),
            municipal_shown,
        ),
    )


# Parsed rules by (national name, its text, municipal name, its text), and the national files
# alone (one per year, shared by its 17 municipalities): the YAML and the models cost ~20 ms a
# pair, and a prefecture's 本算定, its §110-2 cases and the dashboard load the pairs again and
# again (issue 15 item 6). Only files that passed every check are kept (a bad file raises
# again each time). The rules are frozen, so sharing one instance is safe; the bound keeps
# replaced files from piling up in a long-running server.
_PARSED: OrderedDict[tuple[str, str, str, str], PremiumRules] = OrderedDict()
_NATIONAL: OrderedDict[tuple[str, str], NationalRules] = OrderedDict()
_PARSED_SIZE: Final = 512
_PARSED_LOCK = threading.Lock()
_K = TypeVar("_K")
_V = TypeVar("_V")


def _kept(cache: OrderedDict[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    """``cache[key]``, made by ``make`` (outside the lock: two threads may both parse a new
    file, and the second result replaces the first, equal one)."""
    with _PARSED_LOCK:
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return found
    value = make()
    with _PARSED_LOCK:
        cache[key] = value
        while len(cache) > _PARSED_SIZE:
            cache.popitem(last=False)
    return value


def _shown(relative: str) -> str:
    return str(override_of(relative) or relative)


def _read(relative: str) -> str:
    if not data_path(relative).is_file():
        reason = "no rule file for this fiscal year and municipality"
        raise PremiumRuleError([PremiumRuleProblem(relative, 0, "(file)", reason)])
    return data_text(relative)


def load_rules_file(path: Path) -> NationalRules | MunicipalRules:
    """A rule file at ``path``; a file with ``municipality`` is a municipal one."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PremiumRuleError([PremiumRuleProblem(str(path), 0, "(file)", str(error))]) from None
    raw = _yaml(text, str(path))
    if "municipality" in raw:
        return parse_municipal(text, str(path))
    return parse_national(text, str(path))


def parse_national(text: str, name: str) -> NationalRules:
    """Validates the YAML ``text`` of a national rule file called ``name`` (for messages)."""
    rules = _validate(NationalRules, text, name)
    found = list(_check_national(rules))
    if found:
        raise _located(found, text, name)
    return rules


def parse_municipal(text: str, name: str) -> MunicipalRules:
    """Validates the YAML ``text`` of a municipal rule file called ``name`` (for messages)."""
    rules = _validate(MunicipalRules, text, name)
    found = list(_check_municipal(rules, name))
    if found:
        raise _located(found, text, name)
    return rules


def combine(
    national: NationalRules, national_name: str, municipal: MunicipalRules, municipal_name: str
) -> PremiumRules:
    """Both files of one fiscal year, checked against each other."""
    problems = []
    if municipal.fiscal_year != national.fiscal_year:
        reason = f"FY{municipal.fiscal_year} beside the national file of FY{national.fiscal_year}"
        problems.append(PremiumRuleProblem(municipal_name, 0, "fiscal_year", reason))
    for part in PARTS:
        own = municipal.parts.of(part).cap
        statutory: int = getattr(national.caps, part).value
        if own is not None and own > statutory:
            reason = f"{own:,} is above the 政令 cap of {statutory:,}"
            problems.append(PremiumRuleProblem(municipal_name, 0, f"parts.{part}.cap", reason))
    if problems:
        raise PremiumRuleError(problems)
    return PremiumRules(national, municipal, national_name, municipal_name)


def _yaml(text: str, name: str) -> dict[str, Any]:
    try:
        raw = load_yaml(text, name)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PremiumRuleError([PremiumRuleProblem(name, line, "(yaml)", str(reason))]) from None
    if not isinstance(raw, dict):
        problem = PremiumRuleProblem(name, 1, "(top)", "a rule file is a YAML mapping")
        raise PremiumRuleError([problem])
    return raw


def _validate(model: type[_M], text: str, name: str) -> _M:
    raw = _yaml(text, name)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        found = [(tuple(item["loc"]), item["msg"]) for item in error.errors()]
        raise _located(found, text, name) from None


def _located(found: list[tuple[tuple[Any, ...], str]], text: str, name: str) -> PremiumRuleError:
    root = compose_yaml(text, name)
    return PremiumRuleError(
        [PremiumRuleProblem(name, _line_of(root, loc), _path(loc), why) for loc, why in found]
    )


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else ("." if text else "") + str(step)
    return text or "(top)"


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node of ``loc`` that the file has (a missing field is
    reported on its parent's line)."""
    if root is None:
        return 0
    node, line = root, root.start_mark.line + 1
    for step in loc:
        found = _child(node, step)
        if found is None:
            break
        node, line = found
    return line


def _child(node: yaml.Node, step: Any) -> tuple[yaml.Node, int] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        return item, item.start_mark.line + 1
    return None


# -- checks across fields ----------------------------------------------------------------------


def _check_national(rules: NationalRules) -> Iterator[tuple[tuple[Any, ...], str]]:
    special = rules.special
    if rules.fiscal_year >= 2022 and special.preschool is None:
        yield ("special", "preschool"), "未就学児 均等割軽減 applies from FY2022"
    if rules.fiscal_year < 2022 and special.preschool is not None:
        yield ("special", "preschool"), "未就学児 均等割軽減 starts in FY2022"
    perinatal = special.perinatal
    if perinatal is not None and perinatal.start.year > rules.fiscal_year + 1:
        yield ("special", "perinatal", "start"), "starts after this fiscal year"
    five, two = rules.reduction.per_member_5.value, rules.reduction.per_member_2.value
    if five > two:
        yield ("reduction", "per_member_5"), f"{five:,} is above the 2割 amount {two:,}"


def _check_municipal(rules: MunicipalRules, name: str) -> Iterator[tuple[tuple[Any, ...], str]]:
    stem = Path(name).stem
    if re.fullmatch(r"[0-9]{6}", stem) and stem != rules.municipality:
        yield ("municipality",), f"{rules.municipality} in a file named {stem}"
    folder = Path(name).parent.name
    if re.fullmatch(r"fy[0-9]{4}", folder) and folder != f"fy{rules.fiscal_year}":
        yield ("fiscal_year",), f"FY{rules.fiscal_year} in folder {folder}"
    for part in PARTS:
        rates = rules.parts.of(part)
        if rules.method < 4 and rates.asset_rate:
            yield ("parts", part, "asset_rate"), f"{rules.method}方式 has no 資産割"
        if rules.method < 3 and rates.per_household:
            yield ("parts", part, "per_household"), "2方式 has no 平等割"
        if rules.method == 4 and not rates.asset_rate:
            yield ("parts", part, "asset_rate"), "4方式 needs a 資産割率"
        if rules.method >= 3 and not rates.per_household:
            yield ("parts", part, "per_household"), f"{rules.method}方式 needs a 平等割額"
    months = rules.instalments.months
    # A 納期 may fall after March (出納整理期間): the order runs from the first month, which is
    # in the fiscal year itself (April or later).
    order = [(m - months[0]) % 12 for m in months]
    if any(not 1 <= m <= 12 for m in months):
        yield ("instalments", "months"), "months are 1–12"
    elif months[0] < 4:
        yield (
            ("instalments", "months", 0),
            "the first 納期 falls in the fiscal year (April–December)",
        )
    elif order != sorted(set(order)):
        yield ("instalments", "months"), "months in calendar order from the first, each once"


# -- what is shipped ---------------------------------------------------------------------------


def _names(relative: str, pattern: str) -> list[str]:
    """File stems matching ``pattern`` in the shipped folder and its local copy, together (a
    local folder that replaces one file must not hide the others)."""
    stems: set[str] = set()
    for root in (shipped_folder(), override_folder()):
        folder = root / relative
        if folder.is_dir():
            stems |= {p.stem for p in folder.glob("*.yaml") if re.fullmatch(pattern, p.stem)}
    return sorted(stems)


def shipped_national_years() -> list[int]:
    """Fiscal years with a national rule file (shipped or local)."""
    return [int(stem[2:]) for stem in _names(NATIONAL, r"fy\d{4}")]


def shipped_municipalities(fiscal_year: int) -> list[str]:
    """団体コード with a municipal rule file for ``fiscal_year`` (shipped or local)."""
    return _names(f"{MUNICIPAL}/fy{fiscal_year}", r"\d{6}")
