"""Specific health checkups (特定健診) and guidance (特定保健指導) of the synthetic prefecture,
written as the V08 archives that checkup institutions send to insurers.

For each fiscal year the simulation covers, the eligible members — 市町村国保 and the
employee schemes (協会けんぽ, 組合, 共済), enrolled on the first day of the year (or of the
simulation), aged 40–74 on the year's last day (年度末年齢), alive — take a checkup with a
probability shaped by sex, age and scheme and rescaled so that the expected rate among
whole-year members (the 法定報告 denominator) is the configured target: 市町村国保 ≈ 38 %,
協会けんぽ ≈ 55 %. Taking it is a Markov chain over the years, so last year's takers mostly
come again; a checkup is written only when its day falls inside the simulated period while
the person is still a member. Values come from :mod:`kokuho.synth._checkups_values`.

Each checkup goes to an institution: 国保 members to a clinic or hospital of their
municipality (個別健診), members of the employee schemes to one of the larger hospitals.
The institution writes its own メタボ判定 (9N501) and 保健指導レベル (9N506): right, except a
few planted on purpose so that the disagreement listing has something to find (counted in
the manifest and listed in ``checkups/planted_judgements.csv``).

Of those the local rule puts at 積極的支援 or 動機付け支援, about a quarter to a third start
guidance (初回面接) weeks after the checkup and most complete it (実績評価) three to six months
later; completed guidance lowers their weight a little in the years after.

Archives: one per institution, fiscal year and insurer, written by the V08 writer
``kokuho.checkups.write_archive`` (sender = 健診機関番号, 10 digits; receiver = 保険者番号 in
8 digits: a 6-digit 市町村国保 number is zero-padded, as the OID table's note on
1.2.392.200119.6.101 says, 「8桁に満たない場合は先頭ゼロをつけて8桁化」). Guidance goes in
separate archives of 実施区分 2 (特定保健指導情報), once per year when it is reported.

Randomness is counter-based, keyed on ``checkups-{seed}``: the world's own random stream is
never touched, so the other files of the prefecture stay byte-identical.

This module writes the archives to disk (``prepare``, ``write``); the work is done by
private modules of the synth room, each importing only those above it in this list:

- :mod:`kokuho.synth._checkups_values`: the clinical values and the local judgement;
- :mod:`kokuho.synth._checkups_schedule`: who takes a checkup when and where, what the
  institution reports, who is guided (``simulate``, ``load_institutions``);
- :mod:`kokuho.synth._checkups_documents`: the observations, Checkup and Guidance records;
- :mod:`kokuho.synth._checkups_archives`: the grouping into named archives (``archives``).

Their public names are re-exported here, where callers and tests import them. Benchmarks
that need millions of checkups without a prefecture use the bulk rows of
:mod:`kokuho.synth._checkups_bulk` (``iter_measure_rows``, ``write_measure_parquet``),
re-exported here too.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, cast

from kokuho.checkups import Checkup, Guidance
from kokuho.synth._checkups_archives import Archive, PlantedJudgement, archives, document_name
from kokuho.synth._checkups_bulk import iter_measure_rows, write_measure_parquet
from kokuho.synth._checkups_documents import (
    ALT,
    AST,
    DBP_FIRST,
    DBP_SECOND,
    GGT,
    OID_LEVEL,
    OID_METABOLIC,
    OID_SMOKING,
    OID_TIMING,
    OID_URINE,
    OID_YES_NO,
    SBP_FIRST,
    SBP_SECOND,
    receiver_number,
)
from kokuho.synth._checkups_schedule import (
    Institution,
    Simulation,
    Year,
    load_institutions,
    simulate,
)
from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._world import World

__all__ = [
    "ALT", "AST", "DBP_FIRST", "DBP_SECOND", "FOLDER", "GGT", "OID_LEVEL", "OID_METABOLIC",
    "OID_SMOKING", "OID_TIMING", "OID_URINE", "OID_YES_NO", "PLANTED_FILE", "SBP_FIRST",
    "SBP_SECOND", "Archive", "ArchiveWriter", "Institution", "PlantedJudgement", "Simulation",
    "Written", "Year", "archive_writer", "archives", "document_name", "iter_measure_rows",
    "load_institutions", "prepare", "receiver_number", "simulate", "write",
    "write_measure_parquet",
]  # fmt: skip

FOLDER = "checkups"
PLANTED_FILE = f"{FOLDER}/planted_judgements.csv"


class ArchiveWriter(Protocol):
    """The V08 writer's signature (``kokuho.checkups.write_archive``)."""

    def __call__(
        self,
        folder: Path,
        *,
        sender: str,
        receiver: str,
        checkups: Sequence[Checkup],
        guidance: Sequence[Guidance] = (),
        created: dt.datetime,
        split: int = 0,
        kind: str = "1",
    ) -> Path: ...


def archive_writer() -> ArchiveWriter | None:
    """``write_archive`` from the public ``kokuho.checkups`` package, or None while the V08
    writer is not there yet (the synth then counts the checkups but writes no archive)."""
    package = importlib.import_module("kokuho.checkups")
    found = getattr(package, "write_archive", None)
    return cast(ArchiveWriter, found) if callable(found) else None


# -- writing -------------------------------------------------------------------------------------
def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses to mix with the archives of an earlier run, or removes them to overwrite."""
    folder = out_dir / FOLDER
    earlier = sorted(folder.glob("*.zip")) if folder.is_dir() else []
    if (folder / "planted_judgements.csv").exists():
        earlier.append(folder / "planted_judgements.csv")
    clear_earlier(folder, earlier, "the checkup archives", overwrite)


def write(
    world: World,
    out_dir: Path,
    seed: int,
    *,
    writer: ArchiveWriter | None = None,
    report: Callable[[str], None] | None = None,
) -> Written:
    """Simulates the checkups of ``world`` and writes their archives under
    ``out_dir/checkups`` with ``writer`` (default: the V08 writer, when it is installed)."""
    say = report or (lambda stage: None)
    writer = writer or archive_writer()
    institutions = load_institutions(
        out_dir / "institutions.csv", len(world.prefecture.municipalities)
    )
    sim = simulate(world, seed, institutions)
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    wrong: list[PlantedJudgement] = []
    counts = Counter(sim.counts)
    if writer is None:
        say("checkups: V08 writer missing, archives not written")
        counts["checkup_v08_writer_missing"] = 1
    for archive in archives(sim, documents=writer is not None):
        wrong.extend(archive.planted)
        if writer is None:
            continue
        path = writer(
            folder,
            sender=archive.sender,
            receiver=archive.receiver,
            checkups=archive.checkups,
            guidance=archive.guidance,
            created=archive.created,
            split=archive.split,
            kind=archive.kind,
        )
        files.append(path.relative_to(out_dir).as_posix())
        counts["checkup_archives" if archive.kind == "1" else "guidance_archives"] += 1
    _write_planted(out_dir / PLANTED_FILE, wrong)
    files.append(PLANTED_FILE)
    counts.setdefault("checkup_archives", 0)
    counts.setdefault("guidance_archives", 0)
    return Written(files=files, counts=dict(counts))


def _write_planted(path: Path, rows: list[PlantedJudgement]) -> None:
    """``checkups/planted_judgements.csv``: each planted wrong 9N501/9N506, where it is and
    what the local rule says it should be."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\r\n")
        out.writerow(("fiscal_year", "archive", "document", "item", "reported", "expected"))
        for r in rows:
            out.writerow((r.fiscal_year, r.archive, r.document, r.item, r.reported, r.expected))
