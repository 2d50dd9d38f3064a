"""The second process of ``kokuho demo`` (two cores): what needs no write to the register
the first one loads. Started once the synth has written every file but the claims, it fills
the checkup lake while the register loads and the synth's own child still writes the claims,
then the claims and care lakes, then makes the cards' keys and certificates while the premiums are
assessed, then (the register loaded, if it is free before the first one) computes the 実施率
and the incentives' scoreboard while the first process registers the cards and makes the
dashboard's accounts. Each job reads its settings from the same environment; the first
process waits for them before it serves.

Nothing here writes the SQLite database (it has one writer, the first process): the jobs
write the lakes, the card files, or only read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.config import Settings
from kokuho.store import connect
from kokuho.verify import MintedCard, mint_cards


def second_process() -> ProcessPoolExecutor:
    """One worker process, its jobs run in the order submitted. Spawned, not forked: the
    parent holds the synth's world and, later, database connections."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )


_PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_parent(parent: int) -> None:
    """Ends this process when the demo's process ends, even by ``kill -9``: an orphan would
    go on writing the lakes or the cards' folder after the next run has reset them. (A pool
    worker otherwise finishes its job first and only then finds the parent gone.)"""
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before the signal was asked for.
    if os.getppid() != parent:
        os._exit(1)


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


def fill_care(data_dir: str) -> dict[str, Any]:
    """The synthetic 介護給付費明細書 files and 要介護認定 into the care lake (the checkups'
    一体的実施 lists and the provision's 医療–介護 extracts read them)."""
    from kokuho.care import CareLake
    from kokuho.cli._care import CLAIM_FILE_START, care_folder

    started = time.perf_counter()
    folder = Path(data_dir) / "care"
    lake = CareLake.from_settings(Settings.from_env())
    try:
        claims = lake.ingest(care_folder(folder, CLAIM_FILE_START))
        # synth writes no certifications.csv when no one is certified (a few persons)
        certified = [p for p in [folder / "certifications.csv"] if p.is_file()]
        certifications = lake.import_certifications(certified)
    except ValueError as rejected:
        raise ValueError(str(rejected)) from None
    return {
        "files": claims.ingested,
        "claims": claims.rows,
        "certifications": certifications.rows,
        "seconds": time.perf_counter() - started,
    }


def mint_demo_cards(
    ca_folder: Path, cards_folder: Path, now: dt.datetime, count: int
) -> tuple[list[MintedCard], float]:
    """``mint_cards`` (keys, certificates, card files; no database) and the seconds it took."""
    started = time.perf_counter()
    minted = mint_cards(ca_folder, cards_folder, now, count)
    return minted, time.perf_counter() - started


def score_demo(data_dir: str) -> dict[str, Any]:
    """The checkup 実施率 (the register's snapshots into the lake first) and the incentives'
    scoreboard, once the register holds the premiums and the boundary cases: reads only."""
    settings = Settings.from_env()
    engine = connect(settings.database_url, migrate=False)
    try:
        started = time.perf_counter()
        checkups = _checkup_rates(engine, settings)
        rates_seconds = time.perf_counter() - started
        started = time.perf_counter()
        try:
            incentives = _score_incentives(engine, settings.home / "lake", Path(data_dir))
        except ValueError as rejected:
            raise ValueError(str(rejected)) from None
        incentives_seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {
        "checkups": checkups,
        "incentives": incentives,
        "seconds_rates": rates_seconds,
        "seconds_incentives": incentives_seconds,
    }


def _checkup_rates(engine: sa.Engine, settings: Settings) -> dict[str, Any]:
    """The register's snapshots into the lake (it needs the loaded register), and the 実施率
    of the last full year."""
    from kokuho.checkups import Lake, checkup_rates, export_snapshot

    lake = Lake.from_settings(settings)
    year = 2021
    # Every fiscal year of the synthetic data, so that the dashboard can show the trends.
    for fiscal_year in (2020, 2021, 2022):
        export_snapshot(engine, lake, fiscal_year)
    rows = checkup_rates(lake, year, ("insurer",)).to_pyarrow().to_pylist()
    kokuho = [r for r in rows if r.get("insurer_kind") == "kokuho_municipal"]
    eligible = sum(r["eligible"] for r in kokuho)
    examined = sum(r["examined"] for r in kokuho)
    return {
        "fiscal_year": year,
        "kokuho_eligible": eligible,
        "kokuho_examined": examined,
        "kokuho_rate": round(examined / eligible, 3) if eligible else None,
    }


# The synthetic claims cover the last full fiscal year of the demo (FY2022) only, so the demo
# scores the newest rules (FY2021) on FY2022's figures: the one year with every indicator.
# The real system scores a year's rules on the data years the rules name.
INCENTIVE_FISCAL_YEAR = 2021
INCENTIVE_DATA_YEAR = 2022


def _score_incentives(engine: sa.Engine, lake_root: Path, data: Path) -> dict[str, Any]:
    """保険者努力支援制度: the demo's rules scored on its figures, allocated and adjusted."""
    from kokuho.incentives import prefecture_scoreboard

    board = prefecture_scoreboard(
        engine, lake_root, INCENTIVE_FISCAL_YEAR, data / "incentives",
        data_year=INCENTIVE_DATA_YEAR,
    )  # fmt: skip
    municipal = board.part("municipal")
    return {
        "fiscal_year": board.fiscal_year,
        "data_year": board.data_year,
        "municipalities": [
            {
                "code": u.code,
                "name": u.name,
                "insured": u.insured,
                "points": u.points,
                "grant_yen": u.grant_yen,
            }
            for u in municipal.units
        ],  # fmt: skip
        "national_mean_points": municipal.national_mean_points,
        "prefecture_points": {key: u.points for key, u in board.prefecture_scores().items()},
        "grants_yen": board.total_yen,
        "adjustment_yen": board.adjustment.home.total_yen if board.adjustment else None,
    }
