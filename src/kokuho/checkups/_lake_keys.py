"""The identities of the documents in the checkup lake, kept per process (part of ``_lake``).

Ingest reports a document the lake already holds as a duplicate, so it needs the keys of the
committed rows of the 年度 it writes into (a key includes its date, so only its own 年度 can
hold it). ``DocumentKeys`` reads each committed file's keys once per process, and never reads
back what the same process wrote: a batch's keys are staged as it writes its files and join
the committed ones only once the manifest naming those files is written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow.dataset as pads  # type: ignore[import-untyped, unused-ignore]

#: A document's identity: the values of a table's key columns.
Key = tuple[Any, ...]

# A checkup is the same document when these agree (the brief's document identity); 枝番 null
# and "" are one value.
CHECKUP_KEY: Final = ("insurer", "number", "branch", "exam_date", "institution")
# A guidance record is re-sent when it progresses (初回面接 first, 実績評価 later), so the
# completion date is part of its identity: a later state is a new row, the same state twice
# is a duplicate.
GUIDANCE_KEY: Final = ("insurer", "number", "branch", "started_on", "institution", "evaluated_on")


def document_key(row: Mapping[str, Any], names: Sequence[str]) -> Key:
    """The key of ``row``, a lake row as written or as read back."""
    return tuple((row[n] or "") if n == "branch" else row[n] for n in names)


@dataclass
class _Known:
    files: set[str] = field(default_factory=set)  # relative names whose keys are in holders
    holders: dict[Key, str] = field(default_factory=dict)  # key → digest of its archive


class DocumentKeys:
    """Keys of the lake's documents by (table, 年度), each with the archive holding it.

    ``load`` tops the committed keys up from the files the manifest names that were not read
    yet: those of other processes (or of another ``Lake`` of this one) appear there and are
    read then. A 年度 whose read files the manifest no longer names all (the lake was reset)
    is read again whole. The files of the running batch are not read back: ``stage`` records
    their keys as they are written, ``commit`` adds them to the committed ones once the
    manifest is written, and ``forget`` drops everything when that write fails.
    """

    def __init__(self) -> None:
        self._committed: dict[tuple[str, int], _Known] = {}
        self._staged: dict[tuple[str, int], _Known] = {}

    def begin(self) -> None:
        """A new batch: nothing staged."""
        self._staged.clear()

    def load(
        self,
        root: Path,
        table: str,
        key_names: Sequence[str],
        files: Iterable[str],
        years: Collection[int],
    ) -> None:
        """Reads the keys of those of ``files`` (the table's files the manifest names,
        relative to ``root``) of ``years`` that are neither read nor staged."""
        folders = {f"fiscal_year={year}": year for year in years}
        by_year: dict[int, set[str]] = {year: set() for year in years}
        for name in files:
            year = folders.get(Path(name).parent.name)
            if year is not None:
                by_year[year].add(name)
        for year in sorted(by_year):
            named = by_year[year]
            known = self._committed.setdefault((table, year), _Known())
            if not known.files <= named:
                known = self._committed[(table, year)] = _Known()
            staged = self._staged.get((table, year))
            new = named - known.files - (staged.files if staged else set())
            if not new:
                continue
            # pyarrow, not Ibis: the write path reads a few key columns of a few files.
            data = pads.dataset([str(root / f) for f in sorted(new)], format="parquet")
            for row in data.to_table(columns=[*key_names, "archive"]).to_pylist():
                known.holders.setdefault(document_key(row, key_names), row["archive"])
            known.files.update(new)

    def holder(self, table: str, year: int, key: Key) -> str | None:
        """The digest of the archive holding ``key`` (committed or staged), or None."""
        for known in (self._committed.get((table, year)), self._staged.get((table, year))):
            if known is not None and (found := known.holders.get(key)) is not None:
                return found
        return None

    def stage(self, table: str, year: int, file: str, holders: Mapping[Key, str]) -> None:
        """``file``, just written by the batch, holds ``holders``."""
        staged = self._staged.setdefault((table, year), _Known())
        staged.files.add(file)
        staged.holders.update(holders)

    def commit(self) -> None:
        """The batch's manifest is written: its staged keys are committed."""
        for where, staged in self._staged.items():
            known = self._committed.setdefault(where, _Known())
            known.files |= staged.files
            for key, digest in staged.holders.items():
                known.holders.setdefault(key, digest)
        self._staged.clear()

    def forget(self) -> None:
        """Everything dropped (a manifest write failed: files read may have been taken back)."""
        self._committed.clear()
        self._staged.clear()
