"""Life over the simulated years, as the change feed the insurers file.

Events are kept in one heap by effective date and applied in that order; each produces rows
whose filing day is the effective date plus a realistic delay. Because no row is ever filed
before the day being simulated, a filing month is complete, and written, as soon as the
simulation passes its end.

Rates are ASSUMPTIONS of plausible size (mortality, fertility, moves, job changes); they are
not Kagawa figures, which were not found per age.

The simulation is built of private modules of the synth room, each importing only those
above it in this list:

- :mod:`kokuho.synth._events_rates`: the kinds of events and their rates;
- :mod:`kokuho.synth._events_base`: the heap and the state the handlers share
  (``Timeline``);
- :mod:`kokuho.synth._events_life` and :mod:`kokuho.synth._events_jobs`: the handlers of
  the events of a life and of job changes (``LifeEvents``, ``JobEvents``).

This module puts them together: :class:`Simulation` schedules the events, runs them in
order and lists the planted overlaps.
"""

from __future__ import annotations

import datetime as dt
import heapq

from kokuho.synth._events_jobs import JobEvents
from kokuho.synth._events_life import LifeEvents
from kokuho.synth._events_rates import (
    BIRTH,
    DEATH,
    JOB_TICK,
    MOVE,
    MOVE_BETWEEN,
    MOVE_WITHIN,
    PLANT_AT_LEAST,
    PLANT_SHARE,
    REFORM,
    fertility,
)
from kokuho.synth._manifest import PlantedOverlap
from kokuho.synth._world import KOKI_TWENTY_PERCENT_FROM, KOKUHO
from kokuho.synth._writers import month_key


class Simulation(LifeEvents, JobEvents):
    """Schedules and applies the events of ``years`` years to ``world``; remembers the
    planted overlaps so that the manifest can list them."""

    # -- scheduling -------------------------------------------------------------------------
    def schedule(self) -> None:
        w = self.w
        rng = w.rng
        start, last = w.start, w.last
        for pid in range(len(w.birth)):
            self._milestones(pid, start)
            self._death(pid)
        for household, members in enumerate(w.members):
            u = rng.random()
            if u < self.years * (MOVE_BETWEEN + MOVE_WITHIN):
                day = rng.randint(start + 1, last)
                self.push(day, MOVE, household, 1 if u < self.years * MOVE_BETWEEN else 0)
            for pid in members:
                if w.sex[pid] == 2 and w.spouse[pid] >= 0:
                    self._births(pid)
        day = start
        while day <= last:
            self.push(day, JOB_TICK, 0)
            date = dt.date.fromordinal(day)
            day = (date.replace(day=1) + dt.timedelta(days=32)).replace(day=1).toordinal()
        if start < KOKI_TWENTY_PERCENT_FROM <= last:
            self.push(KOKI_TWENTY_PERCENT_FROM, REFORM, 0)
        self.plant_share = self._plant_share()

    def _death(self, pid: int) -> None:
        w = self.w
        rng = w.rng
        q = self._mortality[w.sex[pid]]
        first = w.age(pid, w.start)
        for year in range(self.years):
            if rng.random() < q[min(120, first + year)]:
                day = w.start + int((year + rng.random()) * 365.2425)
                # Deaths stop a day early, so that every 資格喪失日 (the day after) is inside.
                self.push(min(day, w.last - 1), DEATH, pid)
                return

    def _births(self, mother: int) -> None:
        w = self.w
        rng = w.rng
        youngest = max(
            (w.birth[m] for m in w.members[w.hh[mother]] if w.mother[m] == mother), default=0
        )
        first = w.age(mother, w.start)
        for year in range(self.years):
            if rng.random() < fertility(first + year):
                day = w.start + int((year + rng.random()) * 365.2425)
                if day > w.last:
                    return
                if day - youngest >= 450:
                    self.push(day, BIRTH, mother)
                    youngest = day

    def _plant_share(self) -> float:
        """Expected job changes from 国保 into employment → the share to plant."""
        w = self.w
        expected = 0.0
        for pid, cid in enumerate(w.cov):
            if cid >= 0 and w.kind(cid) == KOKUHO:
                expected += self._hazard_kokuho(w.age(pid, w.start), w.sex[pid]) * 12
        expected *= self.years
        if expected <= 0:
            return 0.0
        return min(0.25, max(PLANT_SHARE, PLANT_AT_LEAST / expected))

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> None:
        w = self.w
        heap = self._heap
        month = month_key(w.start)
        month_ends = w.start  # first day of the next month: cheap month test
        handlers = (
            self._on_death, self._on_birth, self._on_move, self._on_school, self._on_seventy,
            self._on_seventy_five, self._on_terms, self._on_job_tick, self._on_job,
            self._on_resolve, self._on_reform, self._on_bereaved,
        )  # fmt: skip
        while heap:
            day, _, kind, a, b = heapq.heappop(heap)
            self._today = day
            if day >= month_ends:
                current = month_key(day)
                if current != month:
                    w.feed.flush_before(current)
                    month = current
                next_month = dt.date.fromordinal(day).replace(day=1) + dt.timedelta(days=32)
                month_ends = next_month.replace(day=1).toordinal()
            handlers[kind](day, a, b)
        w.feed.close()

    # -- results ----------------------------------------------------------------------------
    def overlaps(self) -> list[PlantedOverlap]:
        w = self.w
        found: list[PlantedOverlap] = []
        for pid, (kokuho, employee, day, filed) in self.planted.items():
            ends = [x for x in (w.c_lost[kokuho], w.c_lost[employee]) if x]
            until = min(ends) if ends else None
            found.append(
                PlantedOverlap(
                    kokuho_insurer=w.ins_number[w.c_ins[kokuho]],
                    kokuho_symbol=w.c_sym[kokuho],
                    kokuho_number=w.c_num[kokuho],
                    kokuho_branch=w.c_branch[kokuho],
                    employee_insurer=w.ins_number[w.c_ins[employee]],
                    employee_symbol=w.c_sym[employee],
                    employee_number=w.c_num[employee],
                    employee_branch=w.c_branch[employee],
                    overlap_from=dt.date.fromordinal(day),
                    overlap_until=dt.date.fromordinal(until) if until else None,
                    employee_filed=dt.date.fromordinal(filed),
                    ended_by=self.ended_by.get(pid, "open"),
                )
            )
        return found
