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

Analytics see only ``ibis.Table`` objects (``Lake.table``), read through the lake's
``kokuho.store.Analytics``: DuckDB embedded or Spark (``KOKUHO_ANALYTICS``), from the same code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.dataset as pads  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._model import Checkup, Guidance
from kokuho.config import Settings
from kokuho.ids import FiscalYear
from kokuho.store import (
    Analytics,
    exclusive_lock,
    manifest_files,
    read_manifest,
    taking_back,
    write_manifest,
)
from kokuho.store import atomic_file as store_atomic_file

#: Identifier columns of every ``checkups`` row; the measurement columns follow them.
CHECKUP_COLUMNS: Final[dict[str, pa.DataType]] = {
    "document": pa.string(),  # file name inside the archive
    "insurer": pa.string(),  # 保険者番号
    "symbol": pa.string(),  # 記号
    "number": pa.string(),  # 番号
    "branch": pa.string(),  # 枝番 (null when the document has none)
    "sex": pa.int16(),  # 1 男 2 女
    "birth_date": pa.date32(),
    "exam_date": pa.date32(),  # 健診実施日
    "institution": pa.string(),  # 健診機関番号
    "ticket": pa.string(),  # 受診券番号
    "archive": pa.string(),  # sha256 of the zip the row came from
}

#: Columns of every ``guidance`` row (特定保健指導).
GUIDANCE_COLUMNS: Final[dict[str, pa.DataType]] = {
    "document": pa.string(),
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "sex": pa.int16(),
    "birth_date": pa.date32(),
    "institution": pa.string(),
    "level": pa.int16(),  # 1 積極的支援 2 動機付け支援
    "started_on": pa.date32(),  # 初回面接
    "evaluated_on": pa.date32(),  # 実績評価 (null while not completed)
    "archive": pa.string(),
}

#: The eligibility snapshot's integer for (保険者番号, 記号, 番号, 枝番): equal within one
#: snapshot file exactly when the four strings are equal (kokuho.checkups._snapshot writes it;
#: kokuho.checkups._rate_pair reads it). Named here, beside the lake's other columns, so that
#: the rates need not import the register to know it.
INSURED_ID: Final = "insured_id"

#: The tables whose files belong to ingested archives (read through the manifest).
ARCHIVE_TABLES: Final = ("checkups", "guidance")

_MANIFEST: Final = "manifest.json"
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
_LOCK: Final = ".lock"
_FORMAT: Final = 1

# A checkup is the same document when these agree (the brief's document identity); 枝番 null
# and "" are one value.
_CHECKUP_KEY: Final = ("insurer", "number", "branch", "exam_date", "institution")
# A guidance record is re-sent when it progresses (初回面接 first, 実績評価 later), so the
# completion date is part of its identity: a later state is a new row, the same state twice
# is a duplicate.
_GUIDANCE_KEY: Final = ("insurer", "number", "branch", "started_on", "institution", "evaluated_on")


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


@dataclass(frozen=True)
class MeasureSpec:
    """The flat measurement columns of a checkup row and how to compute them.

    The default comes from ``kokuho.checkups._measures``: ``MEASURE_COLUMNS`` (it repeats the
    identifier columns; the lake keeps its own for those and takes ``fiscal_year`` from the
    folder name) and ``measures(checkup)``, an object with one attribute per other column.
    Tests pass their own.
    """

    columns: Mapping[str, pa.DataType]
    measure: Callable[[Checkup], object]

    @property
    def measured(self) -> dict[str, pa.DataType]:
        """The columns ``measure`` provides (those that are not identifiers)."""
        skip = set(CHECKUP_COLUMNS) | {"fiscal_year"}
        return {name: kind for name, kind in self.columns.items() if name not in skip}


def default_measures() -> MeasureSpec:
    """``MeasureSpec`` of ``kokuho.checkups._measures`` (imported when first needed, so the
    lake's other uses do not load the measurement rules)."""
    from kokuho.checkups._measures import MEASURE_COLUMNS, measures

    return MeasureSpec(columns=dict(MEASURE_COLUMNS), measure=measures)


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


def _key(row: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple((row[n] or "") if n == "branch" else row[n] for n in names)


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
        # (table, fiscal year) → (files whose keys were read, key → archive)
        self._keys: dict[tuple[str, int], tuple[set[str], dict[tuple[Any, ...], str]]] = {}

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
        """``ingest_archive`` of each archive in turn, under one hold of the lock and with one
        manifest write for them all: the same reports, files and manifest entries, without
        rewriting the whole manifest once per archive (quadratic in a lake of many).

        The manifest write commits the archives together. An archive that fails leaves no
        file of its own; those before it are committed, then its error is raised.
        """
        reports: list[IngestReport] = []
        with self.locked():
            manifest = self._read_manifest()
            written: list[Path] = []
            try:
                for contents in archives:
                    reports.append(self._add(contents, manifest, written))
            finally:
                if any(not r.already_ingested for r in reports):
                    self._commit(manifest, written)
        return reports

    def _commit(self, manifest: _Manifest, written: list[Path]) -> None:
        """Writes ``manifest``; if that fails, every file of the batch is taken back, and the
        keys read from them (a later archive of the batch read its predecessors') forgotten."""
        try:
            with taking_back(written):
                self._write_manifest(manifest)
        except BaseException:
            self._keys.clear()
            raise

    def _add(self, contents: ArchiveLike, manifest: _Manifest, batch: list[Path]) -> IngestReport:
        """One archive's files written and its entry put in ``manifest`` (not yet written)."""
        digest = contents.digest
        if not _DIGEST.fullmatch(digest):
            # It becomes a file name: never let it carry a path.
            raise ValueError(f"archive digest {digest!r} is not a lowercase sha256 hex digest")
        name = Path(contents.path).name
        if digest in manifest.archives:
            return IngestReport(archive=digest, name=name, already_ingested=True)
        checkup_rows = [_checkup_row(c, digest) for c in contents.checkups]
        guidance_rows = [_guidance_row(g, digest) for g in contents.guidance]
        duplicates: list[Duplicate] = []
        kept_checkups = self._new_rows("checkups", checkup_rows, _CHECKUP_KEY, manifest, duplicates)
        kept_guidance = self._new_rows(
            "guidance", guidance_rows, _GUIDANCE_KEY, manifest, duplicates
        )
        written: list[Path] = []
        # A failure part way takes back this archive's files, so a failed ingest leaves the
        # folders as they were (a power cut leaves them unread instead, see the module
        # docstring).
        with taking_back(written):
            for fy, rows in _by_year(kept_checkups, "exam_date").items():
                spec = self._spec()
                indices = [i for i, _ in rows]
                table = _checkup_table(
                    [r for _, r in rows], [contents.checkups[i] for i in indices], spec
                )
                written.append(self._write(f"checkups/fiscal_year={fy}/{digest}.parquet", table))
            for fy, rows in _by_year(kept_guidance, "started_on").items():
                table = pa.Table.from_pylist(
                    [r for _, r in rows], schema=pa.schema(GUIDANCE_COLUMNS)
                )
                written.append(self._write(f"guidance/fiscal_year={fy}/{digest}.parquet", table))
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

    def _spec(self) -> MeasureSpec:
        if self._measures is None:
            self._measures = default_measures()
        return self._measures

    def _new_rows(
        self,
        table: str,
        rows: list[dict[str, Any]],
        key_names: Sequence[str],
        manifest: _Manifest,
        duplicates: list[Duplicate],
    ) -> list[tuple[int, dict[str, Any]]]:
        """Rows whose key neither the lake nor an earlier row of the archive holds, with
        their index in the archive."""
        if not rows:
            return []
        date_column = "exam_date" if table == "checkups" else "started_on"
        years = {FiscalYear.of(r[date_column]).year for r in rows}
        existing = self._existing_keys(table, key_names, manifest, years)
        kept: list[tuple[int, dict[str, Any]]] = []
        for index, row in enumerate(rows):
            key = _key(row, key_names)
            if key in existing:
                duplicates.append(Duplicate(table, row["document"], existing[key]))
                continue
            existing[key] = ""
            kept.append((index, row))
        return kept

    def _existing_keys(
        self, table: str, key_names: Sequence[str], manifest: _Manifest, years: set[int]
    ) -> dict[tuple[Any, ...], str]:
        """Keys of the committed rows of ``years`` (a document's key includes its date, so
        only its own 年度 can hold it), with the archive holding each.

        Kept per process and topped up with the files committed since: ingesting a batch of
        archives reads each file's keys once, not once per archive.
        """
        found: dict[tuple[Any, ...], str] = {}
        for year in sorted(years):
            files, keys = self._keys.setdefault((table, year), (set(), {}))
            folder = f"fiscal_year={year}"
            new = [f for f in manifest.files(table) if Path(f).parent.name == folder]
            new = [f for f in new if f not in files]
            if new:
                # pyarrow, not Ibis: the write path reads a few key columns of a few files.
                data = pads.dataset([str(self.root / f) for f in new], format="parquet")
                for row in data.to_table(columns=[*key_names, "archive"]).to_pylist():
                    keys.setdefault(_key(row, key_names), row["archive"])
                files.update(new)
            found.update(keys)
        return found

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


def _checkup_row(checkup: Checkup, digest: str) -> dict[str, Any]:
    return {
        "document": checkup.document,
        "insurer": checkup.insurer,
        "symbol": checkup.symbol,
        "number": checkup.number,
        "branch": checkup.branch or None,
        "sex": checkup.sex,
        "birth_date": checkup.birth_date,
        "exam_date": checkup.exam_date,
        "institution": checkup.institution,
        "ticket": checkup.ticket,
        "archive": digest,
    }


def _guidance_row(guidance: Guidance, digest: str) -> dict[str, Any]:
    return {
        "document": guidance.document,
        "insurer": guidance.insurer,
        "symbol": guidance.symbol,
        "number": guidance.number,
        "branch": guidance.branch or None,
        "sex": guidance.sex,
        "birth_date": guidance.birth_date,
        "institution": guidance.institution,
        "level": int(guidance.level),
        "started_on": guidance.started_on,
        "evaluated_on": guidance.evaluated_on,
        "archive": digest,
    }


def _by_year(
    rows: list[tuple[int, dict[str, Any]]], date_column: str
) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    years: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for index, row in rows:
        years.setdefault(FiscalYear.of(row[date_column]).year, []).append((index, row))
    return dict(sorted(years.items()))


def _checkup_table(
    rows: list[dict[str, Any]], checkups: list[Checkup], spec: MeasureSpec
) -> pa.Table:
    measured = spec.measured
    schema = pa.schema({**CHECKUP_COLUMNS, **measured})
    columns = {name: [r[name] for r in rows] for name in CHECKUP_COLUMNS}
    values = [spec.measure(c) for c in checkups]
    for name in measured:
        columns[name] = [getattr(v, name) for v in values]
    return pa.Table.from_pydict(columns, schema=schema)
