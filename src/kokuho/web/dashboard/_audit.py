"""Views of person-level lists go to the eligibility service's hash-chained audit log
(アクセス記録), through the service's own group-commit writer, one record per person shown so
that a person's access history (``kokuho.verify.access_history``) lists them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

PURPOSE = "insurer"  # 保険者事務: the staff's own insurer business
ACTION_VIEW = "dashboard_list"
ACTION_REFUSED = "dashboard_list"


@dataclass(frozen=True)
class ViewRecord:
    """The fields every audit record carries (those of kokuho.verify's records)."""

    actor: str
    purpose: str
    action: str
    outcome: str
    institution_code: str | None = None
    person_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class AuditSink(Protocol):
    """What the dashboard needs of the service's audit writer."""

    def write(self, record: Any, *, timeout: float = 10.0) -> int: ...


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
        ViewRecord(
            actor=actor(username),
            purpose=PURPOSE,
            action=ACTION_VIEW,
            outcome=outcome,
            person_id=pid,
            detail={"list": listing, "insurer": insurer},
        )
        for pid in (person_ids or [None])
    ]
    if len(records) == 1:
        return [sink.write(records[0])]
    with ThreadPoolExecutor(max_workers=min(32, len(records))) as pool:
        return list(pool.map(sink.write, records))


def record_refusal(sink: AuditSink, username: str, listing: str, insurer: str) -> int:
    return sink.write(
        ViewRecord(
            actor=actor(username),
            purpose=PURPOSE,
            action=ACTION_REFUSED,
            outcome="refused:other_insurer",
            detail={"list": listing, "insurer": insurer},
        )
    )
