"""``data/checkup_distributions.yaml`` as sex × band tables, and the small helpers that put
its shares and correlation weights on the standard-normal scale the values are drawn on.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

from kokuho.store import data_text, load_yaml
from kokuho.synth._checkups_codes import BANDS, SEXES, Codes, Floats, Ints

_GAUSS = NormalDist()


class Distributions:
    """``data/checkup_distributions.yaml`` with helpers that turn its sex × band tables into
    arrays of shape (2, 7): row 0 men, row 1 women."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._tables: dict[tuple[str, ...], Floats] = {}

    def node(self, *path: str) -> Any:
        node: Any = self.raw
        for part in path:
            node = node[part]
        return node

    def table(self, *path: str) -> Floats:
        """The sex × band table at ``path``: ``table("measures", "bmi", "mean")`` reads
        ``measures.bmi.male.mean`` and ``…female.mean``; with the leaf left out
        (``table("medication", "bp")``) the sexes hold the lists themselves."""
        cached = self._tables.get(path)
        if cached is not None:
            return cached
        rows = []
        for sex in SEXES:
            if path[-1] in SEXES:
                raise ValueError(f"checkup distributions: bad path {path}")
            parent = self.node(*path[:-1])
            value = parent[sex][path[-1]] if sex in parent else self.node(*path)[sex]
            rows.append(_band_row(value, path))
        table = np.array(rows, dtype=np.float64)
        self._tables[path] = table
        return table

    def pair(self, *path: str) -> Floats:
        """A per-sex scalar (``measures.waist.male.slope``) as an array of two."""
        node = self.node(*path[:-1])
        return np.array([float(node[sex][path[-1]]) for sex in SEXES])


def _band_row(value: Any, path: tuple[str, ...]) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)] * BANDS
    row = [float(v) for v in value]
    if len(row) != BANDS:
        raise ValueError(f"checkup distributions: {'.'.join(path)} needs {BANDS} bands")
    return row


@lru_cache(maxsize=1)
def load_distributions() -> Distributions:
    """Reads ``data/checkup_distributions.yaml`` (packaged with kokuho)."""
    text = data_text("checkup_distributions.yaml")
    raw = load_yaml(text, "checkup_distributions.yaml")
    if raw.get("format") != "kokuho checkup distributions 1":
        raise ValueError("checkup distributions: unknown format")
    return Distributions(raw)


def band_of(age: Ints) -> Ints:
    """The 5-year band 0 (40–44) … 6 (70–74); ages outside are clamped."""
    return np.clip((age - 40) // 5, 0, BANDS - 1).astype(np.int64)


def _upper(p: float) -> float:
    """z such that P(Z > z) = p (p clipped away from 0 and 1)."""
    return _GAUSS.inv_cdf(1.0 - min(max(p, 1e-9), 1.0 - 1e-9))


def threshold(rates: Floats) -> Floats:
    """:func:`_upper` of every element of a small table (sex × band)."""
    return np.array([[_upper(float(p)) for p in row] for row in rates], dtype=np.float64)


def as_floats(values: Any) -> Floats:
    """``values`` as float64 (NumPy's stubs lose the dtype through clip and where)."""
    return np.asarray(values, dtype=np.float64)


def rest_weight(*weights: float) -> float:
    """The weight of a value's own noise, given the weights of its shared factors."""
    return math.sqrt(max(0.0, 1.0 - sum(w * w for w in weights)))


def mixed_noise(person: Floats, year: Floats, year_sd: float) -> Floats:
    return math.sqrt(1.0 - year_sd * year_sd) * person + year_sd * year


def cut_points(shares: Floats) -> Floats:
    """Cut points on the standard-normal scale of a small table of answer shares (one row
    per sex): code 1 above the first cut, code k below the last."""
    cumulative = np.cumsum(shares, axis=-1)[..., :-1]
    return np.array([[_upper(float(p)) for p in row] for row in cumulative], dtype=np.float64)


def categories(z: Floats, cuts: Floats) -> Codes:
    """Codes 1…k of a standard-normal ``z`` (high z → code 1) given per-element cut points
    (shape (n, k − 1)): the code is one more than the number of cuts z stays below."""
    codes: Codes = (1 + (z[:, None] < cuts).sum(axis=1)).astype(np.int8)
    return codes
