"""The values a month of visits is made of, and the レセ電 records built from them.

Visits, stays and prescriptions are plain values (synth/_claims_visits.py makes them); the
frozen records of ``kokuho.claims`` (傷病名 SY, 診療行為 SI, 医薬品 IY with its SH/CZ) repeat
a great deal between claims, so :class:`Records` builds each once and shares it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from kokuho.claims import Diagnosis, Drug, Procedure
from kokuho.synth._claims_catalog import EXTERNAL, INJECTION, ORAL, Product
from kokuho.synth._claims_config import Config, Fee

#: 診療識別 of the records written (記録条件仕様 別表; UNCONFIRMED codes live in the yaml's
#: fee block only as codes, these are the sections they are billed under).
_SECTION = {
    "first_visit": "11", "revisit": "12", "hospital_revisit": "12",
    "outpatient_management": "12", "disease_management": "13", "prescribing_inside": "25",
    "dispensing_inside": "24", "prescription_slip": "80", "tests": "60", "ward_day": "90",
    "imaging": "70", "ct": "70", "ward_care": "40", "ward_tests": "60",
}  # fmt: skip
OPERATION = "50"  # 診療識別 of the operations a stay names (fees not listed above)
_DRUG_SECTION = {ORAL: "21", EXTERNAL: "23", INJECTION: "33"}
BURDEN = "1"  # 負担区分: 医保単独


def drug_points(yen: float) -> int:
    """薬剤料 of one 剤 and day: 1 点 up to 15 円, then 1 点 per 10 円 or part of it."""
    return 1 if yen <= 15 else math.ceil((yen - 15) / 10) + 1


@dataclass(frozen=True, slots=True)
class Dx:
    """A 傷病名 of a visit: code, 診療開始日 (ordinal), 転帰区分, name, 主傷病."""

    code: str
    start: int
    outcome: str
    name: str
    primary: bool


@dataclass(frozen=True, slots=True)
class Rx:
    """One 処方 (剤): products and amounts (per day for 内服, the whole for 外用 and 注射),
    and the days supplied (1 for 外用 and 注射)."""

    route: str
    days: int
    items: tuple[tuple[Product, float], ...]


@dataclass(slots=True)
class Visit:
    """An outpatient visit; ``cid`` other than -1 bills that coverage (or planted number)
    instead of the one valid on the day."""

    pid: int
    facility: int
    day: int
    first: bool  # 初診
    dx: tuple[Dx, ...]
    management: bool = False  # 特定疾患療養管理料
    tests: bool = False
    imaging: bool = False
    ct: bool = False
    rx: tuple[Rx, ...] = ()
    cid: int = -1
    plant: int = -1  # the planted case the visit belongs to


@dataclass(slots=True)
class Stay:
    """An inpatient stay (or its part inside one month)."""

    pid: int
    facility: int
    admitted: int
    first: int
    last: int
    dx: tuple[Dx, ...]
    rx: tuple[Rx, ...]  # given daily
    operation: str = ""  # fee key of an operation on the second day


@dataclass
class Month:
    """The events of one service month (``first``…``last``: its days inside the period)."""

    index: int
    first: int
    last: int
    visits: list[Visit] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    alive: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class Records:
    """Builds the SY, SI and IY records of claims, each distinct one once."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sections = {key: _SECTION.get(key, OPERATION) for key in cfg.fees}
        #: the fees in the order a claim lists them (by 診療識別)
        self.fee_order = sorted(self.sections, key=lambda k: (self.sections[k], k))
        self._dx: dict[tuple[str, int, str, str, bool], Diagnosis] = {}
        self._procedures: dict[tuple[str, tuple[tuple[int, int], ...]], Procedure] = {}
        self._iy: dict[tuple[object, ...], tuple[list[Drug], int]] = {}
        self._dispensed: dict[tuple[object, ...], Drug] = {}
        self._decimal: dict[float, Decimal] = {}

    def new_month(self) -> None:
        """Forgets the 調剤 records of the month before (their dates never come again)."""
        self._dispensed = {}

    def amount(self, value: float) -> Decimal:
        found = self._decimal.get(value)
        if found is None:
            found = self._decimal[value] = (
                Decimal(int(value)) if value == int(value) else Decimal(str(value))
            )
        return found

    def diagnoses(self, dxs: list[Dx]) -> tuple[Diagnosis, ...]:
        seen: set[str] = set()
        result: list[Diagnosis] = []
        for dx in dxs:
            if dx.code in seen and dx.code != "0000999":
                continue
            seen.add(dx.code)
            primary = not result
            key = (dx.code, dx.start, dx.outcome, dx.name, primary)
            found = self._dx.get(key)
            if found is None:
                found = self._dx[key] = Diagnosis(
                    code=dx.code, start=dt.date.fromordinal(dx.start), outcome=dx.outcome,
                    name=dx.name if dx.code == "0000999" else "", primary=primary,
                )  # fmt: skip
            result.append(found)
        return tuple(result)

    @staticmethod
    def days(counts: dict[int, int]) -> tuple[int, ...]:
        days = [0] * 31
        for day, count in counts.items():
            days[day - 1] += count
        return tuple(days)

    def procedure(self, fee_key: str, counts: dict[int, int]) -> Procedure:
        key = (fee_key, tuple(counts.items()))
        found = self._procedures.get(key)
        if found is None:
            fee: Fee = self.cfg.fees[fee_key]
            found = self._procedures[key] = Procedure(
                self.sections[fee_key], BURDEN, fee.code, None, fee.points, sum(counts.values()),
                self.days(counts),
            )  # fmt: skip
        return found

    def drugs(self, rx: Rx, counts: dict[int, int], times: int) -> tuple[list[Drug], int]:
        """The IY records of one 剤 given on ``counts`` (day of month → 調剤単位), and
        their points."""
        key = (rx.route, rx.items, tuple(counts.items()), times)
        found = self._iy.get(key)
        if found is None:
            points = drug_points(sum(p.price * amount for p, amount in rx.items))
            days = self.days(counts)
            section = _DRUG_SECTION[rx.route]
            records = [
                Drug(code=p.code, amount=self.amount(amount), section=section, burden=BURDEN,
                     points=points if k == len(rx.items) - 1 else None, times=times, days=days)
                for k, (p, amount) in enumerate(rx.items)
            ]  # fmt: skip
            found = self._iy[key] = (records, points * times)
        return found

    def dispensed(
        self, code: str, amount: float, units: int, day: int, form: str, number: int
    ) -> Drug:
        """An IY of a 調剤 claim with its SH/CZ (処方・調剤 on the day of the visit)."""
        key = (code, amount, units, day, form, number)
        found = self._dispensed.get(key)
        if found is None:
            date = dt.date.fromordinal(day)
            found = self._dispensed[key] = Drug(
                code=code, amount=self.amount(amount), burden=BURDEN, dispensed_units=units,
                prescribed_on=date, dispensed_on=date, dosage_form=form, rx_number=number,
            )  # fmt: skip
        return found
