"""The audit log's hash chain (監査記録の連鎖): each record's hash covers the previous record's
hash and the record's own fields, so that any edit, deletion or insertion of a record, and
with an anchor a truncated tail, is detected by :func:`verify_chain`.

:func:`chain_rows` makes the chained rows after a head (the three writers share it: the writer
thread through :func:`append`, the SQLite loop's and the PostgreSQL loop's batchers);
:func:`append` adds records inside the caller's transaction, holding the chain's lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa

from kokuho.store import bulk_insert
from kokuho.verify._audit_record import AuditRecord, record_values
from kokuho.verify._tables import audit_log

GENESIS = "0" * 64
AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "institution_code",
    "purpose",
    "action",
    "person_id",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
)
AUDIT_LOCK_ID = 0x61756474  # "audt": one chain writer at a time on PostgreSQL


def _canonical_time(at: dt.datetime) -> str:
    # Databases differ in how they give timestamps back; hash a fixed UTC form.
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Made once (json.dumps makes an encoder per call with its options): the same text.
_HASH_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def record_hash(prev_hash: str, seq: int, values: dict[str, Any]) -> str:
    body = _HASH_JSON.encode(
        [
            seq,
            _canonical_time(values["at"]),
            values["actor"],
            values["institution_code"],
            values["purpose"],
            values["action"],
            values["person_id"],
            values["outcome"],
            values["detail"],
        ]
    )
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


# Built once: a batch is a few statements, and building them cost more than running them.
_PG_LOCK = sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_ID))
_SQLITE_LOCK = audit_log.update().where(sa.false()).values(seq=audit_log.c.seq)
_HEAD = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)


def append(
    connection: sa.Connection,
    records: Sequence[AuditRecord],
    details: Sequence[str | None] | None = None,
) -> list[int]:
    """Appends ``records`` to the chain inside the caller's transaction; returns their seqs.
    ``details`` are their detail JSON when already made (by
    :func:`~kokuho.verify._audit_record.check_record`)."""
    if not records:
        return []
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_LOCK)
    else:
        # SQLite reads the head before its first write would take the lock, so two server
        # processes could read the same head; a write that changes nothing takes it first.
        connection.execute(_SQLITE_LOCK)
    head = connection.execute(_HEAD).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    rows = chain_rows(zip(records, details or [None] * len(records), strict=True), seq, prev)
    bulk_insert(connection, audit_log, AUDIT_COLUMNS, rows)
    return list(range(seq + 1, seq + 1 + len(rows)))


def chain_rows(
    items: Iterable[tuple[AuditRecord, str | None]], seq: int, prev: str
) -> list[tuple[Any, ...]]:
    """The audit_log rows (in ``AUDIT_COLUMNS`` order) of ``items`` appended after the chain's head
    ``seq``/``prev``: each row's hash covers the one before (the three writers share this)."""
    rows = []
    for record, detail in items:
        seq += 1
        values = record_values(record, detail)
        digest = record_hash(prev, seq, values)
        rows.append((seq, *values.values(), prev, digest))
        prev = digest
    return rows


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    head: str
    problem: str | None = None
    seq: int | None = None


def verify_chain(engine: sa.Engine, *, expect_head: str | None = None) -> ChainReport:
    """Recomputes every hash in order. Detects edited fields, deleted or inserted records and
    broken links; with ``expect_head`` (an anchor kept outside the database) also a truncated
    tail."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    columns = [audit_log.c[name] for name in AUDIT_COLUMNS]
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=10_000).execute(
            sa.select(*columns).order_by(audit_log.c.seq)
        )
        try:
            for row in result:
                problem = None
                if row.seq != expected_seq:
                    problem = f"record {expected_seq} is missing"
                elif row.prev_hash != prev:
                    problem = "the link to the previous record is broken"
                elif record_hash(prev, row.seq, row._asdict()) != row.hash:
                    problem = "the record was altered"
                if problem:
                    return ChainReport(False, count, prev, problem, row.seq)
                prev = row.hash
                expected_seq += 1
                count += 1
        finally:
            result.close()
    if expect_head is not None and expect_head != prev:
        return ChainReport(False, count, prev, "the chain does not end at the expected head")
    return ChainReport(True, count, prev)
