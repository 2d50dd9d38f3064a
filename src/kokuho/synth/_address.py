"""Synthetic addresses: a real 町名 of the municipality with invented 丁目・番・号 or 番地.

An address is kept as its parts ``(municipality, town, a, b, c)`` and rendered in one of
several notations. Households keep one notation in every record the insurers send; the
resident register (住基) holds a different notation of the same address only where a
notation-only My Number case is planted. Every address is used by one household only, so
two different people never share all five basic items.
"""

from __future__ import annotations

import bisect
import itertools
import random

from kokuho.synth._data import Prefecture
from kokuho.synth._text import fullwidth, kanji_number

Parts = tuple[int, int, int, int, int]

#: Notations households use in insurer records (丁目 towns / 番地 towns):
#: 0 四丁目1番10号 / 1234番地5, 1 4丁目1番10号 / 1234-5, 2 4-1-10 / １２３４番地５,
#: 3 ４丁目１番１０号 / 1234番5.
FEED_STYLES = 4
#: A notation only the planted 住基 variants use: everything in 漢数字 (四丁目十番二十一号).
KANJI_STYLE = 4
_STYLE_WEIGHTS = (0.35, 0.3, 0.25, 0.1)
_MAX_BAN = 50
_MAX_GO = 40
_MAX_BANCHI = 3999
_MAX_EDABAN = 15


class Addresses:
    """Draws fresh addresses and renders them."""

    def __init__(self, prefecture: Prefecture, rng: random.Random) -> None:
        self._rng = rng
        self._municipalities = prefecture.municipalities
        self._used: set[Parts] = set()
        self._town_weights: list[list[float]] = []
        for municipality in prefecture.municipalities:
            weights = [float(town.chome) if town.chome else 3.0 for town in municipality.towns]
            self._town_weights.append(list(itertools.accumulate(weights)))
        self._style_weights = list(itertools.accumulate(_STYLE_WEIGHTS))

    def new(self, municipality: int) -> Parts:
        rng = self._rng
        cumulative = self._town_weights[municipality]
        towns = self._municipalities[municipality].towns
        while True:
            town = bisect.bisect(cumulative, rng.random() * cumulative[-1])
            chome = towns[town].chome
            if chome:
                parts = (
                    municipality,
                    town,
                    rng.randint(1, chome),
                    rng.randint(1, _MAX_BAN),
                    rng.randint(1, _MAX_GO),
                )
            else:
                branch = rng.randint(1, _MAX_EDABAN) if rng.random() < 0.6 else 0
                parts = (municipality, town, rng.randint(1, _MAX_BANCHI), branch, 0)
            if parts not in self._used:
                self._used.add(parts)
                return parts

    def style(self) -> int:
        return bisect.bisect(self._style_weights, self._rng.random() * self._style_weights[-1])

    def render(self, parts: Parts, style: int, prefecture: bool) -> str:
        municipality_index, town_index, a, b, c = parts
        municipality = self._municipalities[municipality_index]
        town = municipality.towns[town_index]
        head = ("香川県" if prefecture else "") + municipality.full_name + town.name
        if town.chome:
            if style == 0:
                block = f"{kanji_number(a)}丁目{b}番{c}号"
            elif style == 1:
                block = f"{a}丁目{b}番{c}号"
            elif style == 2:
                block = f"{a}-{b}-{c}"
            elif style == 3:
                block = f"{fullwidth(a)}丁目{fullwidth(b)}番{fullwidth(c)}号"
            else:
                block = f"{kanji_number(a)}丁目{kanji_number(b)}番{kanji_number(c)}号"
        elif style == 0:
            block = f"{a}番地{b}" if b else f"{a}番地"
        elif style == 1:
            block = f"{a}-{b}" if b else str(a)
        elif style == 2:
            block = f"{fullwidth(a)}番地{fullwidth(b)}" if b else f"{fullwidth(a)}番地"
        elif style == 3:
            block = f"{a}番{b}" if b else f"{a}番地"
        else:
            block = f"{kanji_number(a)}番地{kanji_number(b)}" if b else f"{kanji_number(a)}番地"
        return head + block
