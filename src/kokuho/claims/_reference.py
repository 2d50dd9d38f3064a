"""The national reference of 年齢調整 (基準人口) and the 地域差指数: ``reference_population.yaml``.

The packaged file (``data/reference_population.yaml``, PLACEHOLDER figures) is read by
``_packaged`` alone; an office gives its own with ``kokuho claims cost --reference FILE``.
A file is checked whole before use, and each problem names ``file:line: field``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import yaml

from kokuho.claims._sources import BANDS
from kokuho.store import compose_yaml, data_path, data_text, load_yaml, override_of

FORMAT: Final = "kokuho reference population 1"
_SECTIONS: Final = ("age_on", "structure", "national_cost_per_capita")


@dataclass(frozen=True, slots=True)
class ReferencePopulation:
    """``data/reference_population.yaml``: the national age structure and per-capita cost."""

    bands: Mapping[str, float]  # band → national enrollees N_i
    age_month: int
    age_day_of_month: int
    national_cost: Mapping[int, float]  # fiscal year → 円 per insured
    default_national_cost: float | None
    unconfirmed: tuple[str, ...]
    #: Which file was read: "packaged", or the path of the local copy or the given file.
    source: str = "packaged"

    def age_day(self, fiscal_year: int) -> dt.date:
        """The day of ``fiscal_year`` on which ages are taken."""
        year = fiscal_year + (self.age_month < 4)
        return dt.date(year, self.age_month, self.age_day_of_month)

    def weights(self) -> dict[str, float]:
        """N_i / N per band."""
        total = sum(self.bands.values())
        return {band: count / total for band, count in self.bands.items()}

    def national(self, fiscal_year: int) -> float | None:
        return self.national_cost.get(fiscal_year, self.default_national_cost)


class ReferenceRejected(ValueError):
    """A reference file that cannot be used; the message is ``file:line: field: reason``."""


class _Checker:
    """Looks values up by key path and says where a bad one is (the line of its key)."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.lines: dict[tuple[str, ...], int] = {}
        try:
            self.raw: Any = load_yaml(text, name)
            self._walk(compose_yaml(text, name), ())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise ReferenceRejected(f"{name}{line}: not YAML: {problem}") from None

    def _walk(self, node: yaml.Node | None, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                self.lines[here] = key.start_mark.line + 1
                self._walk(value, here)

    def fail(self, path: tuple[str, ...], reason: str) -> ReferenceRejected:
        known = [p for p in (path[:n] for n in range(len(path), 0, -1)) if p in self.lines]
        line = f":{self.lines[known[0]]}" if known else ""
        field = ".".join(path) or "(file)"
        return ReferenceRejected(f"{self.name}{line}: {field}: {reason}")

    def mapping(self, path: tuple[str, ...], *, required: bool = True) -> Mapping[Any, Any]:
        value = self.get(path)
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, "missing" if value is None else "must be a mapping")
        return value

    def get(self, path: tuple[str, ...]) -> Any:
        value = self.raw
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    def number(self, path: tuple[str, ...], value: Any, *, positive: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.fail(path, f"{value!r} is not a number")
        if value < 0 or (positive and value == 0):
            raise self.fail(path, f"{value} must be {'> 0' if positive else '≥ 0'}")
        return float(value)


def parse_reference(text: str, name: str = "reference_population.yaml") -> ReferencePopulation:
    """Checks and reads a reference file; raises ``ReferenceRejected`` (a ValueError) naming
    ``name:line: field`` of the first problem."""
    check = _Checker(text, name)
    if not isinstance(check.raw, Mapping):
        raise check.fail((), f"must be a mapping with format: {FORMAT}")
    if check.raw.get("format") != FORMAT:
        raise check.fail(("format",), f"{check.raw.get('format')!r}: unknown format")
    unconfirmed = []
    for section in _SECTIONS:
        confirmed = check.mapping((section,)).get("confirmed", False)
        if not isinstance(confirmed, bool):
            raise check.fail((section, "confirmed"), f"{confirmed!r}: true or false")
        if not confirmed:
            unconfirmed.append(section)
    month, day = _month_day(check, ("age_on", "value"))
    found = check.mapping(("structure", "bands"))
    names = {str(k) for k in found}
    missing, unknown = sorted(set(BANDS) - names), sorted(names - set(BANDS))
    if missing or unknown:
        raise check.fail(
            ("structure", "bands", *unknown[:1]),
            f"the bands must be {', '.join(BANDS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else ""),
        )
    bands = {
        str(k): check.number(("structure", "bands", str(k)), v, positive=False)
        for k, v in found.items()
    }
    if sum(bands.values()) <= 0:
        raise check.fail(("structure", "bands"), "enrollees must have a positive total")
    cost = ("national_cost_per_capita",)
    default = check.mapping(cost).get("default")
    by_year: dict[int, float] = {}
    for year, value in check.mapping((*cost, "by_fiscal_year"), required=False).items():
        path = (*cost, "by_fiscal_year", str(year))
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
            raise check.fail(path, f"{year!r} is not a fiscal year (e.g. 2024)")
        by_year[year] = check.number(path, value, positive=True)
    return ReferencePopulation(
        bands=bands,
        age_month=month,
        age_day_of_month=day,
        national_cost=by_year,
        default_national_cost=(
            None if default is None else check.number((*cost, "default"), default, positive=True)
        ),
        unconfirmed=tuple(unconfirmed),
        source=name,
    )


def _month_day(check: _Checker, path: tuple[str, ...]) -> tuple[int, int]:
    raw = str(check.get(path))
    try:
        month, day = (int(part) for part in raw.split("-"))
        dt.date(2000, month, day)  # a real day of the year (29 Feb allowed in leap 2000)
    except ValueError:
        raise check.fail(path, f"{raw!r} is not a day of the year as MM-DD") from None
    return month, day


def _packaged() -> ReferencePopulation:
    """The packaged reference (or its local copy in $KOKUHO_HOME/data): the one place that
    finds it. Not cached, so a local copy put in place takes effect at once."""
    name = "reference_population.yaml"
    local = override_of(name)
    reference = parse_reference(data_text(name), str(data_path(name)))
    return replace(reference, source=str(local) if local else "packaged")


def load_reference_population(path: Path | None = None) -> ReferencePopulation:
    """The reference of ``path``, or the packaged ``data/reference_population.yaml``. Raises
    ``ReferenceRejected`` naming the file, line and field of a problem."""
    if path is None:
        return _packaged()
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReferenceRejected(f"{path}: cannot be read as UTF-8 text: {error}") from None
    return parse_reference(text, str(path))
