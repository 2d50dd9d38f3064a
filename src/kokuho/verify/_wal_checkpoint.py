"""The WAL checkpoints of the loop's audit group commit, off the event loop (チェックポイント).

SQLite in WAL mode appends each commit to the ``-wal`` file; a checkpoint copies those pages
into the database and syncs both files, and by default the connection that commits runs one
every 1,000 WAL pages, inside its ``COMMIT``. The loop's group commit
(:mod:`kokuho.verify._audit_loop`) commits on the event loop, so that checkpoint (two
``fsync``: 5–40 ms, far more on a busy disk) stalled every request of the process about once
a second at half the service's rate: the check's p99.
Its connection turns the automatic checkpoint off and a :class:`Checkpointer` thread does it:

* every :data:`CHECKPOINT_COMMITS` commits (at the latest :data:`CHECKPOINT_SECONDS` after
  one), a ``PASSIVE`` checkpoint: it copies and syncs while the loop goes on committing (it
  waits for no reader or writer, and the thread holds no GIL while SQLite works);
* once the WAL holds :data:`RESTART_FRAMES` pages, a ``RESTART`` checkpoint, so that the WAL
  starts over instead of growing without end (with commits arriving all the time a
  ``PASSIVE`` one never finds it all copied at the moment a writer begins, which is when
  SQLite restarts the WAL). The first commit after a restart syncs the WAL's new header,
  so the thread makes that commit itself: it writes the database's ``user_version`` back
  unchanged. Meanwhile the loop's flushes find the write lock held and are tried again a
  moment later (the loop serves requests meanwhile).

A commit is as durable as before (``synchronous=NORMAL``: the WAL is synced before each
checkpoint, the database after it); only the thread that does the syncing changed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)
#: Commits of the loop after which the WAL is copied into the database: with the 3–4 pages
#: of a flush, about SQLite's own automatic checkpoint (every 1,000 WAL pages) …
CHECKPOINT_COMMITS = 250
#: … and at the latest this long after a commit, when they come slower.
CHECKPOINT_SECONDS = 2.0
#: WAL pages (4 KiB) after which the WAL is started over: 64 MiB, a restart every 10 s or so
#: at the service's full rate (each holds the write lock for two or three syncs).
RESTART_FRAMES = 16_384
#: The thread's busy timeout: a RESTART holds the write lock while it waits for the readers
#: still on the WAL, so the loop's flushes wait at most this long; busy, it is tried again.
_WAIT_SECONDS = 0.1


def transient(error: sqlite3.OperationalError) -> bool:
    """SQLite's "database is locked" / "busy": another connection's moment, not this
    statement's fault."""
    text = str(error)
    return "locked" in text or "busy" in text


class Checkpointer:
    """Checkpoints a SQLite file's WAL from a thread of its own after the commits of a
    connection whose automatic checkpoint is off (``PRAGMA wal_autocheckpoint=0``); the
    committer calls :meth:`committed` after each commit."""

    def __init__(
        self, database: str, *, every_commits: int = CHECKPOINT_COMMITS,
        every_seconds: float = CHECKPOINT_SECONDS, restart_frames: int = RESTART_FRAMES,
    ) -> None:  # fmt: skip
        # Counted by the committing thread without a lock: a count lost between its ``+=``
        # and this thread's ``-=`` only moves a checkpoint to ``every_seconds`` later.
        self.commits = 0
        self._database = database
        self._every_commits = every_commits
        self._every_seconds = every_seconds
        self._restart_frames = restart_frames
        # Woken by the committer when a checkpoint is due, not polling: each wake-up of this
        # thread takes the GIL from the loop.
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Counts a commit of the committing connection (called after each)."""
        self.commits += 1
        if self.commits >= self._every_commits and not self._wake.is_set():
            self._wake.set()

    def close(self) -> None:
        """Stops the thread after a last checkpoint of what was committed."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = sqlite3.connect(self._database, isolation_level=None,
                                     timeout=_WAIT_SECONDS)  # fmt: skip
        try:
            connection.execute("PRAGMA synchronous=NORMAL")
            while not self._stop:
                self._wake.wait(self._every_seconds)
                self._wake.clear()
                commits = self.commits
                if commits > 0:
                    self._checkpoint(connection, commits)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection, commits: int) -> None:
        """Copies the WAL (``commits`` commits since the last time), restarting it when full
        (a restart that finds readers or the writer busy is tried at the next checkpoint)."""
        try:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.commits -= commits
            # (busy, pages in the WAL, pages copied); -1 when the file is not in WAL mode.
            if row is not None and row[1] >= self._restart_frames:
                self._restart(connection)
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            # Busy: another process's checkpointer is at it, the WAL is being copied anyway.
            # Anything else is logged and tried again: meanwhile the WAL only grows.
            if not (isinstance(error, sqlite3.OperationalError) and transient(error)):
                log.exception("the WAL checkpoint of %s failed", self._database)

    def _restart(self, connection: sqlite3.Connection) -> None:
        """Copies the rest of the WAL, starts it over and writes its first commit (whose
        header sync would otherwise fall on the loop's next commit)."""
        row = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        if row is None or row[0]:
            return  # busy
        connection.execute("BEGIN IMMEDIATE")
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        connection.execute(f"PRAGMA user_version={version}")  # unchanged: one page written
        connection.execute("COMMIT")
