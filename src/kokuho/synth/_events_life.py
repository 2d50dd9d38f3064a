"""The events of a life that change coverage: death, birth, moves, school entry, 70 and 75,
限度額/特定疾病 changes, and the 2022 reform of 後期高齢者医療 (2割負担).
"""

from __future__ import annotations

import bisect

from kokuho.synth._events_base import Timeline
from kokuho.synth._events_rates import BEREAVED
from kokuho.synth._world import GENERAL_II, KOKI, KOKUHO, next_month


class LifeEvents(Timeline):
    """The handlers of the events of a life (all but jobs)."""

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
