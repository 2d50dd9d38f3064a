"""What every part of the simulation shares: the world, the heap of events by effective
date, the birthdays that change coverage, and the planted overlaps.
"""

from __future__ import annotations

import heapq
import itertools

from kokuho.synth._events_rates import (
    SCHOOL,
    SEVENTY,
    SEVENTY_FIVE,
    TERMS,
    TERMS_CHANGE,
    mortality,
)
from kokuho.synth._world import World, anniversary, elderly_start, school_entry


class Timeline:
    """The heap of events of ``years`` years of ``world`` and the state the handlers share;
    :class:`kokuho.synth._events.Simulation` schedules and runs them."""

    def __init__(self, world: World, years: int) -> None:
        self.w = world
        self.years = years
        self._heap: list[tuple[int, int, int, int, int]] = []
        self._seq = itertools.count()
        self.planted: dict[int, tuple[int, int, int, int]] = {}  # pid → 国保, employee, from, filed
        self.ended_by: dict[int, str] = {}
        self.plant_share = 0.0
        self._today = world.start
        weights = [m.population for m in world.prefecture.municipalities]
        self._muni_weights = list(itertools.accumulate(weights))
        q = [[mortality(sex, age) for age in range(121)] for sex in (0, 1, 2)]
        self._mortality = q

    def push(self, day: int, kind: int, a: int, b: int = 0) -> None:
        # An event before the day being simulated would file rows into a written month.
        assert day >= self._today, (day, self._today)
        heapq.heappush(self._heap, (day, next(self._seq), kind, a, b))

    def _milestones(self, pid: int, today: int) -> None:
        """Schedules the person's birthdays that change coverage, and a 限度額 change;
        ``today`` is the day being simulated (a newborn's birth day)."""
        w = self.w
        birth = w.birth[pid]
        for day, kind in (
            (school_entry(birth), SCHOOL),
            (elderly_start(birth), SEVENTY),
            (anniversary(birth, 75), SEVENTY_FIVE),
        ):
            if today < day <= w.last:
                self.push(day, kind, pid)
        if w.rng.random() < self.years * TERMS_CHANGE and today < w.last:
            self.push(w.rng.randint(today + 1, w.last), TERMS, pid)

    @staticmethod
    def _hazard_kokuho(age: int, sex: int) -> float:
        if 18 <= age < 60:
            return (0.12 if sex == 1 else 0.08) / 12
        if 60 <= age < 70:
            return 0.02 / 12
        return 0.0

    def _ended(self, pid: int, how: str) -> None:
        if pid in self.planted and pid not in self.ended_by:
            self.ended_by[pid] = how
