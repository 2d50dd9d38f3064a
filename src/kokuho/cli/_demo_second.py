"""The second process of ``kokuho demo`` (two cores): what needs none of the register the
first one loads. Started once the synth has written every file but the claims, it fills the
checkup lake while the register loads and the synth's own child still writes the claims,
then the claims lake, then makes the cards' keys and certificates while the premiums are
assessed. Each job reads its settings from the same environment; the first process waits
for them, and registers the cards, once its own work is done.

Nothing here writes the SQLite database: the register has one writer, the first process.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from kokuho.config import Settings
from kokuho.verify import MintedCard, mint_cards


def second_process() -> ProcessPoolExecutor:
    """One worker process, its jobs run in the order submitted. Spawned, not forked: the
    parent holds the synth's world and, later, database connections."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def fill_checkups(data_dir: str) -> dict[str, Any]:
    """The synthetic V08 archives into the checkup lake: archives, documents, seconds."""
    from kokuho.checkups import Lake, read_archive

    started = time.perf_counter()
    lake = Lake.from_settings(Settings.from_env())
    archives = sorted((Path(data_dir) / "checkups").glob("*.zip"))
    try:
        # One manifest write for the batch, not one per archive (465 in the demo).
        reports = lake.ingest_archives(read_archive(path) for path in archives)
    except ValueError as rejected:
        # A rejected file comes back as a plain ValueError naming it: the lakes' own errors
        # need not pickle.
        raise ValueError(str(rejected)) from None
    return {
        "archives": len(archives),
        "documents": sum(report.checkups for report in reports),
        "seconds": time.perf_counter() - started,
    }


def fill_claims(data_dir: str) -> dict[str, Any]:
    """The synthetic レセ電 files and the sample masters into the claims lake."""
    from kokuho.claims import ClaimsLake

    started = time.perf_counter()
    data = Path(data_dir)
    lake = ClaimsLake.from_settings(Settings.from_env())
    masters = data / "masters"
    try:
        drugs = lake.load_masters(
            masters / "y_synthetic.csv", masters / "generic_list_synthetic.csv"
        )
        lake.load_disease_master(masters / "b_synthetic.csv")
        files = sorted((data / "claims").glob("*.csv"))
        report = lake.ingest(files)
    except ValueError as rejected:
        raise ValueError(str(rejected)) from None
    return {
        "files": len(files),
        "claims": report.claims,
        "lines": report.lines,
        "drugs": drugs,
        "seconds": time.perf_counter() - started,
    }


def mint_demo_cards(
    ca_folder: Path, cards_folder: Path, now: dt.datetime, count: int
) -> tuple[list[MintedCard], float]:
    """``mint_cards`` (keys, certificates, card files; no database) and the seconds it took."""
    started = time.perf_counter()
    minted = mint_cards(ca_folder, cards_folder, now, count)
    return minted, time.perf_counter() - started
