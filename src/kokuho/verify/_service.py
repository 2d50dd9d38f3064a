"""The eligibility service: one core behind the REST, FHIR and OQS faces.

Every method takes the authenticated :class:`Principal` and a purpose, refuses what the
告知要求制限 does not allow, and writes one audit record for every answer and every refusal.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from kokuho.ids import InsuredId, scrub_mynumbers
from kokuho.store import AsyncReads, ReadBatcher, ReadRouter
from kokuho.verify._access import AccessDenied, Principal
from kokuho.verify._audit import PURPOSES, AuditRecord, AuditWriter
from kokuho.verify._audit_spool import AuditSpool
from kokuho.verify._cards import CardDesk
from kokuho.verify._check import (
    Source,
    active_consents,
    check_number,
    check_person,
    member_answer,
)
from kokuho.verify._check_pg import (
    NumberKey,
    PersonKey,
    check_number_batched,
    number_rows,
    number_rows_many,
    person_rows,
    person_rows_many,
)
from kokuho.verify._handles import PatientHandles
from kokuho.verify._model import (
    ConsentCategory,
    EligibilityAnswer,
    NumberQuery,
    Purpose,
    Validity,
)
from kokuho.verify._service_bulk import MAX_BULK as MAX_BULK  # the public names
from kokuho.verify._service_bulk import BulkChecks
from kokuho.verify._service_bulk import BulkStatus as BulkStatus
from kokuho.verify._service_cards import CardChecks
from kokuho.verify._service_cards import CheckResult as CheckResult  # the public name
from kokuho.verify._sqlite_reads import SqliteReads, sqlite_reads_for
from kokuho.verify._tables import consents, reference_numbers

T = TypeVar("T")
MAX_CONSENT_DAYS = 90  # upper bound a terminal may ask for (as マイナポータル API consents)


class ConsentedDataProvider(Protocol):
    """A source of data shown only within consent (特定健診情報, 薬剤情報, 診療情報).

    The checkups and claims contexts register theirs; until then a category has no source.
    """

    def records(self, person_id: int, day: dt.date) -> list[dict[str, Any]]: ...


class EligibilityService(CardChecks, BulkChecks):
    """The service's core; the card checks are :class:`CardChecks`' (``_service_cards``), the
    bulk checks :class:`BulkChecks`' (``_service_bulk``)."""

    def __init__(
        self, engine: sa.Engine, service_key: bytes, *, reads: ReadRouter | None = None,
        audit_spool: Path | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        # Which engine a check reads: a fresh replica, else the primary (store/_replicas.py).
        # Writes (consent, references, bulk jobs) and the audit log always go to the primary.
        self.reads = reads or ReadRouter(engine)
        self._own_reads = reads is None  # a router passed in is closed by whoever made it
        # A SQLite file (which has no replicas): checks read it on plain sqlite3 connections,
        # without SQLAlchemy's per-statement work (_sqlite_reads).
        self._sqlite: SqliteReads | None = sqlite_reads_for(engine, self.reads)
        # PostgreSQL: number checks served on an event loop read over psycopg's async API.
        self._async_reads = AsyncReads(self.reads) if engine.dialect.name == "postgresql" else None
        # …their look-ups sent together while one is at the database (store/_read_batch.py),
        # and the card checks' person look-ups the same way.
        self._numbers: ReadBatcher[NumberKey, list[Any]] | None = None
        self._persons: ReadBatcher[PersonKey, list[Any]] | None = None
        if self._async_reads is not None:
            self._numbers = ReadBatcher(self._async_reads, number_rows, number_rows_many)
            self._persons = ReadBatcher(self._async_reads, person_rows, person_rows_many)
        spool = AuditSpool(audit_spool) if audit_spool is not None else None
        primary_up = (lambda: self.reads.primary_up) if spool is not None else None
        self.audit = AuditWriter(engine, spool=spool, primary_up=primary_up)
        self._handles = PatientHandles(service_key)
        self.providers: dict[ConsentCategory, ConsentedDataProvider] = {}
        self.cards: CardDesk | None = None
        self._bulk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-check")
        self._bulk_here: set[str] = set()  # 受付番号 running or queued in this process
        self._bulk_lock = threading.Lock()

    def close(self) -> None:
        self._bulk.shutdown(wait=True)
        self.audit.close()
        if self._sqlite is not None:
            self._sqlite.close()
        if self.cards is not None:
            self.cards.close()
        if self._async_reads is not None:
            self._async_reads.close()
        if self._own_reads:
            self.reads.close()

    # -- guards ------------------------------------------------------------------------------
    def refuse(
        self, principal: Principal | None, purpose: str, action: str, denied: AccessDenied
    ) -> None:
        """Logs a refused request (告知要求制限: refused requests are recorded too)."""
        self.audit.write(self._refusal(principal, purpose, action, denied))

    def _refusal(
        self, principal: Principal | None, purpose: str, action: str, denied: AccessDenied
    ) -> AuditRecord:
        return AuditRecord(
            actor=principal.credential_id if principal else "anonymous",
            institution_code=principal.institution_code if principal else None,
            # The purpose may be whatever the caller sent: only a known one is stored.
            purpose=purpose if purpose in PURPOSES else "invalid",
            action=action,
            # The column holds 40 characters; the detail keeps the whole reason code.
            outcome=f"refused:{denied.reason}"[:40],
            # The message may repeat the caller's text: never a My Number into the log, which
            # is append-only (a record cannot be erased without breaking the chain).
            detail={"reason": denied.reason, "message": scrub_mynumbers(str(denied))[:200]},
        )

    @staticmethod
    def _denial(principal: Principal, purpose: str) -> AccessDenied | None:
        """Why ``principal`` may not check for ``purpose``, or None when it may."""
        try:
            Purpose(purpose)
        except ValueError:
            return AccessDenied(
                "purpose_not_allowed",
                f"purpose {scrub_mynumbers(purpose)!r} is not insurance business "
                f"({', '.join(Purpose)})",
            )
        if principal.kind != "institution" or principal.institution_code is None:
            return AccessDenied("not_an_institution", "only medical institutions may check")
        return None

    def _institution(self, principal: Principal, purpose: str, action: str) -> str:
        """The institution checking; a caller that may not check is refused (and audited)."""
        denied = self._denial(principal, purpose)
        if denied is not None:
            self.refuse(principal, purpose, action, denied)
            raise denied
        assert principal.institution_code is not None  # noqa: S101 (_denial)
        return principal.institution_code

    async def _institution_async(self, principal: Principal, purpose: str, action: str) -> str:
        """:meth:`_institution` on the event loop: the refusal is committed by the loop's own
        audit write. The blocking writer would hold the loop until the commit; on PostgreSQL
        the writer thread then waited for the chain's lock, held by the loop's group commit
        between its round trips, and every request of the process stalled with it."""
        denied = self._denial(principal, purpose)
        if denied is not None:
            await self.audit.write_async(self._refusal(principal, purpose, action, denied))
            raise denied
        assert principal.institution_code is not None  # noqa: S101 (_denial)
        return principal.institution_code

    def handle_for(self, institution: str, person_id: int) -> str:
        return self._handles.issue(institution, person_id, dt.date.today())

    def person_for(self, principal: Principal, handle: str) -> int:
        return self._handles.resolve(principal.institution_code or "", handle, dt.date.today())

    # -- checks ------------------------------------------------------------------------------
    def check_number(self, principal: Principal, query: NumberQuery, purpose: str) -> CheckResult:
        """資格確認 by 保険者番号・記号・番号・枝番 and birth date."""
        institution = self._institution(principal, purpose, "check_number")
        answer, person_id = self._number_answer(query, institution)
        return self._answered(principal, institution, purpose, "check_number", answer, person_id,
                              {"insurer": query.insurer, "number": query.number})  # fmt: skip

    async def check_number_async(
        self, principal: Principal, query: NumberQuery, purpose: str
    ) -> CheckResult:
        """:meth:`check_number` for a route served on the event loop: the same decision and
        the same audit record, committed before the answer is returned, without a thread."""
        institution = await self._institution_async(principal, purpose, "check_number")
        if self._numbers is not None:
            # PostgreSQL: on the loop over psycopg's async API, where the router sends the read,
            # in one statement with the loop's other checks waiting meanwhile.
            answer, person_id = await check_number_batched(self._numbers, query, institution)
        else:
            # SQLite: a few indexed reads in this process, cheaper than a hand-off to a thread.
            answer, person_id = self._number_answer(query, institution)
        record, handle = self._record(principal, institution, purpose, "check_number", answer,
                                      person_id, {"insurer": query.insurer,
                                                  "number": query.number})  # fmt: skip
        return CheckResult(answer, handle, await self.audit.write_async(record))

    def _number_answer(
        self, query: NumberQuery, institution: str
    ) -> tuple[EligibilityAnswer, int | None]:
        """The one place a number check reads the register (a read replica can serve it)."""
        return self._read(lambda c: check_number(c, query, institution))

    def _read(self, read: Callable[[Source], T]) -> T:
        """A check's read of the register: a SQLite file's plain reads, else the router's."""
        return read(self._sqlite) if self._sqlite is not None else self.reads.run(read)

    def check_person(
        self,
        principal: Principal,
        person_id: int,
        day: dt.date,
        purpose: str,
        *,
        method: str,
        consent_to: list[ConsentCategory] | None = None,
        consent_days: int = 1,
    ) -> CheckResult:
        """資格確認 of a person authenticated by their card; records consents given at the
        terminal first, so the answer already shows what the person agreed to."""
        record, handle, answer = self._person_answer(
            principal, person_id, day, purpose, method, consent_to, consent_days
        )
        return CheckResult(answer, handle, self.audit.write(record))

    def _person_answer(
        self, principal: Principal, person_id: int, day: dt.date, purpose: str, method: str,
        consent_to: list[ConsentCategory] | None, consent_days: int,
    ) -> tuple[AuditRecord, str | None, EligibilityAnswer]:  # fmt: skip
        institution = self._institution(principal, purpose, method)
        if consent_to:
            # Given now, at the reader: its days count from today, never from the date of care
            # the client sends (2099-12-31 made a 1-day consent last until then).
            self.record_consent(institution, person_id, consent_to, dt.date.today(),
                                consent_days)  # fmt: skip
            # The answer shows the consent just written: read it where it was written.
            with self.engine.connect() as connection:
                answer = check_person(connection, person_id, day, institution)
        else:
            answer = self._read(lambda c: check_person(c, person_id, day, institution))
        detail = {"consented": [str(c) for c in consent_to or []]}
        record, handle = self._record(principal, institution, purpose, method, answer,
                                      person_id, detail)  # fmt: skip
        return record, handle, answer

    def _answered(
        self, principal: Principal, institution: str, purpose: str, action: str,
        answer: EligibilityAnswer, person_id: int | None, asked: dict[str, Any],
    ) -> CheckResult:  # fmt: skip
        record, handle = self._record(principal, institution, purpose, action, answer,
                                      person_id, asked)  # fmt: skip
        return CheckResult(answer, handle, self.audit.write(record))

    def _record(
        self, principal: Principal, institution: str, purpose: str, action: str,
        answer: EligibilityAnswer, person_id: int | None, asked: dict[str, Any],
    ) -> tuple[AuditRecord, str | None]:  # fmt: skip
        """The audit record of an answer, and the patient handle the answer carries."""
        returned = {
            "validity": int(answer.validity),
            "results": len(answer.results),
            "limit_shown": any(c.limit_category for c in answer.results),
        }
        # What was asked is the caller's text: a My Number typed as the 番号 (the patient's other
        # card) must not reach the append-only log, where it could never be erased.
        asked = {k: scrub_mynumbers(v) if isinstance(v, str) else v for k, v in asked.items()}
        record = AuditRecord(
            actor=principal.credential_id, institution_code=institution, purpose=purpose,
            action=action, outcome=str(int(answer.validity)), person_id=person_id,
            detail={"asked": asked, "returned": returned},
        )  # fmt: skip
        single = person_id is not None and answer.validity != Validity.MULTIPLE
        handle = self.handle_for(institution, person_id) if single and person_id else None
        return record, handle

    def patient_answer(self, principal: Principal, handle: str, day: dt.date) -> CheckResult:
        """A read of the patient a previous check named (FHIR Coverage/Patient reads)."""
        institution = self._institution(principal, Purpose.CARE, "read_patient")
        person_id = self.person_for(principal, handle)
        answer = self._read(lambda c: check_person(c, person_id, day, institution))
        return self._answered(principal, institution, Purpose.CARE, "read_patient", answer,
                              person_id, {"handle": True})  # fmt: skip

    # -- consent, reference numbers, consented data -------------------------------------------
    def record_consent(
        self, institution: str, person_id: int, categories: list[ConsentCategory],
        day: dt.date, days: int,
    ) -> dt.date:  # fmt: skip
        if not 1 <= days <= MAX_CONSENT_DAYS:
            raise ValueError(f"consent lasts 1–{MAX_CONSENT_DAYS} days, not {days}")
        until = day + dt.timedelta(days=days - 1)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as connection:
            connection.execute(
                consents.insert(),
                [{"person_id": person_id, "institution_code": institution, "category": str(c),
                  "given_at": now, "valid_until": until} for c in set(categories)],
            )  # fmt: skip
        return until

    def register_reference(self, principal: Principal, handle: str, reference: str) -> None:
        """照会番号: the institution's own patient number, returned with later checks."""
        institution = self._institution(principal, Purpose.CARE, "register_reference")
        person_id = self.person_for(principal, handle)
        reference = reference.strip()
        if not 1 <= len(reference) <= 50:
            raise ValueError("a 照会番号 has 1–50 characters")
        with self.engine.begin() as connection:
            updated = connection.execute(
                reference_numbers.update()
                .where(reference_numbers.c.institution_code == institution,
                       reference_numbers.c.person_id == person_id)
                .values(reference_number=reference)
            )  # fmt: skip
            if updated.rowcount == 0:
                connection.execute(
                    reference_numbers.insert().values(
                        institution_code=institution, person_id=person_id,
                        reference_number=reference, registered_at=dt.datetime.now(dt.UTC),
                    )
                )  # fmt: skip
        self.audit.write(
            AuditRecord(
                actor=principal.credential_id, institution_code=institution, purpose="care",
                action="register_reference", outcome="ok", person_id=person_id,
            )
        )  # fmt: skip

    def consented_data(
        self, principal: Principal, handle: str, category: ConsentCategory, day: dt.date
    ) -> list[dict[str, Any]] | None:
        """The person's data of ``category`` as of ``day`` if their consent for this
        institution is in force on ``day`` and today; None when the category has no data source
        yet. Raises AccessDenied otherwise.

        Today too: a consent is read while it is in force, so a consent that has ended does not
        open the data again to a read dated within it (``?date=`` of a past day)."""
        institution = self._institution(principal, Purpose.CARE, f"read_{category}")
        person_id = self.person_for(principal, handle)
        # A consent is in force until its last day (valid_until), so in force on both days
        # means in force on the later one.
        in_force_on = max(day, dt.date.today())
        with self.engine.connect() as connection:
            allowed = category in active_consents(connection, person_id, institution, in_force_on)
        if not allowed:
            denied = AccessDenied("no_consent", f"the person has not consented to share {category}")
            self.refuse(principal, "care", f"read_{category}", denied)
            raise denied
        provider = self.providers.get(category)
        records = provider.records(person_id, day) if provider else None
        self.audit.write(
            AuditRecord(
                actor=principal.credential_id, institution_code=institution, purpose="care",
                action=f"read_{category}", outcome="ok" if provider else "no_source",
                person_id=person_id, detail={"records": len(records or [])},
            )
        )  # fmt: skip
        return records

    # -- insurer staff --------------------------------------------------------------------------
    def insurer_member(
        self, principal: Principal, insured: InsuredId, day: dt.date
    ) -> EligibilityAnswer:
        """An insurer's staff see their own members only."""
        if principal.kind != "insurer_staff" or principal.insurer_number is None:
            denied = AccessDenied("not_insurer_staff", "only insurer staff may read members")
            self.refuse(principal, "insurer", "read_member", denied)
            raise denied
        if insured.insurer != principal.insurer_number:
            denied = AccessDenied(
                "other_insurer", "staff may read their own insurer's members only"
            )
            self.refuse(principal, "insurer", "read_member", denied)
            raise denied
        answer, person_id = self._read(lambda c: member_answer(c, insured, day))
        self.audit.write(
            AuditRecord(
                actor=principal.credential_id, purpose="insurer", action="read_member",
                outcome=str(int(answer.validity)), person_id=person_id,
                detail={"insurer": insured.insurer},
            )
        )  # fmt: skip
        return answer
