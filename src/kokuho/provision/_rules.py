"""The release rules (公表基準) from ``data/provision/release_rules.yaml``: the confirmed
national minimum and the 市区町村 extras that are not confirmed (docs/provision.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kokuho.store import FileProblem, FileProblemsError, data_path, data_text, load_yaml

RULES_FILE = "provision/release_rules.yaml"
_FORMAT = "kokuho release rules 1"


@dataclass(frozen=True, slots=True)
class ReleaseRules:
    """What a published table must respect."""

    minimum_cell: int
    """最小集計単位: counts 1 … minimum_cell - 1 are hidden."""
    zero_may_be_shown: bool
    mark: str
    """What a released table writes in a hidden cell."""
    hidden_marks: tuple[str, ...]
    """What the checker reads as a hidden cell."""
    small_population_below: int
    """A 市区町村 with fewer inhabitants than this uses ``small_population_minimum_cell``."""
    small_population_minimum_cell: int
    minimum_providers: int
    """A shown cell must come from at least this many 医療機関 or 保険者 (市区町村 tables)."""
    age_band_width: int
    age_top_band: int
    """The lower age of the pooled top band (100 means 100歳以上)."""

    def minimum_for(self, population: int | None) -> int:
        """The minimum cell count for a table of one 市区町村 of ``population`` (None: any
        other 集計単位)."""
        if population is not None and population < self.small_population_below:
            return max(self.minimum_cell, self.small_population_minimum_cell)
        return self.minimum_cell


def _get(raw: Any, path: str, kind: type, problems: list[FileProblem], where: str) -> Any:
    node = raw
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            problems.append(FileProblem(where, 0, path, "missing"))
            return None
        node = node[part]
    if kind is int and (isinstance(node, bool) or not isinstance(node, int) or node < 0):
        problems.append(FileProblem(where, 0, path, "must be a whole number, 0 or more"))
        return None
    if not isinstance(node, kind):
        problems.append(FileProblem(where, 0, path, f"must be a {kind.__name__}"))
        return None
    return node


def release_rules() -> ReleaseRules:
    """The rules in force: the local copy under $KOKUHO_HOME/data when there is one.
    Raises FileProblemsError naming the file and the field of anything unusable."""
    where = str(data_path(RULES_FILE))
    raw = load_yaml(data_text(RULES_FILE), where)
    problems: list[FileProblem] = []
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        raise FileProblemsError([FileProblem(where, 0, "format", f"must be {_FORMAT!r}")])
    marks = _get(raw, "hidden_marks.value", list, problems, where) or []
    if not all(isinstance(m, str) and m.strip() and m.strip() == m for m in marks):
        problems.append(FileProblem(where, 0, "hidden_marks.value", "must be non-blank texts"))
    values = {
        "minimum_cell": _get(raw, "minimum_cell.value", int, problems, where),
        "zero_may_be_shown": _get(raw, "zero_may_be_shown.value", bool, problems, where),
        "mark": _get(raw, "mark.value", str, problems, where),
        "hidden_marks": tuple(marks),
        "small_population_below": _get(
            raw, "municipality.small_population.below", int, problems, where
        ),
        "small_population_minimum_cell": _get(
            raw, "municipality.small_population.minimum_cell", int, problems, where
        ),
        "minimum_providers": _get(
            raw, "municipality.minimum_providers.value", int, problems, where
        ),
        "age_band_width": _get(raw, "age_bands.width", int, problems, where),
        "age_top_band": _get(raw, "age_bands.top.value", int, problems, where),
    }
    if values["minimum_cell"] == 0:
        problems.append(FileProblem(where, 0, "minimum_cell.value", "must be at least 1"))
    if values["age_band_width"] == 0:
        problems.append(FileProblem(where, 0, "age_bands.width", "must be at least 1"))
    if values["mark"] is not None and values["mark"] not in marks:
        problems.append(FileProblem(where, 0, "mark.value", "must be one of hidden_marks"))
    if problems:
        raise FileProblemsError(problems)
    return ReleaseRules(**values)
