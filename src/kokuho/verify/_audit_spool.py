"""The audit spool (監査記録の退避): audit records kept on local disk while the primary database
does not answer, replayed into the hash chain when it does.

Decision (docs/operations.md, "Failure modes"): when the primary is down, eligibility checks
continue read-only from a replica, and each answer's audit record is appended to a spool file
and flushed to disk (``fsync``) *before* the answer is released: an answer never leaves without
a durable record. The chain itself is extended later, in one transaction per spool file, when
the primary answers again; the records keep their own ``at`` (the moment of the check), the
chain gives them their ``seq``. Without a spool (the default when no replicas are configured)
an unreachable primary fails the check instead: no answer without its record, either way.

Each writer appends to its own file, which it holds under an exclusive ``flock``: a file nobody
holds belongs to a writer that died, and any writer replays it. Replay is idempotent: a marker
file is made durable before the chain's transaction and removed after the spool file, so a
crash in between is detected and the records, already in the chain, are not added twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from kokuho.verify._audit_chain import append
from kokuho.verify._audit_record import record_from_values
from kokuho.verify._tables import audit_log

log = logging.getLogger(__name__)
#: Records a spool file takes before the next one starts: one file is replayed in one
#: transaction by the writer every answer waits on, so it must stay short (≈ 0.1 s).
MAX_FILE_RECORDS = 2_000
_FIELDS = ("actor", "institution_code", "purpose", "action", "person_id", "outcome")


class SpoolCorrupt(ValueError):
    """A spool file with an unreadable record before its last line (not a torn write)."""


class AuditSpool:
    """Append-only local files of audit records that are waiting for the primary."""

    def __init__(self, folder: Path, *, max_file_records: int = MAX_FILE_RECORDS) -> None:
        self.folder = folder
        self._max_file_records = max_file_records
        self._in_file = 0
        # The records name persons and what was asked about them: owner only, like the keys.
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        self._file: IO[str] | None = None
        self._path: Path | None = None

    def append(self, rows: Sequence[tuple[dict[str, Any], str]]) -> None:
        """Writes ``rows`` (a record's values and its detail JSON) and flushes them to disk."""
        handle = self._open()
        for values, detail in rows:
            line = {name: values[name] for name in _FIELDS}
            line["at"] = values["at"].isoformat()
            line["detail"] = detail
            handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
        self._in_file += len(rows)
        if self._in_file >= self._max_file_records:
            self.close()  # the next record starts a new file: replays stay short

    def _open(self) -> IO[str]:
        if self._file is None:
            name = f"audit-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            path = self.folder / name
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            handle = os.fdopen(fd, "a", encoding="utf-8")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            _fsync_folder(self.folder)  # the new file's name survives a power cut
            self._file, self._path, self._in_file = handle, path, 0
        return self._file

    def pending(self) -> bool:
        return any(self.folder.glob("audit-*.jsonl"))

    def replay(self, connection_for: Any, *, max_files: int | None = None) -> int:
        """Moves the spool files nobody else holds into the chain, oldest first (at most
        ``max_files`` of them); returns the records added. ``connection_for`` is an engine:
        each file is one transaction (``engine.begin()``)."""
        added = 0
        paths = sorted(self.folder.glob("audit-*.jsonl"))
        for path in paths if max_files is None else paths[:max_files]:
            if path == self._path and self._file is not None:
                self._file.close()  # our own file: replay it like any other
                self._file = self._path = None
            try:
                handle = path.open("r", encoding="utf-8")
            except FileNotFoundError:  # another writer replayed it meanwhile
                continue
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer's file
                if not path.exists():
                    continue
                rows = _read(path, handle.read())
                marker = path.with_suffix(".replaying")
                if rows and not (marker.exists() and _in_chain(connection_for, rows[0][0])):
                    marker.touch()
                    _fsync_folder(self.folder)
                    records = [record_from_values(values) for values, _ in rows]
                    with connection_for.begin() as connection:
                        append(connection, records, [detail for _, detail in rows])
                    added += len(rows)
                path.unlink()
                _fsync_folder(self.folder)
                marker.unlink(missing_ok=True)
        if added:
            log.warning("replayed %d spooled audit records into the chain", added)
        return added

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._path = None


def _read(path: Path, text: str) -> list[tuple[dict[str, Any], str]]:
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            raw = json.loads(line)
            values = {name: raw[name] for name in _FIELDS}
            values["at"] = dt.datetime.fromisoformat(raw["at"])
            detail = raw["detail"]
            if not isinstance(detail, str):
                raise TypeError("detail")
        except (ValueError, KeyError, TypeError) as error:
            if number == len(lines):
                # A torn last line: its fsync never returned, so no answer waited on it.
                log.warning("%s:%d: torn spool record skipped", path, number)
                continue
            raise SpoolCorrupt(f"{path}:{number}: unreadable spool record ({error})") from None
        values["detail"] = detail
        rows.append((values, detail))
    return rows


def _in_chain(engine: Any, values: dict[str, Any]) -> bool:
    """Whether a previous replay of this file committed (only asked after a crash)."""
    columns = audit_log.c
    query = sa.select(columns.seq).where(
        columns.at == values["at"],
        columns.actor == values["actor"],
        columns.action == values["action"],
        columns.detail == values["detail"],
    )
    if values["person_id"] is not None:  # the indexed column narrows the search
        query = query.where(columns.person_id == values["person_id"])
    with engine.connect() as connection:
        return connection.execute(query.limit(1)).first() is not None


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
