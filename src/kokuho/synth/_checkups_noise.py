"""The noise of synthetic checkup values and its stream numbers.

:class:`HashedNoise` is counter-based: the same person and year always get the same numbers
whatever the order of the work (the synthetic prefecture). :class:`GeneratorNoise` draws
from one NumPy generator (bulk benchmark rows). Each purpose has its own stream number.
"""

from __future__ import annotations

import hashlib
import math
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kokuho.synth._checkups_codes import Floats, Ints

_MASK = (1 << 64) - 1
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(n) for n in (30, 27, 31, 11))
_UNIT = 1.0 / float(1 << 53)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: a bijection of 64-bit words that spreads every input bit."""
    x = x + _M1
    x = (x ^ (x >> _S30)) * _M2
    x = (x ^ (x >> _S27)) * _M3
    return x ^ (x >> _S31)


def seed_key(text: str) -> int:
    """A 64-bit number from ``text``: stable across runs and machines."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class Noise(Protocol):
    """Standard normal and uniform [0, 1) numbers, one per element, by stream number."""

    def normal(self, stream: int) -> Floats: ...

    def uniform(self, stream: int) -> Floats: ...


class HashedNoise:
    """Counter-based noise: the number of (key, id, stream) is a hash of the three, so a
    person's numbers do not depend on who else is drawn or in which order."""

    def __init__(self, key: str, ids: Ints) -> None:
        self._base = _mix(ids.astype(np.uint64) ^ np.uint64(seed_key(key)))

    def uniform(self, stream: int) -> Floats:
        offset = np.uint64(((stream + 1) * 0x632BE59BD9B4E019) & _MASK)
        bits = _mix(_mix(self._base + offset))
        return (bits >> _S11).astype(np.float64) * _UNIT

    def normal(self, stream: int) -> Floats:
        # Box–Muller on two uniforms of streams no plain uniform stream uses.
        u1 = self.uniform(100_000 + 2 * stream)
        u2 = self.uniform(100_001 + 2 * stream)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * math.pi * u2)


class GeneratorNoise:
    """Noise from one NumPy generator, drawn at a stream's first use: fast, for bulk rows.
    As with :class:`HashedNoise`, asking a stream again gives the same numbers."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self._rng = rng
        self._size = size
        self._normal: dict[int, Floats] = {}
        self._uniform: dict[int, Floats] = {}

    def normal(self, stream: int) -> Floats:
        found = self._normal.get(stream)
        if found is None:
            found = self._normal[stream] = self._rng.standard_normal(self._size)
        return found

    def uniform(self, stream: int) -> Floats:
        found = self._uniform.get(stream)
        if found is None:
            found = self._uniform[stream] = self._rng.random(self._size)
        return found


# Streams of the person's lifelong numbers (P_) and of each year's new part (Y_). Each
# stream serves one purpose: two uses of one stream would tie the two together.
(P_HEIGHT, P_ADIPOSITY, P_BP, P_LIPID, P_HDL, P_LDL, P_GLYCAEMIA, P_LIVER, P_KIDNEY,
 P_ALCOHOL, P_SMOKING, P_MED_BP, P_MED_GLUCOSE, P_MED_LIPID, P_CKD, P_CKD_SEVERITY, P_SGLT2,
 P_INSTITUTION, P_PARTICIPATION, P_DIABETES) = range(20)  # fmt: skip
P_QUESTION = 100  # + item index
(Y_HEIGHT, Y_ADIPOSITY, Y_WAIST, Y_BP, Y_DBP, Y_LIPID, Y_HDL, Y_LDL, Y_GLYCAEMIA, Y_HBA1C,
 Y_ALT, Y_AST, Y_GGT, Y_KIDNEY, Y_URINE_PROTEIN, Y_URINE_SUGAR, Y_TIMING, Y_HBA1C_MEASURED,
 Y_CREATININE_MEASURED, Y_NOT_DONE, Y_NULL, Y_READINGS, Y_SBP1, Y_WAIST_METHOD,
 Y_METABOLIC_WRONG, Y_LEVEL_WRONG, Y_WRONG_VALUE, Y_TAKE, Y_MONTH, Y_DAY, Y_GUIDANCE,
 Y_GUIDANCE_COMPLETE, Y_GUIDANCE_START_DAYS, Y_GUIDANCE_EVAL_DAYS) = range(34)  # fmt: skip
Y_QUESTION = 100  # + item index
