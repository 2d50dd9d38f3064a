"""The checkup lake's document keys (``_lake_keys``): a Lake does not read back the files it
wrote itself, still sees what another writer committed since, and reads a 年度 again whole
when the manifest no longer names files it had read (the lake was reset)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kokuho.checkups import _lake_keys
from kokuho.checkups._lake import Lake
from tests.test_lake import FIRST, SPEC, D, archive, checkup, guidance

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

SECOND = archive(
    "second.zip",
    [checkup("h1.xml", "100", D(2024, 6, 1)), checkup("h4.xml", "400", D(2024, 9, 1))],
    [guidance("g1.xml", "100", None)],
)  # h1 and g1 repeat FIRST's documents
OTHER = archive("other.zip", [checkup("h4.xml", "400", D(2024, 9, 1))])


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The files whose keys are read, one list per read."""
    seen: list[list[str]] = []
    real = _lake_keys.pads.dataset

    def counting(files: list[str], **options: Any) -> Any:
        seen.append([Path(f).relative_to(Path(f).parents[2]).as_posix() for f in files])
        return real(files, **options)

    monkeypatch.setattr(_lake_keys.pads, "dataset", counting)
    return seen


def test_a_lake_does_not_read_back_what_it_wrote(tmp_path: Path, reads: list[list[str]]) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(FIRST)
    report = lake.ingest_archive(SECOND)
    assert reads == []
    assert report.checkups == 1
    assert {(d.table, d.document, d.existing_archive) for d in report.duplicates} == {
        ("checkups", "h1.xml", FIRST.digest),
        ("guidance", "g1.xml", FIRST.digest),
    }
    # A batch, likewise: the keys of its earlier archives are known without reading them.
    batch = Lake(tmp_path / "batch", measures=SPEC)
    [_, second] = batch.ingest_archives([FIRST, SECOND])
    assert reads == [] and second.duplicates == report.duplicates


def test_another_writer_is_seen(tmp_path: Path, reads: list[list[str]]) -> None:
    lake, other = Lake(tmp_path, measures=SPEC), Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(FIRST)
    other.ingest_archive(OTHER)  # as another process would
    report = lake.ingest_archive(SECOND)
    # other read FIRST's file (it did not write it); lake reads only OTHER's.
    assert reads == [[f"checkups/fiscal_year=2024/{a.digest}.parquet"] for a in (FIRST, OTHER)]
    assert {(d.document, d.existing_archive) for d in report.duplicates} == {
        ("h1.xml", FIRST.digest),
        ("h4.xml", OTHER.digest),
        ("g1.xml", FIRST.digest),
    }
    assert report.checkups == 0


def test_a_reset_lake_is_read_again(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake", measures=SPEC)
    lake.ingest_archive(FIRST)
    shutil.rmtree(tmp_path / "lake")
    Lake(tmp_path / "lake", measures=SPEC).ingest_archive(OTHER)
    report = lake.ingest_archive(SECOND)  # FIRST is gone: only OTHER's h4 is a duplicate
    assert (report.checkups, report.guidance) == (1, 1)
    assert [(d.document, d.existing_archive) for d in report.duplicates] == [
        ("h4.xml", OTHER.digest)
    ]
