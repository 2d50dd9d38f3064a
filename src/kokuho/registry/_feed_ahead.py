"""Reading a run's change-feed files (資格異動) ahead, in a forked process.

Parsing and checking a file's rows (``_feed_read``) is about a fifth of a run's CPU and needs
nothing from the database, so while this process applies file N, a child made with
``os.fork`` (no re-import: it is ready at once) reads files N+1, … and sends each file's report
and events back through a pipe, one pickled frame per file. The pipe is the bounded queue: the
child blocks once it is about one file ahead. This process reads the first file itself, so
neither waits at the start. The child also computes each acquisition's match key
(:func:`match_key` of the five items), which the apply needs, on its own CPU.

The child is only a speed-up, never a dependency: where ``fork`` is unavailable (not Linux) or
unsafe (other Python threads run here: one of them could hold a lock the child would wait for
forever), or useless (one CPU, no idle CPU by the load average, a short run), or when the
child fails in any way (fork refused, killed, an exception, a truncated or unexpected frame),
this process reads the file and every later one itself, with the same result: a file the
child found bad comes back as the same FileRejected, with the same errors (file, line,
column), and any other failure is met again here when the file is read in process.

The child only reads: it opens the feed files and writes nothing but frames to its pipe, and
it ends with ``os._exit`` (no finaliser of the inherited database connections runs). It is
killed when this process dies (``PR_SET_PDEATHSIG``), and otherwise its next write to the pipe
fails and it ends: a kill -9 of this process leaves no reader behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import io
import operator
import os
import pickle
import signal
import struct
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from kokuho.ids import InsuredId
from kokuho.registry._errors import FileRejected, RowError
from kokuho.registry._events import Event
from kokuho.registry._feed_read import ImportReport, read_events
from kokuho.registry._normalize import match_key
from kokuho.store import spare_core

#: Runs of fewer files are read in one process: the fork costs more than it saves there. A
#: module attribute, so an operator (or a test) can change it.
READ_AHEAD_MIN_FILES = 8

#: Fork only when the load average leaves a CPU idle: on a busy machine the child adds its
#: transfer's CPU and gains no time. False forks on a busy machine too (to measure the child).
REQUIRE_IDLE_CPU = True

_FRAME: Final = struct.Struct("<Q")  # the length of the pickled frame that follows
_READ: Final = 0
_REJECTED: Final = 1
_PR_SET_PDEATHSIG: Final = 1
_F_SETPIPE_SZ: Final = 1031  # Linux: a pipe of 1 MiB holds a small file's whole frame


#: An Event's fields in the order of its constructor's arguments (all of them, whatever is
#: added later).
_EVENT_FIELDS: Final = operator.attrgetter(*(f.name for f in dataclasses.fields(Event)))


def _event_args(event: Event) -> tuple[type[Event], tuple[Any, ...]]:
    # An Event crosses as its constructor's arguments: pickle builds it again in C, where the
    # dataclass's own __reduce_ex__ would run __setstate__ in Python for every event.
    return Event, _EVENT_FIELDS(event)


def _insured_args(insured: InsuredId) -> tuple[type[InsuredId], tuple[str, str, str, str]]:
    return InsuredId, (insured.insurer, insured.symbol, insured.number, insured.branch)


def _error_args(error: RowError) -> tuple[type[RowError], tuple[str, int, str, str]]:
    return RowError, (error.file, error.line, error.field, error.reason)


_REDUCERS: Final[dict[type, Any]] = {
    Event: _event_args,
    InsuredId: _insured_args,
    RowError: _error_args,
}


def with_keys(events: list[Event]) -> list[Event]:
    """Gives each acquisition its match key (the apply looks the person up by it)."""
    for event in events:
        if event.kind == "acquire":
            person = event.person
            assert event.birth_date is not None and event.sex is not None
            event.key = match_key(
                person["name_kanji"], person["name_kana"], event.birth_date, event.sex,
                person["address"],
            )  # fmt: skip
    return events


class Reader:
    """Reads the files of a run in their order: from the child's frames when a child reads
    ahead, else (and from the first failure of the child on) in this process."""

    def __init__(self, paths: Sequence[Path], *, load_good_rows: bool, slow: bool) -> None:
        self.load_good_rows = load_good_rows
        self.slow = slow
        # The files the child reads, in order, after the first, which this process reads.
        self.first = str(paths[0]) if paths else None
        self.expected = deque(str(path) for path in paths[1:])
        self.pid = 0
        self.pipe: io.BufferedReader | None = None
        if len(paths) >= max(READ_AHEAD_MIN_FILES, 2) and _may_fork():
            self._fork(paths[1:])

    def read(self, path: Path) -> tuple[ImportReport, list[Event]]:
        """``read_events`` of ``path``: raises FileRejected as it does."""
        name = str(path)
        if name == self.first:
            self.first = None
            return read_events(path, load_good_rows=self.load_good_rows, slow=self.slow)
        if self.pipe is not None and self.expected and self.expected[0] == name:
            self.expected.popleft()
            frame = self._receive()
            # A frame of another file than this one (it cannot be, but it must not be taken).
            if frame is not None and frame[0] == name:
                if frame[1] == _READ and frame[2].file == name:
                    report: ImportReport = frame[2]
                    events: list[Event] = frame[3]
                    return report, events
                if frame[1] == _REJECTED:
                    raise FileRejected(frame[2])
        self.close()  # the child did not answer for this file: read it and the rest here
        return read_events(path, load_good_rows=self.load_good_rows, slow=self.slow)

    def close(self) -> None:
        """Stops the child (it may be blocked on a frame nobody will read)."""
        if self.pipe is not None:
            self.pipe.close()
            self.pipe = None
        if self.pid:
            pid, self.pid = self.pid, 0
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _receive(self) -> Any:
        """The child's next frame, or None when it did not come whole."""
        assert self.pipe is not None
        try:
            head = self.pipe.read(_FRAME.size)
            if len(head) != _FRAME.size:
                return None
            (size,) = _FRAME.unpack(head)
            body = self.pipe.read(size)
            if len(body) != size:
                return None
            return pickle.loads(body)  # noqa: S301 (our own child's frame, on our own pipe)
        except Exception:  # noqa: BLE001 (a broken frame: the file is read here instead)
            return None

    def _fork(self, paths: Sequence[Path]) -> None:
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return
        with contextlib.suppress(OSError):
            import fcntl  # noqa: PLC0415 (Linux only, like the fork)

            fcntl.fcntl(write_end, _F_SETPIPE_SZ, 1 << 20)
        parent, prctl = os.getpid(), _prctl()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return
        if pid == 0:
            _child(paths, (parent, prctl), read_end, write_end, self.load_good_rows, self.slow)
        os.close(write_end)
        self.pid = pid
        self.pipe = os.fdopen(read_end, "rb")


def _may_fork() -> bool:
    return spare_core(require_idle=REQUIRE_IDLE_CPU)


def _child(
    paths: Sequence[Path],
    parent: tuple[int, Any],
    read_end: int,
    write_end: int,
    load_good_rows: bool,
    slow: bool,
) -> None:
    """Reads ``paths`` and writes a frame per file; never returns into the caller's code."""
    status = 1
    try:
        os.close(read_end)
        _die_with(*parent)
        # A short-lived process: collections would only copy the parent's pages they touch.
        gc.disable()
        with os.fdopen(write_end, "wb", buffering=0) as pipe:
            for path in paths:
                frame: tuple[Any, ...]
                try:
                    report, events = read_events(path, load_good_rows=load_good_rows, slow=slow)
                    frame = (str(path), _READ, report, with_keys(events))
                except FileRejected as error:
                    frame = (str(path), _REJECTED, error.errors)
                buffer = io.BytesIO()
                buffer.write(bytes(_FRAME.size))
                pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
                pickler.dispatch_table = _REDUCERS
                pickler.dump(frame)
                data = buffer.getbuffer()
                _FRAME.pack_into(data, 0, len(data) - _FRAME.size)
                while data:  # a raw write may take only part of it
                    data = data[pipe.write(data) or 0 :]
        status = 0
    # Whatever goes wrong here (the parent gone, a file the parse fails on), the parent reads
    # the file itself and meets the same error: the child must only end.
    except BaseException:  # noqa: BLE001, S110
        pass
    finally:
        os._exit(status)


def _prctl() -> Any:
    """libc's ``prctl``, or None. Looked up before the fork: the child takes no lock that
    another thread of the parent may have held (the dynamic loader's, here)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with(parent: int, prctl: Any) -> None:
    """Asks the kernel to kill this child when its parent ends."""
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the request
        os._exit(1)
