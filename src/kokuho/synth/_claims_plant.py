"""The cases planted in the synthetic claims, for the indicators to find exactly:

- **重複処方**: a person-month with one 薬効 from 3 institutions, or 2 薬効 from the same 2
  institutions (the KDB definition);
- **多剤**: a person-month with 15–18 薬効 for 28 days from the person's home institution
  (and no visit elsewhere that month, so it is not a 重複 as well);
- **資格過誤 (lost coverage)**: a visit within weeks after the person's coverage ended (a new
  job, the 75th birthday, a move to another municipality), billed with the old card's tuple;
- **資格過誤 (not found)**: a claim whose 番号 was never issued (a typo on the card copy).

Who is planted comes from the month's own stream (``claims-{seed}-plant-{YYYY-MM}``) and the
people's counter-based numbers. At least ``at_least`` cases of each kind are planted in any run
that has people to plant them on. Persons with a planted 資格重複 (``world.frozen``) are left
alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kokuho.synth._claims_build import Builder, Insured
from kokuho.synth._claims_catalog import ORAL, Catalog
from kokuho.synth._claims_config import Condition, Config
from kokuho.synth._claims_people import People, iso_month
from kokuho.synth._claims_records import Dx, Month, Visit
from kokuho.synth._claims_visits import Visits

DUPLICATE, MULTI_DRUG, LOST, NOT_FOUND = "duplicate", "multi_drug", "lost_coverage", "not_found"


@dataclass
class Case:
    """One planted case; ``claims`` are filled in as its claims are written."""

    kind: str
    month: str  # 診療年月 YYYY-MM
    pid: int
    insured: Insured  # the tuple the claims carry
    facilities: tuple[int, ...] = ()
    efficacies: tuple[str, ...] = ()
    variant: str = ""
    lost_on: int = 0  # ordinal, lost_coverage only
    responsible: str = ""  # the insurer valid on the day of service
    claims: list[tuple[str, int, int]] = field(default_factory=list)  # file, number, day


def _spread(total: float, months: int, index: int) -> int:
    """Cases in month ``index`` so that the months add up to ``int(total)``."""
    return int(total * (index + 1) / months) - int(total * index / months)


class Planter:
    def __init__(
        self, people: People, cfg: Config, catalog: Catalog, visits: Visits, builder: Builder,
        months: list[tuple[int, int]], seed: int,
    ) -> None:  # fmt: skip
        self.people, self.cfg, self.catalog = people, cfg, catalog
        self.visits, self.builder, self.seed = visits, builder, seed
        self.months = len(months)
        self.cases: list[Case] = []
        p = cfg.planted
        self.at_least = int(p["at_least"])
        w = people.world
        persons = sum(
            1 for pid in range(people.n) if people.included(people.coverage(pid, w.start))
        )
        scale = persons * self.months / 100_000
        self.duplicates = max(self.at_least, float(p["duplicate_per_100k_month"]) * scale)
        self.multi = max(self.at_least, float(p["multi_drug_per_100k_month"]) * scale)
        self.duplicate_classes = catalog.efficacies(str(e) for e in p["duplicate_efficacies"])
        every = sorted(e for e in catalog.by_efficacy if catalog.ingredients(e, ORAL))
        low, high = (int(x) for x in p["multi_drug_classes"])
        self.multi_classes = every if len(every) >= low else []
        self.multi_range = (low, min(high, len(every)))
        self.by_efficacy: dict[str, Condition] = {}
        for cond in (*cfg.acute, *cfg.other_chronic):
            for efficacy in cond.efficacies:
                self.by_efficacy[efficacy] = cond
        self.issued = {(w.c_ins[c], w.c_sym[c], w.c_num[c]) for c in range(len(w.c_pid))}
        self.not_found_total = 0.0
        self.lost = self._losses(months)

    # -- 資格過誤 schedule ----------------------------------------------------------------------
    def _losses(self, months: list[tuple[int, int]]) -> dict[int, list[tuple[int, int, int]]]:
        """month index → (person, old coverage, day of the visit) of the planted losses."""
        people, w = self.people, self.people.world
        p = self.cfg.planted
        first, last = months[0][0], months[-1][1]
        window = int(p["lost_coverage_days"])
        found: list[tuple[float, int, int, int, int]] = []
        for cid, lost in enumerate(w.c_lost):
            pid = w.c_pid[cid]
            if not first < lost <= last or pid in w.frozen or not people.included(cid):
                continue
            end = min(lost + window - 1, last, w.death[pid] or last)
            if end < lost or people.coverage(pid, lost) < 0:
                continue
            rng = people.rng(pid, 7, cid)
            found.append((rng.random(), pid, cid, lost, rng.randint(lost, end)))
        found.sort()
        share = float(p["lost_coverage_share"])
        chosen = [f for f in found if f[0] < share] or found[: self.at_least]
        if len(chosen) < self.at_least:
            chosen = found[: self.at_least]
        schedule: dict[int, list[tuple[int, int, int]]] = {}
        starts = [m[0] for m in months]
        for _, pid, cid, _, day in chosen:
            index = max(i for i, s in enumerate(starts) if s <= day)
            schedule.setdefault(index, []).append((pid, cid, day))
        return schedule

    # -- the month -------------------------------------------------------------------------------
    def month(self, plan: Month) -> None:
        """Plants this month's cases into ``plan`` (each planted visit names its case)."""
        rng = random.Random(f"claims-{self.seed}-plant-{iso_month(plan.first)}")
        busy = {stay.pid for stay in plan.stays}
        for pid, cid, day in self.lost.get(plan.index, []):
            self._lost(plan, pid, cid, day, rng)
            busy.add(pid)
        count = _spread(self.duplicates, self.months, plan.index)
        if self.duplicate_classes:
            for pid in self._candidates(plan, rng, count, busy, "duplicate_min_age"):
                self._duplicate(plan, pid, rng)
        count = _spread(self.multi, self.months, plan.index)
        if self.multi_classes:
            multi = self._candidates(plan, rng, count, busy, "multi_drug_min_age")
            days = [self.visits.weekday_in(plan.first, plan.last, rng) for _ in multi]
            homes = {pid: self.visits.home(pid, day) for pid, day in zip(multi, days, strict=True)}
            # No visit elsewhere that month: one 薬効 from two places would be a 重複 too.
            plan.visits[:] = [v for v in plan.visits if homes.get(v.pid, v.facility) == v.facility]
            for pid, day in zip(multi, days, strict=True):
                self._multi(plan, pid, homes[pid], day, rng)
        self._not_found(plan, rng, busy)

    def _candidates(
        self, plan: Month, rng: random.Random, count: int, busy: set[int], age_key: str
    ) -> list[int]:
        """Up to ``count`` persons alive all month, of the minimum age, with one coverage
        valid all month and no stay or other plant."""
        people, w = self.people, self.people.world
        min_age = int(self.cfg.planted[age_key])
        chosen: list[int] = []
        alive = plan.alive.tolist()
        tries = 0
        while len(chosen) < count and tries < 50 * max(count, 1) and alive:
            tries += 1
            pid = alive[rng.randrange(len(alive))]
            if pid in busy or pid in w.frozen or w.age(pid, plan.first) < min_age:
                continue
            if w.death[pid] and w.death[pid] <= plan.last:
                continue
            cid = people.coverage(pid, plan.first)
            if not people.included(cid) or people.coverage(pid, plan.last) != cid:
                continue
            busy.add(pid)
            chosen.append(pid)
        return chosen

    def _add(self, case: Case) -> int:
        self.cases.append(case)
        return len(self.cases) - 1

    def _visit(self, plan: Month, pid: int, facility: int, efficacies: list[str], day: int,
               rng: random.Random, days: int, cid: int = -1) -> Visit:  # fmt: skip
        v = self.visits
        cond = self.by_efficacy.get(efficacies[0])
        dx = (Dx(self.catalog.disease(cond.icd10) if cond else "0000999", day, "1",
                 cond.name if cond else "不眠症", True),)  # fmt: skip
        share = v.generic_share[self.visits.municipality(pid, day)]
        visit = Visit(pid, facility, day, v.first_visit(pid, facility, day), dx,
                      rx=v.prescription(efficacies, share, rng, days), cid=cid)  # fmt: skip
        plan.visits.append(visit)
        return visit

    def _duplicate(self, plan: Month, pid: int, rng: random.Random) -> None:
        facilities = rng.sample(self.visits.facilities.medical, 3)
        cid = self.people.coverage(pid, plan.first)
        two_by_two = float(self.cfg.planted["duplicate_two_by_two"])
        if len(self.duplicate_classes) >= 2 and rng.random() < two_by_two:
            classes, variant = rng.sample(self.duplicate_classes, 2), "2x2"
            facilities = facilities[:2]
        else:
            classes, variant = [rng.choice(self.duplicate_classes)], "3x1"
        case = Case(DUPLICATE, iso_month(plan.first), pid, self.builder.tuple_of(cid),
                    facilities=tuple(facilities), efficacies=tuple(sorted(classes)),
                    variant=variant)  # fmt: skip
        index = self._add(case)
        for facility in facilities:
            day = self.visits.weekday_in(plan.first, plan.last, rng)
            visit = self._visit(plan, pid, facility, classes, day, rng, rng.choice((14, 28)))
            visit.plant = index

    def _multi(self, plan: Month, pid: int, home: int, day: int, rng: random.Random,
               ) -> None:  # fmt: skip
        classes = rng.sample(self.multi_classes, rng.randint(*self.multi_range))
        cid = self.people.coverage(pid, plan.first)
        case = Case(MULTI_DRUG, iso_month(plan.first), pid, self.builder.tuple_of(cid),
                    facilities=(home,), efficacies=tuple(sorted(classes)))  # fmt: skip
        self._visit(plan, pid, home, classes, day, rng, 28).plant = self._add(case)

    def _lost(self, plan: Month, pid: int, cid: int, day: int, rng: random.Random) -> None:
        w = self.people.world
        lost = w.c_lost[cid]
        # The clinic the person went to before the change, which still has the old card.
        facility = self.visits.home(pid, max(lost - 1, w.c_acquired[cid]))
        new = self.people.coverage(pid, day)
        case = Case(LOST, iso_month(plan.first), pid, self.builder.tuple_of(cid),
                    facilities=(facility,), lost_on=lost,
                    responsible=w.ins_number[w.c_ins[new]] if new >= 0 else "")  # fmt: skip
        index = self._add(case)
        episode = self.cfg.acute[rng.randrange(len(self.cfg.acute))]
        efficacies = [e for e in episode.efficacies if self.catalog.ingredients(e, None)][:1]
        v = self.visits
        dx = (Dx(self.catalog.disease(episode.icd10), day, "1", episode.name, True),)
        share = v.generic_share[self.visits.municipality(pid, day)]
        visit = Visit(pid, facility, day, v.first_visit(pid, facility, day), dx,
                      rx=v.prescription(efficacies, share, rng, 5) if efficacies else (),
                      cid=cid)  # fmt: skip
        plan.visits.append(visit)
        visit.plant = index

    def _not_found(self, plan: Month, rng: random.Random, busy: set[int]) -> None:
        """Bills every visit of a few (person, institution) pairs to a number never issued."""
        rate = float(self.cfg.planted["not_found_per_100k_claims"])
        before = self.not_found_total
        self.not_found_total += rate * len(plan.visits) / 100_000
        if plan.index == self.months - 1:
            self.not_found_total = max(self.not_found_total, self.at_least)
        count = int(self.not_found_total) - int(before)
        w = self.people.world
        for _ in range(count * 20):
            if count <= 0 or not plan.visits:
                break
            chosen = plan.visits[rng.randrange(len(plan.visits))]
            pid = chosen.pid
            if pid in busy or chosen.cid != -1 or chosen.plant >= 0:
                continue
            real = self.people.coverage(pid, chosen.day)
            if not self.people.included(real):
                continue
            number = self._never_issued(real, rng)
            self.builder.fakes.append(
                Insured(w.ins_number[w.c_ins[real]], w.c_sym[real], number, w.c_branch[real], real)
            )
            fake = -(len(self.builder.fakes) - 1) - 2
            case = Case(NOT_FOUND, iso_month(plan.first), pid, self.builder.tuple_of(fake),
                        facilities=(chosen.facility,))  # fmt: skip
            index = self._add(case)
            for visit in plan.visits:
                if visit.pid == pid and visit.facility == chosen.facility and visit.cid == -1:
                    visit.cid = fake
                    visit.plant = index
            busy.add(pid)
            count -= 1

    def _never_issued(self, cid: int, rng: random.Random) -> str:
        w = self.people.world
        width = max(len(w.c_num[cid]), 6)
        while True:
            number = str(rng.randrange(10 ** (width - 1), 10**width))
            if (w.c_ins[cid], w.c_sym[cid], number) not in self.issued:
                self.issued.add((w.c_ins[cid], w.c_sym[cid], number))
                return number
