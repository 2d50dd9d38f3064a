"""The vocabulary of double-payment cases (二重払い, 国保法 §110-2(2)): a case, its years, its
steps, the evidence of a no-fault judgement, and the audit hook every person-level read and
write goes through."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, Protocol

from kokuho.store import has_control

#: The register's insurer kinds on the employee side (被用者保険: 協会けんぽ, 組合, 共済).
EMPLOYEE_KINDS: Final = frozenset({"kyokai", "kumiai", "kyosai"})

StepKind = Literal["loss", "judgement", "reduction", "refund_claim", "close"]
"""① 資格喪失, ② 無過失の判断 (or its opposite), ③ 減額賦課決定と還付, 還付請求, 終結."""

CaseStatus = Literal["open", "lost", "judged", "decided", "closed"]


class CaseError(ValueError):
    """A case operation refused as asked; nothing was written."""


class UnknownCase(CaseError):
    """No such case (or report, or person)."""


class NoNotice(CaseError):
    """A notice the case cannot give in its state: ``why`` is ``closed`` (終結), ``undecided``
    (no 減額賦課決定 yet) or ``nothing_overpaid`` (no 還付通知書 without 過誤納金)."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


def check_text(field: str, value: str) -> None:
    """Free text a step or a 報告徴収 records (a reason, the evidence's document and decider,
    an addressee, an answer, who records) holds no control character nor bidi control
    (``kokuho.store.has_control``): a line break would forge a line of a log or of the clerk's
    list, an RLO (U+202E) make a notice or a page read otherwise than what was recorded."""
    if has_control(value):
        raise CaseError(
            f"{field}: no control characters or bidi controls (U+061C, U+200E, U+200F, "
            "U+202A–U+202E, U+2066–U+2069)"
        )


class LeaseLost(CaseError):
    """A run held its case (or request) past the lease and another run took it over: the
    write that found it out was rolled back and the run stopped there (docs/boundary.md)."""


class CaseAudit(Protocol):
    """Where person-level reads and writes are recorded (the CLI and dashboard pass the
    service's hash-chained audit log): one call per operation, with every person it showed or
    changed."""

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a no-fault judgement rests on: the document (資格決定通知書, …) and the dates it
    shows, who decided and when."""

    document: str
    acquired_on: dt.date
    """資格取得日 on the document (must be the employee 取得日 of the case)."""
    decided_on: dt.date
    """資格決定日/確認日 on the document."""
    decided_by: str

    def as_json(self) -> dict[str, str]:
        return {
            "document": self.document,
            "acquired_on": self.acquired_on.isoformat(),
            "decided_on": self.decided_on.isoformat(),
            "decided_by": self.decided_by,
        }


@dataclass(frozen=True, slots=True)
class CaseYear:
    """One fiscal year touched by the overlap: the household charged, its 調定 and 収納
    when the case was opened, the months of overlap and the premium they carry."""

    fiscal_year: int
    household_id: str
    months: tuple[str, ...]
    charged: int
    paid: int
    premium_of_months: int
    limit: dt.date
    """The first day §110-2(1) bars a 賦課決定 for the year."""

    def barred(self, on: dt.date) -> bool:
        """An ordinary 減額賦課 decided on ``on`` is barred (only §110-2(2) can pass)."""
        return on >= self.limit

    def as_json(self) -> dict[str, Any]:
        return {
            "fiscal_year": self.fiscal_year,
            "household_id": self.household_id,
            "months": list(self.months),
            "charged": self.charged,
            "paid": self.paid,
            "premium_of_months": self.premium_of_months,
            "limit": self.limit.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseYear:
        return cls(
            int(data["fiscal_year"]),
            str(data["household_id"]),
            tuple(data["months"]),
            int(data["charged"]),
            int(data["paid"]),
            int(data["premium_of_months"]),
            dt.date.fromisoformat(data["limit"]),
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One recorded step; never edited, a later judgement names the one it supersedes."""

    step_id: int
    step: StepKind
    decided_on: dt.date
    recorded_at: dt.datetime
    recorded_by: str
    supersedes: int | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Case:
    """A 国保 coverage overlapping an employee coverage filed retroactively."""

    case_id: int
    municipality: str
    person_id: int
    kokuho_coverage_id: int
    employee_coverage_id: int
    employee_insurer: str
    employee_acquired_on: dt.date
    employee_decided_on: dt.date | None
    overlap_from: dt.date
    overlap_until: dt.date | None
    source: str
    opened_on: dt.date
    years: tuple[CaseYear, ...]
    steps: tuple[Step, ...] = field(default=())

    @property
    def months(self) -> int:
        """Months of overlap charged to 国保 (重複月数)."""
        return sum(len(y.months) for y in self.years)

    @property
    def premium_of_months(self) -> int:
        return sum(y.premium_of_months for y in self.years)

    def barred_years(self, on: dt.date) -> tuple[int, ...]:
        """The years an ordinary 減額賦課 decided on ``on`` can no longer reach."""
        return tuple(y.fiscal_year for y in self.years if y.barred(on))

    def as_of(self, day: dt.date) -> Case | None:
        """The case as it stood on ``day``: None if it was opened after it, else only the
        steps decided by then (a judgement superseded later is the one in force)."""
        if self.opened_on > day:
            return None
        return replace(self, steps=tuple(s for s in self.steps if s.decided_on <= day))

    def current(self, kind: StepKind) -> Step | None:
        """The step of ``kind`` in force: the latest one not superseded."""
        superseded = {s.supersedes for s in self.steps if s.supersedes is not None}
        found = [s for s in self.steps if s.step == kind and s.step_id not in superseded]
        return found[-1] if found else None

    @property
    def status(self) -> CaseStatus:
        if self.current("close") is not None:
            return "closed"
        for kind, status in (("reduction", "decided"), ("judgement", "judged"), ("loss", "lost")):
            if self.current(kind) is not None:  # type: ignore[arg-type]
                return status  # type: ignore[return-value]
        return "open"

    def summary(self, on: dt.date) -> dict[str, Any]:
        """The case as the list shows it (JSON-ready)."""
        return {
            "case_id": self.case_id,
            "municipality": self.municipality,
            "person_id": self.person_id,
            "employee_insurer": self.employee_insurer,
            "employee_acquired_on": self.employee_acquired_on.isoformat(),
            "employee_decided_on": (
                self.employee_decided_on.isoformat() if self.employee_decided_on else None
            ),
            "overlap_from": self.overlap_from.isoformat(),
            "overlap_until": self.overlap_until.isoformat() if self.overlap_until else None,
            "months": self.months,
            "charged": sum(y.charged for y in self.years),
            "paid": sum(y.paid for y in self.years),
            "premium_of_months": self.premium_of_months,
            "barred_years": list(self.barred_years(on)),
            "status": self.status,
            "source": self.source,
            "years": [y.as_json() for y in self.years],
        }


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)
