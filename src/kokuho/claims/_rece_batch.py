"""Many レセ電 files through the fast path in batches, into (uncommitted) lake files.

A clinic's month is a small file; one NumPy pass per file would spend more time starting than
reading. Files of one kind are joined into batches of about ``BATCH_BYTES`` and read together;
when a batch is refused its files are read one by one, and the precise reader reports what is
wrong with each one the fast path refuses. ``ingest_chunk`` writes the rows of good files as
Parquet, for the lake to commit (``_lake``); it runs in the lake's process or in workers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._errors import ClaimProblem
from kokuho.claims._rece_fast import FastFile, NotClean, fast_columns, fast_columns_many
from kokuho.claims._rece_read import claim_file_problems
from kokuho.store import atomic_file

#: Bytes of claims read as one batch (≈ 80,000 lines): large enough that the fixed cost of a
#: batch is small, small enough that its working arrays stay near the CPU caches (measured:
#: 2–8 MB batches parse faster per line than 16 MB or more).
BATCH_BYTES: Final = 4 * 1024 * 1024


#: Threads writing Parquet files (mostly waiting for fsync when the files are small).
WRITERS: Final = 8


@dataclass(frozen=True, slots=True)
class ParsedFile:
    path: Path
    digest: str
    parsed: FastFile


def parse_files(
    files: Iterable[tuple[Path, bytes, str]],
    problems: list[ClaimProblem],
    *,
    batch_bytes: int = BATCH_BYTES,
) -> Iterator[ParsedFile]:
    """The rows of each good file of ``files`` ((path, bytes, sha256) triples), batch by batch;
    the problems of the bad ones are appended to ``problems``."""
    batches: dict[bytes, list[tuple[Path, bytes, str]]] = {}
    sizes: dict[bytes, int] = {}
    for path, data, digest in files:
        kind = data[:2]  # IR or YK; anything else fails alone
        batches.setdefault(kind, []).append((path, data, digest))
        sizes[kind] = sizes.get(kind, 0) + len(data)
        if sizes[kind] >= batch_bytes:
            yield from _parse(batches.pop(kind), problems)
            del sizes[kind]
    for batch in batches.values():
        yield from _parse(batch, problems)


def _parse(
    batch: list[tuple[Path, bytes, str]], problems: list[ClaimProblem]
) -> Iterator[ParsedFile]:
    try:
        parsed = fast_columns_many([(data, digest) for _, data, digest in batch])
    except NotClean:
        pass
    else:
        for (path, _, digest), rows in zip(batch, parsed, strict=True):
            yield ParsedFile(path, digest, rows)
        return
    for path, data, digest in batch:
        try:
            rows = fast_columns(data, digest)
        except NotClean:
            problems += _problems(data, path)
        else:
            yield ParsedFile(path, digest, rows)


def _problems(data: bytes, path: Path) -> list[ClaimProblem]:
    found = claim_file_problems(data, str(path))
    if not found:
        # The two readers must agree; a file neither explains is a kokuho bug, not the user's.
        raise RuntimeError(f"{path}: the fast path refused it but the reader finds no problem")
    return found


@dataclass(frozen=True, slots=True)
class Written:
    """A file's rows written to the lake (not yet committed: the manifest does not name them)."""

    digest: str
    entry: dict[str, Any]  # its manifest entry
    files: list[Path]


def ingest_chunk(
    root: Path, chunk: Sequence[tuple[Path, str]], *, check_only: bool = False
) -> tuple[list[Written], list[ClaimProblem]]:
    """Reads, checks and writes the files of ``chunk`` ((path, sha256) pairs) under the lake
    ``root``, one Parquet file per table and service month, uncommitted. Once a file is bad
    (or with ``check_only``) nothing more is written; the others are still checked. Runs in
    the lake's process or in a worker process; on an error it removes what it wrote."""
    written: list[Written] = []
    problems: list[ClaimProblem] = []
    files = ((path, Path(path).read_bytes(), digest) for path, digest in chunk)
    # Writing a Parquet file and waiting for its fsync release the GIL: the writers overlap
    # with the parsing and with each other's fsync.
    pool = ThreadPoolExecutor(max_workers=WRITERS)
    try:
        try:
            futures = []
            for item in parse_files(files, problems):
                if problems or check_only:
                    continue
                parts = _parts(root, item.parsed, item.digest)
                finals = [final for final, _ in parts]
                written.append(Written(item.digest, _entry(root, item, finals), finals))
                futures += [pool.submit(_write, final, part) for final, part in parts]
            for future in futures:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    except BaseException:
        for file in (f for w in written for f in w.files):
            file.unlink(missing_ok=True)
        raise
    return written, problems


def months_of(parsed: FastFile) -> list[dt.date]:
    """The service months of a file's claims."""
    claims = parsed.tables.get("claims")
    months: list[dt.date] = [] if claims is None else claims["service_month"].unique().to_pylist()
    return sorted(months)


def _parts(root: Path, parsed: FastFile, digest: str) -> list[tuple[Path, pa.Table]]:
    """Each table of a file split by service month, with the file it goes to."""
    parts: list[tuple[Path, pa.Table]] = []
    months = months_of(parsed)
    for name, table in parsed.tables.items():
        for month in months:
            part = table
            if len(months) > 1:
                part = table.filter(pc.equal(table.column("service_month"), month))
            if part.num_rows:
                folder = root / name / f"service_month={month:%Y-%m}"
                parts.append((folder / f"{digest}.parquet", part))
    return parts


def _entry(root: Path, item: ParsedFile, files: list[Path]) -> dict[str, Any]:
    parsed = item.parsed
    return {
        "name": item.path.name,
        "kind": str(parsed.kind),
        "institution": parsed.institution,
        "fee_table": parsed.fee_table,
        "billing_month": f"{parsed.billing_month:%Y-%m}",
        "service_months": [f"{m:%Y-%m}" for m in months_of(parsed)],
        "claims": parsed.claims,
        "lines": parsed.lines,
        "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": [p.relative_to(root).as_posix() for p in files],
    }


def _write(final: Path, table: pa.Table) -> None:
    with atomic_file(final, sync_folder=False) as temporary:
        pq.write_table(table, temporary, compression="zstd")
