"""`kokuho checkups ingest` of several archives: one batch for the lake, the same per-archive
report, and a rejected archive names its file while the archives before it stay loaded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

from kokuho.checkups import Items, Lake, write_archive
from tests.feedfiles import KOKUHO
from tests.test_cli_checkups import pq, run, taro_checkup

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


def test_a_rejected_archive_stops_none_of_the_others(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One bad archive of a provider's batch loads nothing of its own; the archives before and
    after it are loaded (the run stopped at it, leaving those after it unread, while its
    message said 'nothing loaded' of a run that had loaded those before), and the command
    names it and ends with exit code 1."""
    first, last = _archive(tmp_path / "a", "1001"), _archive(tmp_path / "b", "2002")
    bad = tmp_path / "3710000012_00370015_202009300_1.zip"
    bad.write_bytes(b"not a zip")
    result = run("checkups", "ingest", str(first), str(bad), str(last))
    assert result.exit_code == 1, result.output
    assert f"{bad.name}: zip: not a readable zip archive" in result.stderr
    assert f"{bad}: rejected with 1 problem(s); nothing of it loaded" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: 1 of 3 archive(s) rejected and not loaded: {bad}"
    )
    assert "2 archive(s): 2 checkups and 0 guidance records added" in result.stdout
    names = [entry["name"] for entry in Lake(tmp_path / "home" / "lake").archives().values()]
    assert sorted(names) == sorted([first.name, last.name])
    again = run("checkups", "ingest", str(bad), str(first), "--json")
    assert again.exit_code == 1, again.output
    document = json.loads(again.stdout)
    assert [(a["archive"], a["already_ingested"]) for a in document["archives"]] == [
        (first.name, True)
    ]
    assert [r["archive"] for r in document["rejected"]] == [bad.name]
    assert "not a readable zip archive" in document["rejected"][0]["problems"][0]


def test_documents_not_added_as_duplicates_are_named(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A checkup the lake already holds (the same person, day and institution; here a
    re-sent one with another waist) is not added: the text output says so, naming the
    archive, the document and the archive that holds it, not only the JSON's count."""
    first = _archive(tmp_path / "a", "1001")
    waist_of_88 = {**taro_checkup().observations, Items.WAIST[0]: pq(Items.WAIST, "88", "cm")}
    resent = write_archive(
        tmp_path / "b",
        sender="3710000012",
        receiver="00" + KOKUHO,
        checkups=[dataclasses.replace(taro_checkup(), observations=waist_of_88)],
        created=dt.datetime(2020, 10, 31),
    )
    assert run("checkups", "ingest", str(first)).exit_code == 0
    again = run("checkups", "ingest", str(resent))
    assert again.exit_code == 0, again.output
    (document,) = [f"DATA/{name}" for name in _names(resent) if name.startswith("h")]
    assert again.stderr.splitlines() == [
        f"{resent.name}: {document}: not added: the lake holds this checkup"
        f" (保険者番号・番号・枝番・実施日・健診機関) from {first.name}"
        f" (sha256 {hashlib.sha256(first.read_bytes()).hexdigest()[:12]}…)"
    ]
    assert "0 checkups and 0 guidance records added, 0 already ingested, 1 duplicate(s)" in (
        again.stdout
    )


def _names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return [Path(name).name for name in zf.namelist()]
