"""Reading the documents of a V08 archive (``DATA/h*.xml`` and ``DATA/g*.xml``), half of a
large archive in a forked process.

Parsing and checking the documents is most of ``read_archive``'s time and each document is
independent of the others, so an archive of at least ``PARALLEL_MIN_DOCUMENTS`` documents is
split in two: the second half is read in a child made with ``os.fork`` (no re-import: the
child is ready at once and shares the archive's bytes copy-on-write) while this process reads
the first half. The child runs exactly the code of the in-process path and sends back compact
tuples (not object graphs, to keep pickling cheap); the outcome is rebuilt in the order of the
entries, so the documents, the problems and their order are those of a one-process read.

The child is only a speed-up, never a dependency: where ``fork`` is unavailable (not Linux), or
unsafe (other Python threads run here: one of them could hold a lock the child would wait for
forever, e.g. the dashboard reading archives in its thread pool), or useless (one CPU, no idle
CPU by the load average, a small archive), or when the child fails in any way (fork refused,
killed, an exception, a truncated answer), its half is read here instead, with the same result
and the same errors. The child writes nothing but its answer to a pipe; if this process dies
first, its next write fails and it ends.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from kokuho.checkups import _v08_common as limits
from kokuho.checkups._model import Checkup, Guidance
from kokuho.checkups._v08_body import shared_observation
from kokuho.checkups._v08_common import ArchiveProblem
from kokuho.checkups._v08_document import checkup_from_bytes, guidance_from_bytes
from kokuho.store import spare_core

#: Archives with fewer documents are read in one process: below this the fork and the
#: transfer cost about as much as half of the parse saves. A module attribute, so an operator
#: (or a test) can change it.
PARALLEL_MIN_DOCUMENTS = 500

#: Fork only when the load average leaves a CPU idle. False forks on a busy machine too (the
#: benchmark's ``--fork-when-busy``, to measure the child there).
REQUIRE_IDLE_CPU = True

LOCAL_HEADER_SIZE: Final = 30
_LOCAL_SIGNATURE: Final = b"PK\x03\x04"
_LOCAL_NAME_LENGTHS: Final = struct.Struct("<HH")  # file name and extra field lengths at +26


class ZipData:
    """The archive's bytes and directory. Entries are inflated straight from memory with
    ``zlib`` (zipfile's stream objects cost more than the inflation of a 15 KB document) and
    every entry is checked as zipfile would: local header, name, size and CRC-32."""

    def __init__(self, data: bytes, zf: zipfile.ZipFile) -> None:
        self.data = data
        self.view = memoryview(data)
        self.zf = zf

    def read(self, info: zipfile.ZipInfo) -> bytes:
        # Inflate at most one byte more than the directory declares (itself within the
        # limit): a header that understates the size is caught after that byte, not after
        # gigabytes.
        limit = min(info.file_size, limits.MAX_ENTRY_BYTES)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2 / lzma: rare, let zipfile handle them, still with a bounded read.
            with self.zf.open(info) as stream:
                out = stream.read(limit + 1)
        else:
            offset = info.header_offset
            if self.data[offset : offset + 4] != _LOCAL_SIGNATURE:
                raise ValueError("local file header not found (corrupt zip)")
            name_length, extra_length = _LOCAL_NAME_LENGTHS.unpack_from(self.data, offset + 26)
            name_start = offset + LOCAL_HEADER_SIZE
            name = info.orig_filename
            # An ASCII name is the same bytes in either encoding, and the cp437 codec (a
            # character map in Python) costs more than the rest of the header checks.
            encoding = "ascii" if name.isascii() else "utf-8" if info.flag_bits & 0x800 else "cp437"
            if self.data[name_start : name_start + name_length] != name.encode(encoding):
                raise ValueError("local file name differs from the directory (corrupt zip)")
            start = name_start + name_length + extra_length
            raw = self.view[start : start + info.compress_size]
            if info.compress_type == zipfile.ZIP_STORED:
                out = bytes(raw[: limit + 1])
            else:
                out = zlib.decompressobj(-15).decompress(raw, limit + 1)
        if len(out) > limit:
            raise ValueError(
                f"inflates beyond the {limit} bytes its directory entry declares (zip bomb?)"
            )
        if len(out) != info.file_size:
            raise ValueError(f"inflates to {len(out)} bytes, the directory says {info.file_size}")
        if zlib.crc32(out) != info.CRC:
            raise ValueError("CRC-32 mismatch (corrupt zip)")
        return out


def entry_bytes(
    zf: ZipData, info: zipfile.ZipInfo, rel: str, archive: str, problems: list[ArchiveProblem]
) -> bytes | None:
    """The inflated entry, or None with the reason in ``problems``."""
    try:
        return zf.read(info)
    # zipfile raises NotImplementedError for a compression method it lacks (e.g. deflate64):
    # a bad entry of the archive, reported like the others, not a gap in this code.
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as error:
        problems.append(ArchiveProblem(archive, rel, "zip entry", f"cannot be read: {error}"))
        return None


class Job(NamedTuple):
    """One document entry to read: ``guidance`` for a ``g*.xml``, else a ``h*.xml``. A named
    tuple: one is made per document, and a frozen dataclass costs twice as much."""

    guidance: bool
    rel: str
    info: zipfile.ZipInfo


_Outcome = Checkup | Guidance | list[ArchiveProblem]


def _outcomes(zf: ZipData, jobs: Iterable[Job], archive: str) -> Iterator[_Outcome]:
    """Each job's record, or the problems that left it out: the one reading code of both
    processes."""
    for job in jobs:
        found: list[ArchiveProblem] = []
        data = entry_bytes(zf, job.info, job.rel, archive, found)
        if data is None:
            yield found
            continue
        if job.guidance:
            guidance, found = guidance_from_bytes(data, job.rel, archive)
            yield found if guidance is None else guidance
        else:
            checkup, found = checkup_from_bytes(data, job.rel, archive)
            yield found if checkup is None else checkup


def read_documents(
    zf: ZipData,
    jobs: Sequence[Job],
    archive: str,
    problems: list[ArchiveProblem],
    *,
    parallel: bool = True,
) -> tuple[list[Checkup], list[Guidance]]:
    """The checkups and guidance records of ``jobs`` in their order; every problem is added to
    ``problems`` in the order of the jobs. ``parallel=False`` reads all in this process."""
    half = len(jobs) // 2 if parallel and _may_fork(len(jobs)) else len(jobs)
    child = _fork(zf, jobs[half:], archive) if half < len(jobs) else None
    checkups: list[Checkup] = []
    guidance: list[Guidance] = []
    try:
        _gather(_outcomes(zf, jobs[:half], archive), checkups, guidance, problems)
    except BaseException:
        if child is not None:  # the child's answer is not wanted any more
            _abandon(child)
        raise
    if half < len(jobs):
        answer = None if child is None else _answer(child)
        rest = None if answer is None else _decode(answer)
        _gather(
            _outcomes(zf, jobs[half:], archive) if rest is None else rest,
            checkups,
            guidance,
            problems,
        )
    return checkups, guidance


def _gather(
    outcomes: Iterable[_Outcome],
    checkups: list[Checkup],
    guidance: list[Guidance],
    problems: list[ArchiveProblem],
) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Checkup):
            checkups.append(outcome)
        elif isinstance(outcome, Guidance):
            guidance.append(outcome)
        else:
            problems.extend(outcome)


def _may_fork(documents: int) -> bool:
    if documents < max(PARALLEL_MIN_DOCUMENTS, 2):
        return False
    return spare_core(require_idle=REQUIRE_IDLE_CPU)


# -- the child -----------------------------------------------------------------------------

# What crosses the pipe: (observations, outcomes). ``observations`` holds each distinct
# observation once, as its fields (code, kind, value, unit, code_system, not_done,
# null_flavor): the reader shares identical ones between documents (see _v08_body), and so
# does the answer. ``outcomes`` holds, per job and in order,
#   (0, ((archive, file, where, reason), ...))          left out, with its problems
#   (1, document, insurer, symbol, number, branch, sex, birth_date, exam_date,
#       institution, ticket, (index into observations, ...))     a checkup
#   (2, Guidance)                                        a guidance record (few per archive)
_PROBLEMS: Final = 0
_CHECKUP: Final = 1
_GUIDANCE: Final = 2


def _encode(outcomes: Iterable[_Outcome]) -> bytes:
    observations: list[tuple[Any, ...]] = []
    index: dict[int, int] = {}  # id() of an observation → its place in ``observations``
    kept: list[_Outcome] = []  # keeps every observation alive, so no id() is reused
    encoded: list[tuple[Any, ...]] = []
    for outcome in outcomes:
        kept.append(outcome)
        if isinstance(outcome, Checkup):
            places = []
            for item in outcome.observations.values():
                place = index.get(id(item))
                if place is None:
                    place = index[id(item)] = len(observations)
                    observations.append(
                        (
                            item.code,
                            item.kind,
                            item.value,
                            item.unit,
                            item.code_system,
                            item.not_done,
                            item.null_flavor,
                        )
                    )
                places.append(place)
            encoded.append(
                (
                    _CHECKUP,
                    outcome.document,
                    outcome.insurer,
                    outcome.symbol,
                    outcome.number,
                    outcome.branch,
                    outcome.sex,
                    outcome.birth_date,
                    outcome.exam_date,
                    outcome.institution,
                    outcome.ticket,
                    tuple(places),
                )
            )
        elif isinstance(outcome, Guidance):
            encoded.append((_GUIDANCE, outcome))
        else:
            encoded.append(
                (_PROBLEMS, tuple((p.archive, p.file, p.where, p.reason) for p in outcome))
            )
    return pickle.dumps((observations, encoded), protocol=pickle.HIGHEST_PROTOCOL)


def _decode(answer: bytes) -> list[_Outcome] | None:
    """The child's outcomes, or None when its answer is not a whole one (read again here)."""
    try:
        rows, encoded = pickle.loads(answer)  # noqa: S301 (our own child's answer, our pipe)
    except Exception:  # noqa: BLE001 (a truncated answer: the half is read again here)
        return None
    shared = [shared_observation(row) for row in rows]
    outcomes: list[_Outcome] = []
    for entry in encoded:
        if entry[0] == _CHECKUP:
            outcomes.append(
                Checkup(
                    document=entry[1],
                    insurer=entry[2],
                    symbol=entry[3],
                    number=entry[4],
                    branch=entry[5],
                    sex=entry[6],
                    birth_date=entry[7],
                    exam_date=entry[8],
                    institution=entry[9],
                    observations={item.code: item for item in map(shared.__getitem__, entry[11])},
                    ticket=entry[10],
                )
            )
        elif entry[0] == _GUIDANCE:
            outcomes.append(entry[1])
        else:
            outcomes.append([ArchiveProblem(*problem) for problem in entry[1]])
    return outcomes


@dataclass(frozen=True, slots=True)
class _Child:
    pid: int
    pipe: int  # the read end


def _fork(zf: ZipData, jobs: Sequence[Job], archive: str) -> _Child | None:
    """Starts a child reading ``jobs``; None when no child could be started."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        _child(zf, jobs, archive, read_end, write_end)  # never returns
    os.close(write_end)
    return _Child(pid, read_end)


def _child(zf: ZipData, jobs: Sequence[Job], archive: str, read_end: int, write_end: int) -> None:
    status = 1
    try:
        os.close(read_end)
        # A short-lived process: collections would only copy the parent's pages it touches.
        gc.disable()
        answer = memoryview(_encode(_outcomes(zf, jobs, archive)))
        while answer:
            answer = answer[os.write(write_end, answer) :]
        status = 0
    # Whatever goes wrong here, the parent reads this half itself (with the same errors):
    # the child must only end, never return into the caller's code.
    except BaseException:  # noqa: BLE001, S110
        pass
    finally:
        os._exit(status)


def _answer(child: _Child) -> bytes | None:
    """The child's whole answer, or None when it did not end well."""
    try:
        with os.fdopen(child.pipe, "rb") as pipe:
            answer = pipe.read()
    except OSError:
        _stop(child.pid)
        return None
    except BaseException:
        _stop(child.pid)
        raise
    _, status = os.waitpid(child.pid, 0)
    return answer if os.waitstatus_to_exitcode(status) == 0 else None


def _abandon(child: _Child) -> None:
    os.close(child.pipe)
    _stop(child.pid)


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
