"""The checkup lake: 特定健診 and 特定保健指導 rows as Parquet, read through Ibis.

Layout under the lake root (``$KOKUHO_HOME/lake`` by default)::

    manifest.json                                 archives ingested (the commit record)
    checkups/fiscal_year=YYYY/<sha256>.parquet    per archive and 年度 of 健診実施日
    guidance/fiscal_year=YYYY/<sha256>.parquet    per archive and 年度 of 初回面接
    eligibility/fiscal_year=YYYY/snapshot.parquet the register's snapshot (_snapshot.py)

Writes are atomic twice over:

- each file is written to a hidden temporary file in its own folder, fsynced and renamed over
  its final name, so no reader ever sees half a file;
- an archive's data files only count once the manifest names them. The manifest is rewritten
  (atomically) after every data file is in place, and ``Lake.table`` reads exactly the files it
  lists. A crash between the two leaves files nobody reads; ingesting the archive again writes
  the same names with the same bytes, and ``Lake.vacuum`` removes what is left.

A write that fails removes its own temporary file (``atomic_file``); a writer killed before its
rename leaves it, and the next ingest (as ``vacuum``) removes it under the lake's lock. Every
writer of the lake's folders (ingest, vacuum, the snapshot export) holds that lock, so no live
writer's temporary file is ever swept; the claims and care lakes under the same root have
their own folders, manifests and locks, and their files are never touched.

The rows and columns written are built in ``_lake_rows`` (its ``CHECKUP_COLUMNS``,
``GUIDANCE_COLUMNS``, ``MeasureSpec`` and ``default_measures`` are named here too, as before);
the keys that make a document a duplicate are kept in ``_lake_keys``.

Analytics see only ``ibis.Table`` objects (``Lake.table``), read through the lake's
``kokuho.store.Analytics``: DuckDB embedded or Spark (``KOKUHO_ANALYTICS``), from the same code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._lake_keys import CHECKUP_KEY, GUIDANCE_KEY, DocumentKeys, Key, document_key
from kokuho.checkups._lake_rows import CHECKUP_COLUMNS as CHECKUP_COLUMNS
from kokuho.checkups._lake_rows import GUIDANCE_COLUMNS as GUIDANCE_COLUMNS
from kokuho.checkups._lake_rows import MeasureSpec as MeasureSpec
from kokuho.checkups._lake_rows import (
    by_year,
    checkup_row,
    checkup_table,
    guidance_row,
)
from kokuho.checkups._lake_rows import default_measures as default_measures
from kokuho.checkups._model import Checkup, Guidance
from kokuho.config import Settings
from kokuho.ids import FiscalYear
from kokuho.store import (
    Analytics,
    exclusive_lock,
    manifest_files,
    read_manifest,
    sweep_temporary,
    taking_back,
    write_manifest,
)
from kokuho.store import atomic_file as store_atomic_file

#: The eligibility snapshot's integer for (保険者番号, 記号, 番号, 枝番): equal within one
#: snapshot file exactly when the four strings are equal (kokuho.checkups._snapshot writes it;
#: kokuho.checkups._rate_pair reads it). Named here, beside the lake's other columns, so that
#: the rates need not import the register to know it.
INSURED_ID: Final = "insured_id"

#: The tables whose files belong to ingested archives (read through the manifest).
ARCHIVE_TABLES: Final = ("checkups", "guidance")
#: Every folder this lake writes (under its lock): the archives' tables and the snapshot.
_FOLDERS: Final = (*ARCHIVE_TABLES, "eligibility")

_MANIFEST: Final = "manifest.json"
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
_LOCK: Final = ".lock"
#: Documents (checkups and guidance) read before a batch of archives takes the lock: enough
#: that a usual run is one batch (one manifest write), and a bound on the parsed documents
#: held in memory meanwhile however many archives a run is given.
_BATCH_DOCUMENTS: Final = 50_000
_FORMAT: Final = 1


class ArchiveLike(Protocol):
    """What ``ingest_archive`` needs of ``kokuho.checkups._v08_read.ArchiveContents``."""

    @property
    def path(self) -> Path: ...
    @property
    def digest(self) -> str: ...
    @property
    def sender(self) -> str | None: ...
    @property
    def receiver(self) -> str | None: ...
    @property
    def created(self) -> object: ...
    @property
    def checkups(self) -> Sequence[Checkup]: ...
    @property
    def guidance(self) -> Sequence[Guidance]: ...


class LakeTableMissing(LookupError):
    """The lake holds no file of the table asked for."""


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A row not added because the lake (or the same archive) already holds that document."""

    table: str  # checkups | guidance
    document: str
    existing_archive: str  # digest of the archive holding it ("" = earlier in the same one)


@dataclass(frozen=True, slots=True)
class IngestReport:
    archive: str  # sha256 of the zip
    name: str  # the zip's file name
    already_ingested: bool = False
    checkups: int = 0  # rows added
    guidance: int = 0
    duplicates: tuple[Duplicate, ...] = ()
    files: tuple[Path, ...] = ()


@dataclass
class _Manifest:
    archives: dict[str, dict[str, Any]] = field(default_factory=dict)

    def files(self, table: str) -> list[str]:
        return manifest_files(self.archives.values(), table)


def _replace(source: str | Path, target: str | Path) -> None:
    """Renames ``source`` over ``target`` (one module-level name so a test can make it fail)."""
    os.replace(source, target)


@contextlib.contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """``kokuho.store.atomic_file``, renaming through this module's ``_replace``."""
    with store_atomic_file(final, replace=lambda source, target: _replace(source, target)) as path:
        yield path


class Lake:
    """The Parquet lake under ``root``: ingest of V08 archives and Ibis access to its tables."""

    def __init__(
        self,
        root: Path,
        *,
        measures: MeasureSpec | None = None,
        analytics: Analytics | None = None,
    ) -> None:
        """``analytics``: the engine to read through (default: ``KOKUHO_ANALYTICS``'s)."""
        self.root = Path(root)
        self._measures = measures
        self.analytics = analytics or Analytics.from_env()
        # Kept per process, so a batch or a run of batches reads each file's keys once.
        self._keys = DocumentKeys()

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake of the installation: ``$KOKUHO_HOME/lake``."""
        return cls(settings.home / "lake", analytics=Analytics.from_settings(settings))

    # -- reading ---------------------------------------------------------------------------

    @property
    def con(self) -> Any:
        """The Ibis backend every table of this lake is read through (``analytics``)."""
        return self.analytics.backend

    def files(self, name: str, years: Collection[int] | None = None) -> list[Path]:
        """The committed Parquet files of table ``name`` (of the fiscal ``years`` only)."""
        if name in ARCHIVE_TABLES:
            found = [self.root / relative for relative in self._read_manifest().files(name)]
        else:
            folder = self.root / name
            found = sorted(folder.glob("**/*.parquet")) if folder.is_dir() else []
        if years is None:
            return found
        wanted = {f"fiscal_year={y}" for y in years}
        return [f for f in found if any(part in wanted for part in f.relative_to(self.root).parts)]

    def has_table(self, name: str, years: Collection[int] | None = None) -> bool:
        return bool(self.files(name, years))

    def table(self, name: str, years: Collection[int] | None = None) -> ir.Table:
        """Table ``name`` as an ``ibis.Table``; ``fiscal_year=`` folders become a column.

        ``years`` limits the files read to those fiscal years' partitions. Raises
        ``LakeTableMissing`` when the lake holds no such file.
        """
        files = self.files(name, years)
        if not files:
            which = "" if years is None else f" for fiscal years {sorted(years)}"
            raise LakeTableMissing(f"the lake at {self.root} holds no {name!r} table{which}")
        # union_by_name: files written before a measurement column was added read as null.
        table: ir.Table = self.analytics.read_parquet(
            files, base=self.root / name, partitions={"fiscal_year": "int64"}, union_by_name=True
        )
        return table

    def archives(self) -> dict[str, dict[str, Any]]:
        """The manifest: ingested archives by digest (name, sender, counts, files, time)."""
        return dict(self._read_manifest().archives)

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the lake's write lock (one writer at a time, across processes)."""
        with exclusive_lock(self.root / _LOCK):
            yield

    def ingest_archive(self, contents: ArchiveLike) -> IngestReport:
        """Adds the checkups and guidance records of one V08 archive.

        Idempotent: an archive whose digest the manifest already names changes nothing. A
        document already in the lake from another archive (same 保険者番号, 番号, 枝番,
        健診実施日, 健診機関) is reported as a duplicate and not added again.
        """
        [report] = self.ingest_archives([contents])
        return report

    def ingest_archives(self, archives: Iterable[ArchiveLike]) -> list[IngestReport]:
        """``ingest_archive`` of each archive in turn: the same reports, files and manifest
        entries, with one hold of the lock and one manifest write per batch of archives rather
        than per archive (rewriting the whole manifest once per archive is quadratic in a lake
        of many).

        ``archives`` is consumed (a generator reads and checks each archive, the slow part)
        while the lock is *not* held: another process's ingest waits only for this one's
        writes. Archives are taken in batches of about :data:`_BATCH_DOCUMENTS` documents (the
        parsed documents of a batch are held in memory); each batch then takes the lock, reads
        the manifest as the other processes left it, writes its files and commits with one
        manifest write, so an archive another process ingested meanwhile is reported as
        already ingested, and its documents as duplicates, exactly as one after the other.

        An archive that fails, read or written, leaves no file of its own; those before it
        are committed, then its error is raised.
        """
        reports: list[IngestReport] = []
        iterator = iter(archives)
        while True:
            batch: list[ArchiveLike] = []
            documents = 0
            failure: BaseException | None = None
            try:
                while documents < _BATCH_DOCUMENTS:
                    contents = next(iterator, None)
                    if contents is None:
                        break
                    batch.append(contents)
                    documents += len(contents.checkups) + len(contents.guidance)
            except BaseException as error:  # noqa: BLE001  (raised below, after the commit)
                # Even an interruption or a CLI's exit: what was read before it is committed.
                failure = error
            if batch:
                reports += self._ingest_batch(batch)
            if failure is not None:
                raise failure
            if documents < _BATCH_DOCUMENTS:  # the iterator is exhausted
                return reports

    def _ingest_batch(self, archives: list[ArchiveLike]) -> list[IngestReport]:
        """Archives already read, written and committed under one hold of the lock."""
        reports: list[IngestReport] = []
        with self.locked():
            self._sweep_temporary()
            manifest = self._read_manifest()
            self._keys.begin()
            written: list[Path] = []
            try:
                for contents in archives:
                    reports.append(self._add(contents, manifest, written))
            finally:
                if any(not r.already_ingested for r in reports):
                    self._commit(manifest, written)
        return reports

    def _commit(self, manifest: _Manifest, written: list[Path]) -> None:
        """Writes ``manifest``; then the keys the batch wrote count as committed. If that fails,
        every file of the batch is taken back and the keys known forgotten (read again)."""
        try:
            with taking_back(written):
                self._write_manifest(manifest)
        except BaseException:
            self._keys.forget()
            raise
        self._keys.commit()

    def _add(self, contents: ArchiveLike, manifest: _Manifest, batch: list[Path]) -> IngestReport:
        """One archive's files written and its entry put in ``manifest`` (not yet written)."""
        digest = contents.digest
        if not _DIGEST.fullmatch(digest):
            # It becomes a file name: never let it carry a path.
            raise ValueError(f"archive digest {digest!r} is not a lowercase sha256 hex digest")
        name = Path(contents.path).name
        if digest in manifest.archives:
            return IngestReport(archive=digest, name=name, already_ingested=True)
        checkup_rows = [checkup_row(c, digest) for c in contents.checkups]
        guidance_rows = [guidance_row(g, digest) for g in contents.guidance]
        duplicates: list[Duplicate] = []
        holders: dict[tuple[str, int], dict[Key, str]] = {}
        kept_checkups = self._new_rows("checkups", checkup_rows, manifest, duplicates, holders)
        kept_guidance = self._new_rows("guidance", guidance_rows, manifest, duplicates, holders)
        written: list[Path] = []
        made: list[tuple[str, int, str]] = []  # (table, 年度, file relative to the root)
        # A failure part way takes back this archive's files, so a failed ingest leaves the
        # folders as they were (a power cut leaves them unread instead, see the module
        # docstring).
        with taking_back(written):
            for fy, rows in by_year(kept_checkups, "exam_date").items():
                spec = self._spec()
                indices = [i for i, _ in rows]
                table = checkup_table(
                    [r for _, r in rows], [contents.checkups[i] for i in indices], spec
                )
                made.append(("checkups", fy, f"checkups/fiscal_year={fy}/{digest}.parquet"))
                written.append(self._write(made[-1][2], table))
            for fy, rows in by_year(kept_guidance, "started_on").items():
                table = pa.Table.from_pylist(
                    [r for _, r in rows], schema=pa.schema(GUIDANCE_COLUMNS)
                )
                made.append(("guidance", fy, f"guidance/fiscal_year={fy}/{digest}.parquet"))
                written.append(self._write(made[-1][2], table))
        batch += written
        manifest.archives[digest] = {
            "name": name,
            "sender": contents.sender,
            "receiver": contents.receiver,
            "created": None if contents.created is None else str(contents.created),
            "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "checkups": len(kept_checkups),
            "guidance": len(kept_guidance),
            "duplicates": len(duplicates),
            "files": [p.relative_to(self.root).as_posix() for p in written],
        }
        # Staged, not read back from the files: committed with the batch's manifest.
        for table_name, fy, relative in made:
            self._keys.stage(table_name, fy, relative, holders[(table_name, fy)])
        return IngestReport(
            archive=digest,
            name=name,
            checkups=len(kept_checkups),
            guidance=len(kept_guidance),
            duplicates=tuple(duplicates),
            files=tuple(written),
        )

    def vacuum(self) -> list[Path]:
        """Removes data files no committed archive names and stale temporary files (left by a
        crash); returns what it removed."""
        removed: list[Path] = []
        with self.locked():
            manifest = self._read_manifest()
            for table in ARCHIVE_TABLES:
                committed = {self.root / f for f in manifest.files(table)}
                folder = self.root / table
                if not folder.is_dir():
                    continue
                for path in folder.glob("**/*"):
                    stale = path.suffix == ".tmp" or (
                        path.suffix == ".parquet" and path not in committed
                    )
                    if path.is_file() and stale:
                        path.unlink()
                        removed.append(path)
            # Its own files only: the claims lake shares the root under another lock.
            own = [*self.root.glob("eligibility/**/.*.tmp"), *self.root.glob(f".{_MANIFEST}.*.tmp")]
            for path in own:
                if path.is_file() and path not in removed:
                    path.unlink()
                    removed.append(path)
        return removed

    # -- internals -------------------------------------------------------------------------

    def _sweep_temporary(self) -> list[Path]:
        """Removes the temporary files a writer of this lake killed before its rename left
        (``atomic_file``'s names only). Call it with the lock held: every writer of these
        folders holds it, so no live writer's temporary file is among them."""
        removed = [p for folder in _FOLDERS for p in sweep_temporary(self.root / folder)]
        return removed + sweep_temporary(self.root, recursive=False, of=_MANIFEST)

    def _spec(self) -> MeasureSpec:
        if self._measures is None:
            self._measures = default_measures()
        return self._measures

    def _new_rows(
        self,
        table: str,
        rows: list[dict[str, Any]],
        manifest: _Manifest,
        duplicates: list[Duplicate],
        holders: dict[tuple[str, int], dict[Key, str]],
    ) -> list[tuple[int, dict[str, Any]]]:
        """Rows whose key neither the lake nor an earlier row of the archive holds, with
        their index in the archive; their keys go into ``holders`` by (table, 年度)."""
        if not rows:
            return []
        key_names, date_column = (
            (CHECKUP_KEY, "exam_date") if table == "checkups" else (GUIDANCE_KEY, "started_on")
        )
        years = [FiscalYear.of(r[date_column]).year for r in rows]
        # A document's key includes its date, so only its own 年度 can hold it.
        self._keys.load(self.root, table, key_names, manifest.files(table), set(years))
        kept: list[tuple[int, dict[str, Any]]] = []
        for index, (row, year) in enumerate(zip(rows, years, strict=True)):
            key = document_key(row, key_names)
            own = holders.setdefault((table, year), {})
            holder = "" if key in own else self._keys.holder(table, year, key)
            if holder is not None:
                duplicates.append(Duplicate(table, row["document"], holder))
                continue
            own[key] = row["archive"]
            kept.append((index, row))
        return kept

    def _write(self, relative: str, table: pa.Table) -> Path:
        final = self.root / relative
        with atomic_file(final) as temporary:
            pq.write_table(table, temporary, compression="zstd")
        return final

    def _read_manifest(self) -> _Manifest:
        archives, _ = read_manifest(self.root / _MANIFEST, _FORMAT, "archives")
        return _Manifest(archives=archives)

    def _write_manifest(self, manifest: _Manifest) -> None:
        # This module's atomic_file: a test makes its rename fail.
        path = self.root / _MANIFEST
        write_manifest(path, _FORMAT, "archives", manifest.archives, atomic=atomic_file)
