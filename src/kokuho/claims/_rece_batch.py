"""Many レセ電 files through the fast path in batches, into (uncommitted) lake files.

A clinic's month is a small file; one NumPy pass per file would spend more time starting than
reading. Files of one kind are joined into parse batches of about ``BATCH_BYTES`` and read
together; when one is refused its files are read one by one, and the precise reader reports what
is wrong with each one the fast path refuses.

``ingest_chunk`` writes the rows of the good files of a chunk (a worker's unit of work) as one
*batch* of lake files: one Parquet file per table and service month, holding the rows of all of
them, for the lake to commit (``_lake``); it runs in the lake's process or in workers. One file
per source file, table and month (≈ 13,000 small files, each created, written, fsynced and
renamed, for 5 M lines of clinic-months) cost more than the parsing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Iterator, Sequence
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
from kokuho.store import FileTooLarge, atomic_file, read_capped

#: Bytes of claims read as one batch (≈ 80,000 lines): large enough that the fixed cost of a
#: batch is small, small enough that its working arrays stay near the CPU caches (measured:
#: 2–8 MB batches parse faster per line than 16 MB or more).
BATCH_BYTES: Final = 4 * 1024 * 1024


#: Threads writing a batch's Parquet files (compression and fsync release the GIL).
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
    """The rows of each good file of ``files`` ((path, bytes, sha256) triples), parse batch
    by parse batch; the problems of the bad ones are appended to ``problems``."""
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
    """A batch written to the lake (not yet committed: the manifest does not name its files)."""

    batch: str  # its id (``batch_id``)
    entries: dict[str, dict[str, Any]]  # the manifest entry of each of its files, by sha256
    files: list[Path]  # one per table and service month, holding the rows of all its files


def batch_id(digests: Iterable[str]) -> str:
    """The name of a batch's Parquet files: the sha256 of its files' digests (sorted, one a
    line), or, for a batch of one file, that file's digest (the name the one-file-per-source
    layout gave it). Derived from the contents, so a batch written again after a crash gets
    the same names."""
    ordered = sorted(digests)
    if len(ordered) == 1:
        return ordered[0]
    return hashlib.sha256("\n".join(ordered).encode("ascii")).hexdigest()


def ingest_chunk(
    root: Path,
    chunk: Sequence[tuple[Path, str]],
    *,
    check_only: bool = False,
    cap: int | None = None,
) -> tuple[list[Written], list[ClaimProblem]]:
    """Reads and checks the files of ``chunk`` ((path, sha256) pairs) and writes their rows
    under the lake ``root`` as one batch: one Parquet file per table and service month,
    uncommitted. When any file is bad (or with ``check_only``) nothing is written; the others
    are still checked. A file over ``cap`` bytes (the lake's ``MAX_FILE_BYTES``) is a problem,
    not read past it. Runs in the lake's process or in a worker process; on an error it
    removes what it wrote."""
    problems: list[ClaimProblem] = []
    files = _unchanged(chunk, problems, cap)
    parts: dict[tuple[str, str], list[pa.Table]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for item in parse_files(files, problems):
        if problems or check_only:
            continue  # nothing of this chunk will be written: keep no rows, only check
        for key, part in _parts(item.parsed):
            parts.setdefault(key, []).append(part)
        entries[item.digest] = _entry(item)
    if problems or not entries:
        return [], problems
    batch = batch_id(entries)
    targets = {
        root / name / f"service_month={month}" / f"{batch}.parquet": tables
        for (name, month), tables in sorted(parts.items())
    }
    for entry in entries.values():
        entry["batch"] = batch
    # Writing a Parquet file and waiting for its fsync release the GIL: the tables and months
    # of a batch are written side by side.
    try:
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            futures = [pool.submit(_write, final, tables) for final, tables in targets.items()]
            for future in futures:
                future.result()
    except BaseException:  # the pool has waited for the other writers: none is left running
        for file in targets:
            file.unlink(missing_ok=True)
        raise
    return [Written(batch, entries, list(targets))], problems


def _unchanged(
    chunk: Sequence[tuple[Path, str]], problems: list[ClaimProblem], cap: int | None = None
) -> Iterator[tuple[Path, bytes, str]]:
    """The files of ``chunk`` read again, each with the sha256 the lake took when it listed
    the call: one whose bytes no longer have it (a transfer replaced it meanwhile) is a problem,
    not rows under another file's digest; so is one grown past ``cap`` bytes meanwhile."""
    for path, digest in chunk:
        try:
            data = Path(path).read_bytes() if cap is None else read_capped(Path(path), cap)
        except FileTooLarge as large:
            reason = f"{large}, the cap of a レセ電 file (it grew while it was being ingested)"
            problems.append(ClaimProblem(str(path), 0, 0, "file", reason))
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            yield path, data, digest
        else:
            reason = "changed while it was being ingested (its sha256 is not the one first read)"
            problems.append(ClaimProblem(str(path), 0, 0, "file", f"{reason}; ingest it again"))


def months_of(parsed: FastFile) -> list[dt.date]:
    """The service months of a file's claims."""
    claims = parsed.tables.get("claims")
    months: list[dt.date] = [] if claims is None else claims["service_month"].unique().to_pylist()
    return sorted(months)


def _parts(parsed: FastFile) -> list[tuple[tuple[str, str], pa.Table]]:
    """Each table of a file split by service month, keyed by (table, ``YYYY-MM``)."""
    parts: list[tuple[tuple[str, str], pa.Table]] = []
    months = months_of(parsed)
    for name, table in parsed.tables.items():
        for month in months:
            part = table
            if len(months) > 1:
                part = table.filter(pc.equal(table.column("service_month"), month))
            if part.num_rows:
                parts.append(((name, f"{month:%Y-%m}"), part))
    return parts


def _entry(item: ParsedFile) -> dict[str, Any]:
    """A file's manifest entry (``ingest_chunk`` adds its batch)."""
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
    }


def _write(final: Path, tables: list[pa.Table]) -> None:
    """One Parquet file of the rows of ``tables`` (the parts of one table and month of a
    batch's files, in the batch's order)."""
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    with atomic_file(final, sync_folder=False) as temporary:
        pq.write_table(table, temporary, compression="zstd")


def work_chunks(
    fresh: list[tuple[Path, str, int]], workers: int, chunk_bytes: int
) -> list[list[tuple[Path, str]]]:
    """The files in chunks of about ``chunk_bytes`` (``_lake.CHUNK_BYTES``: the unit of work
    of a worker), smaller when that leaves a worker without a chunk."""
    total = sum(length for _, _, length in fresh)
    limit = max(1, min(chunk_bytes, -(-total // max(workers, 1))))
    chunks: list[list[tuple[Path, str]]] = []
    size = limit
    for path, digest, length in fresh:
        if size >= limit:
            chunks.append([])
            size = 0
        chunks[-1].append((path, digest))
        size += length
    return chunks


def collect_written(
    root: Path,
    done: list[Written],
    written: list[Path],
    entries: dict[str, dict[str, Any]],
    batches: dict[str, dict[str, Any]],
) -> None:
    """Adds what the chunks ``done`` wrote to the call's files, manifest entries and batches."""
    for batch in done:
        written += batch.files
        entries.update(batch.entries)
        batches[batch.batch] = {
            "files": [p.relative_to(root).as_posix() for p in batch.files],
            "sources": sorted(batch.entries),
        }


def drop_claims(root: Path, batches: dict[str, dict[str, Any]], ids: Collection[str]) -> None:
    """Rewrites the uncommitted files of ``batches`` (as ``collect_written`` lists them) without
    the rows of the claims ``ids`` (``<digest>:<レセプト番号>``); a file left empty is removed and
    no longer named by its batch."""
    files = {claim_id.split(":", 1)[0] for claim_id in ids}
    dropped = pa.array(sorted(ids), pa.string())
    for batch in batches.values():
        if files.isdisjoint(batch["sources"]):
            continue
        kept: list[str] = []
        for name in batch["files"]:
            path = root / name
            table = pq.ParquetFile(path).read()
            gone = pc.is_in(table.column("claim_id"), value_set=dropped)
            if pc.any(gone).as_py():
                table = table.filter(pc.invert(gone))
                if not table.num_rows:
                    path.unlink()
                    continue
                with atomic_file(path, sync_folder=False) as temporary:
                    pq.write_table(table, temporary, compression="zstd")
            kept.append(name)
        batch["files"] = kept


def content_digest(data: bytes, digest: str) -> str:
    """The sha256 of a レセ電 file's records in their standard form: every line ended CR LF, a
    DOS EOF mark after the last line dropped. Files that differ only there (a copy whose line
    ends a transfer rewrote) hold the same claims and have one content digest. A file already
    in that form, as nearly every one is, has its own ``digest``: no second pass over it."""
    records = data[:-1] if data.endswith(b"\n\x1a") or data == b"\x1a" else data
    if records.count(b"\n") == records.count(b"\r\n") and (
        not records or records.endswith(b"\r\n")
    ):
        return digest if records is data else hashlib.sha256(records).hexdigest()
    records = records.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if records and not records.endswith(b"\r\n"):
        records += b"\r\n"
    return hashlib.sha256(records).hexdigest()
