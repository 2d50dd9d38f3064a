"""What a 保健事業 list gives back: :class:`ProgrammeList` of :class:`Candidate` with their
:class:`Reason`. Split from ``_programmes``; a candidate's name never appears in its ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokuho.checkups._programme_interfaces import TreatmentState


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a person is on a list: ``criterion`` is a stable key (``hba1c``, ``egfr``, ``q6``
    …), ``text`` the Japanese explanation with the value and the threshold."""

    criterion: str
    text: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """One person on a list. ``unverified`` names the conditions that could not be checked
    for want of data (claims, care); ``name`` is filled only when the caller passed names and
    is left out of ``repr`` so that it is not printed or logged by accident."""

    person_key: str
    reasons: tuple[Reason, ...]
    unverified: tuple[str, ...] = ()
    treatment: TreatmentState | None = None
    action: str = ""
    source: str | None = None  # the checkup document (or questionnaire date) the values came from
    name: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ProgrammeList:
    """A target list: the programme, the year, the candidates in person-key order, notes for
    the staff (what could not be checked) and the unconfirmed rules it applied."""

    programme: str
    title: str
    fiscal_year: int
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        return [c.person_key for c in self.candidates]
