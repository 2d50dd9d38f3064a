"""The provision workflow's states, transitions, errors and audit hook (docs/provision.md §5).

States (状態)::

    applied ──review──▶ approved | conditional | rejected
    approved, conditional ──extract──▶ provided ──extract──▶ provided (until the term ends)
    approved, conditional, provided ──revoked by a reviewer──▶ revoked (承認取消)
    approved, conditional, provided, revoked ──deletion confirmed──▶ deleted
    provided, revoked, deleted ──公表物確認──▶ (unchanged; the verdict is recorded)

``rejected`` and ``deleted`` are final. A step refused in any state changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

APPLIED: Final = "applied"
APPROVED: Final = "approved"
CONDITIONAL: Final = "conditional"
REJECTED: Final = "rejected"
PROVIDED: Final = "provided"
DELETED: Final = "deleted"
#: 承認取消: a reviewer withdrew the approval; no extract follows, the deletion still does.
REVOKED: Final = "revoked"
STATES: Final = (APPLIED, APPROVED, CONDITIONAL, REJECTED, PROVIDED, REVOKED, DELETED)
#: The states' official-style names for the dashboard.
STATE_TITLES: Final = {
    APPLIED: "申出受付", APPROVED: "承認", CONDITIONAL: "条件付承認", REJECTED: "不承認",
    PROVIDED: "提供済", REVOKED: "承認取消", DELETED: "消去確認済",
}  # fmt: skip
#: Review decisions and the state each leads to.
DECISIONS: Final = {"approve": APPROVED, "conditions": CONDITIONAL, "reject": REJECTED}
#: The step each state allows (anything else is refused).
ALLOWED: Final[dict[str, frozenset[str]]] = {
    APPLIED: frozenset({"review"}),
    APPROVED: frozenset({"extract", "delete", "revoke"}),
    CONDITIONAL: frozenset({"extract", "delete", "revoke"}),
    PROVIDED: frozenset({"extract", "delete", "release_check", "revoke"}),
    REVOKED: frozenset({"delete", "release_check"}),
    REJECTED: frozenset(),
    DELETED: frozenset({"release_check"}),
}


class ProvisionError(ValueError):
    """A step the workflow refuses; nothing was changed."""


class UnknownProvision(ProvisionError):
    """No provision has that id."""


class UnapprovedItem(ProvisionError):
    """An extract asked for a table or item the review did not approve."""


class ProvisionAudit(Protocol):
    """Where the workflow's steps are recorded (the CLI and the dashboard pass the service's
    hash-chained audit log): one call per step, with the persons it showed (none: extracts are
    pseudonymous)."""

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Application:
    """An application (利用申出) or a statutory request (求め)."""

    basis: str
    applicant: str
    organisation: str
    purpose: str
    public_interest: str
    """相当の公益性: why the use serves the public."""
    place: str
    """利用場所・保管場所: must be in Japan (a 都道府県 named)."""
    users: tuple[str, ...]
    """The named users (利用者)."""
    requested: Mapping[str, tuple[str, ...]]
    """Table → items, from the closed catalogue."""
    period_from: dt.date
    period_to: dt.date
    provider: str | None = None
    """The providing insurer's 保険者番号, named by a statutory request (the 市町村's 国保, the
    広域連合) and by nothing else: the extract holds only its members and claims."""


@dataclass(frozen=True, slots=True)
class Step:
    """One recorded step."""

    step: str
    recorded_at: dt.datetime
    recorded_by: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Provision:
    """A provision or statutory request as recorded."""

    provision_id: str
    basis: str
    state: str
    applicant: str
    organisation: str
    purpose: str
    public_interest: str
    place: str
    users: tuple[str, ...]
    requested: Mapping[str, tuple[str, ...]]
    approved: Mapping[str, tuple[str, ...]] | None
    period_from: dt.date
    period_to: dt.date
    applied_on: dt.date
    term_until: dt.date | None
    extracts: int
    steps: tuple[Step, ...] = ()
    provider: str | None = None
    """The providing insurer a statutory request named (None for 第三者提供)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "provision_id": self.provision_id, "basis": self.basis, "state": self.state,
            "state_title": STATE_TITLES[self.state], "applicant": self.applicant,
            "organisation": self.organisation, "purpose": self.purpose,
            "public_interest": self.public_interest, "place": self.place,
            "users": list(self.users),
            "requested": {t: list(i) for t, i in self.requested.items()},
            "approved": None if self.approved is None
            else {t: list(i) for t, i in self.approved.items()},
            "period_from": self.period_from.isoformat(),
            "period_to": self.period_to.isoformat(), "provider": self.provider,
            "applied_on": self.applied_on.isoformat(),
            "term_until": self.term_until.isoformat() if self.term_until else None,
            "extracts": self.extracts,
            "steps": [
                {"step": s.step, "recorded_at": s.recorded_at.isoformat(),
                 "recorded_by": s.recorded_by, "detail": dict(s.detail)}
                for s in self.steps
            ],
        }  # fmt: skip
