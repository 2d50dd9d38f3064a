"""Who takes a specific health checkup (特定健診) in the synthetic prefecture, when, where,
what the institution reports, and who starts and completes guidance (特定保健指導).

For each fiscal year the simulation covers, the eligible members — 市町村国保 and the
employee schemes (協会けんぽ, 組合, 共済), enrolled on the first day of the year (or of the
simulation), aged 40–74 on the year's last day (年度末年齢), alive — take a checkup with a
probability shaped by sex, age and scheme and rescaled so that the expected rate among
whole-year members (the 法定報告 denominator) is the configured target. Taking it is a Markov
chain over the years; a checkup is kept only when its day falls inside the simulated period
while the person is still a member. Values and the local judgement come from
:mod:`kokuho.synth._checkups_values`.

The result is column-wise (:class:`Year`, one element per checkup); turning it into V08
documents and archives is :mod:`kokuho.synth._checkups_documents` and
:mod:`kokuho.synth._checkups_archives`, which import this module and never the reverse.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kokuho.ids import luhn_2_1
from kokuho.synth._checkups_values import (
    EARLY,
    EMPLOYEE,
    KOKUHO_LIKE,
    NOT_DONE,
    NULL,
    P_INSTITUTION,
    Y_DAY,
    Y_GUIDANCE,
    Y_GUIDANCE_COMPLETE,
    Y_GUIDANCE_EVAL_DAYS,
    Y_GUIDANCE_START_DAYS,
    Y_LEVEL_WRONG,
    Y_METABOLIC_WRONG,
    Y_MONTH,
    Y_TAKE,
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
from kokuho.synth._world import KOKUHO, KUMIAI, KYOKAI, KYOSAI, World

__all__ = ["Institution", "Simulation", "Year", "load_institutions", "simulate"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]

_SCHEMES = {KOKUHO: "kokuho", KYOKAI: "kyokai", KUMIAI: "kumiai", KYOSAI: "kyosai"}
_EPOCH = dt.date(1970, 1, 1).toordinal()
_NEVER = 1 << 40


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
