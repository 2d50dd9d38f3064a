"""Files written whole or not at all: a temporary file in the same folder, fsync, rename.

Both lakes (checkups and claims) write every data file and every manifest through
``atomic_file``: a reader sees the old file or the new one, never half of one. Also the
digest an imported file is known by (``file_sha256``) and the read of an input file under a
cap (``read_capped``).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

Replace = Callable[[str | Path, str | Path], None]

#: The name ``atomic_file`` gives its temporary file: ``.<final name>.<8 of tempfile's
#: characters>.tmp``. Sweeps remove only names of this form.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _replace(source: str | Path, target: str | Path) -> None:
    """Renames ``source`` over ``target`` (one module-level name so a test can make it fail)."""
    os.replace(source, target)


def fsync_folders(folders: Iterable[Path]) -> None:
    """Makes the renames in ``folders`` durable: a rename is on disk only once the directory
    entry is."""
    for folder in sorted(set(folders)):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_file(
    final: Path, *, replace: Replace | None = None, sync_folder: bool = True
) -> Iterator[Path]:
    """Yields a temporary path in ``final``'s folder; on a clean exit fsyncs it and renames it
    to ``final`` (with ``replace``, default ``os.replace``). On any error the temporary file is
    removed and ``final`` is untouched.

    ``sync_folder=False`` leaves the folder's fsync to the caller (``fsync_folders``), for a
    writer that puts many files in place before one commit.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, with a suffix no reader globs for (``*.parquet``), in the same folder so the
    # rename never crosses a file system.
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        (replace or _replace)(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if sync_folder:
        fsync_folders([final.parent])


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named as ``atomic_file`` names its temporary files."""
    return _TEMPORARY.fullmatch(path.name) is not None


def sweep_temporary(folder: Path, *, recursive: bool = True, of: str = "") -> list[Path]:
    """Removes the temporary files ``atomic_file`` left in ``folder`` (and below it, with
    ``recursive``) when a writer was killed before its rename; returns them. With ``of``, only
    those of the final file named ``of``.

    The caller must hold the write lock of whatever writes there: a live writer's temporary
    file has the same name."""
    if not folder.is_dir():
        return []
    pattern = f".{glob.escape(of)}.*.tmp" if of else ".*.tmp"
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for path in sorted(found):
        if path.is_file() and not path.is_symlink() and is_temporary(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` (created when missing), across processes: one
    writer of a lake at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class PerThreadDuckDB:
    """One in-memory Ibis DuckDB connection per thread. A DuckDB connection refuses a second
    concurrent query, and the service reads the lakes from many request threads at once."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self) -> Any:
        """This thread's connection (Ibis is imported here: ``kokuho.store`` stays light)."""
        con = getattr(self._local, "con", None)
        if con is None:
            import ibis  # type: ignore[import-untyped, unused-ignore]

            con = self._local.con = ibis.duckdb.connect()
        return con

    def scratch(self) -> dict[str, Any]:
        """A dict private to this thread, for objects bound to its connection."""
        found: dict[str, Any] = self._local.__dict__.setdefault("scratch", {})
        return found


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path`` in hex, read in 1 MiB blocks: the digest under which
    an imported file (資格異動, 所得, 軽減の事由) is recorded and loaded once."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FileTooLarge(ValueError):
    """An input file holding more than the ``cap`` bytes its reader takes; the message is the
    reason a problem gives (``larger than 1,024 bytes``), the caller names the file."""

    def __init__(self, path: Path, cap: int) -> None:
        super().__init__(f"larger than {cap:,} bytes")
        self.path = path
        self.cap = cap


def read_capped(path: Path, cap: int) -> bytes:
    """The bytes of the file at ``path``; ``FileTooLarge`` when it holds more than ``cap``.
    A file whose size says so is refused unread, and no more than ``cap`` + 1 bytes are read
    whatever the size said (a file growing while it is read, a device): an oversized input
    never fills the memory. ``OSError`` when it cannot be opened or read."""
    with Path(path).open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > cap:
            raise FileTooLarge(path, cap)
        # The size said, and one byte to see the end: reading cap + 1 at once costs a buffer of
        # the cap for every file (3.5× the time of a small file's read). More than the size
        # said (a file growing, a device saying 0): read on, up to cap + 1 in all.
        data = handle.read(size + 1)
        if len(data) > size:
            data += handle.read(cap + 1 - len(data))
    if len(data) > cap:
        raise FileTooLarge(path, cap)
    return data


#: A text cell starting with one of these is read as a formula by a spreadsheet opening a CSV
#: (CSV / formula injection, OWASP): names come from insurers' change feeds.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet reads as a formula: a text starting like one gets
    an apostrophe, which makes it text, as Excel shows it; anything else (numbers) as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


#: Kana, CJK ideographs, their punctuation and the full-width forms: what a Japanese text
#: written in UTF-8 holds. cp932 bytes that happen to be UTF-8 decode to other scripts.
_JAPANESE: Final = re.compile("[\u3000-\u30ff\u4e00-\u9fff\uff01-\uffef]")


def utf8_not_cp932(data: bytes) -> bool:
    """Whether a file that should be cp932 (レセ電, 介護給付費明細書) was written in UTF-8: its
    bytes (after a byte order mark) are UTF-8 holding Japanese text. Decoding as cp932 is no
    test: the UTF-8 bytes of many names (ゴウダ, 高松市…) are cp932 too, of other characters
    (``繧ｴ繧ｦ繝``). A real cp932 file fails at its first kana or kanji, whose lead byte
    cannot begin a UTF-8 character."""
    if data.isascii():
        return False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return _JAPANESE.search(text) is not None
