"""Synthetic 特定健診 and 特定保健指導 of the synthetic prefecture: who takes them, what the
values look like, the planted cases, and the V08 archives they are written in."""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kokuho.checkups import Checkup, Guidance, Items
from kokuho.checkups._measures import MEASURE_COLUMNS, Measures, measures
from kokuho.checkups._metabolic import metabolic
from kokuho.checkups._programmes import nephropathy_referrals
from kokuho.checkups._rules import term_for
from kokuho.checkups._stratify import stratify
from kokuho.ids import FiscalYear, InstitutionCode, InsurerNumber, age_at_fiscal_year_end
from kokuho.synth import _checkups, generate
from kokuho.synth._checkups_bulk import iter_measure_rows, write_measure_parquet
from kokuho.synth._checkups_values import load_distributions
from kokuho.synth._world import KOKUHO, World

SEED = 5
PERSONS = 20_000
KOKUHO_TARGET = load_distributions().node("participation", "targets", "kokuho")


@dataclass
class Run:
    out: Path
    world: World
    sim: _checkups.Simulation
    archives: list[_checkups.Archive]

    @property
    def checkups(self) -> Iterator[Checkup]:
        for archive in self.archives:
            yield from archive.checkups

    @property
    def guidance(self) -> Iterator[Guidance]:
        for archive in self.archives:
            yield from archive.guidance


def build(out: Path, seed: int, persons: int) -> tuple[World, Path]:
    """The prefecture without its archives (writing them is the V08 writer's time, tested
    once below): generate() runs with the checkup step replaced by a spy on the world."""
    seen: dict[str, World] = {}

    def spy(world: World, out_dir: Path, seed: int, **_: Any) -> _checkups.Written:
        seen["world"] = world
        return _checkups.Written([], {})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_checkups, "write", spy)
        generate(out, seed=seed, persons=persons, claims=False)
    return seen["world"], out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    world, out = build(tmp_path_factory.mktemp("prefecture"), SEED, PERSONS)
    institutions = _checkups.load_institutions(out / "institutions.csv", 17)
    sim = _checkups.simulate(world, SEED, institutions)
    return Run(out, world, sim, list(_checkups.archives(sim)))


def number(checkup: Checkup, codes: tuple[str, ...]) -> float | None:
    found = checkup.first(*codes)
    return None if found is None else found.number


def coded(checkup: Checkup, codes: tuple[str, ...]) -> str:
    found = checkup.first(*codes)
    assert found is not None and found.coded is not None, codes
    return found.coded


# -- determinism ----------------------------------------------------------------------------------
def test_same_seed_same_checkups_other_seed_others(run: Run) -> None:
    again = _checkups.simulate(run.world, SEED, run.sim.institutions)
    for mine, theirs in zip(run.sim.years, again.years, strict=True):
        assert np.array_equal(mine.pid, theirs.pid) and np.array_equal(mine.exam, theirs.exam)
        for name, values in mine.drawn.values.items():
            assert np.array_equal(values, theirs.drawn.values[name], equal_nan=True), name
    first = next(_checkups.archives(again))
    assert first == run.archives[0]
    other = _checkups.simulate(run.world, SEED + 1, run.sim.institutions)
    assert not np.array_equal(other.years[0].pid, run.sim.years[0].pid)


# -- who takes a checkup --------------------------------------------------------------------------
def test_kokuho_participation_is_near_the_target(run: Run) -> None:
    counts = run.sim.counts
    assert counts["checkup_fiscal_years"] == 3
    for fy in (2020, 2021, 2022):
        eligible = counts[f"checkup_fy{fy}_kokuho_eligible"]
        rate = counts[f"checkup_fy{fy}_kokuho_examined"] / eligible
        assert eligible > 1500
        assert abs(rate - KOKUHO_TARGET) <= 0.05, (fy, rate)
        employee = (
            counts[f"checkup_fy{fy}_employee_examined"]
            / counts[f"checkup_fy{fy}_employee_eligible"]
        )
        assert rate + 0.1 < employee < 0.85  # employee schemes take it far more often


def test_participation_higher_for_older_ages_and_women(run: Run) -> None:
    year = run.sim.years[0]
    kokuho = year.scheme == KOKUHO
    men_40s = kokuho & (year.sex == 1) & (year.age_end < 50)
    women_60s = kokuho & (year.sex == 2) & (year.age_end >= 65)
    eligible = Counter[str]()
    for pid, _ in _kokuho_eligible(run.world, 2020):
        age = age_at_fiscal_year_end(dt.date.fromordinal(run.world.birth[pid]), 2020)
        if run.world.sex[pid] == 1 and age < 50:
            eligible["men_40s"] += 1
        if run.world.sex[pid] == 2 and age >= 65:
            eligible["women_60s"] += 1
    assert men_40s.sum() / eligible["men_40s"] < 0.3 < women_60s.sum() / eligible["women_60s"]


def _kokuho_eligible(world: World, fy: int) -> Iterator[tuple[int, int]]:
    first = dt.date(fy, 4, 1).toordinal()
    for cid, pid in enumerate(world.c_pid):
        if world.kind(cid) != KOKUHO or world.c_acquired[cid] > first:
            continue
        if (world.c_lost[cid] and world.c_lost[cid] <= first) or (
            world.death[pid] and world.death[pid] <= first
        ):
            continue
        if 40 <= age_at_fiscal_year_end(dt.date.fromordinal(world.birth[pid]), fy) <= 74:
            yield pid, cid


def test_last_years_takers_mostly_come_again(run: Run) -> None:
    first, second = (set(year.pid.tolist()) for year in run.sim.years[:2])
    eligible = {pid for pid, _ in _kokuho_eligible(run.world, 2021)}
    went = [pid for pid in eligible if pid in first]
    did_not = [pid for pid in eligible if pid not in first]
    again = sum(pid in second for pid in went) / len(went)
    newly = sum(pid in second for pid in did_not) / len(did_not)
    assert again > 0.6 and newly < 0.25, (again, newly)
    assert run.sim.counts["checkup_persons_examined_in_consecutive_years"] > 0


def test_every_checkup_is_of_an_eligible_member(run: Run) -> None:
    world = run.world
    for year in run.sim.years:
        fy = FiscalYear(year.fiscal_year)
        for row in range(0, len(year.pid), 7):
            pid, cid, exam = int(year.pid[row]), int(year.cid[row]), int(year.exam[row])
            assert dt.date.fromordinal(exam) in fy
            assert world.c_acquired[cid] <= exam and (
                not world.c_lost[cid] or exam < world.c_lost[cid]
            )
            assert not world.death[pid] or exam < world.death[pid]
            assert 40 <= age_at_fiscal_year_end(dt.date.fromordinal(world.birth[pid]), fy) <= 74
            assert world.kind(cid) != 4  # never 後期高齢者医療


# -- values ---------------------------------------------------------------------------------------
def test_means_by_sex_are_in_the_yaml_ranges(run: Run) -> None:
    measures_yaml = load_distributions().node("measures")
    codes = {
        "height": Items.HEIGHT, "bmi": Items.BMI, "waist": Items.WAIST, "sbp": Items.SBP,
        "dbp": Items.DBP, "hdl": Items.HDL, "ldl": Items.LDL, "hba1c": Items.HBA1C,
        "tg": Items.TG_FASTING, "glucose": Items.GLUCOSE_FASTING, "creatinine": Items.CREATININE,
        "egfr": Items.EGFR, "ast": _checkups.AST, "alt": _checkups.ALT, "ggt": _checkups.GGT,
    }  # fmt: skip
    values: dict[tuple[str, int], list[float]] = {}
    for checkup in run.checkups:
        for name, item in codes.items():
            value = number(checkup, item)
            if value is not None:
                values.setdefault((name, checkup.sex), []).append(value)
    for name in codes:
        for sex, label in ((1, "male"), (2, "female")):
            low, high = measures_yaml[name]["check"][label]
            mean = statistics.fmean(values[(name, sex)])
            assert low <= mean <= high, (name, label, mean)


def test_values_are_correlated_as_in_life(run: Run) -> None:
    rows = [
        (number(c, Items.BMI), number(c, Items.WAIST), number(c, Items.SBP),
         number(c, Items.TG_FASTING), number(c, Items.GLUCOSE_FASTING), c)
        for c in run.checkups
    ]  # fmt: skip
    fasting = [r for r in rows if r[3] is not None and r[4] is not None]
    bmi, waist, sbp = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    assert np.corrcoef(bmi, waist)[0, 1] > 0.8
    assert np.corrcoef(bmi, sbp)[0, 1] > 0.2
    f_bmi = np.array([r[0] for r in fasting], dtype=float)
    assert np.corrcoef(f_bmi, np.log(np.array([r[3] for r in fasting], dtype=float)))[0, 1] > 0.25
    assert np.corrcoef(f_bmi, [r[4] for r in fasting])[0, 1] > 0.15
    age = np.array([age_at_fiscal_year_end(r[5].birth_date, FiscalYear.of(r[5].exam_date))
                    for r in rows])  # fmt: skip
    assert np.corrcoef(age, sbp)[0, 1] > 0.1
    on_bp = np.array([coded(r[5], Items.MEDICATION_BP) == "1" for r in rows])
    assert on_bp[age >= 65].mean() > 2 * on_bp[age < 50].mean()


def test_smoking_by_sex(run: Run) -> None:
    share = {}
    for sex in (1, 2):
        answers = [coded(c, Items.SMOKING) for c in run.checkups if c.sex == sex]
        share[sex] = answers.count("1") / len(answers)
    assert 0.2 < share[1] < 0.35 and 0.03 < share[2] < 0.12, share


def test_fasting_and_random_codes_follow_the_blood_drawing_time(run: Run) -> None:
    timings = Counter[str]()
    for checkup in run.checkups:
        timing = coded(checkup, Items.BLOOD_DRAW_TIMING)
        timings[timing] += 1
        fasting = checkup.first(*Items.TG_FASTING, *Items.GLUCOSE_FASTING) is not None
        assert fasting == (timing == "2")
        assert (checkup.first(*Items.TG_RANDOM) is not None) == (timing != "2")
        if timing != "2":
            assert number(checkup, Items.HBA1C) is not None  # HbA1c whenever not fasting
    assert set(timings) == {"2", "3", "4"} and timings["4"] < timings["3"] < timings["2"]


def test_not_done_and_not_measurable_items_are_present(run: Run) -> None:
    not_done = Counter[str]()
    null = Counter[str]()
    for checkup in run.checkups:
        for code, observation in checkup.observations.items():
            if observation.not_done:
                not_done[code] += 1
                assert observation.value is None and observation.number is None
            if observation.null_flavor:
                null[code] += 1
                assert observation.null_flavor == "UNK" and observation.number is None
    assert sum(not_done.values()) == run.sim.counts["checkup_items_not_done"] > 0
    assert sum(null.values()) == run.sim.counts["checkup_items_null_flavor"] > 0
    assert not_done.keys() & set(Items.URINE_PROTEIN)  # 生理中
    assert null.keys() & set(Items.LDL)  # TG ≥ 400
    stratification = {*Items.WAIST, *Items.BMI, *Items.SBP, *Items.DBP, *Items.HDL,
                      *Items.TG_FASTING, *Items.TG_RANDOM}  # fmt: skip
    assert not (not_done.keys() | null.keys()) & stratification


# -- the institution's judgement ------------------------------------------------------------------
def test_planted_judgements_are_exactly_where_the_official_rules_disagree(run: Run) -> None:
    planted = {
        (p.archive, p.document, p.item): (p.reported, p.expected)
        for archive in run.archives
        for p in archive.planted
    }
    found = {}
    for archive in run.archives:
        for checkup in archive.checkups:
            m = measures(checkup)
            fy = FiscalYear.of(checkup.exam_date).year
            level = int(stratify(m, term=term_for(fy)).level)
            result = int(metabolic(m).result)
            if m.reported_level != level:
                found[(archive.name, checkup.document, Items.GUIDANCE_LEVEL[0])] = (
                    m.reported_level, level,
                )  # fmt: skip
            if m.reported_metabolic != result:
                found[(archive.name, checkup.document, Items.METABOLIC[0])] = (
                    m.reported_metabolic, result,
                )  # fmt: skip
    assert found == planted
    counts = run.sim.counts
    wrong = Counter(item for _, _, item in planted)
    assert wrong[Items.GUIDANCE_LEVEL[0]] == counts["checkup_reported_level_wrong"] > 10
    assert wrong[Items.METABOLIC[0]] == counts["checkup_reported_metabolic_wrong"] > 10


# -- guidance -------------------------------------------------------------------------------------
def test_a_quarter_to_a_third_start_guidance_and_most_complete(run: Run) -> None:
    counts = run.sim.counts
    for fy in (2020, 2021):
        targets = counts[f"checkup_fy{fy}_guidance_targets"]
        started = counts[f"checkup_fy{fy}_guidance_started"]
        completed = counts[f"checkup_fy{fy}_guidance_completed"]
        assert 0.18 < started / targets < 0.4, (fy, started / targets)
        assert 0.75 < completed / started <= 1
    exams = {}
    for year in run.sim.years:
        for row in np.flatnonzero(year.guidance_start > 0).tolist():
            assert year.judgement.level[row] in (1, 2)
            assert year.exam[row] < year.guidance_start[row] <= year.guidance_report
            exams[int(year.pid[row]), year.fiscal_year] = int(year.exam[row])
    records = list(run.guidance)
    assert len(records) == run.sim.counts["guidance_documents"]
    for record in records:
        assert record.level in (1, 2)
        if record.evaluated_on is not None:
            assert (record.evaluated_on - record.started_on).days >= 92


# -- archives -------------------------------------------------------------------------------------
def test_archives_are_per_institution_year_and_insurer(run: Run) -> None:
    names = [a.name for a in run.archives]
    assert len(names) == len(set(names))
    seen = set()
    for archive in run.archives:
        InstitutionCode.parse(archive.sender)
        assert archive.sender.startswith("371") and len(archive.receiver) == 8
        insurer = InsurerNumber.parse(archive.receiver)
        if insurer.is_kokuho:
            assert archive.receiver.startswith("00")  # a 6-digit 国保 number, zero-padded
        key = (archive.sender, archive.fiscal_year, archive.receiver, archive.kind)
        assert key not in seen
        seen.add(key)
        documents: list[Checkup | Guidance] = [*archive.checkups, *archive.guidance]
        assert documents
        for serial, document in enumerate(documents, start=1):
            assert document.document == _checkups.document_name(archive, serial)
            assert document.institution == archive.sender
            assert document.insurer == archive.receiver
        kinds = {"1": bool(archive.checkups), "2": bool(archive.guidance)}
        assert kinds[archive.kind] and not kinds["2" if archive.kind == "1" else "1"]
    # 受診券整理番号: unique within each insurer, 11 digits.
    tickets = [(c.insurer, c.ticket) for c in run.checkups if c.ticket is not None]
    assert len(tickets) == len(set(tickets)) > 0 and all(len(t) == 11 for _, t in tickets)


def test_nephropathy_list_finds_someone_in_the_prefecture(run: Run) -> None:
    result = nephropathy_referrals(list(run.checkups), fiscal_year=2021)
    assert 0 < len(result.candidates) < 200
    assert all(c.treatment == "unknown" for c in result.candidates)


def test_generate_adds_counts_and_files_to_the_manifest(tmp_path: Path) -> None:
    manifest = generate(tmp_path / "small", seed=3, persons=400)
    counts = manifest.counts
    assert counts["checkup_documents"] > 60 and counts["checkup_fiscal_years"] == 3
    assert _checkups.PLANTED_FILE in manifest.files
    with (tmp_path / "small" / _checkups.PLANTED_FILE).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert (
        len(rows)
        == counts["checkup_reported_level_wrong"] + counts["checkup_reported_metabolic_wrong"]
    )
    zips = sorted(p.relative_to(tmp_path / "small").as_posix()
                  for p in (tmp_path / "small" / "checkups").glob("*.zip"))  # fmt: skip
    assert zips == sorted(f for f in manifest.files if f.endswith(".zip"))
    assert counts["checkup_archives"] + counts["guidance_archives"] == len(zips)
    with pytest.raises(FileExistsError):
        generate(tmp_path / "small", seed=3, persons=400)
    without = generate(tmp_path / "plain", seed=3, persons=400, checkups=False)
    assert not any(name.startswith("checkup") for name in without.counts)
    assert not (tmp_path / "plain" / "checkups").exists()
    for name in ("residents.csv", "insurers.csv", "mynumber_submissions.csv"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "small" / name).read_bytes()


def test_archives_are_written_and_read_back(tmp_path: Path) -> None:
    from kokuho.checkups import read_archive
    from kokuho.checkups import write_archive as write

    world, out = build(tmp_path / "p", 2, 400)
    written = _checkups.write(world, out, 2, writer=write)
    zips = sorted((out / "checkups").glob("*.zip"))
    assert len(zips) == written.counts["checkup_archives"] + written.counts["guidance_archives"]
    checkups = guidance = 0
    for path in zips:
        contents = read_archive(path)
        checkups += len(contents.checkups)
        guidance += len(contents.guidance)
        for checkup in contents.checkups:
            assert checkup.document.startswith("DATA/h") and checkup.observations
    assert checkups == written.counts["checkup_documents"]
    assert guidance == written.counts["guidance_documents"]
    # The same world and seed give the same bytes.
    again = tmp_path / "again"
    again.mkdir()
    (again / "institutions.csv").write_bytes((out / "institutions.csv").read_bytes())
    _checkups.write(world, again, 2, writer=write)
    for path in zips:
        assert (again / "checkups" / path.name).read_bytes() == path.read_bytes()


# -- bulk rows for benchmarks ---------------------------------------------------------------------
def test_bulk_rows_are_deterministic_and_plausible(tmp_path: Path) -> None:
    rows = list(iter_measure_rows(1, 1500, batch=600))
    assert rows == list(iter_measure_rows(1, 1500, batch=600))
    assert rows != list(iter_measure_rows(2, 1500, batch=600))
    assert list(rows[0]) == list(MEASURE_COLUMNS)  # the lake's measures table
    assert len({r["document"] for r in rows}) == 1500
    agree = 0
    for row in rows[:400]:
        assert 40 <= row["age"] <= 74
        assert row["age"] == age_at_fiscal_year_end(row["birth_date"], row["fiscal_year"])
        assert row["exam_date"] in FiscalYear(row["fiscal_year"])
        InsurerNumber.parse(row["insurer"])
        assert (row["tg_fasting"] is None) == (row["blood_draw_timing"] != "2")
        m = Measures.from_row(row)
        agree += int(stratify(m, term=term_for(row["fiscal_year"])).level) == m.reported_level
    assert agree >= 390  # only the planted few disagree
    men = [r["bmi"] for r in rows if r["sex"] == 1 and r["bmi"] is not None]
    assert 23 < statistics.fmean(men) < 25.5
    full = list(iter_measure_rows(1, 1500, layout="full", batch=600))
    assert [r["bmi"] for r in full] == [r["bmi"] for r in rows]
    assert any(r["ldl"] is None for r in full) or any(r["creatinine"] is None for r in full)
    path = tmp_path / "rows.parquet"
    assert write_measure_parquet(path, 1, 1500, batch=600) == 1500
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    assert table.num_rows == 1500 and table.column_names == list(MEASURE_COLUMNS)
    assert table.to_pylist() == rows
