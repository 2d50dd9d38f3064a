"""The bookkeeping the Parquet lakes share (claims, checkups, care): the manifest file that
says what is committed, the sweep of what a killed writer left, and taking back what a failed
ingest renamed into place; for the lakes built on ``LakeRoot`` (claims, care), the write lock
and the committed files of a table partitioned by service month.

A lake's manifest is JSON ``{"format": N, "<entries>": [{"digest": …, "files": […], …}]}``,
written last through ``atomic_file``; readers open only the files it names.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Self

from kokuho.config import Settings
from kokuho.store._analytics import Analytics
from kokuho.store._files import atomic_file, exclusive_lock, sweep_temporary

Atomic = Callable[[Path], AbstractContextManager[Path]]


class LakeRoot:
    """A lake under ``root`` (``$KOKUHO_HOME/lake`` by default, shared by the lakes), read
    through ``analytics``."""

    #: The file under ``root`` whose ``flock`` lets one writer at a time in (one per lake).
    LOCK: ClassVar[str]

    def __init__(self, root: Path, *, analytics: Analytics | None = None) -> None:
        """``analytics``: the engine to read through (default: ``KOKUHO_ANALYTICS``'s)."""
        self.root = Path(root)
        self.analytics = analytics or Analytics.from_env()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The lake of the installation: ``$KOKUHO_HOME/lake``."""
        return cls(settings.home / "lake", analytics=Analytics.from_settings(settings))

    @property
    def con(self) -> Any:
        """The Ibis backend the tables are read through (``analytics``)."""
        return self.analytics.backend

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the lake's write lock (one writer at a time, across processes)."""
        with exclusive_lock(self.root / self.LOCK):
            yield

    def _paths(
        self, found: list[str], months: Collection[str] | None, by_month: bool
    ) -> list[Path]:
        """The committed files ``found`` (names relative to the root) as paths; of the
        ``YYYY-MM`` ``months`` only when the table is partitioned by service month."""
        return [self.root / f for f in (months_only(found, months) if by_month else found)]


class IngestTally:
    """The counts of an ingest report whose ``files`` each say whether they were ``skipped``
    (already in the lake, or twice in one call)."""

    __slots__ = ()
    files: tuple[Any, ...]

    @property
    def ingested(self) -> int:
        return sum(1 for f in self.files if not f.skipped)

    @property
    def skipped(self) -> int:
        return sum(1 for f in self.files if f.skipped)


def lake_table(
    analytics: Analytics,
    name: str,
    files: Sequence[Path],
    schema: Any,
    *,
    union_by_name: bool = False,
) -> Any:
    """The committed Parquet ``files`` of table ``name`` as one ``ibis.Table``; with none, an
    empty table of ``schema`` (column → pyarrow type) bound to this lake's connection, not
    Ibis's global default one (an expression over empty tables only would otherwise run there,
    shared by every thread). ``union_by_name``: files written before a column was added read
    it as null (``Analytics.read_parquet``)."""
    if not files:
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

        return analytics.empty_table(name, pa.Table.from_pylist([], schema=pa.schema(schema)))
    return analytics.read_parquet(files, union_by_name=union_by_name)


def months_only(found: list[str], months: Collection[str] | None) -> list[str]:
    """The files of ``found`` (``<table>/service_month=YYYY-MM/…``) of ``months``; all of them
    when ``months`` is None."""
    if months is None:
        return found
    wanted = {f"service_month={m}" for m in months}
    return [f for f in found if f.split("/")[1] in wanted]


def manifest_files(entries: Iterable[Mapping[str, Any]], table: str) -> list[str]:
    """The files of ``table`` (names relative to the lake root) the manifest ``entries``
    commit, sorted."""
    prefix = f"{table}/"
    return sorted(n for e in entries for n in e.get("files", ()) if n.startswith(prefix))


def read_manifest(
    path: Path, version: int, key: str, *, older: Collection[int] = ()
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The entries under ``key`` of the manifest at ``path`` by digest, and the whole JSON
    (both empty when there is no manifest yet). ``ValueError`` on a format other than
    ``version`` and the ``older`` ones the caller still reads."""
    if not path.exists():
        return {}, {}
    raw: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if raw.get("format") != version and raw.get("format") not in older:
        raise ValueError(f"{path}: unknown manifest format {raw.get('format')!r}")
    return {entry["digest"]: entry for entry in raw[key]}, raw


def write_manifest(
    path: Path,
    version: int,
    key: str,
    entries: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
    *,
    atomic: Atomic = atomic_file,
) -> None:
    """Rewrites the manifest at ``path`` whole: ``entries`` (by digest, sorted) under ``key``
    and the ``extra`` members after them."""
    body = {
        "format": version,
        key: [{"digest": d, **e} for d, e in sorted(entries.items())],
        **(extra or {}),
    }
    with atomic(path) as temporary:
        temporary.write_text(json.dumps(body, ensure_ascii=False, indent=1), "utf-8")


def sweep_uncommitted(
    root: Path, tables: Iterable[str], committed: Callable[[str], Iterable[str]], manifest: str
) -> list[Path]:
    """Removes the Parquet files of ``tables`` that ``committed(table)`` does not name, the
    temporary files under them and the manifest's own temporary file; returns what it
    removed. Call it with the lake's lock held, never under a live writer."""
    removed: list[Path] = []
    for name in tables:
        folder = root / name
        removed += sweep_temporary(folder)
        kept = {root / f for f in committed(name)}
        if folder.is_dir():
            for path in sorted(folder.glob("**/*.parquet")):
                if path.is_file() and path not in kept:
                    path.unlink()
                    removed.append(path)
    # The manifest's own temporary file only: the lakes share the root.
    return removed + sweep_temporary(root, recursive=False, of=manifest)


@contextlib.contextmanager
def taking_back(written: list[Path]) -> Iterator[list[Path]]:
    """Unlinks every file in ``written`` (filled by the body) when the body fails, so an
    uncommitted ingest leaves the folders as they were."""
    try:
        yield written
    except BaseException:
        for file in written:
            file.unlink(missing_ok=True)
        raise
