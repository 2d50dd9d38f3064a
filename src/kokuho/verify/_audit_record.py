"""The audit record (アクセス記録の一件): what one record holds, the closed sets and bounds its
fields must be in, and its check (:func:`check_record`).

Records from many callers share a batch, so one caller's bad record must never fail the others:
every record is checked before it joins a batch and is refused to its own caller only
(:class:`AuditRecordError`). How records are chained and appended lives in
:mod:`kokuho.verify._audit_chain`; the writer that batches them in :mod:`kokuho.verify._audit`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from kokuho.verify._model import ConsentCategory, Purpose, Validity

#: 目的: the purposes of 告知要求制限, the insurer's own business, ``invalid`` for a refused
#: request that named none of them (the raw value is never stored), and ``none`` for a refused
#: authentication (the request's purpose is never read).
PURPOSES: Final = frozenset({*(str(p) for p in Purpose), "insurer", "invalid", "none"})
#: 操作: everything the service and the dashboard record.
ACTIONS: Final = frozenset(
    {
        "check_number", "check_card_pin", "check_card_face", "card_challenge", "read_patient",
        "register_reference", "bulk_submit", "bulk_fetch", "read_member", "dashboard_list",
        # A refused authentication of an issued credential (verify/_access_refusals.py).
        "authenticate",
        *(f"read_{c}" for c in ConsentCategory),
        # kokuho.boundary (docs/boundary.md): double-payment cases, notices, 報告徴収.
        "boundary_open", "boundary_list", "boundary_case", "boundary_loss",
        "boundary_judgement", "boundary_reduction", "boundary_refund", "boundary_close",
        "boundary_release",
        "boundary_notice", "boundary_notice_list", "boundary_reports",
        "boundary_report_request", "boundary_report_answer",
        # kokuho.provision (docs/provision.md §5): the workflow's steps and every extract.
        "provision_apply", "provision_review", "provision_extract", "provision_release_check",
        "provision_delete", "provision_reviewer", "provision_list", "provision_revoke",
        # kokuho mynumber review: the staff's decisions on the review queue (its listing is
        # read_member).
        "mynumber_recheck", "mynumber_reject",
    }
)  # fmt: skip
#: 結果: a validity code (資格有効性), a fixed word, or ``refused:`` and a reason code.
OUTCOMES: Final = frozenset(
    {*(str(int(v)) for v in Validity), "ok", "no_source", "shown", "downloaded:csv",
     "downloaded:xlsx"}
)  # fmt: skip
_REASON = re.compile(r"refused:[a-z][a-z0-9_]{0,31}")  # 40 characters at most
# Credential ids (kc_…), "anonymous", "dashboard:{user}" (user names are printable ASCII).
_ACTOR = re.compile(r"[!-~][ -~]{0,39}")
_INSTITUTION = re.compile(r"[0-9]{10}")
MAX_DETAIL: Final = 4096  # characters of the detail's JSON
_PERSON_IDS: Final = range(1, 2**31)  # the column is a 32-bit integer


class AuditRecordError(ValueError):
    """A record that is outside the audit log's closed sets or bounds (the caller's fault);
    it is refused before it joins a batch."""


@dataclass(frozen=True)
class AuditRecord:
    actor: str
    purpose: str
    action: str
    outcome: str
    institution_code: str | None = None
    person_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def check_record(record: AuditRecord) -> str:
    """Raises :class:`AuditRecordError` naming the field unless every field of ``record`` is
    in its closed set or bounds (no control characters, lengths within the columns); returns
    the detail's JSON (made once: it is most of the check's cost)."""
    if not _ACTOR.fullmatch(record.actor):
        raise AuditRecordError("actor: 1–40 printable ASCII characters")
    if record.purpose not in PURPOSES:
        raise AuditRecordError(f"purpose: not one of {', '.join(sorted(PURPOSES))}")
    if record.action not in ACTIONS:
        raise AuditRecordError("action: not a recorded action")
    if record.outcome not in OUTCOMES and not _REASON.fullmatch(record.outcome):
        raise AuditRecordError("outcome: not a validity code, a fixed word or refused:<reason>")
    code = record.institution_code
    if code is not None and not _INSTITUTION.fullmatch(code):
        raise AuditRecordError("institution_code: 10 digits")
    if record.person_id is not None and (
        isinstance(record.person_id, bool) or record.person_id not in _PERSON_IDS
    ):
        raise AuditRecordError("person_id: a positive 32-bit integer")
    if not isinstance(record.at, dt.datetime):
        raise AuditRecordError("at: a timestamp")
    try:
        detail = _detail(record)
    except (TypeError, ValueError) as error:
        raise AuditRecordError(f"detail: not JSON ({error})") from None
    if len(detail) > MAX_DETAIL:
        raise AuditRecordError(f"detail: more than {MAX_DETAIL} characters of JSON")
    return detail


# Made once (json.dumps makes an encoder per call with its options): the same text.
_DETAIL_JSON: Final = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, default=str, allow_nan=False
)


def _detail(record: AuditRecord) -> str:
    # JSON escapes control characters (NUL becomes \u0000), so the stored text has none.
    return _DETAIL_JSON.encode(record.detail)


def record_from_values(values: dict[str, Any]) -> AuditRecord:
    """The record a spool line stands for (its detail JSON travels beside it)."""
    return AuditRecord(
        actor=values["actor"], purpose=values["purpose"], action=values["action"],
        outcome=values["outcome"], institution_code=values["institution_code"],
        person_id=values["person_id"], detail=json.loads(values["detail"]), at=values["at"],
    )  # fmt: skip


def record_values(record: AuditRecord, detail: str | None = None) -> dict[str, Any]:
    return {
        "at": record.at,
        "actor": record.actor,
        "institution_code": record.institution_code,
        "purpose": record.purpose,
        "action": record.action,
        "person_id": record.person_id,
        "outcome": record.outcome,
        "detail": _detail(record) if detail is None else detail,
    }
