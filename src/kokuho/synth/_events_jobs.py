"""Job changes: 国保 into employment (some filed so late that the coverages overlap:
資格重複, planted), employment into 国保 (退職), a new employer, a dependant hired.
"""

from __future__ import annotations

import datetime as dt

from kokuho.synth._events_base import Timeline
from kokuho.synth._events_rates import (
    BOUND,
    BOUND_APRIL,
    DEPENDANT_HIRED,
    INTO_EMPLOYMENT,
    JOB,
    JOB_COUNTERS,
    NEW_EMPLOYER,
    OUT_OF_EMPLOYMENT,
    RESOLVE,
    employee_hazards,
)
from kokuho.synth._world import KOKI, KOKUHO


class JobEvents(Timeline):
    """The handlers of job changes, drawn each month by thinning."""

    def _on_job_tick(self, day: int, _: int, __: int) -> None:
        """Draws this month's job changes by thinning: candidates at the bound rate, each
        kept with probability (its hazard / the bound)."""
        w = self.w
        rng = w.rng
        date = dt.date.fromordinal(day)
        april = date.month == 4
        bound = BOUND_APRIL if april else BOUND
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
                quit_, switch = employee_hazards(years)
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
        w.counts[JOB_COUNTERS[subtype]] += 1

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
