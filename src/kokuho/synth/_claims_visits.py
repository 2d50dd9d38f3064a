"""The visits of one service month: regular visits for chronic conditions, acute episodes and
inpatient stays, each with its 傷病名 and prescriptions.

A month is decided column-wise first (who is alive and insured, which conditions are active,
whose regular visit is due, who falls ill, who is admitted), then each event is built in
Python. Three rules keep the 重複処方 the indicators find to the planted ones: a person with
inpatient days in a month has no outpatient visit that month; each chronic condition is seen
at one institution and each 薬効 treats one chronic condition only; and a person's one acute
episode of the month goes to one institution, with 薬効 no chronic condition uses
(``_claims_config`` checks both). So no 薬効 comes from two institutions in a month.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random

import numpy as np
import numpy.typing as npt

from kokuho.synth._claims_catalog import EXTERNAL, INJECTION, ORAL, Catalog, Ingredient, Product
from kokuho.synth._claims_config import CHRONIC, Config
from kokuho.synth._claims_people import (
    CLINIC,
    HOSPITAL,
    U_HOME,
    U_HOME_HOSPITAL,
    U_INTERVAL,
    U_PHASE,
    U_SINCE,
    Facilities,
    People,
)
from kokuho.synth._claims_records import Dx, Month, Rx, Stay, Visit

#: Chronic conditions are numbered: hypertension, diabetes, dyslipidaemia, then the other ones.
OTHER = 3  # + index of the other chronic condition
#: How long after a visit the next one at the same institution is still a 再診.
REVISIT_DAYS = 90


def _by_age(cfg: Config, values: tuple[float, ...]) -> npt.NDArray[np.float64]:
    """An age table as an array indexed by age 0–120."""
    return np.array(
        [values[max(0, bisect.bisect_right(cfg.ages, a) - 1)] for a in range(121)],
        dtype=np.float64,
    )


class Visits:
    """Generates months one after the other (stays run on into the next month)."""

    def __init__(
        self, people: People, cfg: Config, catalog: Catalog, facilities: Facilities, seed: int
    ) -> None:
        self.people, self.cfg, self.catalog = people, cfg, catalog
        self.facilities, self.seed = facilities, seed
        w = people.world
        noise = np.random.default_rng(people.key ^ 0x5EED).standard_normal(
            len(w.prefecture.municipalities)
        )
        share = cfg.generic_base + cfg.generic_spread * noise
        #: 後発医薬品 chosen where both exist, by the patient's municipality
        self.generic_share: list[float] = np.clip(share, cfg.generic_low, cfg.generic_high).tolist()
        self.conditions = [cfg.chronic[name] for name in CHRONIC] + list(cfg.other_chronic)
        self.acute_weights = list(itertools.accumulate(c.weight for c in cfg.acute))
        self.inpatient_weights = list(itertools.accumulate(c.weight for c in cfg.inpatient))
        self.acute_visits = list(itertools.accumulate(cfg.acute_visits))
        self.acute_p = _by_age(cfg, cfg.acute_monthly.values)
        self.admit_p = _by_age(cfg, cfg.admission_monthly.values)
        self._regimens: dict[tuple[int, int], tuple[Rx, ...]] = {}
        self._supplied: dict[tuple[int, int, int], tuple[Rx, ...]] = {}
        self._dx: dict[tuple[int, int, bool], Dx] = {}
        self._since: dict[tuple[int, int], int] = {}
        self._place: dict[int, int] = {}  # the month's municipality of each person
        self.last_seen: dict[tuple[int, int], int] = {}
        self.ongoing: dict[int, Stay] = {}  # stays that continue into the next month
        pids = np.arange(people.n, dtype=np.int64)
        bp, treated, _, lipid = people.conditions(w.start, pids)
        self._active_at_start = np.column_stack(
            [bp, treated | people.interrupters, lipid, people.other_chronic(w.start, pids)]
        )

    # -- drugs ----------------------------------------------------------------------------------
    def product(self, ingredient: Ingredient, share: float, rng: random.Random) -> Product:
        if ingredient.has_choice:
            pool = ingredient.generics if rng.random() < share else ingredient.originators
        else:
            pool = ingredient.generics or ingredient.originators or ingredient.others
        return pool[rng.randrange(len(pool))]

    def prescription(
        self, efficacies: list[str], share: float, rng: random.Random, days: int
    ) -> tuple[Rx, ...]:
        """One 剤 of the oral drugs of ``efficacies`` (one ingredient each) for ``days``
        days, and one 処方 per external or self-injected drug (its whole quantity)."""
        oral: list[tuple[Product, float]] = []
        others: list[Rx] = []
        for efficacy in efficacies:
            for route in (ORAL, EXTERNAL, INJECTION):
                found = self.catalog.ingredients(efficacy, route)
                if not found:
                    continue
                product = self.product(found[rng.randrange(len(found))], share, rng)
                if route == ORAL:
                    oral.append((product, float(rng.choice(self.cfg.daily))))
                else:
                    others.append(Rx(route, 1, ((product, self.whole_amount(product, rng)),)))
                break
        rx = [Rx(ORAL, days, tuple(oral))] if oral else []
        return (*rx, *others)

    def whole_amount(self, product: Product, rng: random.Random) -> float:
        """The quantity of an external or injected drug per 処方."""
        if product.unit == "枚":
            return float(rng.choice(self.cfg.external_amount))
        if product.unit in ("g", "ｇ", "mL", "ｍＬ", "ml"):
            return float(rng.choice((5, 10, 20)))
        return float(rng.choice((1, 1, 2)))

    def regimen(self, pid: int, condition: int, days: int) -> tuple[Rx, ...]:
        """The person's drugs for a chronic condition, chosen once and kept, supplied for
        ``days`` days."""
        key = (pid, condition, days)
        found = self._supplied.get(key)
        if found is not None:
            return found
        drugs = self._regimens.get((pid, condition))
        if drugs is None:
            drugs = self._regimen(pid, condition)
        found = tuple(Rx(r.route, days if r.route == ORAL else 1, r.items) for r in drugs)
        self._supplied[key] = found
        return found

    def _regimen(self, pid: int, condition: int) -> tuple[Rx, ...]:
        rng = self.people.rng(pid, 1, condition)
        cond = self.conditions[condition]
        pairs = [(e, w) for e, w in zip(cond.efficacies, cond.efficacy_weights, strict=True)
                 if self.catalog.ingredients(e, None)]  # fmt: skip
        chosen: list[str] = []
        if pairs:
            chosen.append(rng.choices([e for e, _ in pairs], [w for _, w in pairs])[0])
            rest = [e for e, _ in pairs if e not in chosen]
            if rest and (rng.random() < cond.second_drug or condition >= OTHER):
                chosen.append(rest[rng.randrange(len(rest))])
        # the generic or the originator is chosen once, where the person lives when it starts
        share = self.generic_share[self.municipality(pid, self.people.world.start)]
        found = self.prescription(chosen, share, rng, 0)
        self._regimens[(pid, condition)] = found
        return found

    def diagnosis(self, pid: int, condition: int, day: int, primary: bool) -> Dx:
        """The 傷病名 of a chronic condition; its 診療開始日 is years back when the condition
        was there at the start, else the first visit."""
        key = (pid, condition, primary)
        found = self._dx.get(key)
        if found is None:
            since = self._since.get((pid, condition))
            if since is None:
                w = self.people.world
                if self._active_at_start[pid, condition]:
                    years_back = 60 + int(self.people.u[U_SINCE][pid] * 3650)
                    since = min(max(w.birth[pid] + 20 * 365, w.start - years_back), w.start)
                else:
                    since = day
                self._since[(pid, condition)] = since
            cond = self.conditions[condition]
            found = Dx(self.catalog.disease(cond.icd10), since, "1", cond.name, primary)
            self._dx[key] = found
        return found

    # -- places and days -----------------------------------------------------------------------
    def municipality(self, pid: int, day: int) -> int:
        found = self._place.get(pid)
        if found is None:
            found = self._place[pid] = self.people.municipality(pid, day)
        return found

    def home(self, pid: int, day: int) -> int:
        """The home clinic (or hospital) for hypertension, diabetes and dyslipidaemia."""
        people = self.people
        hospital = people.u[U_HOME_HOSPITAL][pid] < self.cfg.chronic_hospital_share
        kind = HOSPITAL if hospital else CLINIC
        return self.facilities.pick(kind, self.municipality(pid, day), people.u[U_HOME][pid])

    @staticmethod
    def weekday_in(lo: int, hi: int, rng: random.Random) -> int:
        """A day in [lo, hi], moved off a Sunday when the range allows it."""
        day = rng.randint(lo, hi)
        if day % 7 == 0:  # date.fromordinal(day).weekday() == 6
            day = day + 1 if day < hi else day - 1 if day > lo else day
        return day

    def first_visit(self, pid: int, facility: int, day: int) -> bool:
        """初診 unless the person was seen there in the last REVISIT_DAYS days."""
        key = (pid, facility)
        last = self.last_seen.get(key)
        self.last_seen[key] = day
        return last is None or day - last > REVISIT_DAYS

    def examined(self, visit: Visit, rng: random.Random) -> Visit:
        """A hospital's outpatient visit brings more tests and imaging."""
        if self.facilities.items[visit.facility].kind == HOSPITAL:
            cfg = self.cfg
            visit.tests = visit.tests or rng.random() < cfg.hospital_tests
            if rng.random() < cfg.hospital_imaging:
                visit.ct = rng.random() < cfg.hospital_ct
                visit.imaging = not visit.ct
        return visit

    # -- the month ------------------------------------------------------------------------------
    def month(self, index: int, first: int, last: int) -> Month:
        people, cfg = self.people, self.cfg
        w = people.world
        rng = random.Random(f"claims-{self.seed}-{dt.date.fromordinal(first):%Y-%m}")
        self._place = {}
        plan = Month(index, first, last)
        alive = np.flatnonzero((people.birth <= last) & (people.death >= first))
        alive = np.intersect1d(alive, people.covered(first, last))
        plan.alive = alive
        mid = (first + last) // 2
        ages = np.clip(people.ages(mid, alive), 0, 120)
        bp, treated, _, lipid = people.conditions(mid, alive)
        interrupted = people.interrupters[alive] & (index < people.treated_months[alive])
        flags = np.column_stack([bp, treated | interrupted, lipid,
                                 people.other_chronic(mid, alive)])  # fmt: skip
        interval = np.where(people.u_array(U_INTERVAL, alive) < cfg.monthly_share, 1, 2)
        phase = (people.u_array(U_PHASE, alive) * 2).astype(np.int64)
        u = np.random.default_rng([people.key & 0xFFFFFFFF, index]).random((3, len(alive)))
        due = flags.any(axis=1) & ((index + phase) % interval == 0) & (u[0] >= cfg.missed)
        acute = u[1] < self.acute_p[ages]
        admitted = u[2] < self.admit_p[ages]
        dying = (people.death[alive] <= last + 20) & (people.death[alive] >= first)
        inpatient = self._stays(plan, alive, admitted, dying, ages.tolist(), rng)
        outpatient = (due | acute) & ~np.isin(alive, np.array(sorted(inpatient), dtype=np.int64))
        for n in np.flatnonzero(outpatient).tolist():
            pid = int(alive[n])
            lo = max(first, w.birth[pid], w.start)
            hi = min(last, w.death[pid] or last)
            if lo > hi:
                continue
            if due[n]:
                active = np.flatnonzero(flags[n]).tolist()
                self._chronic(plan, pid, active, int(interval[n]), lo, hi, rng)
            if acute[n]:
                self._acute(plan, pid, lo, hi, rng)
        return plan

    def _chronic(
        self, plan: Month, pid: int, active: list[int], interval: int, lo: int, hi: int,
        rng: random.Random,
    ) -> None:  # fmt: skip
        """The regular visits: hypertension, diabetes and dyslipidaemia together at the home
        clinic, each other chronic condition at a clinic of its own (整形外科, 眼科 …)."""
        days = rng.choice((28, 30) if interval == 1 else (56, 60))
        main = [c for c in active if c < OTHER]
        groups = [main] if main else []
        groups += [[c] for c in active if c >= OTHER]
        for group in groups:
            day = self.weekday_in(lo, hi, rng)
            if group is main:
                facility = self.home(pid, day)
            else:
                u = self.people.u_specialist[group[0] - OTHER][pid]
                facility = self.facilities.pick(CLINIC, self.municipality(pid, day), u)
            dx = tuple(self.diagnosis(pid, c, day, k == 0) for k, c in enumerate(group))
            rx = tuple(r for c in group for r in self.regimen(pid, c, days))
            visit = Visit(
                pid,
                facility,
                day,
                self.first_visit(pid, facility, day),
                dx,
                management=group is main,
                tests=rng.random() < self.cfg.tests,
                rx=rx,
            )
            plan.visits.append(self.examined(visit, rng))  # fmt: skip

    def _acute(self, plan: Month, pid: int, lo: int, hi: int, rng: random.Random) -> None:
        cfg = self.cfg
        weights = self.acute_weights
        episode = cfg.acute[min(bisect.bisect(weights, rng.random() * weights[-1]),
                                len(weights) - 1)]  # fmt: skip
        municipality = self.municipality(pid, lo)
        u = rng.random()
        if u < cfg.acute_hospital_share:
            facility = self.facilities.pick(HOSPITAL, municipality, rng.random())
        elif u < 0.55:
            facility = self.home(pid, lo)
        else:
            facility = self.facilities.pick(CLINIC, municipality, rng.random())
        count = 1 + bisect.bisect(self.acute_visits, rng.random())
        day = self.weekday_in(lo, hi, rng)
        dx = (Dx(self.catalog.disease(episode.icd10), day,
                 "2" if rng.random() < 0.5 else "1", episode.name, True),)  # fmt: skip
        rx: tuple[Rx, ...] = ()
        if rng.random() < cfg.acute_prescribed and episode.efficacies:
            k = min(len(episode.efficacies), 1 + int(rng.random() * 3))
            chosen = rng.sample(list(episode.efficacies), k)
            rx = self.prescription(chosen, self.generic_share[municipality], rng,
                                   rng.choice(cfg.acute_days))  # fmt: skip
        for visit in range(count):
            first = visit == 0
            plan.visits.append(
                self.examined(
                    Visit(pid, facility, day, self.first_visit(pid, facility, day), dx,
                          tests=first and rng.random() < cfg.acute_tests,
                          imaging=first and rng.random() < cfg.acute_imaging,
                          rx=rx if first else ()), rng)
            )  # fmt: skip
            day += rng.randint(2, 7)
            if day > hi:
                break

    # -- inpatient stays ------------------------------------------------------------------------
    def _stays(
        self, plan: Month, alive: npt.NDArray[np.int64], admitted: npt.NDArray[np.bool_],
        dying: npt.NDArray[np.bool_], ages: list[int], rng: random.Random,
    ) -> set[int]:  # fmt: skip
        """Continues last month's stays and starts this month's (among them most of the
        stays that end in death); returns who has inpatient days in the month."""
        people, cfg = self.people, self.cfg
        w = people.world
        first, last = plan.first, plan.last
        carried, self.ongoing = self.ongoing, {}
        for stay in carried.values():
            self._part(plan, stay, first, last)
        u = np.random.default_rng([people.key & 0xFFFF, plan.index]).random(len(alive))
        starts = admitted | (dying & (u < cfg.died_in_hospital))
        for n in np.flatnonzero(starts).tolist():
            pid = int(alive[n])
            if pid in carried:
                continue
            death = w.death[pid]
            length = min(3 + int(rng.expovariate(1.0 / cfg.stay_mean.value(ages[n]))),
                         cfg.stay_max)  # fmt: skip
            if death and first <= death <= last + 20 and not admitted[n]:
                begin = max(first, death - length + 1, w.birth[pid])  # the stay before dying
            else:
                begin = rng.randint(max(first, w.birth[pid]), last)
            end = min(begin + length - 1, death or w.last, w.last)
            if begin > end:
                continue
            facility = self.facilities.pick(HOSPITAL, self.municipality(pid, begin), rng.random())
            weights = self.inpatient_weights
            cond = cfg.inpatient[min(bisect.bisect(weights, rng.random() * weights[-1]),
                                     len(weights) - 1)]  # fmt: skip
            dx = [Dx(self.catalog.disease(cond.icd10), begin, "1", cond.name, True)]
            rx: list[Rx] = []
            for c in range(len(self.conditions)):
                if (pid, c) in self._regimens:
                    dx.append(self.diagnosis(pid, c, begin, False))
                    rx += [r for r in self._regimens[(pid, c)] if r.route == ORAL]
            share = self.generic_share[self.municipality(pid, begin)]
            for efficacy in cfg.inpatient_efficacies[: 1 + int(rng.random() * 2)]:
                for route in (INJECTION, ORAL):
                    found = self.catalog.ingredients(efficacy, route)
                    if found:
                        product = self.product(found[rng.randrange(len(found))], share, rng)
                        rx.append(Rx(route, 1, ((product, 1.0),)))
                        break
            stay = Stay(pid, facility, begin, begin, end, tuple(dx), tuple(rx), cond.operation)
            self._part(plan, stay, first, last)
        return {stay.pid for stay in plan.stays}

    def _part(self, plan: Month, stay: Stay, first: int, last: int) -> None:
        lo, hi = max(stay.first, first), min(stay.last, last)
        if lo <= hi:
            plan.stays.append(
                Stay(stay.pid, stay.facility, stay.admitted, lo, hi, stay.dx, stay.rx,
                     stay.operation)
            )  # fmt: skip
        if stay.last > last:
            self.ongoing[stay.pid] = stay
