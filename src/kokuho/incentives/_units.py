"""The units one part scores (municipalities or prefectures), column-wise.

The home units (the prefecture kokuho holds) come first, then the national backdrop. Values
are numpy arrays so that a whole part is scored with a few array operations per tier: the
dashboard's what-if re-scores ~1,700 municipalities on every move of a slider.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int16]

#: Years of history kept per field: the year scored, the one before, the one before that.
HISTORY: Final = 3
MISSING_CODE: Final = -1


@dataclass(frozen=True, slots=True)
class Units:
    """The units of one part.

    ``values[field]`` has shape (3, n): row 0 is the figure of the year scored, rows 1 and 2
    the years before (NaN when unknown). ``efforts[item]`` holds the index of each unit's
    answer in the item's declared values (−1 when not answered). ``override`` is a total
    given by the backdrop (NaN: score the unit from its values).
    """

    codes: tuple[str, ...]
    names: tuple[str, ...]
    prefectures: tuple[str, ...]
    home: Bools
    insured: Ints
    values: Mapping[str, Floats]
    efforts: Mapping[str, Codes]
    override: Floats
    #: Where each home unit's figures came from: (code, field) → derived | file | national.
    origins: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.codes)

    def index(self, code: str) -> int:
        return self.codes.index(code)

    def with_values(self, changes: Mapping[str, Floats]) -> Units:
        """A copy with some fields' arrays replaced (the others are shared, not copied)."""
        values = dict(self.values)
        values.update(changes)
        return replace(self, values=values)

    def with_efforts(self, changes: Mapping[str, Codes]) -> Units:
        efforts = dict(self.efforts)
        efforts.update(changes)
        return replace(self, efforts=efforts)


def empty_history(n: int) -> Floats:
    return np.full((HISTORY, n), np.nan)


def build_units(
    codes: Sequence[str],
    names: Sequence[str],
    prefectures: Sequence[str],
    home: Sequence[bool],
    insured: Sequence[int],
    values: Mapping[str, Floats],
    efforts: Mapping[str, Codes],
    override: Sequence[float] | None = None,
    origins: Mapping[tuple[str, str], str] | None = None,
) -> Units:
    n = len(codes)
    if len(set(codes)) != n:
        twice = sorted(code for code, count in Counter(codes).items() if count > 1)
        raise ValueError(f"units listed twice: {twice[:5]}")
    for name, array in values.items():
        if array.shape != (HISTORY, n):
            raise ValueError(f"{name}: shape {array.shape}, expected {(HISTORY, n)}")
    return Units(
        codes=tuple(codes),
        names=tuple(names),
        prefectures=tuple(prefectures),
        home=np.asarray(home, dtype=bool),
        insured=np.asarray(insured, dtype=np.int64),
        values=dict(values),
        efforts=dict(efforts),
        override=(
            np.full(n, np.nan) if override is None else np.asarray(override, dtype=np.float64)
        ),
        origins=dict(origins or {}),
    )
