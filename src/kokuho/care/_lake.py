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

**One claim, its latest version.** One 介護給付費明細書 is one (証記載保険者番号, 被保険者番号,
サービス提供年月, 事業所番号, 交換情報識別番号 — the 様式): the 国保連 takes one 明細書 of a
被保険者 a month from a 事業所 on a 様式 and returns a second as a 重複請求. A claim is sent
again, with a later 処理対象年月 (the コントロールレコード's 請求・審査 month), when it was late
(月遅れ請求), returned (返戻 → 再請求) or withdrawn by a 過誤申立 and billed anew; the later one
replaces the earlier whole. So the claim tables keep every version as ingested (ingest stays
append-only, atomic and idempotent) and are *read* as the latest: ``table`` gives, of each
claim, the version of the latest 処理対象年月 (``care_services`` and ``care_totals`` the rows of
those versions only), whatever order the files came in. At ingest, a claim whose 処理対象年月
the lake already holds for it is not written again when its values are the same (``repeated``)
and refused when they differ: two versions in one 処理対象年月 are a 重複請求, and which counts
cannot be told. Claims ingested before this rule (manifest format 1) have no 処理対象年月 or
交換情報識別番号: they are read as they are, each its own claim.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kokuho.care._certs import COLUMNS, Certification, read_certifications
from kokuho.care._errors import CareFileRejected
from kokuho.care._model import CareClaim, CareClaimFile
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
        "copay": _I, "billing_month": _S, "exchange_id": _S, "content": _S,
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
#: The columns of ``care_claims`` that say which claim a row is a version of.
CLAIM_IDENTITY: Final = ("insurer", "insured", "service_month", "provider", "exchange_id")
#: Columns format 1's claim files lack (read as null).
_ADDED: Final = ("billing_month", "exchange_id", "content")
_MANIFEST: Final = "care_manifest.json"
#: 2: claims carry their 処理対象年月 (billing_month), 交換情報識別番号 and content digest.
_FORMAT: Final = 2
_OLDER_FORMATS: Final = (1,)


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
    #: 認定 (claims: 明細書 of the same 処理対象年月 and values) already in the lake, not added
    repeated: int = 0
    replaced: int = 0  # claims added that replace a version of an earlier 処理対象年月
    superseded: int = 0  # claims added that a version of a later 処理対象年月 already replaces


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


@dataclass(frozen=True, slots=True)
class _ClaimsIn:
    """A 介護給付費明細書 file to add: which of its claims (numbers from 1) are written, and
    what they do to the claims in the lake."""

    file: CareClaimFile
    #: The claims written (numbers from 1) and each one's ``claim_content``.
    contents: dict[int, str]
    replaced: int = 0
    superseded: int = 0


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def claim_content(claim: CareClaim) -> str:
    """A digest of every value of ``claim`` as read (its 基本情報, 明細情報 and 集計情報): two
    versions of one claim in one 処理対象年月 are the same claim when it is equal."""
    return hashlib.sha256(repr(claim).encode("utf-8")).hexdigest()


def claim_identity(claim: CareClaim) -> tuple[str, ...]:
    """What makes a claim one claim (``CLAIM_IDENTITY``)."""
    return (claim.insurer, claim.insured, _month(claim.service_month), claim.provider,
            claim.exchange_id)  # fmt: skip


def claim_tables(
    file: CareClaimFile, digest: str, contents: Mapping[int, str]
) -> dict[str, list[dict[str, Any]]]:
    """The rows ``file`` adds to the claim tables (claim ids ``<digest>:<n>``, n from 1), of
    the claims ``contents`` names, with their ``claim_content``."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CLAIM_TABLES}
    billing = _month(file.billing_month)
    for number, claim in enumerate(file.claims, 1):
        if number not in contents:
            continue
        claim_id, month = f"{digest}:{number}", _month(claim.service_month)
        rows["care_claims"].append({
            "claim_id": claim_id, "file": digest, "service_month": month,
            "provider": claim.provider, "insurer": claim.insurer, "insured": claim.insured,
            "name_kana": claim.name_kana, "birth_date": claim.birth_date, "sex": claim.sex,
            "care_level": claim.care_level, "valid_from": claim.valid_from,
            "valid_to": claim.valid_to, "benefit_rate": claim.benefit_rate,
            "units": sum(t.units for t in claim.totals),
            "claimed": sum(t.claimed for t in claim.totals),
            "copay": sum(t.copay for t in claim.totals), "billing_month": billing,
            "exchange_id": claim.exchange_id, "content": contents[number],
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

    def table(
        self, name: str, months: Collection[str] | None = None, *, versions: bool = False
    ) -> ir.Table:
        """Table ``name`` (``care_claims``, ``care_services``, ``care_totals``,
        ``care_certifications``) as an ``ibis.Table``; empty when nothing was ingested. The
        claim tables hold each claim once, its version of the latest 処理対象年月 (the module
        docstring); ``versions``: every version ingested."""
        stored = self._stored(name, months)
        if versions or name not in CLAIM_TABLES:
            return stored
        latest = _latest(self._stored("care_claims", months))
        if name == "care_claims":
            return latest
        kept: ir.Table = stored.semi_join(latest.select("claim_id"), "claim_id")
        return kept

    def _stored(self, name: str, months: Collection[str] | None) -> ir.Table:
        """Every row of table ``name`` as written (format 1's claims with null in the columns
        they lack)."""
        files = self.files(name, months)
        if name != "care_claims":
            table: ir.Table = lake_table(self.analytics, name, files, SCHEMAS[name])
            return table
        claims: ir.Table = lake_table(
            self.analytics, name, files, SCHEMAS[name], union_by_name=True
        )
        missing = {c: ibis.null("string") for c in _ADDED if c not in claims.columns}
        if missing:
            claims = claims.mutate(**missing)
        order: ir.Table = claims.select(*SCHEMAS[name])
        return order

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
                    count = len(value.contents) if isinstance(value, _ClaimsIn) else len(value)
                    months = sorted({f.split("/")[1][14:] for f in files if "=" in f})
                    entries[digest] = {
                        "name": Path(path).name, "kind": kind, "rows": count,
                        "service_months": months,
                        "files": files, "repeated": repeated,
                        "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    }  # fmt: skip
                    reports.append(_report(path, digest, entries[digest], skipped=False,
                                           value=value))  # fmt: skip
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
        if kind == "claims":
            parsed = self._versions(parsed, manifest, problems)
        if problems:
            raise CareFileRejected(problems)
        return parsed

    def _versions(
        self,
        parsed: list[tuple[Path, str, Any, int]],
        manifest: _Manifest,
        problems: list[FileProblem],
    ) -> list[tuple[Path, str, Any, int]]:
        """The claim files of ``parsed`` as ``_ClaimsIn``, in order, each claim set against
        the versions of it the lake and the files before it hold: a repeat (same 処理対象年月,
        same values) is left out, another version of the same 処理対象年月 is a problem."""
        files = [(p, d, v) for p, d, v, _ in parsed if v is not None]
        months = sorted({_month(c.service_month) for _, _, f in files for c in f.claims})
        # claim → 処理対象年月 → (its content digest, the file holding it)
        held: dict[tuple[Any, ...], dict[str | None, tuple[str | None, str]]] = defaultdict(dict)
        if months and manifest.sources:
            stored = self._stored("care_claims", months)
            columns = (*CLAIM_IDENTITY, "billing_month", "content", "file")
            for row in stored.select(*columns).to_pyarrow().to_pylist():
                key = tuple(row[c] for c in CLAIM_IDENTITY)
                held[key][row["billing_month"]] = (row["content"], row["file"])
        names = {d: e["name"] for d, e in manifest.sources.items()}
        names.update((d, p.name) for p, d, _ in files)
        found: list[tuple[Path, str, Any, int]] = []
        for path, digest, file, _ in parsed:
            if file is None:
                found.append((path, digest, None, 0))
                continue
            billing = _month(file.billing_month)
            contents: dict[int, str] = {}
            repeated = replaced = superseded = 0
            for number, claim in enumerate(file.claims, 1):
                key = claim_identity(claim)
                versions = held[key]
                content = claim_content(claim)
                if billing in versions:
                    same, origin = versions[billing]
                    if same == content:
                        repeated += 1
                        continue
                    holder = names.get(origin, origin)
                    problems.append(_second_version(path, claim, billing, holder, origin == digest))
                    continue
                if any(b is not None and b > billing for b in versions):
                    superseded += 1
                elif any(b is not None and b < billing for b in versions):
                    replaced += 1
                versions[billing] = (content, digest)
                contents[number] = content
            value = _ClaimsIn(file, contents, replaced, superseded)
            found.append((path, digest, value, repeated))
        return found

    @staticmethod
    def _tables(kind: str, digest: str, value: Any) -> list[tuple[str, list[dict[str, Any]]]]:
        if kind == "claims":
            return list(claim_tables(value.file, digest, value.contents).items())
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
        path = self.root / _MANIFEST
        sources, _ = read_manifest(path, _FORMAT, "sources", older=_OLDER_FORMATS)
        return _Manifest(sources=sources)

    def _write_manifest(self, manifest: _Manifest) -> None:
        write_manifest(self.root / _MANIFEST, _FORMAT, "sources", manifest.sources)


def _report(
    path: Path, digest: str, entry: dict[str, Any], *, skipped: bool, value: Any = None
) -> CareIngested:
    """What became of one file; a ``_ClaimsIn`` ``value`` says what its claims replaced."""
    claims = value if isinstance(value, _ClaimsIn) else None
    return CareIngested(
        path=Path(path), digest=digest, skipped=skipped, kind=entry["kind"], rows=entry["rows"],
        service_months=tuple(entry["service_months"]), repeated=entry.get("repeated", 0),
        replaced=claims.replaced if claims else 0, superseded=claims.superseded if claims else 0,
    )  # fmt: skip


def _second_version(
    path: Path, claim: CareClaim, billing: str, holder: str, own: bool
) -> FileProblem:
    """The problem of a claim of which ``holder`` (a file's name; ``own``: the claim's own
    file) holds another version of the same 処理対象年月 ``billing``: a 重複請求."""
    which = (
        f"被保険者番号 {claim.insured} (保険者番号 {claim.insurer}), サービス提供年月 "
        f"{_month(claim.service_month)}, 事業所番号 {claim.provider}, 交換情報識別番号 "
        f"{claim.exchange_id}"
    )
    where = "a second version in this file" if own else f"{holder} holds it"
    return FileProblem(
        str(path), 0, "claim",
        f"{which}: {where} under the same 処理対象年月 {billing} with other values (a 重複請求; "
        "a claim sent again comes with a later 処理対象年月)",
    )  # fmt: skip


def _latest(claims: ir.Table) -> ir.Table:
    """Of each claim (``CLAIM_IDENTITY``), its version of the latest 処理対象年月. A row without
    one (format 1) is a claim of its own."""
    legacy = claims.billing_month.isnull().ifelse(claims.claim_id, ibis.literal(""))
    window = ibis.window(
        group_by=[*(claims[c] for c in CLAIM_IDENTITY), legacy],
        order_by=[claims.billing_month.fill_null("").desc(), claims.claim_id],
    )
    ranked = claims.mutate(version_rank=ibis.row_number().over(window))
    latest: ir.Table = ranked.filter(ranked.version_rank == 0).drop("version_rank")
    return latest
