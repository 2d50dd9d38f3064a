"""Visits and stays into レセプト: one 医科 claim per institution, insured-number tuple and
service month, and one 調剤 claim per pharmacy, tuple and 処方医療機関.

Points follow the fee table of ``data/claims_distributions.yaml`` (初診料 or 再診料 per day,
外来管理加算, 特定疾患療養管理料 at most twice a month, 処方箋料 or 処方料 + 調剤料, tests,
入院基本料 per day) and the drug-price rule of the 点数表: the 薬価 of one 剤 for one day
(内服) or one 調剤 (外用) of 15 円 or less is 1 点, above it 1 点 more per 10 円 or part of it.
Frozen values that repeat (傷病名, 診療行為, 医薬品 records) are built once and shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kokuho.claims import Claim, Drug, Procedure
from kokuho.synth._claims_catalog import EXTERNAL, INJECTION, ORAL
from kokuho.synth._claims_config import Config
from kokuho.synth._claims_people import (
    HOSPITAL,
    PHARMACY,
    U_PHARMACY,
    U_PHARMACY_AWAY,
    Facilities,
    People,
)
from kokuho.synth._claims_records import Dx, Month, Records, Rx, Stay, Visit, drug_points
from kokuho.synth._world import HIGH, KOKI, KOKUHO, school_entry

SHAHO, KOKUHOREN = "1", "2"  # 審査支払機関: 社会保険診療報酬支払基金, 国民健康保険団体連合会


@dataclass(frozen=True, slots=True)
class Insured:
    """The insured-number tuple a claim is billed to, and the coverage it came from."""

    insurer: str
    symbol: str
    number: str
    branch: str
    cid: int  # the coverage (for 種別 and 負担割合)


@dataclass(frozen=True, slots=True)
class _Head:
    inpatient_type: str
    outpatient_type: str
    name: str
    kana: str
    sex: int
    birth: dt.date
    benefit_ratio: str
    copay: int  # 負担割合 (%)
    reviewer: str


@dataclass
class Built:
    """A claim and where it goes: facility, 審査支払機関, and the plant it belongs to."""

    facility: int
    reviewer: str
    claim: Claim
    billing: int  # 請求年月 as year * 12 + month - 1
    first_day: int  # the earliest day of service (ordinal)
    plant: int = -1


@dataclass
class _Group:
    pid: int
    tuple_: Insured
    visits: list[Visit] = field(default_factory=list)
    stay: Stay | None = None
    plant: int = -1


class Builder:
    def __init__(self, people: People, cfg: Config, facilities: Facilities) -> None:
        self.people = people
        self.cfg = cfg
        self.facilities = facilities
        self.fakes: list[Insured] = []  # planted never-issued numbers: cid -(k + 2)
        #: (facility, 審査支払機関) → (請求年月, レセプト番号) of the next claim; set by the writer.
        self.assign: Callable[[int, str], tuple[int, int]] = lambda facility, reviewer: (0, 0)
        #: quantities (薬価基準 units) on each side of the generic share
        self.generic_quantity = 0.0
        self.originator_quantity = 0.0
        self.records = Records(cfg)
        self._heads: dict[tuple[int, int], _Head] = {}
        self._persons: dict[int, tuple[str, str, dt.date]] = {}
        kinds = cfg.receipt_types
        self._medical_digit = str(kinds["medical"])
        self._pharmacy_digit = str(kinds["pharmacy"])
        self._base = 0  # ordinal of the day before the month's first: day of month = d - base
        forms = cfg.receipt_types
        self._forms = {ORAL: str(forms["dosage_form_oral"]),
                       EXTERNAL: str(forms["dosage_form_external"]),
                       INJECTION: str(forms["dosage_form_injection"])}  # fmt: skip

    # -- tuples -------------------------------------------------------------------------------
    def tuple_of(self, cid: int) -> Insured:
        if cid <= -2:
            return self.fakes[-cid - 2]
        w = self.people.world
        return Insured(w.ins_number[w.c_ins[cid]], w.c_sym[cid], w.c_num[cid], w.c_branch[cid], cid)

    def cid_of(self, visit_cid: int, pid: int, day: int) -> int:
        return visit_cid if visit_cid != -1 else self.people.coverage(pid, day)

    # -- the month -------------------------------------------------------------------------------
    def month(self, plan: Month) -> list[Built]:
        """The claims of a month."""
        medical: dict[tuple[int, int], _Group] = {}
        pharmacy: dict[tuple[int, int, int], _Group] = {}
        for stay in plan.stays:
            for lo, hi, cid in self._spans(stay.pid, stay.first, stay.last):
                if not self.people.included(cid):
                    continue
                key = (stay.facility, cid)
                part = Stay(stay.pid, stay.facility, stay.admitted, lo, hi, stay.dx, stay.rx,
                            stay.operation)  # fmt: skip
                medical[key] = _Group(stay.pid, self.tuple_of(cid), stay=part)
        for visit in plan.visits:
            cid = self.cid_of(visit.cid, visit.pid, visit.day)
            if cid == -1 or not self.people.included(cid if cid >= 0 else self.fakes[-cid - 2].cid):
                continue  # not insured that day, or by a scheme whose claims are not written
            plant = visit.plant
            key = (visit.facility, cid)
            group = medical.get(key)
            if group is None:
                group = medical[key] = _Group(visit.pid, self.tuple_of(cid))
            group.visits.append(visit)
            if plant >= 0:
                group.plant = plant
            facility = self.facilities.items[visit.facility]
            if visit.rx and facility.outside:
                store = self._pharmacy(visit.pid, visit.facility)
                pkey = (store, cid, visit.facility)
                pgroup = pharmacy.get(pkey)
                if pgroup is None:
                    pgroup = pharmacy[pkey] = _Group(visit.pid, group.tuple_)
                pgroup.visits.append(visit)
                if plant >= 0:
                    pgroup.plant = plant
        month = dt.date.fromordinal(plan.first).replace(day=1)
        self._base = month.toordinal() - 1
        self._heads = {}  # 種別 and 負担割合 change only on the first of a month
        self.records.new_month()
        built = [self._medical(f, g, month) for (f, _), g in medical.items()]
        built += [self._dispensed(s, p, g, month) for (s, _, p), g in pharmacy.items()]
        return built

    def _spans(self, pid: int, first: int, last: int) -> list[tuple[int, int, int]]:
        """[first, last] cut where the valid coverage changes."""
        spans: list[tuple[int, int, int]] = []
        day = first
        while day <= last:
            cid = self.people.coverage(pid, day)
            end = day
            while end < last and self.people.coverage(pid, end + 1) == cid:
                end += 1
            if cid >= 0:
                spans.append((day, end, cid))
            day = end + 1
        return spans

    def _pharmacy(self, pid: int, prescriber: int) -> int:
        people = self.people
        near = people.u[U_PHARMACY_AWAY][pid] < self.cfg.pharmacy_same_municipality
        facility = self.facilities.items[prescriber]
        place = facility.municipality if near else people.world.h_muni[people.world.hh[pid]]
        return self.facilities.pick(PHARMACY, place, people.u[U_PHARMACY][pid])

    # -- claim heads ----------------------------------------------------------------------------
    def _head(self, pid: int, t: Insured, day: int) -> _Head:
        """What a claim says of its patient in the month (種別 and 負担割合 change on the
        first of a month only, so one head serves every claim of the person's month)."""
        key = (pid, t.cid)
        found = self._heads.get(key)
        if found is None:
            found = self._heads[key] = self._new_head(pid, t, day)
        return found

    def _new_head(self, pid: int, t: Insured, day: int) -> _Head:
        w = self.people.world
        cid = t.cid
        scheme = w.ins_kind[w.c_ins[cid]]
        forms = self.cfg.receipt_types
        if scheme == KOKI or w.is_elderly(pid, day):
            who = forms["elderly_high" if w.income[pid] == HIGH else "elderly"]
        elif day < school_entry(w.birth[pid]):
            who = forms["preschool"]
        else:
            who = forms["self" if w.c_rel[cid] == 1 else "family"]
        person = self._persons.get(pid)
        if person is None:
            person = self._persons[pid] = (
                w.name_kanji(pid), w.name_kana(pid), dt.date.fromordinal(w.birth[pid])
            )  # fmt: skip
        copay = int(w.copay(pid, day, scheme)[0])
        scheme_digit = str(forms["koki" if scheme == KOKI else "employee_or_kokuho"])
        return _Head(
            # レセプト種別 without its first digit (点数表): 保険 + 公費なし + the patient
            inpatient_type=f"{scheme_digit}1{who[0]}",
            outpatient_type=f"{scheme_digit}1{who[1]}",
            name=person[0],
            kana=person[1],
            sex=w.sex[pid],
            birth=person[2],
            benefit_ratio=str(100 - copay) if scheme == KOKUHO else "",
            copay=copay,
            reviewer=KOKUHOREN if scheme in (KOKUHO, KOKI) else SHAHO,
        )

    def _claim(self, facility: int, head: _Head, receipt_type: str, t: Insured, month: dt.date,
               total: int, days: int, **body: Any) -> tuple[Claim, int]:  # fmt: skip
        billing, number = self.assign(facility, head.reviewer)
        return Claim(
            receipt_number=number,
            receipt_type=receipt_type,
            service_month=month,
            name=head.name,
            sex=head.sex,
            birth_date=head.birth,
            insurer_number=t.insurer,
            symbol=t.symbol,
            number=t.number,
            branch=t.branch,
            benefit_ratio=head.benefit_ratio,
            days=days,
            total_points=total,
            # 一部負担金: 点数 × 10 円 × 負担割合, rounded to 10 円 (四捨五入)
            copayment=int(total * head.copay / 100 + 0.5) * 10,
            kana_name=head.kana,
            **body,
        ), billing

    # -- records --------------------------------------------------------------------------------
    def _iy(self, rx: Rx, counts: dict[int, int], times: int) -> tuple[list[Drug], int]:
        self._count(rx, sum(counts.values()))
        return self.records.drugs(rx, counts, times)

    def _count(self, rx: Rx, units: int) -> None:
        for product, amount in rx.items:
            if product.generic:
                self.generic_quantity += amount * units
            elif product.originator:
                self.originator_quantity += amount * units

    # -- 医科 ------------------------------------------------------------------------------------
    def _medical(self, facility_index: int, group: _Group, month: dt.date) -> Built:
        facility = self.facilities.items[facility_index]
        hospital = facility.kind == HOSPITAL
        stay = group.stay
        first_day = stay.first if stay is not None else min(v.day for v in group.visits)
        head = self._head(group.pid, group.tuple_, first_day)
        dxs: list[Dx] = []
        fees: dict[str, dict[int, int]] = {}
        drugs: list[Drug] = []
        total = 0
        base = self._base
        if stay is not None:
            dxs += stay.dx
            counts = {d - base: 1 for d in range(stay.first, stay.last + 1)}
            fees["ward_day"] = fees["ward_care"] = counts
            tests = {d - base: 1 for d in range(stay.first, stay.last + 1)
                     if (d - stay.admitted) % 7 in (0, 3)}  # fmt: skip
            if tests:
                fees["ward_tests"] = tests
            if stay.operation and stay.first <= stay.admitted + 1 <= stay.last:
                fees[stay.operation] = {stay.admitted + 1 - base: 1}
            for rx in stay.rx:
                records, points = self._iy(rx, counts, len(counts))
                drugs += records
                total += points
            days_count = stay.last - stay.first + 1
        else:
            days_count = len({v.day for v in group.visits})
        managed = 0
        revisit = "hospital_revisit" if hospital else "revisit"
        for visit in group.visits:
            day = visit.day - base
            dxs += visit.dx
            keys = ["first_visit"] if visit.first else (
                [revisit] if hospital else [revisit, "outpatient_management"])  # fmt: skip
            if visit.management and not visit.first and not hospital and managed < 2:
                keys.append("disease_management")
                managed += 1
            if visit.tests:
                keys.append("tests")
            if visit.imaging:
                keys.append("imaging")
            if visit.ct:
                keys.append("ct")
            if visit.rx:
                if facility.outside:
                    keys.append("prescription_slip")
                else:
                    keys += ("prescribing_inside", "dispensing_inside")
                    for rx in visit.rx:
                        units = rx.days if rx.route == ORAL else 1
                        records, points = self._iy(rx, {day: units}, units)
                        drugs += records
                        total += points
            for key in keys:
                on = fees.get(key)
                if on is None:
                    fees[key] = {day: 1}
                else:
                    on[day] = on.get(day, 0) + 1
        procedures: list[Procedure] = []
        for key in self.records.fee_order:
            if key in fees:
                record = self.records.procedure(key, fees[key])
                procedures.append(record)
                total += (record.points or 0) * record.times
        kind = head.inpatient_type if stay is not None else head.outpatient_type
        claim, billing = self._claim(
            facility_index, head, self._medical_digit + kind, group.tuple_, month, total,
            days_count,
            admission_date=dt.date.fromordinal(stay.admitted) if stay is not None else None,
            diagnoses=self.records.diagnoses(dxs), procedures=tuple(procedures), drugs=tuple(drugs),
        )  # fmt: skip
        return Built(facility_index, head.reviewer, claim, billing, first_day, group.plant)

    # -- 調剤 ------------------------------------------------------------------------------------
    def _dispensed(self, store: int, prescriber: int, group: _Group, month: dt.date) -> Built:
        cfg = self.cfg
        first_day = min(v.day for v in group.visits)
        head = self._head(group.pid, group.tuple_, first_day)
        facility = self.facilities.items[prescriber]
        drugs: list[Drug] = []
        total = 0
        received: set[int] = set()
        number = 0
        for visit in group.visits:
            if not visit.rx:
                continue
            received.add(visit.day)
            for rx in visit.rx:
                number += 1
                units = rx.days if rx.route == ORAL else 1
                yen = sum(p.price * amount for p, amount in rx.items)
                self._count(rx, units)
                fee = cfg.dispensing_points(units) if rx.route == ORAL else cfg.pharmacy_external
                total += drug_points(yen) * units + fee
                form = self._forms.get(rx.route, self._forms[ORAL])
                drugs += [self.records.dispensed(p.code, amount, units, visit.day, form, number)
                          for p, amount in rx.items]  # fmt: skip
        total += len(received) * (cfg.pharmacy_basic + cfg.pharmacy_management)
        claim, billing = self._claim(
            store, head, self._pharmacy_digit + head.outpatient_type, group.tuple_, month, total,
            len(received), prescriber=facility.code,
            prescriber_prefecture=facility.prefecture, drugs=tuple(drugs),
        )  # fmt: skip
        return Built(store, head.reviewer, claim, billing, first_day, group.plant)
