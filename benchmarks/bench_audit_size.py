"""Audit log size (issue 15 item 3): bytes one eligibility check's audit record takes on
PostgreSQL, table and indexes, to size the primary's disk (docs/operations.md, sizing).

    .venv/bin/python benchmarks/bench_audit_size.py [--records 100000] [--url URL]

Writes ``--records`` records shaped like a check by number's (a 19-character credential id,
a 医療機関コード, the asked insurer and number, the returned validity) through the chain's own
``append`` into a fresh schema of the PostgreSQL database at ``--url``, then reads
``pg_total_relation_size``. Then the spool (the primary-down path): the same records
appended to an :class:`AuditSpool` in batches of ``--batch`` (one ``fsync`` each, as the
writer's group commit), and replayed into a second fresh schema. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

import kokuho.registry  # noqa: F401  (the audit log's foreign tables)
from kokuho.store import connect
from kokuho.verify._audit import AuditRecord, append, check_record, record_values
from kokuho.verify._audit_spool import AuditSpool
from kokuho.verify._tables import audit_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(args.url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}_replay"'))
    try:
        engine = connect(f"{args.url}?options=-csearch_path%3D{schema}")
        records = [
            AuditRecord(
                actor="kc_" + uuid.uuid4().hex[:16], institution_code="3710112347",
                purpose="care", action="check_number", outcome="1",
                person_id=1 + i * 97 % 10_000_000,
                detail={"asked": {"insurer": "00370015", "number": f"{i:08d}"},
                        "returned": {"validity": 1, "results": 1, "limit_shown": False}},
            )
            for i in range(args.records)
        ]  # fmt: skip
        with engine.begin() as connection:
            for start in range(0, len(records), 5_000):
                append(connection, records[start : start + 5_000])
        with engine.connect() as connection:
            name = audit_log.name
            total = connection.execute(sa.text(f"select pg_total_relation_size('{name}')"))
            heap = connection.execute(sa.text(f"select pg_relation_size('{name}')"))
            total_bytes, heap_bytes = int(total.scalar_one()), int(heap.scalar_one())
        engine.dispose()
        replay_url = f"{args.url}?options=-csearch_path%3D{schema}_replay"
        spool_rate, replay_rate = _spool(records, replay_url, args.batch)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(sa.text(f'DROP SCHEMA "{schema}_replay" CASCADE'))
        admin.dispose()
    print(json.dumps({
        "records": args.records,
        "bytes_per_record": round(total_bytes / args.records),
        "heap_bytes_per_record": round(heap_bytes / args.records),
        "index_bytes_per_record": round((total_bytes - heap_bytes) / args.records),
        "spool_records_per_s": round(spool_rate),
        "spool_batch": args.batch,
        "replay_records_per_s": round(replay_rate),
    }, indent=2))  # fmt: skip


def _spool(records: list[AuditRecord], url: str, batch: int) -> tuple[float, float]:
    engine = connect(url)
    rows = [(record_values(r, check_record(r)), check_record(r)) for r in records]
    with tempfile.TemporaryDirectory() as folder:
        spool = AuditSpool(Path(folder))
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            spool.append(rows[start : start + batch])
        spooled = time.perf_counter() - started
        started = time.perf_counter()
        added = spool.replay(engine)
        replayed = time.perf_counter() - started
    engine.dispose()
    assert added == len(records)
    return len(records) / spooled, len(records) / replayed


if __name__ == "__main__":
    main()
