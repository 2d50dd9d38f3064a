"""Refused authentications (認証の拒否) on the audit log, bounded so that a flood cannot fill it.

A 401 that names an issued credential (its secret wrong: a guess at a real key; the credential
revoked; its institution not ``active``) is written to the audit log: actor the credential id,
``institution_code`` the credential's institution (none for insurer staff), purpose ``none``
(the request's purpose is never read), action ``authenticate``, outcome ``refused:<reason>``
(``unknown_credential`` for a wrong secret, as the caller is told), and a detail of
``{"reason", "refusals", "since", "message"}``. At most one record is written per credential
and reason every :data:`WINDOW` seconds; the refusals in between are counted into the next
record (``refusals`` is how many it stands for, ``since`` when the first of them came), which
is written when a refusal comes after the window, when the window ends (a thread started by
the first refusal held back looks every :data:`LOG_EVERY` seconds) or at the latest when the
server stops.

A 401 that names no issued credential (no token, a malformed one, an id never issued) is not
audited: anyone could fill the append-only log with them. They are counted by reason and logged
to the server log at most once every :data:`LOG_EVERY` seconds, as counts only.

No record or log line holds the token, its secret or the text a caller sent as one (a My Number
pasted there). The records go to the writer's thread without waiting for their commit
(:meth:`~kokuho.verify._audit.AuditWriter.submit`): the 401 does not wait on the audit log, and
the event loop, where most requests are authenticated, never blocks on it. An accepted
credential never reaches this module (the authenticator's cached answer, as before).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kokuho.verify._audit import AuditRecord, AuditWriter

if TYPE_CHECKING:
    from kokuho.verify._access import AccessDenied

log = logging.getLogger(__name__)

#: Seconds between two records of one credential and reason.
WINDOW: Final = 60.0
#: Seconds between two server-log lines of refusals that name no credential; also how often
#: held-back counts are looked at once a refusal was held back.
LOG_EVERY: Final = 10.0
#: Credentials and reasons remembered before those with nothing held back are forgotten.
_REMEMBERED: Final = 4096


@dataclass
class _Seen:
    written: float  # clock time of the last record
    held: int = 0  # refusals counted since, not yet written
    since: dt.datetime | None = None  # when the first of them came
    institution_code: str | None = None
    message: str = ""


class RefusalRecorder:
    """What an :class:`~kokuho.verify._access.Authenticator` is told of every refusal."""

    def __init__(
        self, audit: AuditWriter, *, window: float = WINDOW, log_every: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic, background: bool = True,
    ) -> None:  # fmt: skip
        self._audit = audit
        self._window = window
        self._log_every = log_every
        self._clock = clock
        self._background = background
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._anonymous: dict[str, int] = {}
        self._logged_at = float("-inf")
        self._logged_from = clock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def refused(self, denied: AccessDenied) -> None:
        now = self._clock()
        credential = denied.credential_id
        if credential is None:
            self._count_anonymous(denied.reason, now)
            return
        key = (credential, denied.reason)
        at = dt.datetime.now(dt.UTC)
        with self._lock:
            seen = self._seen.get(key)
            if seen is None or now - seen.written >= self._window:
                held = seen.held if seen is not None else 0
                since = seen.since if seen is not None and seen.since is not None else at
                self._seen[key] = _Seen(now)
                if len(self._seen) > _REMEMBERED:
                    self._forget(now)
            else:
                seen.held += 1
                if seen.since is None:
                    seen.since, seen.institution_code, seen.message = (
                        at, denied.institution_code, str(denied)
                    )  # fmt: skip
                self._start()
                return
        self._write(credential, denied.reason, denied.institution_code, str(denied), held + 1,
                    since)  # fmt: skip

    def flush_due(self) -> None:
        """Writes the counts held back whose window is over, and the server-log line due."""
        self._flush(everything=False)

    def close(self) -> None:
        """Stops the thread and writes every count held back (the server stops)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._flush(everything=True)

    # -- inside -------------------------------------------------------------------------------
    def _count_anonymous(self, reason: str, now: float) -> None:
        with self._lock:
            self._anonymous[reason] = self._anonymous.get(reason, 0) + 1
            if now - self._logged_at < self._log_every:
                self._start()
                return
            counts, self._anonymous = self._anonymous, {}
            self._logged_at, since = now, self._logged_from
            self._logged_from = now
        self._log(counts, now - since)

    def _log(self, counts: dict[str, int], seconds: float) -> None:
        shown = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))
        log.warning(
            "refused %d authentications naming no issued credential in the last %.0f s "
            "(not audited): %s", sum(counts.values()), seconds, shown,
        )  # fmt: skip

    def _flush(self, *, everything: bool) -> None:
        now = since = self._clock()
        due: list[tuple[tuple[str, str], _Seen]] = []
        with self._lock:
            for key, seen in self._seen.items():
                if seen.held and (everything or now - seen.written >= self._window):
                    due.append((key, seen))  # replaced below: no one else changes it now
                    self._seen[key] = _Seen(now)
            counts: dict[str, int] = {}
            if self._anonymous and (everything or now - self._logged_at >= self._log_every):
                counts, self._anonymous = self._anonymous, {}
                self._logged_at, since = now, self._logged_from
                self._logged_from = now
        for (credential, reason), seen in due:
            assert seen.since is not None  # noqa: S101 (held)
            self._write(credential, reason, seen.institution_code, seen.message, seen.held,
                        seen.since)  # fmt: skip
        if counts:
            self._log(counts, now - since)

    def _forget(self, now: float) -> None:
        """Drops what no longer bounds anything (under the lock): nothing held back, the
        window over."""
        for key in [k for k, s in self._seen.items() if not s.held
                    and now - s.written >= self._window]:  # fmt: skip
            del self._seen[key]

    def _start(self) -> None:
        """Starts the thread that writes held-back counts once their window ends (under the
        lock; once)."""
        if self._thread is not None or not self._background or self._stop.is_set():
            return
        self._thread = threading.Thread(target=self._run, name="auth-refusals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(min(self._log_every, self._window)):
            try:
                self.flush_due()
            except Exception:  # the next round tries again; nothing of a request waits on it
                log.exception("refused authentications could not be recorded")

    def _write(
        self, credential: str, reason: str, institution: str | None, message: str, count: int,
        since: dt.datetime,
    ) -> None:  # fmt: skip
        if reason == "unknown_credential":  # the caller was told no more than for any id
            message = "the secret does not match the credential's"
        record = AuditRecord(
            actor=credential, institution_code=institution, purpose="none",
            action="authenticate", outcome=f"refused:{reason}"[:40],
            detail={"reason": reason, "refusals": count, "since": since.isoformat(),
                    "message": message[:200]},
        )  # fmt: skip
        try:
            self._audit.submit(record)
        except Exception:  # a refusal is answered all the same; the server log says why
            log.exception("a refused authentication of %s could not be recorded", credential)
