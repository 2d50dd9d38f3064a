"""Which stored claim rows do not count: the earlier versions of a claim sent again (再請求,
月遅れ請求), read from the claims lake (``_lake``'s docstring, docs/formats.md §7, "A claim sent
again"); and, at ingest, what a call's claims do to the versions the lake holds: the same claim
again under the same 請求年月 (not written), another version there (a 重複請求, refused), an
earlier one replaced or a later one already there (``check_versions``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._errors import ClaimProblem
from kokuho.claims._schema import CLAIM_DIAGNOSES, CLAIM_DRUGS, CLAIM_PROCEDURES, CLAIMS

#: The columns of ``claims`` that say which claim a row is a version of (the module docstring).
CLAIM_IDENTITY: Final = (
    "kind", "prefecture", "institution", "service_month", "receipt_type", "insurer", "symbol",
    "number", "branch", "birth_date", "sex", "prescriber",
)  # fmt: skip


def superseded_versions(claims: ir.Table) -> ir.Table:
    """The ``claim_id`` and ``service_month`` of the rows of ``claims`` (columns of
    ``_schema.CLAIMS``) that do not count: of each claim (``CLAIM_IDENTITY``, as written), the
    versions of a 請求年月 before its latest. A claim without a 保険者番号 (公費単独) is a
    claim of its own."""
    insured = claims.filter(claims.insurer != "")
    keys = list(CLAIM_IDENTITY)
    claim = insured.group_by(keys).aggregate(
        latest_billing=insured.billing_month.max(), first_billing=insured.billing_month.min()
    )
    resent = claim.filter(claim.latest_billing > claim.first_billing)
    versions = insured.join(resent, keys)
    earlier: ir.Table = versions.filter(versions.billing_month < versions.latest_billing)
    return earlier.select("claim_id", "service_month")


class SupersededIds:
    """The ``claim_id`` of the superseded claims, found once per 診療年月 and kept while the
    lake holds the same ingested files (a lake object reads its tables many times)."""

    def __init__(self) -> None:
        self._held: frozenset[str] = frozenset()
        self._by_month: dict[str, pa.Table] = {}

    def ids(
        self,
        sources: frozenset[str],
        months: Sequence[str] | None,
        stored_claims: Callable[[list[str] | None], ir.Table],
    ) -> pa.Table | None:
        """Of the claims of ``months`` (every month when None: a file whose manifest entry
        does not say its months, and then nothing is kept), those a later version replaces;
        None when there are none. ``sources`` names the ingested files; ``stored_claims``
        reads every stored ``claims`` row of the months it is given."""
        if months is None:
            found = superseded_versions(stored_claims(None)).to_pyarrow()
            return found.select(["claim_id"]) if found.num_rows else None
        if self._held != sources:
            self._held, self._by_month = sources, {}
        missing = [m for m in months if m not in self._by_month]
        if missing:
            found = superseded_versions(stored_claims(missing)).to_pyarrow()
            labels = pa.array([f"{d:%Y-%m}" for d in found.column("service_month").to_pylist()])
            for month in missing:
                self._by_month[month] = found.filter(pc.equal(labels, month)).select(["claim_id"])
        ids = pa.concat_tables([self._by_month[m] for m in months])
        return ids if ids.num_rows else None


# -- at ingest ---------------------------------------------------------------------------------

#: The claim tables, as written.
_TABLES: Final = {
    "claims": CLAIMS,
    "claim_drugs": CLAIM_DRUGS,
    "claim_diagnoses": CLAIM_DIAGNOSES,
    "claim_procedures": CLAIM_PROCEDURES,
}
#: Columns of a claim's rows that say where it stands, not what it says: left out of its content.
_PLACE: Final = frozenset({"claim_id", "file", "line", "receipt_number"})


@dataclass(frozen=True, slots=True)
class FileVersions:
    """What the claims of one file ingested do to the versions in the lake (``ingest``'s report):
    ``repeated``, the same values under the same 請求年月 already in the lake (not written);
    ``replaced``, claims replacing a version of an earlier 請求年月; ``superseded``, claims a
    version of a later 請求年月 already replaces."""

    repeated: int = 0
    replaced: int = 0
    superseded: int = 0


@dataclass
class VersionCheck:
    """The versions of an ingest call's claims set against the lake's and each other's."""

    files: dict[str, FileVersions] = field(default_factory=dict)  # by digest, when not all 0
    repeated: set[str] = field(default_factory=set)  # claim ids not to write (``repeated``)
    problems: list[ClaimProblem] = field(default_factory=list)  # each a 重複請求


def shared_months(
    sources: Mapping[str, Mapping[str, Any]], fresh: Mapping[str, Mapping[str, Any]]
) -> dict[str, set[tuple[str, str]]]:
    """By 診療年月, the institutions (kind, 7-digit code) of which a ``fresh`` file (manifest
    entries by digest) and another file (``sources``, the lake's, or another fresh one) both
    hold claims: only there can a claim of the call have another version. Empty while each
    institution's claims of a 診療年月 are in one file (a late claim, a re-send or a second
    volume makes a month shared)."""
    files: dict[tuple[str, str, str], int] = {}
    unknown = False
    for entries in (sources, fresh):
        for entry in entries.values():
            if not {"kind", "institution", "service_months"} <= entry.keys():
                unknown = True  # could hold anything: every group of a fresh file is shared
                continue
            for month in entry["service_months"]:
                key = (entry["kind"], entry["institution"], month)
                files[key] = files.get(key, 0) + 1
    found: dict[str, set[tuple[str, str]]] = {}
    for entry in fresh.values():
        for month in entry["service_months"]:
            if unknown or files[(entry["kind"], entry["institution"], month)] > 1:
                found.setdefault(month, set()).add((entry["kind"], entry["institution"]))
    return found


def check_versions(
    files: Callable[[str, list[str]], list[Path]],
    shared: Mapping[str, set[tuple[str, str]]],
    fresh: Sequence[tuple[Path, str]],
    names: Mapping[str, str],
) -> VersionCheck:
    """Each claim of the ``fresh`` files (path and digest, in the call's order; ``shared`` their
    months and institutions that another file also holds) set against the versions of it in
    the lake and in the files before it, as care's lake does (docs/formats.md §7): under the
    same 請求年月 from another file, the same values are ``repeated`` and other values a 重複請求
    (a problem naming the file holding them, ``names`` the lake's files by digest); under
    another, ``replaced`` or ``superseded``. Claims alike in one file are two claims, and a
    claim without a 保険者番号 (公費単独) is never compared. ``files(table, months)`` are the
    Parquet files of a claim table of those months, committed or written by this call; they
    are read with pyarrow, as the writer writes them (an ingest starts no analytics engine)."""
    check = VersionCheck()
    if not shared:
        return check
    found = _identities(files, shared, [digest for _, digest in fresh])
    if not found.num_rows:
        return check
    # Rows by their number in ``found``: claim (a number), 請求年月 (days) and file of each.
    claim = found["claim"].to_pylist()
    billing = found["billing_month"].cast(pa.int32()).to_pylist()
    file = found["file"].to_pylist()
    fresh_files = {digest for _, digest in fresh}
    # claim → 請求年月 → its versions there: the lake's (two files may hold one, if written
    # before this rule), then each fresh file's claims of a 請求年月 no file before it holds.
    held: dict[int, dict[int, list[int]]] = defaultdict(dict)
    mine: dict[str, dict[int, list[int]]] = defaultdict(dict)
    for row, (number, month, digest) in enumerate(zip(claim, billing, file, strict=True)):
        if digest in fresh_files:
            mine[digest].setdefault(number, []).append(row)
        else:
            held[number].setdefault(month, []).append(row)
    pairs: list[tuple[Path, list[int], list[int]]] = []  # two versions under one 請求年月
    for path, digest in fresh:
        replaced = superseded = 0
        for number, rows in mine[digest].items():
            versions, month = held[number], billing[rows[0]]
            if month in versions:
                pairs.append((path, rows, versions[month]))
                continue
            if any(b > month for b in versions):
                superseded += len(rows)
            elif versions:
                replaced += len(rows)
            versions[month] = rows
        if replaced or superseded:
            check.files[digest] = FileVersions(0, replaced, superseded)
    if pairs:
        holders = {**names, **{digest: str(path) for path, digest in fresh}}
        _same_or_refused(files, found, pairs, sorted(shared), holders, check)
    return check


def _identities(
    files: Callable[[str, list[str]], list[Path]],
    shared: Mapping[str, set[tuple[str, str]]],
    fresh: Sequence[str],
) -> pa.Table:
    """The claims of the ``shared`` months and institutions that two files hold, one of them
    ``fresh`` (an identity with a null part is compared with none, as when reading): their
    ``CLAIM_IDENTITY``, 請求年月, file, claim id, line and レセプト番号, and ``claim``, a number
    for each identity; ordered by file and line."""
    keys = list(CLAIM_IDENTITY)
    # The months and institutions of the shared groups: a claim of a group that is not shared
    # is in one file, or in files of the lake only, and is left out below.
    institutions = sorted({i for pairs in shared.values() for _, i in pairs})
    months = [dt.date.fromisoformat(f"{m}-01") for m in shared]
    where = (pc.field("insurer") != "") & pc.field("institution").isin(institutions)
    where &= pc.field("service_month").isin(pa.array(months, pa.date32()))
    for key in keys:
        where &= pc.field(key).is_valid()
    claims = _scan(files, "claims", sorted(shared), [*keys, "file"], where)
    # Grouped with the files as numbers and the strings dictionary-encoded (about twice as fast).
    digests = pc.unique(claims["file"])
    grouped = pa.table({
        **{k: _encoded(claims[k]) for k in keys},
        "number_of_file": pc.index_in(claims["file"], value_set=digests),
        "fresh": pc.is_in(claims["file"], value_set=pa.array(list(fresh), pa.string())),
    }).group_by(keys).aggregate([
        ("number_of_file", "min"), ("number_of_file", "max"), ("fresh", "any"),
    ])  # fmt: skip
    two = pc.not_equal(grouped["number_of_file_min"], grouped["number_of_file_max"])
    resent = grouped.filter(pc.and_(grouped["fresh_any"], two))
    columns = [*keys, "billing_month", "file", "claim_id", "line", "receipt_number"]
    if not resent.num_rows:  # no claim of the call is held by another file
        return pa.table({"claim": pa.array([], pa.int64())})
    resent = pa.table({
        **{k: resent[k].cast(claims.schema.field(k).type) for k in keys},
        "claim": pa.array(range(resent.num_rows), pa.int64()),
    })  # fmt: skip
    where &= pc.field("institution").isin(pc.unique(resent["institution"]))
    found = _scan(files, "claims", sorted(shared), columns, where)
    return found.join(resent, keys, join_type="inner").sort_by(
        [("file", "ascending"), ("line", "ascending")]
    )


def _encoded(column: pa.ChunkedArray) -> pa.Array:
    """``column`` as one array, dictionary-encoded when it holds strings."""
    whole = column.combine_chunks()
    return pc.dictionary_encode(whole) if pa.types.is_string(whole.type) else whole


def _scan(
    files: Callable[[str, list[str]], list[Path]],
    name: str,
    months: list[str],
    columns: list[str],
    where: pc.Expression,
) -> pa.Table:
    """The ``columns`` of the rows of claim table ``name`` of ``months`` that match ``where``."""
    # Imported here: it takes about half a second, spent only when a check runs.
    import pyarrow.dataset as ds  # type: ignore[import-untyped, unused-ignore]

    found = files(name, months)
    schema = pa.schema(_TABLES[name])
    if not found:
        return schema.empty_table().select(columns)
    return ds.dataset(found, schema=schema, format="parquet").to_table(columns, filter=where)


def _same_or_refused(
    files: Callable[[str, list[str]], list[Path]],
    found: pa.Table,
    pairs: list[tuple[Path, list[int], list[int]]],
    months: list[str],
    holders: Mapping[str, str],
    check: VersionCheck,
) -> None:
    """Of each claim of a fresh file (``pairs``: the file, its claims of one identity, the
    versions another file holds under the same 請求年月, as rows of ``found``), whether it
    repeats one of them or is a 重複請求 (the problem names the holder by ``holders``: a path
    or a name by digest)."""
    claim_id = found["claim_id"].to_pylist()
    both = {claim_id[r] for _, rows, theirs in pairs for r in (*rows, *theirs)}
    contents = _contents(files, both, months)
    repeated: dict[str, int] = defaultdict(int)
    for path, rows, theirs in pairs:
        same = {contents[claim_id[r]] for r in theirs}
        first = found.slice(theirs[0], 1).to_pylist()[0]
        holder = f"{holders.get(first['file'], first['file'])}:{first['line']}"
        for row in rows:
            if contents[claim_id[row]] in same:
                check.repeated.add(claim_id[row])
                repeated[claim_id[row].split(":", 1)[0]] += 1
            else:
                version = found.slice(row, 1).to_pylist()[0]
                check.problems.append(_second_version(path, version, holder))
    for digest, count in repeated.items():
        before = check.files.get(digest, FileVersions())
        check.files[digest] = FileVersions(count, before.replaced, before.superseded)


def _contents(
    files: Callable[[str, list[str]], list[Path]], ids: set[str], months: list[str]
) -> dict[str, str]:
    """By claim id, a digest of every value the lake keeps of the claim (its ``claims`` row and
    the rows of the other claim tables) but where it stands (``_PLACE``): two versions of one
    claim in one 請求年月 are the same claim when it is equal."""
    wanted = pc.field("claim_id").isin(pa.array(sorted(ids), pa.string()))
    values: dict[str, list[str]] = defaultdict(list)
    for name, schema in _TABLES.items():
        kept = [c for c in schema if c not in _PLACE]
        found = _scan(files, name, months, ["claim_id", *kept], wanted)
        rows: dict[str, list[str]] = defaultdict(list)
        columns = [found[c].to_pylist() for c in kept]
        for claim_id, *row in zip(found["claim_id"].to_pylist(), *columns, strict=True):
            rows[claim_id].append(repr(tuple(row)))
        for claim_id in ids:
            values[claim_id].append(f"{name}:" + "\n".join(sorted(rows.get(claim_id, []))))
    return {
        claim_id: hashlib.sha256("\n\n".join(parts).encode("utf-8")).hexdigest()
        for claim_id, parts in values.items()
    }


def _second_version(path: Path, claim: dict[str, Any], holder: str) -> ClaimProblem:
    """The problem of a claim (its row of ``_identities``) of which ``holder`` (file:line)
    holds another version under the same 請求年月: a 重複請求."""
    parts = [f"保険者番号 {claim['insurer']}"]
    parts += [f"{label} {claim[c]}" for c, label in (("symbol", "記号"), ("number", "番号"),
              ("branch", "枝番")) if claim[c]]  # fmt: skip
    parts += [f"診療年月 {claim['service_month']:%Y-%m}", f"レセプト種別 {claim['receipt_type']}"]
    if claim["prescriber"]:
        parts.append(f"処方医療機関 {claim['prescriber']}")
    which = f"レセプト番号 {claim['receipt_number']} ({', '.join(parts)})"
    return ClaimProblem(
        str(path), claim["line"], 0, "claim",
        f"{which}: {holder} holds it under the same 請求年月 {claim['billing_month']:%Y-%m} with "
        "other values (a 重複請求; a claim sent again comes with a later 請求年月)",
    )  # fmt: skip
