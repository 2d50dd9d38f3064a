"""Life over the simulated years, as the change feed the insurers file.

Events are kept in one heap by effective date and applied in that order; each produces rows
whose filing day is the effective date plus a realistic delay. Because no row is ever filed
before the day being simulated, a filing month is complete, and written, as soon as the
simulation passes its end.

Rates are ASSUMPTIONS of plausible size (mortality, fertility, moves, job changes); they are
not Kagawa figures, which were not found per age.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import math

from kokuho.synth._manifest import PlantedOverlap
from kokuho.synth._world import (
    GENERAL_II,
    KOKI,
    KOKI_TWENTY_PERCENT_FROM,
    KOKUHO,
    World,
    anniversary,
    elderly_start,
    next_month,
    school_entry,
)
from kokuho.synth._writers import month_key

(DEATH, BIRTH, MOVE, SCHOOL, SEVENTY, SEVENTY_FIVE, TERMS, JOB_TICK, JOB, RESOLVE, REFORM,
 BEREAVED) = range(12)  # fmt: skip
# job changes: 国保 → employee, employee → 国保, employee → employee, 家族 → 本人
INTO_EMPLOYMENT, OUT_OF_EMPLOYMENT, NEW_EMPLOYER, DEPENDANT_HIRED = range(4)
_JOB_COUNTERS = (
    "job_kokuho_to_employee",
    "job_employee_to_kokuho",
    "job_employee_to_employee",
    "job_dependant_to_employee",
)
#: The monthly job hazard never exceeds these (thinning: candidates are drawn at this rate
#: and kept with probability hazard / bound). April is when graduates start work.
_BOUND = 0.15 / 12
_BOUND_APRIL = 0.12
#: Share of job changes from 国保 into employment filed so late that the two coverages
#: overlap (資格重複); at least a few are planted even in a small prefecture.
PLANT_SHARE = 0.008
PLANT_AT_LEAST = 4
MOVE_BETWEEN, MOVE_WITHIN = 0.012, 0.022  # households a year
TERMS_CHANGE = 0.03  # persons a year with a 限度額/特定疾病 change


def _mortality(sex: int, age: int) -> float:
    """Annual probability of death: a Gompertz curve near Japanese life tables (0.3 % at 50,
    2 % at 70, 15 % at 90 for men; women about half)."""
    if age < 1:
        q = 0.0018
    elif age < 30:
        q = 0.0003
    else:
        q = 1.82e-5 * math.exp(0.1 * age)
    return min(0.6, 0.85 * q * (0.55 if sex == 2 else 1.0))


def _fertility(age: int) -> float:
    """Annual probability that a married woman gives birth."""
    if age < 18 or age >= 45:
        return 0.0
    return (0.22, 0.36, 0.32, 0.24, 0.12, 0.022)[min(5, max(0, (age - 15) // 5))]


class Simulation:
    """Schedules and applies the events of ``years`` years to ``world``; remembers the
    planted overlaps so that the manifest can list them."""

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
        q = [[_mortality(sex, age) for age in range(121)] for sex in (0, 1, 2)]
        self._mortality = q

    def push(self, day: int, kind: int, a: int, b: int = 0) -> None:
        # An event before the day being simulated would file rows into a written month.
        assert day >= self._today, (day, self._today)
        heapq.heappush(self._heap, (day, next(self._seq), kind, a, b))

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
            if rng.random() < _fertility(first + year):
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

    @staticmethod
    def _hazard_kokuho(age: int, sex: int) -> float:
        if 18 <= age < 60:
            return (0.12 if sex == 1 else 0.08) / 12
        if 60 <= age < 70:
            return 0.02 / 12
        return 0.0

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

    def _on_death(self, day: int, pid: int, _: int) -> None:
        w = self.w
        if w.death[pid]:
            return
        w.death[pid] = day
        w.counts["deaths"] += 1
        covs = w.open_coverages(pid)
        if covs and w.c_rel[covs[0]] == 1 and w.is_employee(covs[0]):
            # The 被扶養者 stay covered on the day of death and move to 国保 the next day.
            self.push(day + 1, BEREAVED, covs[0])
        filed = day + w.lag(7, 40)
        for cid in covs:
            w.lose(cid, day + 1, "01", filed)
        self._ended(pid, "death")
        w.members[w.hh[pid]].remove(pid)

    def _on_bereaved(self, day: int, head: int, _: int) -> None:
        w = self.w
        filed = day + w.lag(7, 40)
        joined = day + w.lag(14, 60)
        for dependant in w.dependants(head):
            w.lose(w.cov[dependant], day, "99", filed)
            w.join_kokuho(dependant, day, joined)

    def _on_birth(self, day: int, mother: int, _: int) -> None:
        w = self.w
        if w.death[mother]:
            return
        household = w.hh[mother]
        father = w.spouse[mother]
        if father >= 0 and (w.death[father] or w.hh[father] != household):
            father = -1
        surname = w.sur[father] if father >= 0 else w.sur[mother]
        pid = w.new_person(1 if w.rng.random() < 0.512 else 2, day, surname, household)
        w.mother[pid] = mother
        w.father[pid] = father
        w.counts["births"] += 1
        filed = day + w.lag(14, 45)
        for parent in (father, mother):
            cid = w.cov[parent] if parent >= 0 else -1
            if cid >= 0 and w.is_employee(cid):
                w.add_dependant(pid, cid if w.c_rel[cid] == 1 else w.c_head[cid], day, filed)
                break
        else:
            w.join_kokuho(pid, day, filed)
        self._milestones(pid, day)

    def _on_move(self, day: int, household: int, between: int) -> None:
        w = self.w
        members = list(w.members[household])
        if not members or any(m in w.frozen for m in members):
            return
        old = w.h_muni[household]
        new = old
        while between and new == old:
            new = bisect.bisect(self._muni_weights, w.rng.random() * self._muni_weights[-1])
        filed = day + w.lag(5, 30)
        w.relocate(household, new)
        address = w.h_address[household]
        rejoin: list[int] = []
        for pid in members:
            cid = w.cov[pid]
            if between and cid >= 0 and w.kind(cid) == KOKUHO:
                # 国保 is per municipality: lose in the old one with the 転出先 address, so
                # the new one's enrolment finds the same person by all five items.
                w.lose(cid, day, "99", filed, address=address)
                rejoin.append(pid)
        # The new municipality files its 資格取得 the month after (転入 processing), so the
        # loss always reaches the register first.
        moved_in = next_month(filed)
        for pid in members:
            if pid in rejoin:
                w.join_kokuho(pid, day, moved_in)
            else:
                for cid in w.open_coverages(pid):
                    w.change(cid, day, filed, address=address)
        w.counts["moves_between_municipalities" if between else "moves_within_municipality"] += 1
        w.counts["persons_moved"] += len(members)

    def _on_school(self, day: int, pid: int, _: int) -> None:
        w = self.w
        if w.death[pid]:
            return
        filed = day + w.lag(0, 10)
        for cid in w.open_coverages(pid):
            w.change(cid, day, filed, copay="30")
        w.counts["school_entries"] += 1

    def _on_seventy(self, day: int, pid: int, _: int) -> None:
        w = self.w
        covs = w.open_coverages(pid)
        if w.death[pid] or not covs or w.kind(covs[0]) == KOKI:
            return
        copay, elderly = w.copay(pid, day, w.kind(covs[0]))
        limit = w.limit[pid]
        new_limit = w.elderly_limit(limit) if limit.startswith("A") else ""
        if new_limit:
            w.limit[pid] = new_limit
        filed = day + w.lag(0, 10)
        for cid in covs:
            w.change(cid, day, filed, copay=copay, elderly=elderly, limit=new_limit)
        w.counts["turned_70"] += 1

    def _on_seventy_five(self, day: int, pid: int, _: int) -> None:
        """後期高齢者医療 from the 75th birthday itself; the old coverage ends that day."""
        w = self.w
        if w.death[pid]:
            return
        covs = w.open_coverages(pid)
        dependants: list[int] = []
        if covs and w.c_rel[covs[0]] == 1 and w.is_employee(covs[0]):
            dependants = w.dependants(covs[0])
        filed = day + w.lag(0, 30)
        for cid in covs:
            w.lose(cid, day, "03", filed)
        self._ended(pid, "age_75")
        w.limit[pid] = w.elderly_limit(w.limit[pid])
        w.join_koki(pid, day, day + w.lag(0, 7))
        # The 被扶養者 of a 本人 who leaves for 後期 lose it and go to 国保.
        for dependant in dependants:
            w.lose(w.cov[dependant], day, "99", filed)
            w.join_kokuho(dependant, day, day + w.lag(7, 45))
            w.ground_events.append(("former_dependant", dependant, day))
        w.counts["turned_75"] += 1

    def _on_terms(self, day: int, pid: int, _: int) -> None:
        w = self.w
        covs = w.open_coverages(pid)
        if w.death[pid] or pid in w.frozen or not covs:
            return
        rng = w.rng
        current = w.limit[pid]
        if current and rng.random() < 0.4:
            limit = "-"  # the 限度額適用認定 ended
        else:
            limit = w.limit_for(pid, day)
            if limit == current:
                limit = "-"
        w.limit[pid] = "" if limit == "-" else limit
        disease = ""
        if not w.disease[pid] and w.age(pid, day) >= 40 and rng.random() < 0.05:
            disease = w.disease[pid] = "1"
        filed = day + w.lag(0, 20)
        for cid in covs:
            w.change(cid, day, filed, limit=limit, disease=disease)
        w.counts["limit_changes"] += 1

    def _on_reform(self, day: int, _: int, __: int) -> None:
        w = self.w
        for pid, cid in enumerate(w.cov):
            if cid >= 0 and w.income[pid] == GENERAL_II and w.kind(cid) == KOKI:
                w.change(cid, day, day + w.lag(0, 10), copay="20")
                w.counts["koki_twenty_percent"] += 1

    # -- jobs -------------------------------------------------------------------------------
    def _on_job_tick(self, day: int, _: int, __: int) -> None:
        """Draws this month's job changes by thinning: candidates at the bound rate, each
        kept with probability (its hazard / the bound)."""
        w = self.w
        rng = w.rng
        date = dt.date.fromordinal(day)
        april = date.month == 4
        bound = _BOUND_APRIL if april else _BOUND
        month_end = (date.replace(day=1) + dt.timedelta(days=32)).replace(day=1).toordinal() - 1
        month_end = min(month_end, w.last)
        n = len(w.birth)
        expected = n * bound
        for _ in range(int(expected) + (rng.random() < expected - int(expected))):
            pid = rng.randrange(n)
            cid = w.cov[pid]
            if w.death[pid] or cid < 0 or pid in w.frozen:
                continue
            years = w.age(pid, day)
            kind = w.kind(cid)
            u = rng.random() * bound
            if kind == KOKUHO:
                subtype = INTO_EMPLOYMENT if u < self._hazard_kokuho(years, w.sex[pid]) else -1
            elif kind == KOKI:
                continue
            elif w.c_rel[cid] == 1:
                quit_, switch = _employee_hazards(years)
                subtype = (
                    OUT_OF_EMPLOYMENT if u < quit_ else NEW_EMPLOYER if u < quit_ + switch else -1
                )
            else:
                if 20 <= years < 24:
                    hazard = 0.12 if april else 0.01 / 12
                elif 24 <= years < 60:
                    hazard = 0.04 / 12
                else:
                    hazard = 0.0
                subtype = DEPENDANT_HIRED if u < hazard else -1
            if subtype < 0:
                continue
            job_day = day if rng.random() < 0.45 else rng.randint(day, month_end)
            self.push(job_day, JOB, pid, subtype)

    def _on_job(self, day: int, pid: int, subtype: int) -> None:
        w = self.w
        cid = w.cov[pid]
        if w.death[pid] or cid < 0 or pid in w.frozen or pid in w.extra:
            return
        kind = w.kind(cid)
        if subtype == INTO_EMPLOYMENT:
            if kind != KOKUHO or w.age(pid, day) >= 70:
                return
            self._into_employment(day, pid, cid)
        elif subtype == DEPENDANT_HIRED:
            if not w.is_employee(cid) or w.c_rel[cid] != 2:
                return
            w.lose(cid, day, "03", day + w.lag(5, 45))
            w.hire(pid, day, day + w.lag(5, 45))
        else:
            if not w.is_employee(cid) or w.c_rel[cid] != 1:
                return
            dependants = w.dependants(cid)
            lose_filed = day + w.lag(5, 45)
            if subtype == OUT_OF_EMPLOYMENT:
                # 退職: the employee scheme ends, 国保 begins the same day (filed late: people
                # have 14 days to register and many take longer).
                w.lose(cid, day, "99", lose_filed)
                joined = day + w.lag(3, 60)
                w.join_kokuho(pid, day, joined)
                w.ground_events.append(("involuntary_unemployment", pid, day))
                for dependant in dependants:
                    w.lose(w.cov[dependant], day, "99", lose_filed)
                    w.join_kokuho(dependant, day, joined)
            else:
                filed = day + w.lag(5, 45)
                new = w.hire(pid, day, filed)
                reason = "99" if w.c_ins[new] == w.c_ins[cid] else "03"
                w.lose(cid, day, reason, lose_filed)
                for dependant in dependants:
                    w.lose(w.cov[dependant], day, reason, lose_filed)
                    w.add_dependant(dependant, new, day, filed)
        w.counts[_JOB_COUNTERS[subtype]] += 1

    def _into_employment(self, day: int, pid: int, kokuho: int) -> None:
        w = self.w
        rng = w.rng
        if rng.random() < self.plant_share:
            # Filed months late: the 国保 stays open, and its 資格喪失 comes later still
            # (when the member finally reports it) or not within the period at all.
            filed = min(day + rng.randint(60, 180), w.last)
            employee = w.hire(pid, day, filed)
            w.extra[pid] = kokuho
            w.frozen.add(pid)
            self.planted[pid] = (kokuho, employee, day, filed)
            if rng.random() < 0.6:
                resolved = filed + rng.randint(7, 120)
                if resolved <= w.last:
                    self.push(resolved, RESOLVE, pid, kokuho)
            return
        filed = day + w.lag(5, 45)
        employee = w.hire(pid, day, filed)
        lose_filed = day + w.lag(10, 90)
        w.lose(kokuho, day, "03", lose_filed)
        # The family becomes 被扶養者: a spouse without work, and the children.
        household = w.members[w.hh[pid]]
        followers = [
            m
            for m in household
            if m != pid
            and (
                (m == w.spouse[pid] and w.age(m, day) < 60 and rng.random() < 0.5)
                or ((w.father[m] == pid or w.mother[m] == pid) and w.age(m, day) < 20)
            )
        ]
        for member in followers:
            cid = w.cov[member]
            if cid >= 0 and w.kind(cid) == KOKUHO and member not in w.frozen:
                w.lose(cid, day, "03", lose_filed)
                w.add_dependant(member, employee, day, filed)

    def _on_resolve(self, day: int, pid: int, kokuho: int) -> None:
        w = self.w
        if w.c_lost[kokuho] or w.death[pid]:
            return
        w.lose(kokuho, day, "03", day + w.lag(0, 20))
        self._ended(pid, "kokuho_lose")

    def _ended(self, pid: int, how: str) -> None:
        if pid in self.planted and pid not in self.ended_by:
            self.ended_by[pid] = how

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


def _employee_hazards(age: int) -> tuple[float, float]:
    """Monthly hazards of leaving employment (→ 国保) and of changing employer."""
    if age < 55:
        return 0.015 / 12, 0.035 / 12
    if age < 60:
        return 0.025 / 12, 0.02 / 12
    if age < 65:
        return 0.1 / 12, 0.02 / 12
    return 0.12 / 12, 0.0
