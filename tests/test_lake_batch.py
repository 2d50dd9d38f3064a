"""``Lake.ingest_archives``: a batch of V08 archives under one lock and one manifest write
gives the same reports, files and manifest as ``ingest_archive`` one by one; a failure part
way commits the archives before it and leaves no file of the failing one; the archives are
read without the lock, and two ingests at once add each document once."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import threading
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


def _lock_is_free(root: Path) -> bool:
    """Whether the lake's write lock can be taken now (flock: another open file conflicts,
    in this process as in another)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def test_archives_are_read_while_the_lock_is_free(tmp_path: Path) -> None:
    # Reading an archive (parsing and checking its documents) is the slow part of an ingest;
    # before, the generator ran under the lock, so another process's ingest (or vacuum)
    # waited for every archive of this one to be parsed.
    lake = Lake(tmp_path, measures=SPEC)
    free: list[bool] = []

    def archives() -> Iterator[Any]:
        for contents in (FIRST, SECOND, THIRD):
            free.append(_lock_is_free(tmp_path))
            yield contents

    reports = lake.ingest_archives(archives())
    assert free == [True, True, True]
    assert [r.checkups for r in reports] == [3, 1, 1]


def test_two_processes_ingesting_at_once_add_each_document_once(tmp_path: Path) -> None:
    # Two lakes on one root (as two processes: flock conflicts between open files) read
    # their archives at the same time, both finishing before either writes; then each takes
    # the lock in turn and the second finds the first's archives in the manifest.
    both_read = threading.Barrier(2, timeout=30)
    orders = ([FIRST, SECOND, THIRD], [THIRD, SECOND, FIRST])
    results: list[list[Any]] = [[], []]

    def ingest(which: int) -> None:
        def archives() -> Iterator[Any]:
            yield from orders[which]
            both_read.wait()  # the lock is taken only after this: both have read everything

        results[which] = Lake(tmp_path, measures=SPEC).ingest_archives(archives())

    threads = [threading.Thread(target=ingest, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    added = {
        r.archive: (r.checkups, r.guidance)
        for reports in results
        for r in reports
        if not r.already_ingested
    }
    again = [r.archive for reports in results for r in reports if r.already_ingested]
    assert sorted(again) == sorted(added) == sorted(a.digest for a in (FIRST, SECOND, THIRD))
    lake = Lake(tmp_path, measures=SPEC)
    documents = lake.table("checkups").document.to_pyarrow().to_pylist()
    assert sorted(documents) == ["h1.xml", "h2.xml", "h3.xml", "h4.xml", "h5.xml"]
    assert sum(c for c, _ in added.values()) == 5 and sum(g for _, g in added.values()) == 2
    assert lake.vacuum() == []  # no file left that the manifest does not name


def test_archives_in_several_batches_are_the_same_as_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long run is written in batches of about _BATCH_DOCUMENTS read documents, each under
    # one hold of the lock and one manifest write: the same reports, files and manifest.
    monkeypatch.setattr(_lake, "_BATCH_DOCUMENTS", 2)
    one, many = Lake(tmp_path / "one", measures=SPEC), Lake(tmp_path / "many", measures=SPEC)
    singly = [one.ingest_archive(a) for a in BATCH]
    together = many.ingest_archives(iter(BATCH))
    assert [(r.archive, r.already_ingested, r.checkups, r.duplicates) for r in singly] == [
        (r.archive, r.already_ingested, r.checkups, r.duplicates) for r in together
    ]
    files_one = {k: v for k, v in snapshot_of(one.root).items() if k != "manifest.json"}
    files_many = {k: v for k, v in snapshot_of(many.root).items() if k != "manifest.json"}
    assert files_one == files_many
    assert _without_times(one.root) == _without_times(many.root)


@pytest.mark.parametrize("error", [ValueError("third.zip: rejected"), SystemExit(1)])
def test_a_failure_to_read_commits_the_archives_read_before_it(
    tmp_path: Path, error: BaseException
) -> None:
    # As when the archives were read under the lock: the CLI's exit on a rejected archive
    # (SystemExit raised in its generator) still commits those before it.
    lake = Lake(tmp_path, measures=SPEC)

    def archives() -> Iterator[Any]:
        yield from (FIRST, SECOND)
        raise error

    with pytest.raises(type(error)):
        lake.ingest_archives(archives())
    assert set(lake.archives()) == {FIRST.digest, SECOND.digest}
    assert lake.table("checkups").count().to_pyarrow().as_py() == 4


def _ingest_in_child(root: Path, order: list[Any], both_read: Any, out: Any) -> None:
    def archives() -> Iterator[Any]:
        yield from order
        both_read.wait()

    reports = Lake(root, measures=SPEC).ingest_archives(archives())
    out.put([(r.archive, r.already_ingested, r.checkups) for r in reports])


def test_two_processes_ingesting_at_once(tmp_path: Path) -> None:
    # The same race as above with two real processes (forked: the archives are the module's).
    context = multiprocessing.get_context("fork")
    both_read, out = context.Barrier(2, timeout=30), context.Queue()
    children = [
        context.Process(target=_ingest_in_child, args=(tmp_path, order, both_read, out))
        for order in ([FIRST, SECOND, THIRD], [THIRD, SECOND, FIRST])
    ]
    for child in children:
        child.start()
    reports = [row for _ in children for row in out.get(timeout=60)]
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    added = sorted(digest for digest, again, _ in reports if not again)
    assert added == sorted(digest for digest, again, _ in reports if again)
    assert added == sorted(a.digest for a in (FIRST, SECOND, THIRD))
    assert sum(checkups for _, _, checkups in reports) == 5
    lake = Lake(tmp_path, measures=SPEC)
    documents = lake.table("checkups").document.to_pyarrow().to_pylist()
    assert sorted(documents) == ["h1.xml", "h2.xml", "h3.xml", "h4.xml", "h5.xml"]
    assert lake.vacuum() == []
