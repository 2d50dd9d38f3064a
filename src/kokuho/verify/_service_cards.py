"""The eligibility service's card checks (マイナ保険証): PIN mode (暗証番号) and face mode (顔認証).

A mixin of :class:`~kokuho.verify._service.EligibilityService`, which keeps the public API.
A check by card is served three ways, each with the same decision and the same audit record,
committed before the answer leaves:

- in a thread (the sync API, PIN mode, a consent given at the terminal, and any check with an
  audit spool, whose claims need the primary): the attestation's single-use claim in its own
  transaction (``DatabaseReplayGuard``), the reads through SQLAlchemy;
- on the event loop over a SQLite file: the reads in this process, the claim in the loop's
  audit transaction (``_audit_loop``);
- on the event loop over PostgreSQL without a spool: the reader, holder and person reads over
  psycopg's async API (``AsyncReads``; the reader and holder cached ≤ the revocation bound),
  the claim in the loop's audit transaction (``_audit_pg``). A replayed attestation is refused
  there, across batches and worker processes (``card_replays``' primary key).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kokuho.store import AsyncReads, ReadBatcher, audit_database
from kokuho.verify._access import AccessDenied, Principal
from kokuho.verify._audit import AuditRecord, AuditWriter, sqlite_file
from kokuho.verify._audit_loop import AlreadyClaimed, Claim
from kokuho.verify._cards import CardDesk
from kokuho.verify._check_pg import PersonKey, check_person_batched
from kokuho.verify._model import ConsentCategory, EligibilityAnswer, Purpose, Validity
from kokuho.verify._pki import Attestation, CardRejected, Challenge, replay_claim


@dataclass(frozen=True)
class CheckResult:
    answer: EligibilityAnswer
    patient: str | None  # opaque handle for follow-up calls by the same institution
    audit_seq: int


class _Unrecorded(Exception):
    """A card refusal whose audit record the caller writes (on the event loop)."""

    def __init__(self, denied: AccessDenied) -> None:
        super().__init__(str(denied))
        self.denied = denied


def _replayed() -> AccessDenied:
    rejected = CardRejected("attestation_replayed", "attestation was already used")
    return AccessDenied(f"card_{rejected.reason_code}", str(rejected))


class CardChecks:
    """The card-check methods of the eligibility service."""

    engine: sa.Engine
    audit: AuditWriter
    cards: CardDesk | None
    _async_reads: AsyncReads | None
    _persons: ReadBatcher[PersonKey, list[Any]] | None

    if TYPE_CHECKING:  # provided by EligibilityService

        def refuse(
            self, principal: Principal | None, purpose: str, action: str, denied: AccessDenied
        ) -> None: ...

        def _refusal(
            self, principal: Principal | None, purpose: str, action: str, denied: AccessDenied
        ) -> AuditRecord: ...

        def _institution(self, principal: Principal, purpose: str, action: str) -> str: ...

        async def _institution_async(
            self, principal: Principal, purpose: str, action: str
        ) -> str: ...

        def _record(
            self, principal: Principal, institution: str, purpose: str, action: str,
            answer: EligibilityAnswer, person_id: int | None, asked: dict[str, Any],
        ) -> tuple[AuditRecord, str | None]: ...  # fmt: skip

        def _person_answer(
            self, principal: Principal, person_id: int, day: dt.date, purpose: str, method: str,
            consent_to: list[ConsentCategory] | None, consent_days: int,
        ) -> tuple[AuditRecord, str | None, EligibilityAnswer]: ...  # fmt: skip

    def card_challenge(self, principal: Principal) -> Challenge:
        """A single-use challenge for the card to sign in PIN mode (暗証番号)."""
        institution = self._institution(principal, Purpose.CARE, "card_challenge")
        try:
            return self._desk().challenge(institution, dt.datetime.now(dt.UTC))
        except AccessDenied as denied:  # the primary is down: no challenge can be recorded
            self.refuse(principal, Purpose.CARE, "card_challenge", denied)
            raise

    def check_card(
        self, principal: Principal, *, certificate_pem: bytes, day: dt.date, purpose: str,
        challenge_id: str | None = None, signature: bytes | None = None,
        attestation: Attestation | None = None,
        consent_to: list[ConsentCategory] | None = None, consent_days: int = 1,
    ) -> CheckResult:  # fmt: skip
        """資格確認 by My Number card: PIN mode (a signed challenge) or face mode (a registered
        reader's attestation). A card that fails any check is refused and logged."""
        record, handle, answer = self._card_answer(
            principal, certificate_pem, day, purpose, challenge_id, signature, attestation,
            consent_to, consent_days,
        )  # fmt: skip
        return CheckResult(answer, handle, self.audit.write(record))

    async def check_card_async(
        self, principal: Principal, *, certificate_pem: bytes, day: dt.date, purpose: str,
        challenge_id: str | None = None, signature: bytes | None = None,
        attestation: Attestation | None = None,
        consent_to: list[ConsentCategory] | None = None, consent_days: int = 1,
    ) -> CheckResult:  # fmt: skip
        """:meth:`check_card` for a route served on the event loop: the same decision and the
        same audit record, committed before the answer is returned."""
        method = "check_card_face" if attestation is not None else "check_card_pin"
        # A caller that may not check is refused here, by the loop's own audit write (the
        # decision below repeats the test, which then passes, on the loop or in a thread).
        await self._institution_async(principal, purpose, method)
        if attestation is not None and not consent_to and self._face_on_pg_loop():
            return await self._face_pg(principal, certificate_pem, day, purpose, attestation)
        # A face attestation's single-use claim goes into the audit record's own transaction
        # on the loop (SQLite): the claim in its own transaction fought the loop's flush for
        # the write lock, and its thread slept in SQLite's busy handler.
        claim = None
        if attestation is not None and self._claims_on_loop():
            claim = replay_claim(attestation)
        arguments = (principal, certificate_pem, day, purpose, challenge_id, signature,
                     attestation, consent_to, consent_days, claim is None)  # fmt: skip
        try:
            if claim is not None and not consent_to:
                # Without the claim (and no consent to write) a face check only computes
                # and reads SQLite in this process, as a number check: no thread hand-off,
                # and a card refusal is committed by the loop's flush too.
                record, handle, answer = self._card_answer(*arguments, refuse=False)
            else:
                # In a thread: a PIN challenge's consumption or a consent is a write, which
                # may wait for another process's write lock (SQLite's busy handler sleeps);
                # on the loop that wait stalled every other request of the process.
                record, handle, answer = await asyncio.to_thread(self._card_answer, *arguments)
        except _Unrecorded as unrecorded:
            await self.audit.write_async(
                self._refusal(principal, purpose, method, unrecorded.denied)
            )
            raise unrecorded.denied from None
        return await self._claimed(principal, purpose, method, record, handle, answer, claim)

    async def _claimed(
        self, principal: Principal, purpose: str, method: str, record: AuditRecord,
        handle: str | None, answer: EligibilityAnswer, claim: Claim | None,
    ) -> CheckResult:  # fmt: skip
        """The answer once its record (and ``claim``, if any) is committed; a claim made
        before refuses the request instead (the refusal audited)."""
        try:
            return CheckResult(answer, handle, await self.audit.write_async(record, claim=claim))
        except AlreadyClaimed:
            denied = _replayed()
            await self.audit.write_async(self._refusal(principal, purpose, method, denied))
            raise denied from None

    def _claims_on_loop(self) -> bool:
        """Whether face claims can ride the audit flush: the claims table and the audit log
        are in the one SQLite file the loop's group commit writes (the audit file beside the
        register of the card desk's engine)."""
        database = self.audit.loop_database
        if database is None or self.cards is None:
            return False
        register = sqlite_file(self.cards.engine)
        return register is not None and audit_database(register) == database

    def _face_on_pg_loop(self) -> bool:
        """Whether a face check runs on the loop over PostgreSQL: async reads, the loop's
        audit group commit (no spool: claims need the primary) writing the database that
        holds the card tables."""
        return (
            self._async_reads is not None
            and self.audit.pg_loop
            and self.cards is not None
            and self.cards.engine.url == self.engine.url
        )

    async def _face_pg(
        self, principal: Principal, certificate_pem: bytes, day: dt.date, purpose: str,
        attestation: Attestation,
    ) -> CheckResult:  # fmt: skip
        """A face-mode check on a PostgreSQL event loop, without a thread: the decision of
        :meth:`_card_answer`, the claim committed with the audit record."""
        reads = self._async_reads
        persons = self._persons
        # _face_on_pg_loop; for the type checker.
        assert reads is not None and persons is not None  # noqa: S101
        method = "check_card_face"
        institution = await self._institution_async(principal, purpose, method)
        try:
            person = await self._desk().person_by_face_async(
                institution, certificate_pem, attestation, dt.datetime.now(dt.UTC), reads
            )
        except CardRejected as rejected:
            denied = AccessDenied(f"card_{rejected.reason_code}", str(rejected))
            await self.audit.write_async(self._refusal(principal, purpose, method, denied))
            raise denied from None
        if person is None:
            # A genuine card with no insurance registration (保険証利用登録なし).
            answer = EligibilityAnswer(Validity.NOT_FOUND, day)
            asked: dict[str, Any] = {"card": "unregistered"}
        else:
            answer = await check_person_batched(persons, person, day, institution)
            asked = {"consented": []}
        record, handle = self._record(principal, institution, purpose, method, answer, person,
                                      asked)  # fmt: skip
        claim = replay_claim(attestation)
        return await self._claimed(principal, purpose, method, record, handle, answer, claim)

    def _card_answer(
        self, principal: Principal, certificate_pem: bytes, day: dt.date, purpose: str,
        challenge_id: str | None, signature: bytes | None, attestation: Attestation | None,
        consent_to: list[ConsentCategory] | None, consent_days: int, claim: bool = True,
        *, refuse: bool = True,
    ) -> tuple[AuditRecord, str | None, EligibilityAnswer]:  # fmt: skip
        """The card check's decision and its audit record, not yet written (refusals are).
        ``claim=False``: a face attestation's single-use claim is the caller's to make.
        ``refuse=False``: a refused card raises :class:`_Unrecorded`, its refusal the
        caller's to write."""
        method = "check_card_face" if attestation is not None else "check_card_pin"
        institution = self._institution(principal, purpose, method)
        now = dt.datetime.now(dt.UTC)
        try:
            if attestation is not None:
                person = self._desk().person_by_face(
                    institution, certificate_pem, attestation, now, claim=claim
                )
            elif challenge_id is not None and signature is not None:
                person = self._desk().person_by_pin(
                    institution, certificate_pem, challenge_id, signature, now
                )
            else:
                raise CardRejected("malformed", "PIN mode needs challenge_id and signature")
        except CardRejected as rejected:
            denied = AccessDenied(f"card_{rejected.reason_code}", str(rejected))
            if not refuse:
                raise _Unrecorded(denied) from None
            self.refuse(principal, purpose, method, denied)
            raise denied from None
        except AccessDenied as denied:  # the primary is down (``primary_unavailable``)
            if not refuse:
                raise _Unrecorded(denied) from None
            self.refuse(principal, purpose, method, denied)
            raise
        if person is None:
            # A genuine card with no insurance registration (保険証利用登録なし).
            answer = EligibilityAnswer(Validity.NOT_FOUND, day)
            record, handle = self._record(principal, institution, purpose, method, answer, None,
                                          {"card": "unregistered"})  # fmt: skip
            return record, handle, answer
        return self._person_answer(principal, person, day, purpose, method, consent_to,
                                   consent_days)  # fmt: skip

    def _desk(self) -> CardDesk:
        if self.cards is None:
            raise AccessDenied("cards_not_configured", "card checks are not configured")
        return self.cards
