"""The synthetic prefecture (合成県): a Kagawa-like prefecture of fictitious people, written
in the same files real users feed in (docs/formats.md).

``generate`` writes into one folder::

    insurers.csv                 保険者 (§1)
    institutions.csv             保険医療機関・薬局 (§5)
    changes/{保険者番号}_{YYYY-MM}.csv   資格異動, one file per insurer and filing month (§2)
    residents.csv                住民基本台帳 at the end (§3)
    mynumber_submissions.csv     個人番号の登録 by the insurers (§4)
    checkups/                    特定健診・特定保健指導 V08 archives and the planted wrong
                                 judgements (synth/_checkups.py)
    claims/                      レセ電 claim files by institution and 請求月, and the planted
                                 重複・多剤 and 資格過誤 cases (synth/_claims.py)
    masters/                     the sample 医薬品・傷病名 masters the claims use
    incomes/incomes_FY{year}.csv 所得 of every resident per fiscal year (synth/_incomes.py)
    grounds/reduction_grounds.csv 旧被扶養者 and 非自発的失業 grounds (synth/_grounds.py)
    incentives/                  national backdrop, efforts and 収納率 for kokuho.incentives
                                 (synth/_incentive_inputs.py)
    masters/                     the sample 医薬品・傷病名 masters and 後発医薬品 list they use
    care/                        要介護認定 and 介護給付費明細書 of the 65+, and the planted
                                 linkage failures (synth/_care.py)
    changes/retroactive/         the planted retroactive employee enrolments, with their
                                 資格決定日 (§110-2(2) double payments; synth/_boundary.py)
    dependants/dependants.csv    被扶養者認定 applications for the residency check, with the
                                 planted dependants abroad and excluded visas
    manifest.json                parameters, files and the counts of every planted case

``write_payments`` writes ``payments/payments_FY{year}.csv`` (§9) later, from the 調定 the
premiums room recorded for the loaded households (synth/_payments.py; ``kokuho demo``).

The same seed and size give byte-identical files. Every name, address and number is
generated; none belongs to a real person.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import random
import re
from collections.abc import Callable
from pathlib import Path

from kokuho.synth import (
    _boundary,
    _care,
    _checkups,
    _claims,
    _events,
    _grounds,
    _incentive_inputs,
    _incomes,
    _people,
    _residents,
)
from kokuho.synth._alongside import Alongside
from kokuho.synth._boundary import PlantedDependant, PlantedRetroactive
from kokuho.synth._data import load_names, load_prefecture
from kokuho.synth._institutions import write_institutions
from kokuho.synth._manifest import Manifest, PlantedOverlap
from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._payments import write_payments
from kokuho.synth._world import World
from kokuho.synth._writers import Feed, month_key, write_insurers

__all__ = [
    "DEFAULT_START",
    "Manifest",
    "PlantedDependant",
    "PlantedOverlap",
    "PlantedRetroactive",
    "Written",
    "generate",
    "write_payments",
]

DEFAULT_START = dt.date(2020, 4, 1)
MIN_PERSONS = 10
MAX_YEARS = 20
_OUR_FILES = (
    "insurers.csv", "institutions.csv", "residents.csv", "mynumber_submissions.csv",
    "manifest.json",
)  # fmt: skip
_FEED_FILE = re.compile(r"\d{6}(\d{2})?_\d{4}-\d{2}\.csv")


def _prepare(out_dir: Path, overwrite: bool) -> None:
    changes = out_dir / "changes"
    earlier = [out_dir / name for name in _OUR_FILES if (out_dir / name).exists()]
    if changes.is_dir():
        earlier += sorted(p for p in changes.glob("*.csv") if _FEED_FILE.fullmatch(p.name))
    clear_earlier(out_dir, earlier, "the files", overwrite)
    changes.mkdir(parents=True, exist_ok=True)


def generate(
    out_dir: Path,
    *,
    seed: int,
    persons: int,
    start: dt.date = DEFAULT_START,
    years: int = 3,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    checkups: bool = True,
    claims: bool = True,
    incentives: bool = True,
    care: bool = True,
    meanwhile: Callable[[], None] | None = None,
) -> Manifest:
    """Builds the synthetic prefecture of ``persons`` people at ``start``, simulates
    ``years`` years of life and writes every file into ``out_dir``.

    ``overwrite`` replaces the files of an earlier run in ``out_dir`` (only those: other
    files are left alone); without it such files raise FileExistsError. ``progress`` is
    called with the name of each stage. ``checkups`` adds the 特定健診 and 特定保健指導
    archives of every simulated fiscal year under ``checkups/`` (synth/_checkups.py); they
    draw from their own random stream, so every other file is the same with or without them.
    ``claims`` likewise adds the レセ電 claims under ``claims/`` (synth/_claims.py), and
    ``incentives`` the 保険者努力支援制度 input files under ``incentives/``, and ``care`` the
    要介護認定 and 介護 claims of the 65+ under ``care/`` (synth/_care.py).

    ``meanwhile`` is called once every file but the claims (and ``manifest.json``) is written,
    before the claims are awaited: while a second process still writes them, the caller can
    read the rest (the demo loads the register). It runs with the cycle collector off, as the
    synth does.
    """
    if persons < MIN_PERSONS:
        raise ValueError(f"persons must be at least {MIN_PERSONS}, got {persons}")
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be 1–{MAX_YEARS}, got {years}")
    report = progress or (lambda stage: None)
    _checkups.prepare(out_dir, overwrite)  # checkups: refuse or remove earlier archives
    _claims.prepare(out_dir, overwrite)  # claims: likewise
    _incentive_inputs.prepare(out_dir, overwrite)  # incentive inputs: likewise
    _incomes.prepare(out_dir, overwrite)  # incomes: likewise
    _grounds.prepare(out_dir, overwrite)  # reduction grounds: likewise
    if care:
        _care.prepare(out_dir, overwrite)  # care: likewise
    _boundary.prepare(out_dir, overwrite)  # boundary: likewise
    _prepare(out_dir, overwrite)
    # Millions of long-lived rows and lists and no garbage cycles: the cycle collector's
    # repeated full scans would cost a large share of the run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(
            out_dir, seed, persons, start, years, report, checkups, claims, incentives, care,
            meanwhile,
        )  # fmt: skip
    finally:
        if collecting:
            gc.enable()


def _generate(
    out_dir: Path,
    seed: int,
    persons: int,
    start: dt.date,
    years: int,
    report: Callable[[str], None],
    checkups: bool = True,
    claims: bool = True,
    incentives: bool = True,
    care: bool = True,
    meanwhile: Callable[[], None] | None = None,
) -> Manifest:
    rng = random.Random(seed)
    prefecture = load_prefecture()
    feed = Feed(out_dir, prefecture.insurers, month_key(start.toordinal()))
    world = World(prefecture, load_names(), rng, start, years, feed, persons)

    report("households")
    _people.build(world, persons)
    report("opening membership")
    _people.open_coverages(world)
    opening_rows = world.counts["rows_acquire"]
    simulation = _events.Simulation(world, years)
    simulation.schedule()
    report("life events")
    simulation.run()
    write_insurers(out_dir / "insurers.csv", prefecture.insurers)
    institutions = write_institutions(out_dir / "institutions.csv", prefecture, persons, seed)
    report("residents and My Numbers")
    # The claims need only the world and institutions.csv, both done: written by a second
    # process meanwhile (synth/_alongside.py), the same bytes as in this one.
    claims_job = Alongside(lambda: _claims.write(world, out_dir, seed)) if claims else None
    resident_ids: dict[int, str] = {}
    planted = _residents.write(world, out_dir, resident_ids)
    # -- incomes (synth/_incomes.py): their own random stream
    report("incomes")
    incomes = _incomes.write(world, out_dir, seed, resident_ids)
    planted.update(incomes.counts)
    # -- end of incomes
    # -- reduction grounds (synth/_grounds.py): their own random stream
    grounds = _grounds.write(world, out_dir, seed, resident_ids)
    planted.update(grounds.counts)
    # -- end of reduction grounds
    # -- checkups (synth/_checkups.py): after everything else, from their own random stream
    checkup_files: list[str] = []
    if checkups:
        report("checkups")
        written = _checkups.write(world, out_dir, seed, report=report)
        checkup_files = written.files
        planted.update(written.counts)
    # -- end of checkups
    # -- incentive inputs (synth/_incentive_inputs.py): their own random stream
    incentive_files: list[str] = []
    if incentives:
        report("incentive inputs")
        incentive = _incentive_inputs.write(
            prefecture, out_dir, seed, persons=persons, start=start, years=years
        )
        incentive_files = incentive.files
        planted.update(incentive.counts)
    # -- end of incentive inputs
    # -- care (synth/_care.py): 要介護認定 and 介護 claims, their own random stream
    care_files: list[str] = []
    if care:
        report("care")
        care_written = _care.write(world, out_dir, seed)
        care_files = care_written.files
        planted.update(care_written.counts)
    # -- end of care
    # -- boundary (synth/_boundary.py): after everything else, their own random stream
    report("boundary")
    boundary = _boundary.write(world, out_dir, seed)
    planted.update(boundary.counts)
    # -- end of boundary
    # -- claims (synth/_claims.py): their own random stream; awaited last, so that the
    # incentive inputs, care and boundary (which neither read nor change what the claims
    # read) are written while the second process still writes the claims.
    if meanwhile is not None:
        _while_claims_run(meanwhile, claims_job)
    claim_files: list[str] = []
    if claims_job is not None:
        report("claims")
        claims_written = claims_job.result()
        claim_files = claims_written.files
        planted.update(claims_written.counts)
    # -- end of claims

    overlaps = simulation.overlaps()
    counts = dict(world.counts)
    counts.update(planted)
    counts.update(
        persons_initial=persons,
        persons_total=len(world.birth),
        opening_rows=opening_rows,
        change_rows=feed.rows,
        files=len(feed.files),
        insurers=len(prefecture.insurers),
        institutions=institutions,
        overlaps_planted=len(overlaps),
        overlaps_open_at_end=sum(1 for o in overlaps if o.overlap_until is None),
        overlaps_resolved_by_kokuho_lose=sum(1 for o in overlaps if o.ended_by == "kokuho_lose"),
        overlaps_ended_by_death_or_75=sum(1 for o in overlaps if o.ended_by in ("death", "age_75")),
        persons_alive_at_end=sum(1 for day in world.death if not day),
        kokuho_to_employee_plant_share_ppm=round(simulation.plant_share * 1_000_000),
    )
    manifest = Manifest(
        seed=seed,
        persons=persons,
        start=start,
        end=dt.date.fromordinal(world.last),
        years=years,
        files=tuple(["insurers.csv", "institutions.csv", *sorted(feed.files), "residents.csv",
                     "mynumber_submissions.csv", *incomes.files, *grounds.files, *checkup_files,
                     *claim_files, *incentive_files, *care_files, *boundary.files]),
        counts=dict(sorted(counts.items())),
        overlaps=tuple(overlaps),
        retroactive=tuple(boundary.retroactive),
        dependants=tuple(boundary.dependants),
    )  # fmt: skip
    manifest.write(out_dir / "manifest.json")
    report("done")
    return manifest


def _while_claims_run(meanwhile: Callable[[], None], claims_job: Alongside[Written] | None) -> None:
    """The caller's work while the claims are written; when it fails, the claims are still
    awaited (no child left running) and its error is the one raised."""
    try:
        meanwhile()
    except BaseException:
        if claims_job is not None:
            with contextlib.suppress(Exception):
                claims_job.result()
        raise
