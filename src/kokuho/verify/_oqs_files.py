"""The ``req``/``res`` folders of the OQS file interface (ファイル連携), as files: which entries
are requests, how one is read without trusting it, and how answers are written so that clinic
software never reads half a file.

Everything in ``req`` is written by other software, so nothing there is trusted: entries are
examined with ``lstat`` and opened with ``O_NOFOLLOW | O_NONBLOCK``, so a symbolic link is never
followed (its target is never opened) and a FIFO never blocks the agent. Only a regular file of
at most :func:`size_limit` bytes is read.

Crash safety: an answer is written to ``.<name>.kokuho-tmp`` in the same folder, flushed to
disk (``fsync``) and renamed into place (``rename`` is atomic), then the folder is synced. Names
that start with a dot and end in ``.kokuho-tmp`` are the agent's own; the clinic software must
ignore them, and leftovers of a killed agent are removed on start (:func:`sweep_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kokuho.store import shown_text
from kokuho.verify._oqs_xml import (
    MAX_BULK_BYTES,
    MAX_SINGLE_BYTES,
    OqsErrorCode,
    OqsMessageError,
)

#: The request kinds this agent serves; other entries of ``req`` are left alone.
PREFIXES: Final = ("OQSsiquc01req_", "OQSmuquc01req_", "OQSmuquc02req_")
TEMP_SUFFIX: Final = ".kokuho-tmp"
DONE: Final = "done"
REJECTED: Final = "rejected"
REASON_SUFFIX: Final = ".reason.txt"

_KINDS: Final = {
    stat.S_IFLNK: "a symbolic link (not followed)",
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class Entry:
    """One candidate request in ``req``, as ``lstat`` saw it (the link itself, never a target)."""

    path: Path
    status: os.stat_result

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def shown(self) -> str:
        """The name as log and reason text can carry it (non-UTF-8 bytes escaped)."""
        return shown_text(self.name)

    @property
    def key(self) -> tuple[str, int, int]:
        """Identifies this version of the entry: a rewritten file is a new request."""
        return (self.name, self.status.st_ino, self.status.st_ctime_ns)


def size_limit(name: str) -> int:
    """Bytes a request file may have: 5 MB for 一括照会 (``OQSmuquc01req``), else 64 KB."""
    return MAX_BULK_BYTES if name.startswith("OQSmuquc01req_") else MAX_SINGLE_BYTES


def scan(req: Path, *, settle: float = 0.0) -> list[Entry]:
    """The entries of ``req`` whose name starts with a served prefix and that have not changed
    for ``settle`` seconds (younger ones may still be being written), sorted by name."""
    cutoff = time.time() - settle
    found = []
    with os.scandir(req) as entries:
        for entry in entries:
            if not entry.name.startswith(PREFIXES):
                continue
            try:
                status = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # taken away since listed
                continue
            if status.st_mtime <= cutoff:
                found.append(Entry(Path(entry.path), status))
    return sorted(found, key=lambda e: e.name)


def check_entry(entry: Entry) -> None:
    """Refuses, from ``lstat`` alone, an entry that is not a regular file or is too large
    (:class:`OqsMessageError` ``not_a_regular_file`` or ``oversize``); nothing is opened."""
    _require_regular(entry.status.st_mode)
    _require_size(entry.status.st_size, size_limit(entry.name))


def read_request(entry: Entry) -> bytes:
    """The bytes of a regular request file; anything else raises :class:`OqsMessageError`
    (``not_a_regular_file``, ``unreadable_file`` or ``oversize``) without reading it."""
    check_entry(entry)
    limit = size_limit(entry.name)
    try:
        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:  # replaced by a link since the lstat
            raise OqsMessageError(OqsErrorCode.NOT_A_FILE, _KINDS[stat.S_IFLNK]) from None
        raise _unreadable(error) from None
    try:
        status = os.fstat(fd)  # the file opened, which may differ from the one listed
        _require_regular(status.st_mode)
        _require_size(status.st_size, limit)
        chunks = []
        remaining = limit + 1  # one byte more shows a file that grew past the limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        raise _unreadable(error) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    _require_size(len(data), limit)
    return data


def _require_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise OqsMessageError(OqsErrorCode.NOT_A_FILE, f"{kind}; only regular files are read")


def _require_size(size: int, limit: int) -> None:
    if size > limit:
        raise OqsMessageError(OqsErrorCode.OVERSIZE, f"more than {limit} bytes ({size}); not read")


def _unreadable(error: OSError) -> OqsMessageError:
    return OqsMessageError(OqsErrorCode.UNREADABLE, f"cannot be read: {error.strerror}")


# --- writing -------------------------------------------------------------------------------


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    """Writes ``folder/name`` so that a reader sees the old state or the whole new file."""
    target = folder / name
    temporary = folder / f".{name}{TEMP_SUFFIX}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # a leftover, or a link planted to make us write elsewhere
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666
    )
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temporary)
        raise
    os.close(fd)
    try:
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    sync_folder(folder)
    return target


def sync_folder(folder: Path) -> None:
    """Makes the renames in ``folder`` durable, so a power cut cannot undo them."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_to_done(entry: Entry, done: Path) -> None:
    """Moves an answered request to ``done`` (the link or entry itself, never a target)."""
    target = done / entry.name
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(target.lstat().st_mode):
            target = _free_name(done, entry.name)  # a rename cannot replace a folder
    os.replace(entry.path, target)
    sync_folder(entry.path.parent)
    sync_folder(done)


def reject(entry: Entry, rejected: Path, reason: str) -> Path:
    """Moves an entry that is not a request to ``rejected`` next to ``<name>.reason.txt``.

    The reason is written first, so a crash between the two steps leaves the entry in ``req``
    to be rejected again (its reason file is then rewritten), never an entry without reason.
    """
    target = _free_name(rejected, stored_name(entry.name))
    text = f"{shown_text(entry.name)}: {reason}\n"
    write_atomically(rejected, target.name + REASON_SUFFIX, text.encode("utf-8"))
    os.replace(entry.path, target)
    sync_folder(entry.path.parent)
    sync_folder(rejected)
    return target


#: Bytes a name in ``rejected`` may have: a file name has at most 255 (NAME_MAX), and the
#: reason file's temporary adds ``.`` + ``.reason.txt`` + ``.kokuho-tmp`` (23) and a
#: ``.<n>`` suffix when the name is taken.
MAX_STORED_NAME: Final = 200


def stored_name(name: str) -> str:
    """The name an entry is kept under in ``rejected``: its own, or, when that is too long to
    carry the reason file's suffixes, its first bytes, ``~`` and 16 hex digits of the SHA-256
    of the whole name (the reason file names the entry in full)."""
    raw = os.fsencode(name)
    if len(raw) <= MAX_STORED_NAME:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    # Cut at a byte: a split UTF-8 character stays as surrogate escapes, as fsdecode gives.
    return os.fsdecode(raw[: MAX_STORED_NAME - 17]) + "~" + digest


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name.1``, ``name.2`` … when taken: nothing rejected is overwritten."""
    for candidate in _candidates(name):
        if not os.path.lexists(folder / candidate):
            return folder / candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _candidates(name: str) -> Iterator[str]:
    yield name
    number = 1
    while True:
        yield f"{name}.{number}"
        number += 1


def prepare_folder(folder: Path, *, follow: bool) -> None:
    """Creates ``folder``. With ``follow=False`` (``done`` and ``rejected``, inside ``req``
    where the clinic's software writes) a symbolic link there is refused: entries moved into
    it would land wherever it points. ``res`` is the operator's choice and may be a link."""
    folder.mkdir(parents=True, exist_ok=True)
    status = folder.stat() if follow else folder.lstat()
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(f"{folder} must be a folder, not a link or file")


def sweep_temporaries(folder: Path) -> list[str]:
    """Removes the agent's own temporary files (``.*.kokuho-tmp``) left by a killed run."""
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(OSError):  # gone, or a folder: not ours
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed
