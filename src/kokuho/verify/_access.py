"""Who may ask: registered institutions (保険医療機関・薬局) and insurer staff, each with a
revocable credential. Secrets are random and stored only as SHA-256 digests.

A token is ``kc_<id>.<secret>``. The secret has 256 bits of entropy, so a plain SHA-256 digest
is safe to store (a slow password hash protects guessable passwords, which these are not).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from kokuho.ids import InstitutionCode, InsurerNumber, InvalidIdentifier, iso_date
from kokuho.registry import FileRejected, RowError
from kokuho.registry import tables as register
from kokuho.store import ReadRouter, has_control
from kokuho.verify._access_cache import RecentReads
from kokuho.verify._tables import credentials, institutions, terminals

STATUSES = ("active", "suspended", "closed")
#: The largest 医療情報化支援基金 subsidy_yen an institutions file may give (100億円, as for an
#: income): far above any real subsidy, far below what the database's integer holds.
MAX_SUBSIDY_YEN = 10_000_000_000
_CACHE_SECONDS = 5.0  # how long a revocation (or a new credential) may take to reach a server


class AccessDenied(Exception):
    """The request is refused; ``reason`` is a short code for the audit log.

    ``credential_id`` (and ``institution_code``, if it has one) name the issued credential an
    authentication was refused for (revoked, its institution not active, or its secret wrong):
    :class:`~kokuho.verify._access_refusals.RefusalRecorder` audits those. The caller is never
    told them (a wrong secret of a real id is answered as an id never issued)."""

    def __init__(
        self, reason: str, message: str, *, credential_id: str | None = None,
        institution_code: str | None = None,
    ) -> None:  # fmt: skip
        self.reason = reason
        self.credential_id = credential_id
        self.institution_code = institution_code
        super().__init__(message)


class Refusals(Protocol):
    """Told of every refused authentication (:class:`~kokuho.verify._access_refusals.
    RefusalRecorder`); never of an accepted one."""

    def refused(self, denied: AccessDenied) -> None: ...


@dataclass(frozen=True)
class Principal:
    credential_id: str
    kind: str  # institution | insurer_staff
    institution_code: str | None
    insurer_number: str | None
    institution_kind: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_credential(
    engine: sa.Engine, *, label: str, institution: str | None = None, insurer: str | None = None
) -> tuple[str, str]:
    """Creates a credential for an institution or for insurer staff; returns (id, token).

    The token is shown once; only its digest is kept.
    """
    if (institution is None) == (insurer is None):
        raise ValueError("a credential belongs to exactly one institution or one insurer")
    # The column holds 200; the label names the holder in listings and the audit log.
    if not label.strip() or len(label) > 200 or has_control(label):
        raise ValueError(
            "the label must be 1–200 characters without control characters or bidi controls"
        )
    credential_id = "kc_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        if institution is not None:
            exists = connection.scalar(
                sa.select(institutions.c.status).where(
                    institutions.c.institution_code == institution
                )
            )
            if exists is None:
                raise ValueError(f"institution {institution} is not registered")
        else:
            # Checked here, not left to the foreign key: its IntegrityError ended the command
            # as an internal error instead of naming the insurer.
            known = connection.scalar(
                sa.select(register.insurers.c.insurer_number).where(
                    register.insurers.c.insurer_number == insurer
                )
            )
            if known is None:
                raise ValueError(f"insurer {insurer!r} is not registered")
        connection.execute(
            credentials.insert().values(
                credential_id=credential_id,
                kind="institution" if institution else "insurer_staff",
                institution_code=institution,
                insurer_number=insurer,
                secret_sha256=_digest(secret),
                label=label,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    return credential_id, f"{credential_id}.{secret}"


def revoke_credential(engine: sa.Engine, credential_id: str) -> bool:
    return _revoke(engine, credentials.c.credential_id, credential_id)


def _revoke(engine: sa.Engine, key: sa.Column[str], value: str) -> bool:
    """Sets ``revoked_at`` of the active row whose ``key`` is ``value``; False when none is."""
    table = key.table
    with engine.begin() as connection:
        result = connection.execute(
            sa.update(table)
            .where(key == value, table.c.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
    return result.rowcount == 1


@dataclass(slots=True)
class _Credential:
    """What deciding on a token of one issued id needs: its digest, and the answer to the
    right secret (a :class:`Principal`, or the reason and message it is refused with).

    ``matched`` is the secret once one matched the digest (only the right one can), so the
    next tokens with it are compared, not hashed again: the hash was most of an accepted
    token's cost. It lives as long as the row is remembered, as tokens did before."""

    credential_id: str
    institution_code: str | None
    digest: str
    answer: Principal | tuple[str, str]
    matched: bytes | None = None


def _matches(row: _Credential, secret: bytes) -> bool:
    """Whether ``secret`` is the credential's: compared in constant time with the secret that
    matched before, else hashed and compared with the digest."""
    if row.matched is not None and hmac.compare_digest(row.matched, secret):
        return True
    if not hmac.compare_digest(row.digest, hashlib.sha256(secret).hexdigest()):
        return False
    row.matched = secret  # the same bytes whichever thread writes them
    return True


#: An id longer than the column never was issued: refused as unknown without a read.
_ID_TYPE = credentials.c.credential_id.type
_ID_LENGTH = _ID_TYPE.length if isinstance(_ID_TYPE, sa.String) and _ID_TYPE.length else 24
_ROW = (
    sa.select(credentials, institutions.c.status, institutions.c.kind.label("ikind"))
    .outerjoin(institutions, institutions.c.institution_code == credentials.c.institution_code)
    .where(credentials.c.credential_id == sa.bindparam("credential_id"))
)


class Authenticator:
    """Checks tokens against the database, remembering each credential's row for a few seconds.

    The row is remembered **by credential id**, not by token (:mod:`._access_cache`): tokens
    with random secrets for one id, real or invented, cost one read per ``cache_seconds``
    between them, and each a SHA-256 and a constant-time compare. Ids never issued are
    remembered too, at most :data:`~kokuho.verify._access_cache.UNKNOWN_LIMIT` of them per
    process, and concurrent look-ups of one id (threads of the pool, the event loop) share one
    read. Every answer comes from a read started at most ``cache_seconds`` before: a
    revocation, or a credential issued, reaches a running process within that bound (plus the
    replica lag bound with replicas); an id is remembered as unknown before it is issued only if
    someone sent that id (64 random bits) first, so a new credential works at once otherwise.

    There is no rate limit and no lockout here. The id is not secret (it travels before the
    dot of every token and names the credential in listings and the audit log), so refusing an
    id after wrong secrets would let anyone lock a clinic out; and a shared budget of reads
    would be spent by the attacker, then refuse the real clinics whose row is due again. A
    flood of distinct invented ids costs one primary-key read each (one per id per bound);
    limiting that further is a per-client limit in front of the service, not the credential's.

    With ``refusals``, every refused authentication (a remembered one too) is told to it, each
    as a new :class:`AccessDenied`; an accepted one costs nothing more."""

    def __init__(
        self, engine: sa.Engine, *, cache_seconds: float = _CACHE_SECONDS,
        reads: ReadRouter | None = None, refusals: Refusals | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        # Credentials are read like checks (a fresh replica, else the primary), so checks go
        # on while the primary is down; a revocation reaches them within the replica lag bound
        # plus ``cache_seconds``.
        self._reads = reads or ReadRouter(engine)
        self._rows = RecentReads(self._read, seconds=cache_seconds, clock=clock)
        self._refusals = refusals

    def authenticate(self, token: str | None) -> Principal:
        outcome = self._decide(token)
        if isinstance(outcome, AccessDenied):
            if self._refusals is not None:
                self._refusals.refused(outcome)
            raise outcome
        return outcome

    def remembered(self) -> tuple[int, int]:
        """How many credential ids this process remembers now: (issued, never issued)."""
        return self._rows.sizes()

    def _decide(self, token: str | None) -> Principal | AccessDenied:
        if not token:
            return AccessDenied("no_credential", "a credential is required")
        credential_id, _, secret = token.partition(".")
        if not credential_id.startswith("kc_") or not secret:
            return AccessDenied("malformed_credential", "the credential is malformed")
        row = self._rows.get(credential_id) if len(credential_id) <= _ID_LENGTH else None
        if row is None:
            return AccessDenied("unknown_credential", "the credential is not valid")
        # From here the token names an issued credential: a refusal names it for the audit log.
        if not _matches(row, secret.encode()):
            # The caller is told what an id never issued is told: nothing says the id exists.
            reason, message = "unknown_credential", "the credential is not valid"
        elif isinstance(row.answer, Principal):
            return row.answer
        else:
            reason, message = row.answer
        return AccessDenied(
            reason, message, credential_id=row.credential_id, institution_code=row.institution_code
        )

    def _read(self, credential_id: str) -> _Credential | None:
        row = self._reads.run(
            lambda connection: connection.execute(_ROW, {"credential_id": credential_id}).first()
        )
        if row is None:
            return None
        answer: Principal | tuple[str, str]
        if row.revoked_at is not None:
            answer = ("revoked_credential", "the credential has been revoked")
        elif row.kind == "institution" and row.status != "active":
            answer = ("institution_not_active",
                      f"institution {row.institution_code} is {row.status}")  # fmt: skip
        else:
            answer = Principal(
                row.credential_id, row.kind, row.institution_code, row.insurer_number, row.ikind
            )
        return _Credential(row.credential_id, row.institution_code, row.secret_sha256, answer)


_INSTITUTION_COLUMNS = frozenset(
    {"institution_code", "name", "status", "online_since", "subsidy_applied_on",
     "subsidy_approved_on", "subsidy_paid_on", "subsidy_yen"}
)  # fmt: skip


def load_institutions(engine: sa.Engine, path: Path) -> int:
    """Upserts institutions from a CSV file (docs/formats.md §5); all or nothing."""
    from kokuho.registry import read_csv_rows

    name = str(path)
    rows: list[dict[str, object]] = []
    errors: list[RowError] = []
    required = frozenset({"institution_code", "name", "status"})
    for line, raw in read_csv_rows(path, required=required, allowed=_INSTITUTION_COLUMNS):
        try:
            rows.append(_institution_row(raw))
        except _FieldProblem as problem:
            errors.append(RowError(name, line, problem.field, str(problem)))
    if errors:
        raise FileRejected(errors)
    with engine.begin() as connection:
        for row in rows:
            updated = connection.execute(
                institutions.update()
                .where(institutions.c.institution_code == row["institution_code"])
                .values(row)
            )
            if updated.rowcount == 0:
                connection.execute(institutions.insert().values(row))
    return len(rows)


class _FieldProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _date(field: str, value: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return iso_date(value.strip())
    except ValueError:
        raise _FieldProblem(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _institution_row(raw: dict[str, str]) -> dict[str, object]:
    if "__width__" in raw:
        raise _FieldProblem("", raw["__width__"])
    try:
        code = InstitutionCode.parse(raw["institution_code"])
    except InvalidIdentifier as error:
        raise _FieldProblem("institution_code", error.reason) from None
    status = raw["status"].strip()
    if status not in STATUSES:
        raise _FieldProblem("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    if not raw["name"].strip():
        raise _FieldProblem("name", "must not be empty")
    # Full-width digits read as the other files read them (NFKC); any other digit str.isdigit
    # knows is refused, and so is an amount past MAX_SUBSIDY_YEN, which the database's 64-bit
    # integer could not even hold from 2**63 on.
    yen = unicodedata.normalize("NFKC", raw.get("subsidy_yen", "")).strip()
    if yen and not (yen.isascii() and yen.isdigit()):
        raise _FieldProblem("subsidy_yen", f"{yen[:40]!r} is not a whole number of yen")
    if yen and (len(yen) > len(str(MAX_SUBSIDY_YEN)) or int(yen) > MAX_SUBSIDY_YEN):
        raise _FieldProblem("subsidy_yen", f"{yen[:40]} is more than {MAX_SUBSIDY_YEN:,} yen")
    return {
        "institution_code": code.value,
        "name": raw["name"].strip(),
        "kind": code.kind,
        "status": status,
        "online_since": _date("online_since", raw.get("online_since", "")),
        "subsidy_applied_on": _date("subsidy_applied_on", raw.get("subsidy_applied_on", "")),
        "subsidy_approved_on": _date("subsidy_approved_on", raw.get("subsidy_approved_on", "")),
        "subsidy_paid_on": _date("subsidy_paid_on", raw.get("subsidy_paid_on", "")),
        "subsidy_yen": int(yen) if yen else None,
    }


def register_terminal(
    engine: sa.Engine, institution: str, terminal_id: str, public_key: bytes
) -> None:
    """Registers a face-recognition card reader (顔認証付きカードリーダー) and its public key.

    An unknown institution, a terminal id already registered or one that is not 1–40
    printable characters is refused with ValueError (they reached the database's constraints:
    an IntegrityError, an internal error)."""
    if not 1 <= len(terminal_id) <= 40 or not terminal_id.isprintable():
        raise ValueError(f"terminal id {terminal_id[:40]!r}: 1–40 printable characters")
    with engine.begin() as connection:
        if (
            connection.scalar(
                sa.select(institutions.c.status).where(
                    institutions.c.institution_code == institution
                )
            )
            is None
        ):
            raise ValueError(f"institution {institution!r} is not registered")
        if (
            connection.scalar(
                sa.select(terminals.c.terminal_id).where(terminals.c.terminal_id == terminal_id)
            )
            is not None
        ):
            raise ValueError(f"terminal {terminal_id!r} is already registered")
        connection.execute(
            terminals.insert().values(
                terminal_id=terminal_id,
                institution_code=institution,
                public_key=public_key.hex(),
            )
        )


def revoke_terminal(engine: sa.Engine, terminal_id: str) -> bool:
    """Revokes a card reader (a lost or stolen 顔認証付きカードリーダー): its attestations are
    refused by running servers within :data:`~kokuho.verify._cards.REVOCATION_SECONDS` (each
    process caches reader keys that long). False when no such reader is active."""
    return _revoke(engine, terminals.c.terminal_id, terminal_id)


def check_insurer(value: str) -> str:
    return InsurerNumber.parse(value).value
