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

Benchmarks that need millions of checkups without a prefecture use the bulk rows of
:mod:`kokuho.synth._checkups_bulk` (``iter_measure_rows``, ``write_measure_parquet``),
re-exported here.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from kokuho.checkups import Checkup, Guidance, GuidanceLevel, Items, Observation
from kokuho.ids import luhn_2_1
from kokuho.synth._checkups_bulk import iter_measure_rows, write_measure_parquet
from kokuho.synth._checkups_values import (
    ABSENT,
    EARLY,
    EMPLOYEE,
    FASTING,
    KOKUHO_LIKE,
    NOT_DONE,
    NULL,
    P_INSTITUTION,
    VALUE,
    Y_DAY,
    Y_GUIDANCE,
    Y_GUIDANCE_COMPLETE,
    Y_GUIDANCE_EVAL_DAYS,
    Y_GUIDANCE_START_DAYS,
    Y_LEVEL_WRONG,
    Y_METABOLIC_WRONG,
    Y_MONTH,
    Y_SBP1,
    Y_TAKE,
    Y_WAIST_METHOD,
    Y_WRONG_VALUE,
    Distributions,
    Drawn,
    HashedNoise,
    Judgement,
    band_of,
    draw,
    judge,
    load_distributions,
)
from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._world import KOKUHO, KUMIAI, KYOKAI, KYOSAI, World

__all__ = [
    "Archive", "PlantedJudgement", "Simulation", "Written", "archives", "iter_measure_rows",
    "prepare", "simulate", "write", "write_measure_parquet",
]  # fmt: skip

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]

FOLDER = "checkups"
PLANTED_FILE = f"{FOLDER}/planted_judgements.csv"
_SCHEMES = {KOKUHO: "kokuho", KYOKAI: "kyokai", KUMIAI: "kumiai", KYOSAI: "kyosai"}
_EPOCH = dt.date(1970, 1, 1).toordinal()
_NEVER = 1 << 40
_UNITS = {
    "height": "cm", "weight": "kg", "bmi": "kg/m2", "waist": "cm", "sbp": "mmHg",
    "dbp": "mmHg", "tg": "mg/dl", "hdl": "mg/dl", "ldl": "mg/dl", "glucose": "mg/dl",
    "hba1c": "%", "ast": "U/l", "alt": "U/l", "ggt": "U/l", "creatinine": "mg/dl",
    "egfr": "ml/min/1.73m2",
}  # fmt: skip
_DECIMALS = {"bmi": 1, "height": 1, "weight": 1, "waist": 1, "hba1c": 1, "egfr": 1}
_DECIMALS["creatinine"] = 2
# Item codes not in kokuho.checkups.Items (checkups-claims.md §2.3).
AST = ("3B035000002327201", "3B035000002399901")
ALT = ("3B045000002327201", "3B045000002399901")
GGT = ("3B090000002327101", "3B090000002399901")
SBP_FIRST, SBP_SECOND = "9A751000000000001", "9A752000000000001"
DBP_FIRST, DBP_SECOND = "9A761000000000001", "9A762000000000001"
# Value sets (implementer OID table after MHLW 001082788.pdf; checkups-claims.md §2.3).
OID_YES_NO = "1.2.392.200119.6.2003"
OID_SMOKING = "1.2.392.200119.6.24060"
OID_TIMING = "1.2.392.200119.6.2202"
OID_URINE = "1.2.392.200119.6.2102"  # 1 −, 2 ±, 3 +, 4 ++, 5 +++
OID_METABOLIC = "1.2.392.200119.6.1008"
OID_LEVEL = "1.2.392.200119.6.3001"


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


# -- institutions -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Institution:
    """A checkup institution: 健診機関番号 (10 digits), municipality index, hospital or not."""

    code: str
    municipality: int
    hospital: bool


def load_institutions(path: Path | None, municipalities: int) -> list[Institution]:
    """The active medical institutions (点数表 1: clinics and hospitals) of the prefecture's
    ``institutions.csv``; without the file, one invented clinic and hospital per
    municipality with codes of the same shape (37 1 郡市区 番号 検証番号).

    The 健診機関番号 of a medical institution is taken to be its 10-digit 医療機関コード
    (都道府県 2 + 点数表 1 + 7): an ASSUMPTION; the two numbers need not coincide.
    """
    found: list[Institution] = []
    if path is not None and path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                code = row["institution_code"]
                if code[2] != "1" or row["status"] != "active":
                    continue
                district = int(code[3:5]) - 1
                found.append(Institution(code, district, row["name"].endswith("病院")))
    if not found:
        serial = 0
        for district in range(municipalities):
            for hospital in (False, True):
                serial += 1
                body = f"371{district + 1:02d}{serial:04d}"
                found.append(Institution(body + str(luhn_2_1(body)), district, hospital))
    return found


# -- the simulation -----------------------------------------------------------------------------
@dataclass
class Year:
    """The checkups of one fiscal year, column-wise (one element per checkup)."""

    fiscal_year: int
    pid: Ints
    cid: Ints
    scheme: Ints  # KOKUHO, KYOKAI, KUMIAI, KYOSAI
    group: Ints  # KOKUHO_LIKE or EMPLOYEE
    sex: Ints
    exam: Ints  # ordinal
    age_end: Ints  # 年度末年齢
    institution: Ints  # index into Simulation.institutions
    drawn: Drawn
    judgement: Judgement
    reported_metabolic: Codes
    reported_level: Codes
    guidance_start: Ints  # ordinal, 0 = none
    guidance_end: Ints  # ordinal of 実績評価, 0 = not completed by the report
    guidance_report: int  # ordinal: the day guidance of this year is reported


@dataclass
class Simulation:
    """Every checkup of the simulated years and the counts for the manifest."""

    world: World
    seed: int
    institutions: list[Institution]
    years: list[Year] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def simulate(world: World, seed: int, institutions: list[Institution]) -> Simulation:
    """Draws who takes a checkup in each fiscal year, their values and their guidance."""
    d = load_distributions()
    sim = Simulation(world, seed, institutions)
    n_persons = len(world.birth)
    birth = np.array(world.birth, dtype=np.int64)
    death = np.array(world.death, dtype=np.int64)
    death = np.where(death == 0, _NEVER, death)
    sex_all = np.array(world.sex, dtype=np.int64)
    born = (birth - _EPOCH).astype("datetime64[D]")
    b_year = born.astype("datetime64[Y]").astype(np.int64) + 1970
    b_month = born.astype("datetime64[M]").astype(np.int64) % 12 + 1
    b_day = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    b_md = b_month * 100 + b_day

    c_ins = np.array(world.c_ins, dtype=np.int64)
    c_pid = np.array(world.c_pid, dtype=np.int64)
    c_acq = np.array(world.c_acquired, dtype=np.int64)
    c_lost = np.array(world.c_lost, dtype=np.int64)
    c_lost = np.where(c_lost == 0, _NEVER, c_lost)
    c_rel = np.array(world.c_rel, dtype=np.int64)
    c_kind = np.array(world.ins_kind, dtype=np.int64)[c_ins]
    schemed = np.isin(c_kind, list(_SCHEMES))

    took = np.zeros(n_persons, dtype=np.bool_)
    was_eligible = np.zeros(n_persons, dtype=np.bool_)
    shift = np.zeros(n_persons, dtype=np.float64)
    municipal = _municipality_factor(d, seed, len(world.prefecture.municipalities))
    first_fy = _fiscal_year(world.start)
    for fy in range(first_fy, _fiscal_year(world.last) + 1):
        start, end = dt.date(fy, 4, 1).toordinal(), dt.date(fy + 1, 3, 31).toordinal()
        w0, w1 = max(start, world.start), min(end, world.last)
        whole_year = start >= world.start and end <= world.last
        # 年度末年齢: the age on 31 March, reached at the end of the day before the birthday.
        age_end = fy + 1 - b_year - (b_md > 401)
        open_at = schemed & (c_acq <= w0) & (c_lost > w0)
        cand = np.flatnonzero(open_at & (death[c_pid] > w0))
        cand = cand[(age_end[c_pid[cand]] >= 40) & (age_end[c_pid[cand]] <= 74)]
        # A planted overlap leaves two open coverages: the later one is the person's own.
        cand = cand[np.argsort(-cand, kind="stable")]
        _, first = np.unique(c_pid[cand], return_index=True)
        cand = np.sort(cand[first])
        pid = c_pid[cand]
        scheme = c_kind[cand]
        employee_self = (scheme != KOKUHO) & (c_rel[cand] == 1)
        full = (
            whole_year
            & (c_acq[cand] <= start)
            & (c_lost[cand] > end)
            & (death[pid] > end)
        )  # fmt: skip
        year_noise = HashedNoise(f"checkups-{seed}-fy{fy}", pid)
        p = _participation(d, sex_all[pid], age_end[pid], scheme, employee_self, c_ins[cand],
                           municipal, full)  # fmt: skip
        rho = float(d.node("participation", "persistence"))
        p = np.where(was_eligible[pid], np.where(took[pid], p + (1 - p) * rho, p * (1 - rho)), p)
        take = year_noise.uniform(Y_TAKE) < p
        group = np.where(employee_self, EMPLOYEE, KOKUHO_LIKE)
        exam = _exam_days(d, fy, group, year_noise)
        # The chain remembers who meant to go; a checkup is only written when its day is
        # inside the simulated period and the person is still a member and alive then.
        was_eligible[:] = False
        was_eligible[pid] = True
        took[:] = False
        took[pid[take]] = True
        last_day = np.minimum(np.minimum(c_lost[cand], death[pid]) - 1, w1)
        take &= (exam >= w0) & (exam <= last_day)
        _count_eligible(sim.counts, fy, scheme, full, take)

        sel = np.flatnonzero(take)
        pid, cand, scheme, group, exam = pid[sel], cand[sel], scheme[sel], group[sel], exam[sel]
        sex = sex_all[pid]
        exam_dates = (exam - _EPOCH).astype("datetime64[D]")
        e_year = exam_dates.astype("datetime64[Y]").astype(np.int64) + 1970
        e_md = (
            (exam_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100
            + (exam_dates - exam_dates.astype("datetime64[M]")).astype(np.int64)
            + 1
        )
        age_exam = e_year - b_year[pid] - (e_md < b_md[pid])
        person_sel = HashedNoise(f"checkups-{seed}-person", pid)
        year_sel = HashedNoise(f"checkups-{seed}-fy{fy}", pid)
        drawn = draw(d, sex, age_exam, group, person_sel, year_sel, adiposity_shift=shift[pid])
        judgement = judge(drawn, sex, age_end[pid], fy)
        metabolic, level = _reported(d, judgement, year_sel, sim.counts)
        institution = _institutions(institutions, c_ins[cand], scheme == KOKUHO, person_sel)
        report = min(dt.date(fy + 1, int(d.node("guidance", "report_month")) + 1, 1).toordinal()
                     - 1, world.last)  # fmt: skip
        g_start, g_end = _guidance(d, judgement, scheme, exam, report, year_sel,
                                   np.minimum(c_lost[cand], death[pid]))  # fmt: skip
        shift[pid[g_end > 0]] += float(d.node("guidance", "effect"))
        targets = (judgement.level == 1) | (judgement.level == 2)
        sim.counts[f"checkup_fy{fy}_guidance_targets"] = int(targets.sum())
        sim.counts[f"checkup_fy{fy}_guidance_started"] = int((g_start > 0).sum())
        sim.counts[f"checkup_fy{fy}_guidance_completed"] = int((g_end > 0).sum())
        sim.years.append(
            Year(fy, pid, cand, scheme, group, sex, exam, age_end[pid], institution, drawn,
                 judgement, metabolic, level, g_start, g_end, report)
        )  # fmt: skip
    _count_quality(sim)
    return sim


def _fiscal_year(ordinal: int) -> int:
    day = dt.date.fromordinal(ordinal)
    return day.year if day.month >= 4 else day.year - 1


def _municipality_factor(d: Distributions, seed: int, count: int) -> npt.NDArray[np.float64]:
    spread = float(d.node("participation", "municipality_spread"))
    noise = HashedNoise(f"checkups-{seed}-municipality", np.arange(count, dtype=np.int64))
    result: npt.NDArray[np.float64] = np.exp(spread * noise.normal(0))
    return result


def _participation(
    d: Distributions,
    sex: Ints,
    age_end: Ints,
    scheme: Ints,
    employee_self: Bools,
    insurer: Ints,
    municipal: npt.NDArray[np.float64],
    full: Bools,
) -> npt.NDArray[np.float64]:
    """Each candidate's probability: the scheme's sex × age shape (and, for 国保, the
    municipality's factor; for 被扶養者, the dependants' factor), rescaled so that its mean
    over the whole-year members of the scheme is the scheme's target."""
    s, band = sex - 1, band_of(age_end)
    kokuho = d.table("participation", "relative", "kokuho")[s, band]
    employee = d.table("participation", "relative", "employee")[s, band]
    factor = float(d.node("participation", "dependant_factor"))
    relative = np.where(
        scheme == KOKUHO,
        kokuho * municipal[np.minimum(insurer, len(municipal) - 1)],
        np.where(employee_self, employee, employee * factor),
    )
    p = np.zeros(len(sex), dtype=np.float64)
    targets = d.node("participation", "targets")
    for code, name in _SCHEMES.items():
        mask = scheme == code
        if not mask.any():
            continue
        basis = mask & full if (mask & full).any() else mask
        scale = float(targets[name]) / float(relative[basis].mean())
        p[mask] = relative[mask] * scale
    return np.clip(p, 0.01, 0.95)


def _count_eligible(counts: Counter[str], fy: int, scheme: Ints, full: Bools, take: Bools) -> None:
    """法定報告-style counts: whole-year members 40–74 and how many of them were examined."""
    for label, mask in (("kokuho", scheme == KOKUHO), ("employee", scheme != KOKUHO)):
        counts[f"checkup_fy{fy}_{label}_eligible"] = int((mask & full).sum())
        counts[f"checkup_fy{fy}_{label}_examined"] = int((mask & full & take).sum())


def _exam_days(d: Distributions, fy: int, group: Ints, noise: HashedNoise) -> Ints:
    months = [dt.date(fy + (m >= 9), (m + 3) % 12 + 1, 1).toordinal() for m in range(12)]
    starts = np.array(months + [dt.date(fy + 1, 4, 1).toordinal()], dtype=np.int64)
    lengths = np.diff(starts)
    weights = d.node("participation", "exam_month_weights")
    result = np.zeros(len(group), dtype=np.int64)
    u, v = noise.uniform(Y_MONTH), noise.uniform(Y_DAY)
    for code, name in ((KOKUHO_LIKE, "kokuho"), (EMPLOYEE, "employee")):
        cumulative = np.cumsum(np.array(weights[name], dtype=np.float64))
        month = np.searchsorted(cumulative, u * cumulative[-1], side="right")
        month = np.minimum(month, 11)
        days = starts[month] + np.floor(v * lengths[month]).astype(np.int64)
        result = np.where(group == code, days, result)
    return result


def _reported(
    d: Distributions, judgement: Judgement, noise: HashedNoise, counts: Counter[str]
) -> tuple[Codes, Codes]:
    """The institution's 9N501 and 9N506: the local rule's, except the planted ones, which
    are another valid code (1–3) chosen at random."""
    j = d.node("judgement")
    other = 1 + np.floor(noise.uniform(Y_WRONG_VALUE) * 2).astype(np.int64)  # 1 or 2
    result = []
    for correct, stream, rate, name in (
        (judgement.metabolic, Y_METABOLIC_WRONG, j["metabolic_wrong"], "metabolic"),
        (judgement.level, Y_LEVEL_WRONG, j["level_wrong"], "level"),
    ):
        wrong = noise.uniform(stream) < float(rate)
        shifted = ((correct.astype(np.int64) - 1 + other) % 3 + 1).astype(np.int8)
        result.append(np.where(wrong, shifted, correct).astype(np.int8))
        counts[f"checkup_reported_{name}_wrong"] += int(wrong.sum())
    return result[0], result[1]


def _institutions(
    institutions: list[Institution], municipality: Ints, local: Bools, noise: HashedNoise
) -> Ints:
    """Where each checkup is done. 国保 members (``local``) go to a clinic or hospital of
    their municipality (個別健診; a hospital weighs three clinics); members of the employee
    schemes, 被扶養者 included, to one of the first ``employee_institutions`` hospitals (the
    schemes' contracted 健診機関). The person's choice stays the same from year to year."""
    u = noise.uniform(P_INSTITUTION)
    cap = int(load_distributions().node("participation", "employee_institutions"))
    hospitals = [n for n, i in enumerate(institutions) if i.hospital][:cap] or [0]
    pick = np.array(hospitals, dtype=np.int64)[np.floor(u * len(hospitals)).astype(np.int64)]
    result = np.where(local, 0, pick)
    by_municipality: dict[int, list[int]] = defaultdict(list)
    for n, institution in enumerate(institutions):
        by_municipality[institution.municipality].append(n)
    everyone = list(range(len(institutions)))
    for place in np.unique(municipality[local]).tolist():
        members = by_municipality.get(place) or everyone
        weights = np.cumsum([3.0 if institutions[n].hospital else 1.0 for n in members])
        mask = local & (municipality == place)
        index = np.searchsorted(weights, u[mask] * weights[-1], side="right")
        result[mask] = np.array(members, dtype=np.int64)[np.minimum(index, len(members) - 1)]
    return result


def _guidance(
    d: Distributions,
    judgement: Judgement,
    scheme: Ints,
    exam: Ints,
    report: int,
    noise: HashedNoise,
    leaves: Ints,
) -> tuple[Ints, Ints]:
    """初回面接 and 実績評価 days (0 = none) of those at 積極的/動機付け by the local rule.

    Guidance that would start after the year is reported is not started; an evaluation
    after the report, or after the member left or died (途中終了), is not completed."""
    g = d.node("guidance")
    rate = np.zeros(len(scheme), dtype=np.float64)
    for code, name in _SCHEMES.items():
        rate[scheme == code] = float(g["start"][name])
    target = (judgement.level == 1) | (judgement.level == 2)
    low, high = g["first_interview_days"]
    start = exam + low + np.floor(noise.uniform(Y_GUIDANCE_START_DAYS) * (high - low + 1))
    start = start.astype(np.int64)
    begins = target & (noise.uniform(Y_GUIDANCE) < rate) & (start <= report) & (start < leaves)
    low, high = g["evaluation_days"]
    end = start + low + np.floor(noise.uniform(Y_GUIDANCE_EVAL_DAYS) * (high - low + 1))
    end = end.astype(np.int64)
    completes = begins & (noise.uniform(Y_GUIDANCE_COMPLETE) < float(g["complete"]))
    completes &= (end <= report) & (end < leaves)
    return np.where(begins, start, 0), np.where(completes, end, 0)


def _count_quality(sim: Simulation) -> None:
    counts = sim.counts
    for year in sim.years:
        for states in year.drawn.state.values():
            counts["checkup_items_not_done"] += int((states == NOT_DONE).sum())
            counts["checkup_items_null_flavor"] += int((states == NULL).sum())
        counts["checkup_blood_drawn_under_3_5h"] += int((year.drawn.timing == EARLY).sum())
        counts["checkup_documents"] += len(year.pid)
        counts["guidance_documents"] += int((year.guidance_start > 0).sum())
    counts["checkup_fiscal_years"] = len(sim.years)
    persons_by_year = [set(year.pid.tolist()) for year in sim.years]
    counts["checkup_persons_examined_in_consecutive_years"] = len(
        set().union(*(a & b for a, b in zip(persons_by_year, persons_by_year[1:], strict=False)))
    )


# -- documents ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlantedJudgement:
    """One institution judgement planted wrong: where it is and what it should say."""

    fiscal_year: int
    archive: str  # the zip's file name
    document: str  # the document's path under the archive's root folder (DATA/h….xml)
    item: str  # the item code, 9N501… or 9N506…
    reported: int
    expected: int


@dataclass(frozen=True, slots=True)
class Archive:
    """What one V08 archive holds, before it is written."""

    sender: str  # 健診機関番号 (提出元機関番号)
    receiver: str  # 保険者番号, 8 digits (提出先機関番号)
    fiscal_year: int
    kind: str  # 実施区分: 1 特定健診, 2 特定保健指導
    created: dt.datetime
    split: int  # 同日分割回数
    checkups: tuple[Checkup, ...]
    guidance: tuple[Guidance, ...]
    planted: tuple[PlantedJudgement, ...] = ()

    @property
    def name(self) -> str:
        """``{提出元機関番号10}_{提出先機関番号8}_{YYYYMMDD}{同日分割回数}_{実施区分}.zip``
        (checkups-claims.md §2.2), the name the V08 writer gives it."""
        return f"{self.sender}_{self.receiver}_{self.created:%Y%m%d}{self.split}_{self.kind}.zip"


def document_name(archive: Archive | tuple[str, dt.datetime, int, str], serial: int) -> str:
    """``DATA/`` + ``h`` (checkup) or ``g`` (guidance) + 送信元 + 作成日 + 同日分割回数 + 実施区分
    + 連番 (5 digits, from 1 in each archive): the path, under the archive's root folder, that
    the V08 writer gives the document and the reader reports as ``Checkup.document``."""
    if isinstance(archive, Archive):
        sender, created, split, kind = archive.sender, archive.created, archive.split, archive.kind
    else:
        sender, created, split, kind = archive
    prefix = "h" if kind == "1" else "g"
    return f"DATA/{prefix}{sender}{created:%Y%m%d}{split}{kind}{serial:05d}.xml"


def receiver_number(number: str) -> str:
    """保険者番号 as V08 files carry it: 8 digits, a 6-digit 国保 number zero-padded."""
    return number.zfill(8)


class _Observations:
    """Builds the observations of a year's checkups column by column. Equal observations
    are one shared object (they are immutable): a large run then allocates a few thousand
    observations instead of tens of millions, and formats each value once."""

    def __init__(self, null_flavor: str) -> None:
        self.null_flavor = null_flavor
        self._cache: dict[tuple[str, str, str | None, bool, bool], Observation] = {}

    def get(
        self, code: str, kind: str, value: str | None, unit: str | None, system: str | None,
        state: int,
    ) -> Observation:  # fmt: skip
        key = (code, kind, value, state == NOT_DONE, state == NULL)
        found = self._cache.get(key)
        if found is None:
            found = Observation(
                code=code,
                kind=kind,
                value=value if state == VALUE else None,
                unit=unit,
                code_system=system,
                not_done=state == NOT_DONE,
                null_flavor=self.null_flavor if state == NULL else None,
            )
            self._cache[key] = found
        return found

    def column(
        self,
        codes: Sequence[str],
        which: Ints,
        values: npt.NDArray[np.float64] | Codes,
        state: Codes,
        *,
        unit: str | None = None,
        system: str | None = None,
        decimals: int = 0,
    ) -> list[Observation | None]:
        """One observation per element (None where the item is absent): ``codes[which]``
        holding ``values`` in PQ (with ``unit``) or, with ``system``, in CO."""
        scale = 10**decimals
        number = np.where(state == VALUE, np.nan_to_num(np.asarray(values, np.float64)), 0.0)
        # one integer key per distinct (code, state, value): build each observation once
        key = (which.astype(np.int64) * 4 + state) * 10**9 + np.round(number * scale).astype(
            np.int64
        )
        unique, inverse = np.unique(key, return_inverse=True)
        built: list[Observation | None] = []
        for k in unique.tolist():
            head, amount = divmod(k, 10**9)
            index, st = divmod(head, 4)
            if st == ABSENT:
                built.append(None)
                continue
            if system is None:
                text = f"{amount / scale:.{decimals}f}"
                built.append(self.get(codes[index], "PQ", text, unit, None, st))
            else:
                built.append(self.get(codes[index], "CO", str(amount), None, system, st))
        table = np.empty(len(built), dtype=object)
        table[:] = built
        result: list[Observation | None] = table[inverse].tolist()
        return result


def archives(sim: Simulation, *, documents: bool = True) -> Iterator[Archive]:
    """The archives of the run, one fiscal year after the other: for each year, the
    checkup archives (institution × insurer), then the guidance archives.

    Checkup archives are made on 20 April after the fiscal year; guidance archives on the
    day guidance of the year is reported (``report_month`` of the next year, or the last
    simulated day). Documents are in exam order. Without ``documents`` the archives come
    empty but with their names and planted judgements (what a run without a writer needs)."""
    d = load_distributions()
    observations = _Observations(str(d.node("quality", "null_flavor")))
    world = sim.world
    tickets: Counter[str] = Counter()
    used: set[tuple[str, str, dt.date, str]] = set()

    def split(sender: str, receiver: str, created: dt.datetime, kind: str) -> int:
        # 同日分割回数: 0, unless an archive of the same name was made already (two short
        # fiscal years reported on the same last day).
        for number in range(10):
            key = (sender, receiver, created.date(), f"{number}{kind}")
            if key not in used:
                used.add(key)
                return number
        raise ValueError(f"more than 10 archives from {sender} to {receiver} on one day")

    for year in sim.years:
        created = dt.datetime(year.fiscal_year + 1, 4, 20, 9, 0)
        report = dt.date.fromordinal(year.guidance_report)
        made = dt.datetime(report.year, report.month, report.day, 17, 0)
        rows_of = _observation_rows(sim, year, observations, d) if documents else []
        insurer = np.array(world.c_ins, dtype=np.int64)[year.cid]
        keys = year.institution * 1000 + insurer
        order = np.lexsort((year.pid, year.exam, keys))
        change = np.flatnonzero(np.diff(keys[order]) != 0) + 1
        bounds = [0, *change.tolist(), len(order)] if len(order) else [0]
        for first, last in zip(bounds[:-1], bounds[1:], strict=True):
            rows = order[first:last]
            institution = sim.institutions[int(year.institution[rows[0]])]
            receiver = receiver_number(world.ins_number[int(insurer[rows[0]])])
            number = split(institution.code, receiver, created, "1")
            head = (institution.code, created, number, "1")
            built: list[Checkup] = []
            wrong: list[PlantedJudgement] = []
            archive = Archive(institution.code, receiver, year.fiscal_year, "1", created, number,
                              (), ())  # fmt: skip
            for serial, row in enumerate(rows.tolist(), start=1):
                name = document_name(head, serial)
                wrong += _planted(year, row, archive.name, name)
                if not documents:
                    continue
                ticket = None
                if year.group[row] == KOKUHO_LIKE:
                    # 受診券整理番号 (11 digits): the fiscal year, then a serial per insurer.
                    tickets[receiver] += 1
                    ticket = f"{year.fiscal_year % 100:02d}{tickets[receiver]:09d}"
                built.append(
                    _checkup(world, year, row, name, institution.code, receiver, rows_of[row],
                             ticket)
                )  # fmt: skip
            yield Archive(
                institution.code, receiver, year.fiscal_year, "1", created, number,
                tuple(built), (), tuple(wrong),
            )  # fmt: skip
        guided = order[year.guidance_start[order] > 0]
        g_keys = keys[guided]
        for key in sorted(set(g_keys.tolist())):
            rows = guided[g_keys == key]
            institution = sim.institutions[int(year.institution[rows[0]])]
            receiver = receiver_number(world.ins_number[int(insurer[rows[0]])])
            number = split(institution.code, receiver, made, "2")
            head = (institution.code, made, number, "2")
            records = [
                _guidance_record(sim, year, row, document_name(head, serial), institution)
                for serial, row in enumerate(rows.tolist(), start=1)
                if documents
            ]
            yield Archive(
                institution.code, receiver, year.fiscal_year, "2", made, number, (),
                tuple(records),
            )  # fmt: skip


def _observation_rows(
    sim: Simulation, year: Year, obs: _Observations, d: Distributions
) -> list[tuple[Observation | None, ...]]:
    """The observations of every checkup of ``year``, in document order, built column-wise.

    Which code an item carries (its measuring method) is the institution's: fixed per
    institution, derived from its number. BP is always written as the representative value
    (9A755/9A765); some institutions add the two readings, whose mean it is."""
    drawn = year.drawn
    n = len(year.pid)
    method = np.array([int(i.code[-4:]) for i in sim.institutions], dtype=np.int64)
    method = method[year.institution] if n else np.zeros(0, dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    noise = HashedNoise(f"checkups-{sim.seed}-fy{year.fiscal_year}", year.pid)
    quality = d.node("quality")
    columns: list[list[Observation | None]] = []

    def pq(
        codes: Sequence[str],
        which: Ints,
        name: str,
        values: npt.NDArray[np.float64] | None = None,
        state: Codes | None = None,
    ) -> None:
        columns.append(
            obs.column(
                codes,
                which,
                drawn.values[name] if values is None else values,
                drawn.state[name] if state is None else state,
                unit=_UNITS[name],
                decimals=_DECIMALS.get(name, 0),
            )
        )

    def coded(codes: Sequence[str], which: Ints, values: Codes, system: str,
              state: Codes | None = None) -> None:  # fmt: skip
        present = np.zeros(n, dtype=np.int8) if state is None else state
        columns.append(obs.column(codes, which, values, present, system=system))

    pq(Items.HEIGHT, zero, "height")
    pq(Items.WEIGHT, zero, "weight")
    pq(Items.BMI, zero, "bmi")
    u = noise.uniform(Y_WAIST_METHOD)
    reported, measured = (
        float(quality["waist_self_reported"]),
        float(quality["waist_self_measured"]),
    )
    waist = np.where(u < reported, 2, np.where(u < reported + measured, 1, 0)).astype(np.int64)
    pq(Items.WAIST, waist, "waist")
    pq(Items.SBP, zero, "sbp")
    pq(Items.DBP, zero, "dbp")
    two = (method % 10) / 10 < float(quality["bp_two_readings"])
    absent = np.where(two, VALUE, ABSENT).astype(np.int8)
    delta = np.round(float(d.node("correlations", "bp_reading_sd")) * noise.normal(Y_SBP1))
    for first, second, name, shift in (
        (SBP_FIRST, SBP_SECOND, "sbp", delta),
        (DBP_FIRST, DBP_SECOND, "dbp", np.round(delta / 2)),
    ):
        pq((first,), zero, name, drawn.values[name] + shift, absent)
        pq((second,), zero, name, drawn.values[name] - shift, absent)
    fasting = drawn.timing == FASTING
    pq((*Items.TG_FASTING, *Items.TG_RANDOM), method % 3 + np.where(fasting, 0, 3), "tg")
    pq(Items.HDL, method % 3, "hdl")
    pq(Items.LDL, method % 3, "ldl")
    pq((*Items.GLUCOSE_FASTING, *Items.GLUCOSE_RANDOM), method % 4 + np.where(fasting, 0, 4),
       "glucose")  # fmt: skip
    pq(Items.HBA1C, (method // 3) % 4, "hba1c")
    pq(AST, method % 2, "ast")
    pq(ALT, method % 2, "alt")
    pq(GGT, method % 2, "ggt")
    pq(Items.CREATININE, zero, "creatinine")
    pq(Items.EGFR, zero, "egfr")
    urine = (method // 7) % 2
    coded(Items.URINE_SUGAR, urine, drawn.urine_sugar, OID_URINE, drawn.state["urine_sugar"])
    coded(Items.URINE_PROTEIN, urine, drawn.urine_protein, OID_URINE,
          drawn.state["urine_protein"])  # fmt: skip
    coded(Items.BLOOD_DRAW_TIMING, zero, drawn.timing, OID_TIMING)
    for codes, taking in (
        (Items.MEDICATION_BP, drawn.med_bp),
        (Items.MEDICATION_GLUCOSE, drawn.med_glucose),
        (Items.MEDICATION_LIPID, drawn.med_lipid),
    ):
        coded(codes, zero, np.where(taking, 1, 2).astype(np.int8), OID_YES_NO)
    coded(Items.SMOKING, zero, drawn.smoking, OID_SMOKING)
    for item in d.node("questions", "items"):
        answers = drawn.answers[str(item["code"])]
        state = np.where(answers > 0, VALUE, ABSENT).astype(np.int8)
        coded((str(item["code"]),), zero, answers, str(item["oid"]), state)
    coded(Items.METABOLIC, zero, year.reported_metabolic, OID_METABOLIC)
    coded(Items.GUIDANCE_LEVEL, zero, year.reported_level, OID_LEVEL)
    return list(zip(*columns, strict=True)) if n else []


def _checkup(
    world: World,
    year: Year,
    row: int,
    document: str,
    institution: str,
    receiver: str,
    items: tuple[Observation | None, ...],
    ticket: str | None,
) -> Checkup:
    cid, pid = int(year.cid[row]), int(year.pid[row])
    return Checkup(
        document=document,
        insurer=receiver,
        symbol=world.c_sym[cid],
        number=world.c_num[cid],
        branch=world.c_branch[cid] or None,
        sex=world.sex[pid],
        birth_date=dt.date.fromordinal(world.birth[pid]),
        exam_date=dt.date.fromordinal(int(year.exam[row])),
        institution=institution,
        observations={o.code: o for o in items if o is not None},
        ticket=ticket,
    )


def _guidance_record(
    sim: Simulation, year: Year, row: int, document: str, institution: Institution
) -> Guidance:
    world = sim.world
    cid, pid = int(year.cid[row]), int(year.pid[row])
    end = int(year.guidance_end[row])
    return Guidance(
        document=document,
        insurer=receiver_number(world.ins_number[world.c_ins[cid]]),
        symbol=world.c_sym[cid],
        number=world.c_num[cid],
        branch=world.c_branch[cid] or None,
        sex=world.sex[pid],
        birth_date=dt.date.fromordinal(world.birth[pid]),
        institution=institution.code,
        level=GuidanceLevel(int(year.judgement.level[row])),
        started_on=dt.date.fromordinal(int(year.guidance_start[row])),
        evaluated_on=dt.date.fromordinal(end) if end else None,
    )


def _planted(year: Year, row: int, archive: str, document: str) -> list[PlantedJudgement]:
    found = []
    for code, reported, expected in (
        (Items.METABOLIC[0], year.reported_metabolic, year.judgement.metabolic),
        (Items.GUIDANCE_LEVEL[0], year.reported_level, year.judgement.level),
    ):
        if reported[row] != expected[row]:
            found.append(
                PlantedJudgement(year.fiscal_year, archive, document, code, int(reported[row]),
                                 int(expected[row]))
            )  # fmt: skip
    return found


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
