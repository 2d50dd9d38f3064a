"""What the shipped data files do not confirm (未確認の値): every value marked
``confirmed: false``, so an office can see what to replace with its official notice.

The files mark confirmation in four ways, and all four are read here:

- a mapping with ``confirmed: false`` beside its ``value`` (or ``rate``, ``insurer_number`` …)
  and ``source``: the mapping is the unconfirmed item (rule files, targets, incentive items,
  tiers, budgets; an incentive rule file's top-level ``confirmed`` covers the file as a whole);
- a key ``X_confirmed: false`` beside ``X`` and ``X_source`` (a list that cannot carry a flag);
- a ``# confirmed: false`` comment line in the header of a TSV, CSV or text table, which covers
  every line of it (with the header's ``# source:`` line);
- a value without a ``source`` of its own inherits the nearest enclosing ``source``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kokuho.store._data_files import DataFile, data_files, parse_yaml, read_utf8

#: Keys that describe an item rather than hold its value.
_DESCRIPTIVE = ("source", "confirmed", "notes", "label", "label_en", "local_choice")
#: Keys that name an element of a list, tried in this order, for a readable path.
_NAMING = ("id", "key", "scope", "name")
_TABLE_SUFFIXES = (".tsv", ".csv", ".txt")
_HEADER = re.compile(r"#\s*(confirmed|source)\s*:\s*(.*)")


@dataclass(frozen=True, slots=True)
class UnconfirmedValue:
    """One value a data file ships without confirmation (未確認)."""

    file: str  # path under kokuho/data
    key: str  # where in the file: "terms[0].targets[kyokai].guidance.rate", "(file)"
    value: Any  # the value as the file holds it (JSON-ready)
    source: str
    overridden: bool  # read from $KOKUHO_HOME/data rather than the shipped file
    #: No official value exists (``local_choice: true``): the value is the insurer's own
    #: choice, e.g. a 抽出基準, to be set rather than looked up.
    local_choice: bool = False


def unconfirmed_values() -> list[UnconfirmedValue]:
    """Every value marked ``confirmed: false`` in the data files kokuho reads (the local copy
    of a file when there is one). Raises DataFileError for a file that does not parse."""
    out: list[UnconfirmedValue] = []
    for entry in data_files():
        if entry.relative.endswith((".yaml", ".yml")):
            raw = parse_yaml(read_utf8(entry.path), entry.path)
            out += (_value(entry, *found) for found in _walk(raw, "", ""))
        elif entry.relative.endswith(_TABLE_SUFFIXES):
            out += _table(entry)
    return out


def _value(
    entry: DataFile, key: str, value: Any, source: str, local: bool = False
) -> UnconfirmedValue:
    overridden = entry.override is not None
    return UnconfirmedValue(entry.relative, key or "(file)", value, source, overridden, local)


def _walk(node: Any, path: str, source: str) -> Iterator[tuple[str, Any, str, bool]]:
    """(key, value, source, local choice) of every unconfirmed item under ``node``."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{_element_name(item, index)}]", source)
        return
    if not isinstance(node, Mapping):
        return
    own = node.get("source")
    source = own.strip() if isinstance(own, str) else source
    if node.get("confirmed") is False:
        yield _item(node, path, source)
    for key, child in node.items():
        name = str(key)
        if name.endswith("_confirmed") and child is False:
            stem = name.removesuffix("_confirmed")
            stem_source = node.get(f"{stem}_source")
            yield (
                _join(path, stem),
                _plain(node.get(stem)),
                stem_source.strip() if isinstance(stem_source, str) else source,
                False,
            )
        elif isinstance(child, Mapping | list):
            yield from _walk(child, _join(path, name), source)


def _item(node: Mapping[Any, Any], path: str, source: str) -> tuple[str, Any, str, bool]:
    local = node.get("local_choice") is True
    if not path:  # the file's own flag: it covers everything its items do not confirm
        return "", "(whole file)", source, local
    if "value" in node:
        return path, _plain(node["value"]), source, local
    # What the item holds, without what describes it or names it in the path already.
    held = {
        str(k): v
        for k, v in node.items()
        if str(k) not in _DESCRIPTIVE + _NAMING and not str(k).endswith("_source")
    }
    if not held:  # an item that is only its label (a self-assessed 取組)
        return path, _plain(node.get("label", "")), source, local
    if len(held) == 1:
        ((name, value),) = held.items()
        # One scalar is the item's value (``insurer_number``, ``rate``); a list or mapping is
        # part of the item (an effort's ``values``) or an item of its own, reported apart.
        if not isinstance(value, Mapping | list):
            return _join(path, name), _plain(value), source, local
    return path, _plain(held), source, local


def _element_name(item: Any, index: int) -> str:
    if isinstance(item, Mapping):
        for key in _NAMING:
            name = item.get(key)
            if isinstance(name, str) and name:
                return name
    return str(index)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _plain(value: Any) -> Any:
    """``value`` as JSON holds it (YAML mapping keys may be numbers)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _table(entry: DataFile) -> list[UnconfirmedValue]:
    # Tables may be cp932 (the masters): only their leading comment lines matter here.
    text = entry.path.read_bytes().decode("utf-8", errors="replace")
    lines = text.splitlines()
    header: dict[str, str] = {}
    for line in lines:
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            header.setdefault(match.group(1), match.group(2).strip())
    confirmed = header.get("confirmed", "")
    if not re.match(r"false\b", confirmed):
        return []
    rows = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    note = confirmed.removeprefix("false").strip(" —-:")
    source = "; ".join(part for part in (header.get("source", ""), note) if part)
    return [_value(entry, "", f"(every line: {rows} rows)", source)]
