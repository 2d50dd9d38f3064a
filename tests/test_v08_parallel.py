"""read_archive reading half of a large archive in a forked child (_v08_documents): the same
records, the same problems in the same order, and a clean fallback to one process."""

from __future__ import annotations

import datetime as dt
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kokuho.checkups import Checkup, Guidance, GuidanceLevel, Observation, _v08_documents
from kokuho.checkups._v08_api import ArchiveContents, ArchiveRejected, read_archive, write_archive
from kokuho.store import quoted

INSURER = "01370014"
DOCUMENTS = 24


def _observations(n: int) -> dict[str, Observation]:
    items = [
        Observation("9N001000000000001", "PQ", f"{150 + n % 40}.{n % 10}", "cm"),
        Observation("9N006000000000001", "PQ", f"{50 + n}", "kg"),
        Observation("9N701000000000011", "CO", str(1 + n % 2), None, "1.2.392.200119.6.2003"),
        Observation("9N736000000000011", "CD", "3", None, "1.2.392.200119.6.2003"),
        Observation("9N501000000000011", "ST", f"所見 {n}"),
        Observation("3F015000002327101", "PQ", None, "mg/dL", not_done=True),
        Observation("3D046000001906202", "", null_flavor="NI"),
    ]
    return {item.code: item for item in items}


def _checkups(count: int) -> list[Checkup]:
    return [
        Checkup(
            document="",
            insurer=INSURER,
            symbol="" if n % 3 else "12",
            number=f"{n:07d}",
            branch=None if n % 2 else "01",
            sex=1 + n % 2,
            birth_date=dt.date(1950 + n % 20, 1 + n % 12, 1),
            exam_date=dt.date(2022, 9, 1),
            institution="3710000012",
            observations=_observations(n),
            ticket=None if n % 4 else f"{n:011d}",
        )
        for n in range(count)
    ]


def _guidance(count: int) -> list[Guidance]:
    return [
        Guidance(
            document="",
            insurer=INSURER,
            symbol="",
            number=f"{n:07d}",
            branch=None,
            sex=1,
            birth_date=dt.date(1960, 4, 1),
            institution="3710000012",
            level=GuidanceLevel.MOTIVATIONAL,
            started_on=dt.date(2022, 12, 1),
            evaluated_on=None if n % 2 else dt.date(2023, 6, 1),
        )
        for n in range(count)
    ]


def _archive(folder: Path) -> Path:
    return write_archive(
        folder,
        sender="3710000012",
        receiver=INSURER,
        checkups=_checkups(DOCUMENTS),
        guidance=_guidance(4),
        created=dt.datetime(2022, 10, 1),
    )


def _edited(path: Path, folder: Path, edits: dict[int, Callable[[bytes], bytes]]) -> Path:
    """A copy of the archive whose ``h`` documents number ``n`` (1-based) went through
    ``edits[n]``."""
    folder.mkdir()
    copy = folder / path.name
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            for n, edit in edits.items():
                if info.filename.endswith(f"{n:05d}.xml") and "/DATA/h" in info.filename:
                    data = edit(data)
            target.writestr(info, data, zipfile.ZIP_DEFLATED)
    return copy


def _same(one: ArchiveContents, other: ArchiveContents) -> None:
    assert one.checkups == other.checkups
    assert one.guidance == other.guidance
    assert one.problems == other.problems
    assert (one.digest, one.sender, one.receiver, one.created, one.service_event) == (
        other.digest,
        other.sender,
        other.receiver,
        other.created,
        other.service_event,
    )


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Lowers the threshold to this test's small archives and counts the forks made."""
    monkeypatch.setattr(_v08_documents, "PARALLEL_MIN_DOCUMENTS", 2)
    monkeypatch.setattr(_v08_documents, "_may_fork", _without_affinity_check)
    made: list[int] = []
    real = os.fork

    def counting() -> int:
        pid = real()
        if pid:
            made.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting)
    yield made


_real_may_fork = _v08_documents._may_fork


def _without_affinity_check(documents: int) -> bool:
    # Whatever the runner (one CPU, pytest-xdist's threads): these tests want the child.
    return documents >= _v08_documents.PARALLEL_MIN_DOCUMENTS


def test_two_processes_read_what_one_reads(tmp_path: Path, forks: list[int]) -> None:
    path = _archive(tmp_path)
    alone = read_archive(path, parallel=False)
    assert forks == []
    shared = read_archive(path)
    assert len(forks) == 1
    assert len(shared.checkups) == DOCUMENTS and len(shared.guidance) == 4
    assert shared.problems == []
    _same(shared, alone)
    assert [c.document for c in shared.checkups] == sorted(c.document for c in alone.checkups)


def test_bad_documents_in_the_second_half_give_the_same_problems(
    tmp_path: Path, forks: list[int]
) -> None:
    path = _edited(
        _archive(tmp_path / "good"),
        tmp_path / "bad",
        {
            3: lambda data: data.replace(b'<birthTime value="', b'<birthTime value="x', 1),
            DOCUMENTS - 4: lambda data: data.replace(b'" unit="kg"', b'x" unit="kg"', 1).replace(
                b'<birthTime value="', b'<birthTime value="x', 1
            ),
            DOCUMENTS - 1: lambda data: data[:-30],  # not well-formed
        },
    )
    alone = read_archive(path, strict=False, parallel=False)
    shared = read_archive(path, strict=False)
    assert len(forks) == 1
    _same(shared, alone)
    late = [p for p in shared.problems if p.file.endswith(f"{DOCUMENTS - 4:05d}.xml")]
    assert [p.where for p in late] == [
        "recordTarget/patientRole/patient/birthTime",
        "observation 9N006000000000001",
    ]
    assert shared.problems[-1].file.endswith(f"{DOCUMENTS - 1:05d}.xml")
    assert shared.problems[-1].reason.startswith("not well-formed XML")
    assert len(shared.checkups) == DOCUMENTS - 3

    with pytest.raises(ArchiveRejected) as one:
        read_archive(path, parallel=False)
    with pytest.raises(ArchiveRejected) as two:
        read_archive(path)
    assert two.value.problems == one.value.problems == alone.problems
    assert str(two.value) == str(one.value)


def _value(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        assert old in data, old
        return data.replace(old, new, 1)

    return edit


def test_values_beyond_their_format_give_the_same_problems_in_both_processes(
    tmp_path: Path, forks: list[int]
) -> None:
    """1e308, a weight of 99999999 kg, NaN and a value of 400 digits, in both halves: the
    child refuses them exactly as this process does; the largest value allowed passes."""
    path = _edited(
        _archive(tmp_path / "good"),
        tmp_path / "bad",
        {
            1: _value(b'value="150.0" unit="cm"', b'value="1e308" unit="cm"'),
            2: _value(b'value="51" unit="kg"', b'value="999.9" unit="kg"'),  # the largest
            3: _value(b'value="52" unit="kg"', b'value="99999999" unit="kg"'),
            DOCUMENTS - 4: _value(b'value="69" unit="kg"', b'value="NaN" unit="kg"'),
            DOCUMENTS - 2: _value(
                b'value="71" unit="kg"', b'value="' + b"9" * 400 + b'" unit="kg"'
            ),
            DOCUMENTS: _value(b'value="73" unit="kg"', b'value="1000.0" unit="kg"'),
        },
    )
    alone = read_archive(path, strict=False, parallel=False)
    shared = read_archive(path, strict=False)
    assert len(forks) == 1
    _same(shared, alone)
    weight = "observation 9N006000000000001"
    beyond = "is out of range: {} allows 0 to 999.9 (format NNN.N)"
    assert [(p.file[-9:], p.where, p.reason) for p in shared.problems] == [
        ("00001.xml", "observation 9N001000000000001", "value '1e308' " + beyond.format("身長")),
        ("00003.xml", weight, "value '99999999' " + beyond.format("体重")),
        (f"{DOCUMENTS - 4:05d}.xml", weight, "value 'NaN' is not a number"),
        (f"{DOCUMENTS - 2:05d}.xml", weight, f"value {quoted('9' * 400)} is not a number"),
        (f"{DOCUMENTS:05d}.xml", weight, "value '1000.0' " + beyond.format("体重")),
    ]
    assert len(shared.checkups) == DOCUMENTS - 5
    with pytest.raises(ArchiveRejected) as one:
        read_archive(path, parallel=False)
    with pytest.raises(ArchiveRejected) as two:
        read_archive(path)
    assert two.value.problems == one.value.problems == alone.problems


def test_a_failing_child_leaves_its_half_to_this_process(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path)
    alone = read_archive(path, parallel=False)

    def broken(outcomes: object) -> bytes:
        raise RuntimeError("the child fails")

    monkeypatch.setattr(_v08_documents, "_encode", broken)
    _same(read_archive(path), alone)
    assert len(forks) == 1


def test_a_garbled_answer_leaves_its_half_to_this_process(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path)
    alone = read_archive(path, parallel=False)
    monkeypatch.setattr(_v08_documents, "_encode", lambda outcomes: b"\x80\x05truncated")
    _same(read_archive(path), alone)
    assert len(forks) == 1


def test_a_refused_fork_reads_everything_here(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path)
    alone = read_archive(path, parallel=False)

    def refused() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    _same(read_archive(path), alone)


def test_small_archives_and_threaded_processes_are_read_in_one_process(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real test of whether to fork (the fixture's stand-in skips it).
    path = _archive(tmp_path)
    monkeypatch.setattr(_v08_documents, "_may_fork", _real_may_fork)
    monkeypatch.setattr(_v08_documents, "PARALLEL_MIN_DOCUMENTS", DOCUMENTS + 5)
    read_archive(path)
    assert forks == []
    monkeypatch.setattr(_v08_documents, "PARALLEL_MIN_DOCUMENTS", 2)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        read_archive(path)
    finally:
        stop.set()
        other.join()
    assert forks == []
    # No idle CPU: the child would gain nothing.
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    read_archive(path)
    assert forks == []


def test_an_error_in_this_half_ends_the_child(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path)
    real = _v08_documents._gather
    calls: list[int] = []

    def failing(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(_v08_documents, "_gather", failing)
    with pytest.raises(KeyboardInterrupt):
        read_archive(path)
    monkeypatch.setattr(_v08_documents, "_gather", real)
    assert calls == [1] and len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # already reaped: no zombie left behind
