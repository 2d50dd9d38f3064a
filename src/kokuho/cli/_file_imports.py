"""The loop of an all-or-nothing file import, and the line it prints per file, shared by
``premiums incomes import`` and ``premiums grounds import``: each file is its own transaction,
a rejected file is reported with every row error and changes nothing, the others are kept, and
the command exits 1 if any was rejected."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

from kokuho.cli._output import emit_json, open_engine, shown


def report_line(report: Any) -> str:
    """The line printed for a file loaded or skipped: its counts, and the fiscal year when the
    report has one (an income file holds one year; a grounds file dates each row)."""
    year = f"FY{report.fiscal_year}" if hasattr(report, "fiscal_year") else None
    if report.skipped:
        return f"{shown(report.file)}: already loaded{f' ({year})' if year else ''}, skipped"
    return (
        f"{shown(report.file)}: {f'{year}, ' if year else ''}{report.rows} rows, "
        f"{report.inserted} added, {report.unchanged} already loaded with the same values"
    )


def import_each(
    files: Sequence[Path],
    load: Callable[[Any, Path], Any],
    *,
    as_json: bool,
    what: str,
    line: Callable[[Any], str] = report_line,
) -> None:
    """Loads ``files`` one by one with ``load(engine, file)`` (a report dataclass, or
    ``FileRejected``), prints ``line(report)`` for each (or one JSON document), with progress."""
    from kokuho.registry import FileRejected

    engine = open_engine()
    documents: list[dict[str, Any]] = []
    rejected = 0
    try:
        with Progress(console=Console(stderr=True), transient=True, disable=as_json) as progress:
            task = progress.add_task(f"importing {what}", total=len(files))
            for file in files:
                try:
                    report = load(engine, file)
                except FileRejected as error:
                    rejected += 1
                    errors = [dataclasses.asdict(row) for row in error.errors]
                    documents.append({"file": str(file), "rejected": True, "errors": errors})
                    if not as_json:
                        click.echo(f"error: rejected, nothing changed: {error}", err=True)
                else:
                    documents.append({"rejected": False, **dataclasses.asdict(report)})
                    if not as_json:
                        click.echo(line(report))
                progress.advance(task)
    finally:
        engine.dispose()
    if as_json:
        emit_json({"files": documents, "rejected": rejected})
    if rejected:
        raise SystemExit(1)
