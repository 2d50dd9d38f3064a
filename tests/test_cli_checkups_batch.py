"""`kokuho checkups ingest` of several archives: one batch for the lake, the same per-archive
report, and a rejected archive names its file while the archives before it stay loaded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from kokuho.checkups import Lake, write_archive
from tests.feedfiles import KOKUHO
from tests.test_cli_checkups import run, taro_checkup

__all__ = ["run"]  # the fixture, shared with tests/test_cli_checkups.py


def _archive(folder: Path, number: str) -> Path:
    return write_archive(
        folder,
        sender="3710000012",
        receiver="00" + KOKUHO,
        checkups=[dataclasses.replace(taro_checkup(), number=number)],
        created=dt.datetime(2020, 9, 30),
    )


def test_several_archives_are_reported_one_by_one(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = _archive(tmp_path / "a", "1001"), _archive(tmp_path / "b", "2002")
    ingested = run("checkups", "ingest", str(first), str(second), str(first), "--json")
    assert ingested.exit_code == 0, ingested.output
    assert [(a["archive"], a["checkups"], a["already_ingested"]) for a in
            json.loads(ingested.stdout)["archives"]] == [
        (first.name, 1, False), (second.name, 1, False), (first.name, 0, True)
    ]  # fmt: skip
    again = run("checkups", "ingest", str(tmp_path / "a"), str(tmp_path / "b"))
    assert again.exit_code == 0
    assert "2 archive(s): 0 checkups and 0 guidance records added, 2 already ingested" in (
        again.stdout
    )


def test_a_rejected_archive_keeps_those_before_it(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, last = _archive(tmp_path / "a", "1001"), _archive(tmp_path / "b", "2002")
    bad = tmp_path / "3710000012_00370015_202009300_1.zip"
    bad.write_bytes(b"not a zip")
    result = run("checkups", "ingest", str(first), str(bad), str(last))
    assert result.exit_code == 1 and f"error: {bad}: rejected" in result.stderr
    names = [entry["name"] for entry in Lake(tmp_path / "home" / "lake").archives().values()]
    assert names == [first.name]
