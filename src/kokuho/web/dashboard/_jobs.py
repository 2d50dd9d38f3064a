"""Figures computed in the background (集計中): a page asks for a bundle of figures by key; the
first request starts it on a worker thread, the page shows progress and polls until it is
done. Finished bundles are kept for ``ttl`` so that later pages open at once."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One bundle of figures being computed or done. ``progress`` runs from 0 to 1."""

    job_id: str
    key: str
    state: str = "pending"  # pending | running | done | failed
    progress: float = 0.0
    message: str = "待機中"
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def report(self, progress: float, message: str) -> None:
        """Called by the computation between its steps; raises ``Stopped`` once the server
        is stopping, so that no computation outlives the database connections it uses."""
        if self.stopping.is_set():
            raise Stopped(self.key)
        self.progress = max(0.0, min(1.0, progress))
        self.message = message

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "state": self.state,
            "progress": round(self.progress, 3),
            "message": self.message,
            "error": self.error,
        }


Compute = Callable[[Job], Any]


class Stopped(Exception):
    """A computation given up because the server stops."""


class FigureCache:
    """Computes bundles one at a time on a worker thread and keeps the results for ``ttl``
    seconds. One at a time: DuckDB already uses every core for one query, and an Ibis
    expression over in-memory tables only runs on Ibis's one global connection, which refuses
    a second thread's query."""

    def __init__(self, *, ttl: float = 900.0, retry: float = 30.0) -> None:
        self._ttl = ttl
        self._retry = retry
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-figures")
        self._closed = False

    @staticmethod
    def job_id(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def get(self, key: str, compute: Compute) -> Job:
        """The job of ``key``: finished, running, or started now."""
        with self._lock:
            job = self._jobs.get(key)
            stale = (
                job is not None
                and job.finished is not None
                and time.monotonic() - job.finished
                > (self._retry if job.state == "failed" else self._ttl)
            )
            if job is None or stale:
                job = Job(self.job_id(key), key)
                self._jobs[key] = job
                if not self._closed:
                    self._pool.submit(self._run, job, compute)
            return job

    def find(self, job_id: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.job_id == job_id), None)

    def forget(self, prefix: str = "", older_than: float = 0.0) -> None:
        """Drops finished bundles (再集計) so that the next request computes them again: those
        finished at least ``older_than`` seconds ago."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, j in self._jobs.items() if k.startswith(prefix)]:
                finished = self._jobs[key].finished
                if finished is not None and now - finished >= older_than:
                    del self._jobs[key]

    def wait(self, key: str, compute: Compute, timeout: float = 120.0) -> Job:
        """Blocks until the job of ``key`` is finished (for commands and tests)."""
        job = self.get(key, compute)
        deadline = time.monotonic() + timeout
        while job.finished is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"figures {key!r} not ready after {timeout} s")
            time.sleep(0.02)
        return job

    def close(self) -> None:
        """Drops the bundles not started and stops the running ones at their next step, then
        waits for them: the engine is disposed right after, and a computation still holding
        one of its connections would leak it."""
        self._closed = True
        with self._lock:
            for job in self._jobs.values():
                job.stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, compute: Compute) -> None:
        job.state = "running"
        job.message = "集計中"
        try:
            job.result = compute(job)
        except Stopped:
            job.error = "サーバーを停止しています。"
            job.state = "failed"
        except Exception:  # noqa: BLE001  (told on the page, not lost in a thread)
            # The exception's text may name server paths, SQL or another municipality's
            # figures: it goes to the server's log, and the page shows a reference to it.
            reference = secrets.token_hex(4)
            log.exception("figures %r failed (参照番号 %s)", job.key, reference)
            job.error = (
                f"参照番号 {reference}: 原因はサーバーの記録にあります。管理者にお知らせください。"
            )
            job.state = "failed"
        else:
            job.state = "done"
            job.progress = 1.0
            job.message = "完了"
        job.finished = time.monotonic()
