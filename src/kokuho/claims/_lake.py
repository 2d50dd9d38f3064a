"""The claims lake: レセ電 files as Parquet, read through Ibis.

Layout under the lake root (the checkup lake's root, ``$KOKUHO_HOME/lake``; see ``_schema``)::

    claims_manifest.json                                    what is committed
    claims/service_month=YYYY-MM/<batch>.parquet            one row per レセプト
    claim_drugs/…, claim_diagnoses/…, claim_procedures/…    the same partitions
    drug_master/<sha256>.parquet                            医薬品マスター + MHLW 後発 list
    disease_master/<sha256>.parquet                         傷病名マスター

A *batch* is the レセ電 files of one ``ingest`` call (of one worker's chunk of it, ``CHUNK_BYTES``
each): their rows go into one Parquet file per table and service month, named ``<batch>``, the
sha256 of the files' digests (the file's own digest for a batch of one; ``_rece_batch``). The
manifest (format 2) names the batches, each with its files and the digests of the レセ電 files it
holds, and every レセ電 file by digest with its batch. A lake written before batches (format 1:
one Parquet file per レセ電 file, table and month, named by its digest and listed in its entry)
is read as it is and rewritten as format 2, its files untouched, by the next ``ingest``.

- **Atomic.** Every file is written to a temporary name, fsynced and renamed; the manifest is
  rewritten last, and readers open only the files it names. A crash before the manifest
  leaves files nobody reads, which the next ``ingest`` and ``vacuum`` remove (under the lock);
  a failure during ingest removes what it wrote.
- **Idempotent.** A file whose digest the manifest names is skipped, whatever batch holds it,
  and so is one holding the same records in other line ends (``content_digest``).
- **All or nothing per call.** ``ingest`` checks every file; if any is bad it raises
  ``ClaimFileRejected`` with the problems of all of them and commits nothing.
- **One writer at a time** (an ``flock`` on ``.claims.lock``), across processes.
- **A file past ``MAX_FILE_BYTES``** is refused unread, naming the file and the cap, as one
  problem of the call (the other files are still checked, nothing is written).

**One claim, its latest version.** A レセプト comes again in a later file when it was billed
late (月遅れ請求) or returned and billed again (返戻 → 再請求), perhaps corrected. Its レセプト
番号 numbers it within its file only, so one claim is what the claim says of itself
(``CLAIM_IDENTITY``): kind, 都道府県 + 医療機関コード, 診療年月, レセプト種別 (入院 and 入院外 are
two レセプト; so are two 種別 of one month), the insured number 保険者番号・記号・番号・枝番,
生年月日, 男女区分, and for 調剤 the 処方医療機関. The claim tables keep every version as
ingested (ingest only adds) and are *read* as the latest: of each claim, the versions of the
latest 請求年月 (all of them: two claims of one 請求年月 that look alike are two claims to the
審査支払機関), whatever order the files came in. A claim without an insured number (公費単独)
is never merged. ``table(name, versions=True)`` gives every version. The versions are compared
(``superseded_versions``) only when the manifest holds files of one institution and 診療年月
under two 請求年月 (``_Manifest.may_hold_versions``). At ingest, as in the care lake, a claim
another file holds under the same 請求年月 is not written again when its values are the same
(``repeated``) and refused with its file when they differ (a 重複請求: which counts could not be
told); each file's report says how many of its claims replace an earlier version and how many a
later one already replaces (``_lake_versions.check_versions``, after the chunks are written and
before the commit).

Files are parsed by the columnar fast path (``_rece_fast``) in batches and written in chunks
(``_rece_batch``), by worker processes when there is much to read (they die with the process
that started them: ``_workers``); the precise reader runs
only to say what is wrong with a file the fast path refused. Reading is Ibis only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._errors import ClaimFileRejected, ClaimProblem, in_call_order, too_large
from kokuho.claims._lake_versions import (
    FileVersions,
    SupersededIds,
    VersionCheck,
    check_versions,
    shared_months,
)
from kokuho.claims._masters import (
    join_generic_classes,
    read_disease_master,
    read_drug_master,
    read_generic_list,
)
from kokuho.claims._rece_batch import (
    collect_written,
    content_digest,
    drop_claims,
    ingest_chunk,
    work_chunks,
)
from kokuho.claims._schema import (
    CLAIM_DIAGNOSES,
    CLAIM_DRUGS,
    CLAIM_PROCEDURES,
    CLAIMS,
    DRUG_MASTER,
)
from kokuho.claims._workers import die_with_parent
from kokuho.store import (
    Analytics,
    FileTooLarge,
    IngestTally,
    LakeRoot,
    atomic_file,
    fsync_folders,
    lake_table,
    manifest_files,
    read_capped,
    read_manifest,
    sweep_uncommitted,
    taking_back,
    write_manifest,
)

#: 傷病名マスター in the lake (kokuho's own table; not in ``_schema``).
DISEASE_MASTER: Final[dict[str, pa.DataType]] = {
    "code": pa.string(),  # 傷病名コード (b-master col 3)
    "name": pa.string(),  # 基本名称 (col 6)
    "short_name": pa.string(),  # 省略名称 (col 8)
    "kana": pa.string(),  # カナ名称 (col 10)
    "icd10": pa.string(),  # ICD-10-1(2013) (col 16)
}

SCHEMAS: Final[dict[str, dict[str, pa.DataType]]] = {
    "claims": CLAIMS,
    "claim_drugs": CLAIM_DRUGS,
    "claim_diagnoses": CLAIM_DIAGNOSES,
    "claim_procedures": CLAIM_PROCEDURES,
    "drug_master": DRUG_MASTER,
    "disease_master": DISEASE_MASTER,
}
#: Tables with one file per レセ電 file and service month.
CLAIM_TABLES: Final = ("claims", "claim_drugs", "claim_diagnoses", "claim_procedures")
MASTER_TABLES: Final = ("drug_master", "disease_master")

#: Files are read in chunks of about this many bytes (a worker's unit of work) …
CHUNK_BYTES: Final = 32 * 1024 * 1024
#: … and in worker processes once there are more than this many bytes to read.
PARALLEL_BYTES: Final = 128 * 1024 * 1024
#: The largest レセ電 file read (256 MiB): a large hospital's monthly 医科 file is about
#: 2 M lines of ≈ 50 bytes (docs/formats.md §7, "File size"); a file over it is refused unread.
MAX_FILE_BYTES = 256 * 1024 * 1024

_MANIFEST: Final = "claims_manifest.json"
_FORMAT: Final = 2
#: Manifest formats still read: 1, a file per レセ電 file (before batches).
_OLDER_FORMATS: Final = (1,)


class ClaimsTableMissing(LookupError):
    """The lake holds no such table (nothing ingested, or the master not loaded); ``table``
    names it."""

    def __init__(self, message: str, table: str = "") -> None:
        super().__init__(message)
        self.table = table


@dataclass(frozen=True, slots=True)
class IngestedFile:
    """What ``ingest`` did with one file."""

    path: Path
    digest: str  # sha256 of the file
    skipped: bool  # already in the lake (or twice in one call): nothing written
    kind: str = ""  # medical | pharmacy
    institution: str = ""
    claims: int = 0  # claims added (of a skipped file: those of the file holding its records)
    lines: int = 0
    service_months: tuple[str, ...] = ()
    #: The lake files of its service months holding its rows (with the rest of its batch's).
    files: tuple[Path, ...] = ()
    #: Claims already in the lake under the same 請求年月 with the same values, not added.
    repeated: int = 0
    replaced: int = 0  # claims added that replace a version of an earlier 請求年月
    superseded: int = 0  # claims added that a version of a later 請求年月 already replaces


@dataclass(frozen=True, slots=True)
class ClaimsIngestReport(IngestTally):
    files: tuple[IngestedFile, ...] = ()

    @property
    def claims(self) -> int:
        return sum(f.claims for f in self.files if not f.skipped)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files if not f.skipped)


@dataclass
class _Manifest:
    #: By digest; format 1's entries name their own ``files``, format 2's their ``batch``.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: By batch id: ``{"files": [...], "sources": [digest, ...]}``.
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    masters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def files(self, table: str) -> list[str]:
        if table in MASTER_TABLES:
            entry = self.masters.get(table)
            return [entry["file"]] if entry else []
        # A set: a batch of one file has the name its format-1 entry would have had.
        legacy = manifest_files(self.sources.values(), table)
        return sorted({*legacy, *manifest_files(self.batches.values(), table)})

    def service_months(self) -> list[str] | None:
        """Every 診療年月 of the ingested files (None when an entry does not say)."""
        months: set[str] = set()
        for entry in self.sources.values():
            if "service_months" not in entry:
                return None
            months.update(entry["service_months"])
        return sorted(months)

    def may_hold_versions(self, months: Collection[str] | None) -> bool:
        """Whether a claim of ``months`` (all when None) may be held in two versions: some
        institution (kind and 7-digit code) has files holding claims of one 診療年月 under two
        請求年月 (or a file's entry does not say)."""
        seen: dict[tuple[str, str, str], str] = {}
        for entry in self.sources.values():
            if "billing_month" not in entry or "service_months" not in entry:
                return True
            for month in entry["service_months"]:
                if months is None or month in months:
                    key = (entry["kind"], entry["institution"], month)
                    if seen.setdefault(key, entry["billing_month"]) != entry["billing_month"]:
                        return True
        return False

    def source_files(self, digest: str) -> list[str]:
        """The lake files holding the rows of the レセ電 file ``digest`` (of its months)."""
        entry = self.sources[digest]
        if "batch" not in entry:
            return list(entry.get("files", ()))
        months = {f"service_month={m}" for m in entry["service_months"]}
        files = self.batches[entry["batch"]]["files"]
        return [f for f in files if f.split("/")[1] in months]


class ClaimsLake(LakeRoot):
    """The claims tables under ``root``: ingest of レセ電 files and masters, Ibis access."""

    LOCK = ".claims.lock"

    def __init__(self, root: Path, *, analytics: Analytics | None = None) -> None:
        super().__init__(root, analytics=analytics)
        self._superseded = SupersededIds()

    # -- reading ---------------------------------------------------------------------------

    def files(self, name: str, months: Collection[str] | None = None) -> list[Path]:
        """The committed Parquet files of table ``name`` (of the ``YYYY-MM`` months only)."""
        if name not in SCHEMAS:
            raise ClaimsTableMissing(f"the claims lake has no table {name!r}", name)
        return self._paths(self._read_manifest().files(name), months, name in CLAIM_TABLES)

    def has_table(self, name: str, months: Collection[str] | None = None) -> bool:
        """Whether ``table(name)`` has something to read: for the claim tables, whether any
        file was ingested; for a master, whether it was loaded."""
        if name not in SCHEMAS:
            return False
        if name in CLAIM_TABLES:
            return bool(self._read_manifest().sources)
        return bool(self.files(name))

    def table(
        self, name: str, months: Collection[str] | None = None, *, versions: bool = False
    ) -> ir.Table:
        """Table ``name`` (``claims``, ``claim_drugs``, ``claim_diagnoses``,
        ``claim_procedures``, ``drug_master``, ``disease_master``) as an ``ibis.Table``,
        limited to the ``months`` partitions ("2020-04" …) when given.

        The claim tables hold each claim once: the rows of its versions of the latest 請求年月
        (the module docstring); ``versions``: every version ingested.

        Once any file is ingested the claim tables exist, empty where nothing matches. Raises
        ``ClaimsTableMissing`` (a LookupError) for a table the lake does not hold.
        """
        if not self.has_table(name):
            raise ClaimsTableMissing(
                f"the claims lake at {self.root} holds no {name!r} table", name
            )
        manifest = self._read_manifest()
        stored = self._stored(manifest, name, months)
        if versions or name not in CLAIM_TABLES:
            return stored
        superseded = self._superseded_ids(manifest, months)
        if superseded is None:
            return stored
        kept: ir.Table = stored.anti_join(ibis.memtable(superseded), "claim_id")
        return kept

    def _superseded_ids(
        self, manifest: _Manifest, months: Collection[str] | None
    ) -> pa.Table | None:
        """The ``claim_id`` of the claims of ``months`` (all when None) that a version of a
        later 請求年月 replaces; None when there are none (``_lake_versions``)."""
        # Only a lake with files of one institution and 診療年月 in two 請求年月 can hold an
        # earlier version of a claim (the manifest says): otherwise the rows are read as they are.
        if not manifest.may_hold_versions(months):
            return None
        wanted = manifest.service_months() if months is None else sorted(set(months))
        return self._superseded.ids(
            frozenset(manifest.sources), wanted,
            lambda chosen: self._stored(manifest, "claims", chosen),
        )  # fmt: skip

    def _stored(self, manifest: _Manifest, name: str, months: Collection[str] | None) -> ir.Table:
        """Every row of table ``name`` as written."""
        files = self._paths(manifest.files(name), months, name in CLAIM_TABLES)
        # The data column service_month is authoritative: no hive partition columns.
        table: ir.Table = lake_table(self.analytics, name, files, SCHEMAS[name])
        return table

    def sources(self) -> dict[str, dict[str, Any]]:
        """The manifest: ingested レセ電 files by digest (name, kind, counts, files, time)."""
        return dict(self._read_manifest().sources)

    def masters(self) -> dict[str, dict[str, Any]]:
        """The loaded masters (file, source names, rows, time) by table."""
        return dict(self._read_manifest().masters)

    # -- writing ---------------------------------------------------------------------------

    def ingest(self, paths: Sequence[Path], *, workers: int | None = None) -> ClaimsIngestReport:
        """Adds the claims of レセ電 files. Atomic and idempotent (see the module docstring);
        raises ``ClaimFileRejected`` (with every problem of every bad file) and commits
        nothing when any file is bad, or, its files read, holds a 重複請求. The report says
        per file what its claims did to their other versions (``IngestedFile.repeated``,
        ``replaced``, ``superseded``).

        ``workers`` processes read and write chunks of the files in parallel (default: one
        per CPU, up to 4, once there are more than ``PARALLEL_BYTES`` to read; 1 = in this
        process).
        """
        order: list[tuple[Path, str, str, bool]] = []  # path, digest, its entry's, skipped
        written: list[Path] = []
        batches: dict[str, dict[str, Any]] = {}
        with self.locked():
            manifest = self._read_manifest()
            self._sweep(manifest)  # what a killed ingest left
            fresh: list[tuple[Path, str, int]] = []
            # By content digest, the file holding those claims (in the lake or queued).
            held = {e["content"]: d for d, e in manifest.sources.items() if "content" in e}
            contents: dict[str, str] = {}  # digest -> content digest of the queued files
            refused: list[ClaimProblem] = []  # files over the cap, not read
            for path in map(Path, paths):
                try:
                    data = read_capped(path, MAX_FILE_BYTES)
                except FileTooLarge as over:
                    refused.append(too_large(path, over))
                    continue
                digest = hashlib.sha256(data).hexdigest()
                content = content_digest(data, digest)
                same = digest if digest in manifest.sources or digest in contents else None
                same = same or held.get(content)
                order.append((path, digest, same or digest, same is not None))
                if same is None:
                    held[content] = digest
                    contents[digest] = content
                    fresh.append((path, digest, len(data)))
            entries: dict[str, dict[str, Any]] = {}
            if workers is None:
                large = sum(length for _, _, length in fresh) > PARALLEL_BYTES
                workers = min(os.cpu_count() or 1, 4) if large else 1
            with taking_back(written):
                chunks = work_chunks(fresh, workers, CHUNK_BYTES)
                problems = self._write_chunks(chunks, workers, written, entries, batches, refused)
                if problems:
                    raise ClaimFileRejected(in_call_order(problems, paths))
                fresh_order = [(p, d) for p, d, _, skipped in order if not skipped]
                versions = self._versions(manifest, entries, batches, fresh_order)
                if versions.problems:
                    raise ClaimFileRejected(in_call_order(versions.problems, paths))
                if versions.repeated:
                    drop_claims(self.root, batches, versions.repeated)
                if entries:
                    for digest, entry in entries.items():
                        entry["content"] = contents[digest]
                        entry["repeated"] = versions.files.get(digest, FileVersions()).repeated
                        entry["claims"] -= entry["repeated"]
                    fsync_folders(p.parent for p in written)
                    manifest.sources.update(entries)
                    manifest.batches.update(batches)
                    self._write_manifest(manifest)
        reports = [
            _report(self.root, manifest, path, digest, entry, skipped, versions.files.get(digest))
            for path, digest, entry, skipped in order
        ]
        return ClaimsIngestReport(tuple(reports))

    def _versions(
        self,
        manifest: _Manifest,
        entries: dict[str, dict[str, Any]],
        batches: dict[str, dict[str, Any]],
        fresh: list[tuple[Path, str]],
    ) -> VersionCheck:
        """The claims of the files written by this call (``entries``, in ``batches``, not yet
        committed; ``fresh`` in the call's order) set against their other versions
        (``_lake_versions.check_versions``): repeated, refused, replacing or superseded."""
        shared = shared_months(manifest.sources, entries)
        if not shared:  # no other file holds claims of a fresh file's institution and 診療年月
            return VersionCheck()

        def files(name: str, months: list[str]) -> list[Path]:
            written = manifest_files(batches.values(), name)
            return self._paths([*manifest.files(name), *written], months, True)

        names = {digest: entry["name"] for digest, entry in manifest.sources.items()}
        return check_versions(files, shared, fresh, names)

    def _write_chunks(
        self,
        chunks: list[list[tuple[Path, str]]],
        workers: int,
        written: list[Path],
        entries: dict[str, dict[str, Any]],
        batches: dict[str, dict[str, Any]],
        found_before: Sequence[ClaimProblem] = (),
    ) -> list[ClaimProblem]:
        """Runs ``ingest_chunk`` on every chunk, here or in worker processes; fills ``written``,
        ``entries`` and ``batches`` as chunks finish (so a failure can take their files
        back). With ``found_before`` (problems of files not read) the chunks are only
        checked; the problems returned include them."""
        problems = list(found_before)
        cap = MAX_FILE_BYTES
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                done, found = ingest_chunk(self.root, chunk, check_only=bool(problems), cap=cap)
                collect_written(self.root, done, written, entries, batches)
                problems += found
            return problems
        # spawn, not fork: this process may hold DuckDB's threads.
        context = multiprocessing.get_context("spawn")
        failure: BaseException | None = None
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )
        with pool:
            check_only = bool(problems)
            futures = [
                pool.submit(ingest_chunk, self.root, chunk, check_only=check_only, cap=cap)
                for chunk in chunks
            ]
            for future in futures:
                try:
                    done, found = future.result()
                except BaseException as error:  # the others still finish and are collected
                    failure = failure or error
                    continue
                collect_written(self.root, done, written, entries, batches)
                problems += found
        if failure is not None:
            raise failure
        return problems

    def load_masters(self, drugs: Path, generic_list: Path) -> int:
        """Replaces ``drug_master``: the 医薬品マスター joined with the MHLW list on the
        薬価基準コード; returns its number of rows. Raises ``MasterFileRejected``."""
        rows = join_generic_classes(read_drug_master(drugs), read_generic_list(generic_list))
        table = pa.Table.from_pylist(rows, schema=pa.schema(DRUG_MASTER))
        sources = {"drugs": Path(drugs), "generic_list": Path(generic_list)}
        return self._replace_master("drug_master", table, sources)

    def load_disease_master(self, diseases: Path) -> int:
        """Replaces ``disease_master`` with a 傷病名マスター; returns its number of rows."""
        rows = read_disease_master(diseases)
        table = pa.Table.from_pylist(
            [
                {"code": r.code, "name": r.name, "short_name": r.short_name, "kana": r.kana,
                 "icd10": r.icd10}
                for r in rows
            ],
            schema=pa.schema(DISEASE_MASTER),
        )  # fmt: skip
        return self._replace_master("disease_master", table, {"diseases": Path(diseases)})

    def vacuum(self) -> list[Path]:
        """Removes what a killed or failed writer left: data files the manifest does not name
        and ``atomic_file``'s temporary files; returns what it removed. ``ingest`` does the
        same first (under the same lock, so never under a live writer)."""
        with self.locked():
            return self._sweep(self._read_manifest())

    # -- internals -------------------------------------------------------------------------

    def _sweep(self, manifest: _Manifest) -> list[Path]:
        """``vacuum`` with the lock held."""
        return sweep_uncommitted(self.root, SCHEMAS, manifest.files, _MANIFEST)

    def _replace_master(self, name: str, table: pa.Table, sources: dict[str, Path]) -> int:
        digest = hashlib.sha256()
        for path in sources.values():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        final = self.root / name / f"{digest.hexdigest()}.parquet"
        with self.locked():
            manifest = self._read_manifest()
            before = manifest.masters.get(name, {}).get("file")
            with atomic_file(final) as temporary:
                pq.write_table(table, temporary, compression="zstd")
            manifest.masters[name] = {
                "file": final.relative_to(self.root).as_posix(),
                **{key: path.name for key, path in sources.items()},
                "rows": table.num_rows,
                "loaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            self._write_manifest(manifest)
            if before and self.root / before != final:
                (self.root / before).unlink(missing_ok=True)
        return int(table.num_rows)

    def _read_manifest(self) -> _Manifest:
        path = self.root / _MANIFEST
        sources, raw = read_manifest(path, _FORMAT, "sources", older=_OLDER_FORMATS)
        batches = {
            b["id"]: {k: v for k, v in b.items() if k != "id"} for b in raw.get("batches", [])
        }
        return _Manifest(sources=sources, batches=batches, masters=dict(raw.get("masters", {})))

    def _write_manifest(self, manifest: _Manifest) -> None:
        batches = [{"id": key, **batch} for key, batch in sorted(manifest.batches.items())]
        extra = {"batches": batches, "masters": manifest.masters}
        write_manifest(self.root / _MANIFEST, _FORMAT, "sources", manifest.sources, extra)


def _report(
    root: Path,
    manifest: _Manifest,
    path: Path,
    digest: str,
    held_by: str,
    skipped: bool,
    versions: FileVersions | None = None,
) -> IngestedFile:
    """What ``ingest`` did with a file (a skipped one described as the file holding its claims,
    ``held_by``, was ingested), and what its claims did to their other ``versions``."""
    entry = manifest.sources[held_by]
    versions = versions if versions is not None and not skipped else FileVersions()
    return IngestedFile(
        path=path,
        digest=digest,
        skipped=skipped,
        kind=entry["kind"],
        institution=entry["institution"],
        claims=entry["claims"],
        lines=entry["lines"],
        service_months=tuple(entry["service_months"]),
        files=() if skipped else tuple(root / f for f in manifest.source_files(held_by)),
        repeated=versions.repeated,
        replaced=versions.replaced,
        superseded=versions.superseded,
    )
