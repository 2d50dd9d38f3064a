"""Views of person-level lists go to the eligibility service's hash-chained audit log
(アクセス記録), through the service's own group-commit writer, one record per person shown so
that a person's access history (``kokuho.verify.access_history``) lists them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kokuho.verify import AuditRecord

PURPOSE = "insurer"  # 保険者事務: the staff's own insurer business
ACTION_VIEW = "dashboard_list"
ACTION_REFUSED = "dashboard_list"


class AuditSink(Protocol):
    """What the dashboard needs of the service's audit writer (``kokuho.verify.AuditWriter``)."""

    def write_many(self, records: Sequence[AuditRecord], *, timeout: float = 10.0) -> list[int]: ...


def actor(username: str) -> str:
    return f"dashboard:{username}"


def record_view(
    sink: AuditSink,
    username: str,
    listing: str,
    insurer: str,
    person_ids: Sequence[int | None],
    *,
    outcome: str = "shown",
) -> list[int]:
    """Writes one record per person of a list shown or downloaded; returns their sequence
    numbers once committed. Writes are submitted together so that the writer commits them as
    one batch."""
    records = [
        AuditRecord(
            actor=actor(username),
            purpose=PURPOSE,
            action=ACTION_VIEW,
            outcome=outcome,
            person_id=pid,
            detail={"list": listing, "insurer": insurer},
        )
        for pid in (person_ids or [None])
    ]
    return sink.write_many(records)


def record_refusal(sink: AuditSink, username: str, listing: str, insurer: str) -> int:
    refusal = AuditRecord(
        actor=actor(username),
        purpose=PURPOSE,
        action=ACTION_REFUSED,
        outcome="refused:other_insurer",
        detail={"list": listing, "insurer": insurer},
    )
    return sink.write_many([refusal])[0]


class CaseAuditSink:
    """The boundary room's audit hook (``kokuho.boundary.CaseAudit``) on the dashboard's sink:
    one record per person a case list, case or notice showed, as ``dashboard:<user>``."""

    def __init__(
        self, sink: AuditSink, username: str, outcome: str = "shown", *, hold: bool = False
    ) -> None:
        self.sink = sink
        self.username = username
        self.outcome = outcome  # "downloaded:csv" when the page is built for a download
        self.who = actor(username)
        # Held records wait for flush(): a page is built before the route knows whether the
        # persons it read leave the server (a counts download, an unknown table: they don't).
        self.hold = hold
        self.held: list[AuditRecord] = []

    def flush(self) -> None:
        records, self.held = self.held, []
        if records:
            self.sink.write_many(records)

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None:
        records = [
            AuditRecord(
                actor=self.who,
                purpose=PURPOSE,
                action=action,
                outcome=self.outcome,
                person_id=pid,
                detail={**detail, "by": actor},
            )
            for pid in ([*person_ids] if person_ids else [None])
        ]
        if self.hold:
            self.held.extend(records)
        else:
            self.sink.write_many(records)
