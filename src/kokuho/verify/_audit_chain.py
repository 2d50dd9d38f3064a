"""The audit log's check (監査記録の検証): every hash recomputed in order, so that any edit,
deletion or insertion of a record, and with an anchor a truncated tail, is detected."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.verify._audit import _COLUMNS, GENESIS, record_hash
from kokuho.verify._tables import audit_log


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
    columns = [audit_log.c[name] for name in _COLUMNS]
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
