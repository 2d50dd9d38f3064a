"""What a page builder returns: a page to render (with its tables, for the downloads) or the
figures it still waits for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kokuho.web.dashboard._jobs import Job
from kokuho.web.dashboard._tabular import DataTable


@dataclass
class Page:
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, DataTable] = field(default_factory=dict)
    #: (list name, insurer, person ids) when the page shows a person-level list: audited.
    persons: tuple[str, str, list[int | None]] | None = None
    #: Audit writes held until the page, or one of its person-level tables, is sent: a
    #: download of its counts, or of a table it does not have, shows no person.
    deferred: list[Callable[[], object]] = field(default_factory=list)

    def add(self, *tables: DataTable) -> None:
        for data in tables:
            self.tables[data.table_id] = data


@dataclass(frozen=True)
class Pending:
    """The page waits for these jobs; the browser shows their progress and reloads."""

    title: str
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class Refused:
    """403: the viewer may not see this (another municipality's details or persons)."""

    title: str
    reason: str
    audit: tuple[str, str] | None = None  # (list, insurer) of a refused person-level list
    #: 404 where telling "not yours" from "no such thing" would say that it exists (a case
    #: number of another municipality): the answer is then the one for a number that is free.
    status: int = 403


@dataclass(frozen=True)
class NotFound:
    title: str
    reason: str


def waiting(title: str, *jobs: Job) -> Pending | None:
    """Pending when any job is unfinished; failed jobs count as finished (the page says so)."""
    open_jobs = tuple(job for job in jobs if job.finished is None)
    return Pending(title, open_jobs) if open_jobs else None
