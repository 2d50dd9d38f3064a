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
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from kokuho.ids import InstitutionCode, InsurerNumber, InvalidIdentifier, iso_date
from kokuho.registry import FileRejected, RowError
from kokuho.registry import tables as register
from kokuho.store import ReadRouter, has_control
from kokuho.verify._tables import credentials, institutions, terminals

STATUSES = ("active", "suspended", "closed")
#: The largest 医療情報化支援基金 subsidy_yen an institutions file may give (100億円, as for an
#: income): far above any real subsidy, far below what the database's integer holds.
MAX_SUBSIDY_YEN = 10_000_000_000
_CACHE_SECONDS = 5.0  # how long a revocation may take to reach a running server


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


class Authenticator:
    """Checks tokens against the database, remembering answers for a few seconds.

    With ``refusals``, every refused authentication (a cached one too) is told to it; an
    accepted one costs nothing more."""

    def __init__(
        self, engine: sa.Engine, *, cache_seconds: float = _CACHE_SECONDS,
        reads: ReadRouter | None = None, refusals: Refusals | None = None,
    ) -> None:  # fmt: skip
        # Credentials are read like checks (a fresh replica, else the primary), so checks go
        # on while the primary is down; a revocation reaches them within the replica lag bound
        # plus ``cache_seconds``.
        self._reads = reads or ReadRouter(engine)
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | AccessDenied]] = {}
        self._lock = threading.Lock()
        self._refusals = refusals

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            denied = AccessDenied("no_credential", "a credential is required")
            if self._refusals is not None:
                self._refusals.refused(denied)
            raise denied
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token)
        if cached is None or now - cached[0] > self._cache_seconds:
            cached = (now, self._lookup(token))
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[token] = cached
        outcome = cached[1]
        if isinstance(outcome, AccessDenied):
            if self._refusals is not None:
                self._refusals.refused(outcome)
            raise outcome
        return outcome

    def _lookup(self, token: str) -> Principal | AccessDenied:
        credential_id, _, secret = token.partition(".")
        if not credential_id.startswith("kc_") or not secret:
            return AccessDenied("malformed_credential", "the credential is malformed")
        query = (
            sa.select(credentials, institutions.c.status, institutions.c.kind.label("ikind"))
            .outerjoin(
                institutions, institutions.c.institution_code == credentials.c.institution_code
            )
            .where(credentials.c.credential_id == credential_id)
        )
        row = self._reads.run(lambda connection: connection.execute(query).first())
        if row is None:
            return AccessDenied("unknown_credential", "the credential is not valid")
        # From here the token names an issued credential: a refusal names it for the audit log.
        named = {"credential_id": row.credential_id, "institution_code": row.institution_code}
        if not hmac.compare_digest(row.secret_sha256, _digest(secret)):
            # The caller is told what an id never issued is told: nothing says the id exists.
            return AccessDenied("unknown_credential", "the credential is not valid", **named)
        if row.revoked_at is not None:
            return AccessDenied("revoked_credential", "the credential has been revoked", **named)
        if row.kind == "institution" and row.status != "active":
            return AccessDenied(
                "institution_not_active", f"institution {row.institution_code} is {row.status}",
                **named,
            )  # fmt: skip
        return Principal(
            row.credential_id, row.kind, row.institution_code, row.insurer_number, row.ikind
        )


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
