"""The interfaces through which the 保健事業 lists read claims and 介護 data, and their default.

The claims side answers :class:`TreatmentStatus` (糖尿病の治療状況), :class:`DentalVisits`,
:class:`Prescriptions` and :class:`ClaimsHistory`; the care side :class:`CareRecords`. Until
they are connected, :data:`NOT_CONNECTED` answers "unknown" (None) to every question and the
lists say what could not be checked. Split from ``_programmes``; imports nothing of kokuho.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal, Protocol

TreatmentState = Literal["treated", "interrupted", "untreated", "unknown"]
"""治療中, 治療中断, 未治療, or not known (no claims data)."""


class TreatmentStatus(Protocol):
    """Diabetes treatment of a person in a fiscal year, from claims (糖尿病の受診・処方):
    ``"treated"`` (治療中), ``"interrupted"`` (治療中断: treated before, no claim within the
    手引き's window), ``"untreated"`` (未治療) or ``"unknown"``."""

    def status(self, person_key: str, fiscal_year: int) -> TreatmentState: ...


class DentalVisits(Protocol):
    """Whether the person has a 歯科 claim with a visit between ``first`` and ``last``
    (inclusive); None when not known."""

    def visited_dentist(self, person_key: str, first: dt.date, last: dt.date) -> bool | None: ...


class Prescriptions(Protocol):
    """Prescriptions of the person in a fiscal year, from claims: the number of drugs
    (counted as the claims side defines for 多剤) and whether a 睡眠薬 was prescribed; None
    when not known."""

    def drug_count(self, person_key: str, fiscal_year: int) -> int | None: ...

    def sleeping_pills(self, person_key: str, fiscal_year: int) -> bool | None: ...


class ClaimsHistory(Protocol):
    """Whether the person has any claim (入院・外来・歯科) in the fiscal years ``first`` to
    ``last`` (inclusive); None when not known."""

    def has_claims(self, person_key: str, first: int, last: int) -> bool | None: ...


class CareRecords(Protocol):
    """What 介護 data says of a person; every answer None when not known (not connected).

    ``care_level``: the 区分 of the 認定 in force on ``on`` by name (``"要支援1"`` …
    ``"要介護5"``, ``"非該当"``), ``""`` when none. ``certified_between``: whether a
    要支援・要介護認定 was in force on any day from ``first`` to ``last``. ``used_services``:
    whether a 介護給付費 claim has a サービス提供年月 in those months."""

    def care_level(self, person_key: str, on: dt.date) -> str | None: ...

    def certified_between(self, person_key: str, first: dt.date, last: dt.date) -> bool | None: ...

    def used_services(self, person_key: str, first: dt.date, last: dt.date) -> bool | None: ...


class NotConnected:
    """The default of every interface: claims and care data are not connected, nothing is
    known. Lists built with it say so in their notes."""

    def status(self, person_key: str, fiscal_year: int) -> TreatmentState:
        return "unknown"

    def visited_dentist(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return None

    def drug_count(self, person_key: str, fiscal_year: int) -> int | None:
        return None

    def sleeping_pills(self, person_key: str, fiscal_year: int) -> bool | None:
        return None

    def has_claims(self, person_key: str, first: int, last: int) -> bool | None:
        return None

    def care_level(self, person_key: str, on: dt.date) -> str | None:
        return None

    def certified_between(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return None

    def used_services(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return None


NOT_CONNECTED: Final = NotConnected()
