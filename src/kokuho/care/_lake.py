"""The care lake: 介護給付費明細書 files and 要介護認定 files as Parquet, read through Ibis.

Layout under the lake root (``$KOKUHO_HOME/lake``, shared with the other lakes)::

    care_manifest.json                                           what is committed
    care_claims/service_month=YYYY-MM/<sha256>.parquet           one row per 明細書
    care_services/service_month=YYYY-MM/<sha256>.parquet         one row per 明細情報
    care_totals/service_month=YYYY-MM/<sha256>.parquet           one row per 集計情報
    care_certifications/<sha256>.parquet                         one row per 要介護認定

``<sha256>`` is the digest of the source file. As the claims lake: every file is written
through ``atomic_file`` and the manifest last (readers open only what it names), a file whose
digest the manifest names is skipped, one bad file refuses the whole call (a file larger than
``_read.MAX_FILE_BYTES`` too, unread), one writer at a time (``flock`` on ``.care.lock``),
and what a killed writer left is swept under the lock.
A certification already in the lake (same 保険者番号, 被保険者番号, 有効期間 開始) is skipped
when equal and refused when it differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.care._certs import COLUMNS, Certification, read_certifications
from kokuho.care._errors import CareFileRejected
from kokuho.care._model import CareClaimFile
from kokuho.care._read import read_capped_care_file, read_care_bytes
from kokuho.store import (
    FileProblem,
    IngestTally,
    LakeRoot,
    atomic_file,
    fsync_folders,
    lake_table,
    manifest_files,
    read_manifest,
    sweep_uncommitted,
    taking_back,
    write_manifest,
)

_S, _I, _D = pa.string(), pa.int64(), pa.date32()
SCHEMAS: Final[dict[str, dict[str, pa.DataType]]] = {
    "care_claims": {
        "claim_id": _S, "file": _S, "service_month": _S, "provider": _S, "insurer": _S,
        "insured": _S, "name_kana": _S, "birth_date": _D, "sex": _I, "care_level": _S,
        "valid_from": _D, "valid_to": _D, "benefit_rate": _I, "units": _I, "claimed": _I,
        "copay": _I,
    },
    "care_services": {
        "claim_id": _S, "service_month": _S, "service_type": _S, "item_code": _S, "units": _I,
        "count": _I, "service_units": _I,
    },
    "care_totals": {
        "claim_id": _S, "service_month": _S, "service_type": _S, "days": _I, "units": _I,
        "unit_price": pa.decimal128(5, 2), "claimed": _I, "copay": _I,
    },
    "care_certifications": {
        "file": _S, "line": _I, "insurer_number": _S, "insured_number": _S, "name_kanji": _S,
        "name_kana": _S, "birth_date": _D, "sex": _I, "address": _S, "care_level": _S,
        "certified_on": _D, "valid_from": _D, "valid_to": _D,
    },
}  # fmt: skip
CLAIM_TABLES: Final = ("care_claims", "care_services", "care_totals")
_MANIFEST: Final = "care_manifest.json"
_FORMAT: Final = 1


class CareTableMissing(LookupError):
    """The care lake holds no such table."""


@dataclass(frozen=True, slots=True)
class CareIngested:
    """What an ingest did with one file."""

    path: Path
    digest: str
    skipped: bool  # already in the lake (or twice in one call)
    kind: str  # claims | certifications
    rows: int  # 明細書 (claims) or 認定 (certifications) added
    service_months: tuple[str, ...] = ()
    repeated: int = 0  # certifications already in the lake from another file, skipped


@dataclass(frozen=True, slots=True)
class CareIngestReport(IngestTally):
    files: tuple[CareIngested, ...] = ()

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files if not f.skipped)


@dataclass
class _Manifest:
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def files(self, table: str) -> list[str]:
        return manifest_files(self.sources.values(), table)


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def claim_tables(file: CareClaimFile, digest: str) -> dict[str, list[dict[str, Any]]]:
    """The rows ``file`` adds to the claim tables (claim ids ``<digest>:<n>``, n from 1)."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CLAIM_TABLES}
    for number, claim in enumerate(file.claims, 1):
        claim_id, month = f"{digest}:{number}", _month(claim.service_month)
        rows["care_claims"].append({
            "claim_id": claim_id, "file": digest, "service_month": month,
            "provider": claim.provider, "insurer": claim.insurer, "insured": claim.insured,
            "name_kana": claim.name_kana, "birth_date": claim.birth_date, "sex": claim.sex,
            "care_level": claim.care_level, "valid_from": claim.valid_from,
            "valid_to": claim.valid_to, "benefit_rate": claim.benefit_rate,
            "units": sum(t.units for t in claim.totals),
            "claimed": sum(t.claimed for t in claim.totals),
            "copay": sum(t.copay for t in claim.totals),
        })  # fmt: skip
        rows["care_services"] += [
            {"claim_id": claim_id, "service_month": month, "service_type": d.service_type,
             "item_code": d.item_code, "units": d.units, "count": d.count,
             "service_units": d.service_units}
            for d in claim.details
        ]  # fmt: skip
        rows["care_totals"] += [
            {"claim_id": claim_id, "service_month": month, "service_type": t.service_type,
             "days": t.days, "units": t.units, "unit_price": t.unit_price,
             "claimed": t.claimed, "copay": t.copay}
            for t in claim.totals
        ]  # fmt: skip
    return rows


class CareLake(LakeRoot):
    """The care tables under ``root``: ingest of 介護給付費明細書 and 要介護認定 files, Ibis
    access."""

    LOCK = ".care.lock"

    # -- reading ---------------------------------------------------------------------------

    def files(self, name: str, months: Collection[str] | None = None) -> list[Path]:
        """The committed Parquet files of table ``name`` (of the ``YYYY-MM`` months only)."""
        if name not in SCHEMAS:
            raise CareTableMissing(f"the care lake has no table {name!r}")
        return self._paths(self._read_manifest().files(name), months, name in CLAIM_TABLES)

    def table(self, name: str, months: Collection[str] | None = None) -> ir.Table:
        """Table ``name`` (``care_claims``, ``care_services``, ``care_totals``,
        ``care_certifications``) as an ``ibis.Table``; empty when nothing was ingested."""
        table: ir.Table = lake_table(self.analytics, name, self.files(name, months), SCHEMAS[name])
        return table

    def certifications(self) -> list[Certification]:
        """Every certification in the lake, in import order."""
        found: list[Certification] = []
        for path in self.files("care_certifications"):
            for row in pq.read_table(path).to_pylist():
                found.append(Certification(**{c: row[c] for c in COLUMNS}, line=row["line"]))
        return found

    def sources(self) -> dict[str, dict[str, Any]]:
        """The manifest: ingested files by digest (name, kind, rows, files, time)."""
        return dict(self._read_manifest().sources)

    # -- writing ---------------------------------------------------------------------------

    def ingest(self, paths: Sequence[Path]) -> CareIngestReport:
        """Adds the claims of 介護給付費明細書 files. Atomic and idempotent; raises
        ``CareFileRejected`` with every problem of every bad file and commits nothing."""
        return self._ingest(paths, "claims")

    def import_certifications(self, paths: Sequence[Path]) -> CareIngestReport:
        """Adds the rows of 要介護認定 files, with the same guarantees as ``ingest``."""
        return self._ingest(paths, "certifications")

    def vacuum(self) -> list[Path]:
        """Removes what a killed or failed writer left; returns what it removed."""
        with self.locked():
            return self._sweep(self._read_manifest())

    def _ingest(self, paths: Sequence[Path], kind: str) -> CareIngestReport:
        written: list[Path] = []
        reports: list[CareIngested] = []
        with self.locked():
            manifest = self._read_manifest()
            self._sweep(manifest)
            parsed = self._parse(paths, kind, manifest)
            entries: dict[str, dict[str, Any]] = {}
            with taking_back(written):
                for path, digest, value, repeated in parsed:
                    if value is None:
                        entry = manifest.sources.get(digest) or entries[digest]
                        reports.append(_report(path, digest, entry, skipped=True))
                        continue
                    tables = self._tables(kind, digest, value)
                    files = [
                        f for name, rows in tables for f in self._write(name, digest, rows, written)
                    ]
                    count = len(value.claims) if isinstance(value, CareClaimFile) else len(value)
                    months = sorted({f.split("/")[1][14:] for f in files if "=" in f})
                    entries[digest] = {
                        "name": Path(path).name, "kind": kind, "rows": count,
                        "service_months": months,
                        "files": files, "repeated": repeated,
                        "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    }  # fmt: skip
                    reports.append(_report(path, digest, entries[digest], skipped=False))
                if entries:
                    fsync_folders(p.parent for p in written)
                    manifest.sources.update(entries)
                    self._write_manifest(manifest)
        return CareIngestReport(tuple(reports))

    def _parse(
        self, paths: Sequence[Path], kind: str, manifest: _Manifest
    ) -> list[tuple[Path, str, Any, int]]:
        """Every file read and checked: (path, digest, parsed value or None when skipped, how
        many of its certifications the lake already holds)."""
        parsed: list[tuple[Path, str, Any, int]] = []
        problems: list[FileProblem] = []
        queued: set[str] = set()
        known = {c.key: c for c in self.certifications()} if kind == "certifications" else {}
        for path in map(Path, paths):
            try:
                data = read_capped_care_file(path)
            except CareFileRejected as rejected:
                problems += rejected.problems
                continue
            digest = hashlib.sha256(data).hexdigest()
            known_as = manifest.sources.get(digest, {}).get("kind", kind)
            if known_as != kind:
                problems.append(
                    FileProblem(str(path), 0, "file", f"already in the lake as {known_as}")
                )
                continue
            if digest in manifest.sources or digest in queued:
                parsed.append((path, digest, None, 0))
                continue
            queued.add(digest)
            try:
                if kind == "claims":
                    parsed.append((path, digest, read_care_bytes(data, str(path)), 0))
                    continue
                rows = read_certifications(path, data)
            except CareFileRejected as rejected:
                problems += rejected.problems
                continue
            fresh = []
            for cert in rows:
                before = known.get(cert.key)
                if before is None:
                    known[cert.key] = cert
                    fresh.append(cert)
                elif before.values() != cert.values():
                    problems.append(FileProblem(str(path), cert.line, "valid_from",
                        "this certification is already in the lake with other values"))  # fmt: skip
            parsed.append((path, digest, fresh, len(rows) - len(fresh)))
        if problems:
            raise CareFileRejected(problems)
        return parsed

    @staticmethod
    def _tables(kind: str, digest: str, value: Any) -> list[tuple[str, list[dict[str, Any]]]]:
        if kind == "claims":
            return list(claim_tables(value, digest).items())
        rows = [{"file": digest, "line": c.line, **{k: getattr(c, k) for k in COLUMNS}}
                for c in value]  # fmt: skip
        return [("care_certifications", rows)]

    def _write(
        self, name: str, digest: str, rows: list[dict[str, Any]], written: list[Path]
    ) -> list[str]:
        """Writes ``rows`` of table ``name`` (one file per service month in the claim tables);
        returns the files' names relative to the root."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            key = f"service_month={row['service_month']}/" if name in CLAIM_TABLES else ""
            groups.setdefault(key, []).append(row)
        names: list[str] = []
        for key, group in sorted(groups.items()):
            final = self.root / name / f"{key}{digest}.parquet"
            table = pa.Table.from_pylist(group, schema=pa.schema(SCHEMAS[name]))
            with atomic_file(final, sync_folder=False) as temporary:
                pq.write_table(table, temporary, compression="zstd")
            written.append(final)
            names.append(final.relative_to(self.root).as_posix())
        return names

    def _sweep(self, manifest: _Manifest) -> list[Path]:
        return sweep_uncommitted(self.root, SCHEMAS, manifest.files, _MANIFEST)

    def _read_manifest(self) -> _Manifest:
        sources, _ = read_manifest(self.root / _MANIFEST, _FORMAT, "sources")
        return _Manifest(sources=sources)

    def _write_manifest(self, manifest: _Manifest) -> None:
        write_manifest(self.root / _MANIFEST, _FORMAT, "sources", manifest.sources)


def _report(path: Path, digest: str, entry: dict[str, Any], *, skipped: bool) -> CareIngested:
    return CareIngested(
        path=Path(path), digest=digest, skipped=skipped, kind=entry["kind"], rows=entry["rows"],
        service_months=tuple(entry["service_months"]), repeated=entry.get("repeated", 0),
    )  # fmt: skip
