"""``Lake.ingest_archives``: a batch of V08 archives under one lock and one manifest write
gives the same reports, files and manifest as ``ingest_archive`` one by one; a failure part
way commits the archives before it and leaves no file of the failing one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kokuho.checkups import _lake
from kokuho.checkups._lake import Lake
from tests.test_lake import FIRST, SPEC, D, archive, checkup, guidance, snapshot_of

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

SECOND = archive(
    "second.zip",
    [checkup("h1.xml", "100", D(2024, 6, 1)), checkup("h4.xml", "400", D(2024, 9, 1))],
)  # h1 repeats FIRST's document: a duplicate
THIRD = archive("third.zip", [checkup("h5.xml", "500", D(2025, 5, 1))], [guidance("g2", "5", None)])
BATCH = [FIRST, SECOND, FIRST, THIRD]  # FIRST twice: the second time already ingested


def _without_times(root: Path) -> dict[str, Any]:
    """The manifest with the ingest times blanked (they differ between two runs)."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["archives"]:
        entry["ingested_at"] = ""
    return manifest  # type: ignore[no-any-return]


def test_a_batch_is_the_same_as_one_by_one(tmp_path: Path) -> None:
    one, many = Lake(tmp_path / "one", measures=SPEC), Lake(tmp_path / "many", measures=SPEC)
    singly = [one.ingest_archive(a) for a in BATCH]
    together = many.ingest_archives(iter(BATCH))
    relative = [
        (r.archive, r.name, r.already_ingested, r.checkups, r.guidance, r.duplicates,
         [f.relative_to(root).as_posix() for f in r.files])
        for reports, root in ((singly, one.root), (together, many.root))
        for r in reports
    ]  # fmt: skip
    assert relative[: len(BATCH)] == relative[len(BATCH) :]
    assert [r.already_ingested for r in together] == [False, False, True, False]
    assert together[1].checkups == 1 and len(together[1].duplicates) == 1
    files_one = {k: v for k, v in snapshot_of(one.root).items() if k != "manifest.json"}
    files_many = {k: v for k, v in snapshot_of(many.root).items() if k != "manifest.json"}
    assert files_one == files_many
    assert _without_times(one.root) == _without_times(many.root)
    assert many.ingest_archives(BATCH) and many.archives().keys() == one.archives().keys()


def test_a_failure_commits_the_archives_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    real = _lake._replace
    written: list[Path] = []

    def crash_in_third(source: str | Path, target: str | Path) -> None:
        if THIRD.digest in Path(target).name and written:  # THIRD's second file
            raise OSError("disk gone")
        if THIRD.digest in Path(target).name:
            written.append(Path(target))
        real(source, target)

    monkeypatch.setattr(_lake, "_replace", crash_in_third)

    def archives() -> Iterator[Any]:
        yield from (FIRST, SECOND, THIRD, archive("never.zip", []))

    with pytest.raises(OSError, match="disk gone"):
        lake.ingest_archives(archives())
    assert set(lake.archives()) == {FIRST.digest, SECOND.digest}
    assert not any(THIRD.digest in name for name in snapshot_of(tmp_path))
    assert lake.table("checkups").count().to_pyarrow().as_py() == 4
    monkeypatch.setattr(_lake, "_replace", real)
    assert [r.already_ingested for r in lake.ingest_archives([FIRST, THIRD])] == [True, False]
    assert lake.table("checkups").count().to_pyarrow().as_py() == 5


def test_a_failed_manifest_write_takes_back_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(THIRD)
    before = snapshot_of(tmp_path)
    real = _lake._replace

    def crash_on_manifest(source: str | Path, target: str | Path) -> None:
        if Path(target).name == "manifest.json":
            raise OSError("disk gone")
        real(source, target)

    monkeypatch.setattr(_lake, "_replace", crash_on_manifest)
    with pytest.raises(OSError, match="disk gone"):
        lake.ingest_archives([FIRST, SECOND])
    assert snapshot_of(tmp_path) == before
    # The same process ingests the batch again: the keys it read from the taken-back files
    # must not make their documents duplicates of themselves.
    monkeypatch.setattr(_lake, "_replace", real)
    again = lake.ingest_archives([FIRST, SECOND])
    fresh = Lake(tmp_path / "fresh", measures=SPEC)
    fresh.ingest_archive(THIRD)
    expected = fresh.ingest_archives([FIRST, SECOND])
    assert [(r.checkups, len(r.duplicates)) for r in again] == [
        (r.checkups, len(r.duplicates)) for r in expected
    ]
    assert not again[0].duplicates
