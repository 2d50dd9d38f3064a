"""The people of the synthetic prefecture as their claims see them.

- **Conditions.** Hypertension, diabetes and dyslipidaemia under treatment come from the
  same latent treatment propensities as the checkups' 服薬 answers (``draw`` in
  ``_checkups_values``: the person's own numbers of the ``checkups-{seed}-person`` stream,
  compared with the threshold of their sex and 5-year band), so a person whose checkup says
  服薬 はい is the person with the visits and drugs here. Diabetics not on medication are
  untreated (未治療); some of them were treated until an early month and stopped (中断).
- **Coverage.** The tuple (保険者番号・記号・番号・枝番) of a claim is the person's coverage
  valid on the day of service; when two are open (a planted 資格重複) the newer one.
- **Where they go.** A home clinic (or hospital) in the municipality they live in, and a
  pharmacy near the prescriber; both stay the same while the person stays.

Person-level numbers are counter-based (``claims-{seed}-person``), so nothing here touches
the world's random stream.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kokuho.synth._checkups_values import (
    P_ADIPOSITY,
    P_BP,
    P_GLYCAEMIA,
    P_LDL,
    P_LIPID,
    P_MED_BP,
    P_MED_GLUCOSE,
    P_MED_LIPID,
    HashedNoise,
    band_of,
    load_distributions,
    rest_weight,
    seed_key,
    threshold,
)
from kokuho.synth._claims_config import Config
from kokuho.synth._world import KOKI, KOKUHO, World

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
NEVER = 1 << 40
_EPOCH = dt.date(1970, 1, 1).toordinal()
CLINIC, HOSPITAL, PHARMACY = "clinic", "hospital", "pharmacy"
# person streams of claims-{seed}-person (other chronic condition k: U_OTHER + k, and the
# clinic it is seen at: U_SPECIALIST + k)
(U_ONSET, U_INTERVAL, U_PHASE, U_HOME, U_HOME_HOSPITAL, U_PHARMACY, U_INTERRUPT,
 U_INTERRUPT_MONTH, U_SINCE, U_PHARMACY_AWAY) = range(10)  # fmt: skip
U_OTHER, U_SPECIALIST = 100, 200


@dataclass(frozen=True, slots=True)
class Facility:
    """A 保険医療機関 or 保険薬局 of ``institutions.csv``."""

    code10: str  # 都道府県 2 + 点数表 1 + 医療機関コード 7
    name: str
    municipality: int
    kind: str  # clinic, hospital, pharmacy
    outside: bool  # writes 処方箋 (院外処方); pharmacies: False

    @property
    def code(self) -> str:
        """医療機関コード / 薬局コード (7 digits) as レセ電 IR/YK and RE carry it."""
        return self.code10[3:]

    @property
    def prefecture(self) -> str:
        return self.code10[:2]

    @property
    def fee_table(self) -> str:
        return self.code10[2]


class Facilities:
    """The active clinics, hospitals and pharmacies, by municipality."""

    def __init__(self, items: list[Facility], municipalities: int) -> None:
        self.items = items
        self.medical = [n for n, f in enumerate(items) if f.kind != PHARMACY]
        self.hospitals = [n for n, f in enumerate(items) if f.kind == HOSPITAL]
        self.by_kind: dict[tuple[str, int], list[int]] = {}
        for n, f in enumerate(items):
            self.by_kind.setdefault((f.kind, f.municipality), []).append(n)
        self._fallback = {
            kind: [n for n, f in enumerate(items) if f.kind == kind]
            for kind in (CLINIC, HOSPITAL, PHARMACY)
        }
        self.municipalities = municipalities

    def pick(self, kind: str, municipality: int, u: float) -> int:
        """The facility of ``kind`` in ``municipality`` at uniform ``u`` (anywhere in the
        prefecture when the municipality has none)."""
        found = self.by_kind.get((kind, municipality)) or self._fallback[kind]
        return found[min(int(u * len(found)), len(found) - 1)]


def load_facilities(path: Path, municipalities: int, cfg: Config, seed: int) -> Facilities:
    """The active 医科 institutions (点数表 1) and pharmacies (点数表 4) of
    ``institutions.csv``; whether each 医科 one writes 処方箋 is drawn per institution."""
    items: list[Facility] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["institution_code"]
            if row["status"] != "active" or code[2] not in "14":
                continue
            district = min(max(int(code[3:5]) - 1, 0), municipalities - 1)
            if code[2] == "4":
                kind = PHARMACY
            else:
                kind = HOSPITAL if row["name"].endswith("病院") else CLINIC
            u = random.Random(f"claims-{seed}-{code}").random()
            share = {CLINIC: cfg.clinic_outside, HOSPITAL: cfg.hospital_outside}.get(kind, 0.0)
            items.append(Facility(code, row["name"], district, kind, u < share))
    return Facilities(items, municipalities)


class People:
    """Per-person arrays of the world (birth, death, sex), their treatment propensities,
    their own uniform numbers, and their coverages in time order."""

    def __init__(self, world: World, seed: int, cfg: Config) -> None:
        self.world = world
        n = len(world.birth)
        self.n = n
        self.birth = np.array(world.birth, dtype=np.int64)
        death = np.array(world.death, dtype=np.int64)
        self.death = np.where(death == 0, NEVER, death)
        self.sex = np.array(world.sex, dtype=np.int64)
        self.born_year, self.born_md = _year_and_day(self.birth)
        pids = np.arange(n, dtype=np.int64)
        d = load_distributions()
        # The checkups' own person numbers: the same propensities as their 服薬 answers.
        person = HashedNoise(f"checkups-{seed}-person", pids)
        mw = d.node("correlations", "medication")
        a = person.normal(P_ADIPOSITY)
        self.z_bp = (mw["bp"]["bp"] * person.normal(P_BP) + mw["bp"]["adiposity"] * a
                     + rest_weight(*mw["bp"].values()) * person.normal(P_MED_BP))  # fmt: skip
        self.z_glucose = (
            mw["glucose"]["glycaemia"] * person.normal(P_GLYCAEMIA)
            + mw["glucose"]["adiposity"] * a
            + rest_weight(*mw["glucose"].values()) * person.normal(P_MED_GLUCOSE)
        )
        self.z_lipid = (
            mw["lipid"]["ldl"] * person.normal(P_LDL) + mw["lipid"]["tg"] * person.normal(P_LIPID)
            + rest_weight(*mw["lipid"].values()) * person.normal(P_MED_LIPID)
        )  # fmt: skip
        treated_share = float(d.node("measures", "diabetes", "treated_share"))
        self.t_bp = threshold(d.table("medication", "bp"))
        self.t_glucose = threshold(d.table("medication", "glucose"))
        self.t_diabetes = threshold(np.minimum(d.table("medication", "glucose") / treated_share,
                                                0.5))  # fmt: skip
        self.t_lipid = threshold(d.table("medication", "lipid"))
        own = HashedNoise(f"claims-{seed}-person", pids)
        self.u = [own.uniform(stream).tolist() for stream in range(10)]
        self.onset = own.uniform(U_ONSET)
        others = range(len(cfg.other_chronic))
        self.u_other = np.stack([own.uniform(U_OTHER + k) for k in others], axis=1)
        self.u_specialist = [own.uniform(U_SPECIALIST + k).tolist() for k in others]
        self.other_share = np.array([c.share for c in cfg.other_chronic], dtype=np.float64).T
        self.other_sex = np.array([c.sex for c in cfg.other_chronic], dtype=np.int64)
        self.ages_table = np.array(cfg.ages, dtype=np.int64)
        self.key = seed_key(f"claims-{seed}")

        # coverages of each person, in the order they began
        self.coverages: list[list[int]] = [[] for _ in range(n)]
        for cid, pid in enumerate(world.c_pid):
            self.coverages[pid].append(cid)
        self.municipalities = len(world.prefecture.municipalities)
        kinds = np.array(world.ins_kind, dtype=np.int64)[np.array(world.c_ins, dtype=np.int64)]
        self.kokuhoren_only = cfg.kokuhoren_only
        self.c_included = (
            np.isin(kinds, (KOKUHO, KOKI)) if cfg.kokuhoren_only else np.ones(len(kinds), bool)
        )
        self.c_pid = np.array(world.c_pid, dtype=np.int64)
        self.c_acquired = np.array(world.c_acquired, dtype=np.int64)
        lost = np.array(world.c_lost, dtype=np.int64)
        self.c_lost = np.where(lost == 0, NEVER, lost)

        # 治療中断: untreated diabetics at the start who were treated until an early month
        start = world.start
        alive = (self.birth <= start) & (self.death > start)
        _, dm_treated, diabetic, _ = self.conditions(start, pids)
        u_int = own.uniform(U_INTERRUPT)
        self.interrupters = alive & diabetic & ~dm_treated & (u_int < cfg.interrupted_share)
        low, high = cfg.interrupted_last_month
        month = low + np.floor(own.uniform(U_INTERRUPT_MONTH) * (high - low + 1))
        self.treated_months = np.where(self.interrupters, month.astype(np.int64), 0)

    # -- conditions -------------------------------------------------------------------------------
    def ages(self, day: int | Ints, pids: Ints) -> Ints:
        """Age in whole years on ``day`` (one day, or one per person), reached on the
        birthday, as the checkups count it."""
        year, md = _year_and_day(np.asarray(day, dtype=np.int64))
        born_year, born_md = self.born_year[pids], self.born_md[pids]
        ages: Ints = year - born_year - (md < born_md)
        return ages

    def conditions(self, day: int | Ints, pids: Ints) -> tuple[Bools, Bools, Bools, Bools]:
        """On ``day`` (one day, or one per person): (hypertension treated, diabetes treated,
        diabetic, dyslipidaemia treated) of ``pids``, by the checkups' thresholds for their
        sex and 5-year band."""
        age = self.ages(day, pids)
        s = self.sex[pids] - 1
        band = band_of(age)
        # Under 40 (no checkup) a condition begins between 25 and 40.
        grown = (age >= 40) | (self.onset[pids] < (age - 25) / 15.0)
        bp = grown & (self.z_bp[pids] > self.t_bp[s, band])
        treated = grown & (self.z_glucose[pids] > self.t_glucose[s, band])
        diabetic = grown & (self.z_glucose[pids] > self.t_diabetes[s, band])
        lipid = grown & (self.z_lipid[pids] > self.t_lipid[s, band])
        return bp, treated, diabetic, lipid

    def other_chronic(self, day: int, pids: Ints) -> Bools:
        """Which of the other chronic conditions each person has (one column each; a share
        that rises with age, so once begun a condition stays)."""
        age = self.ages(day, pids)
        band = np.clip(np.searchsorted(self.ages_table, age, side="right") - 1, 0, None)
        sex_ok = (self.other_sex == 0) | (self.other_sex == self.sex[pids][:, None])
        result: Bools = (self.u_other[pids] < self.other_share[band]) & sex_ok
        return result

    def u_array(self, stream: int, pids: Ints) -> npt.NDArray[np.float64]:
        return np.asarray(self.u[stream], dtype=np.float64)[pids]

    def covered(self, first: int, last: int) -> Ints:
        """The persons with a coverage whose claims are written, valid on a day of
        [first, last]."""
        valid = self.c_included & (self.c_acquired <= last) & (self.c_lost > first)
        found: Ints = np.unique(self.c_pid[valid])
        return found

    def included(self, cid: int) -> bool:
        """Whether claims of the coverage are written (``period.insurers``)."""
        return cid >= 0 and bool(self.c_included[cid])

    # -- coverage and place -----------------------------------------------------------------------
    def coverage(self, pid: int, day: int) -> int:
        """The coverage valid on ``day`` (the newest when two are), or -1."""
        w = self.world
        found = -1
        for cid in self.coverages[pid]:
            lost = w.c_lost[cid]
            valid = w.c_acquired[cid] <= day and (lost == 0 or day < lost)
            if valid and (found < 0 or w.c_acquired[cid] >= w.c_acquired[found]):
                found = cid
        return found

    def municipality(self, pid: int, day: int) -> int:
        """Where the person lives on ``day``: the municipality of a 国保 coverage, else the
        household's (the world keeps only the last address of other members)."""
        w = self.world
        cid = self.coverage(pid, day)
        if cid >= 0 and w.ins_kind[w.c_ins[cid]] == KOKUHO:
            return w.c_ins[cid]  # the 国保 insurers come first, in municipality order
        return w.h_muni[w.hh[pid]]

    def rng(self, pid: int, *parts: int) -> random.Random:
        """A generator of its own for one person and purpose (order-independent)."""
        key = self.key ^ (pid * 0x9E3779B97F4A7C15)
        for part in parts:
            key = (key * 1_000_003 + part) & ((1 << 64) - 1)
        return random.Random(key)


def _year_and_day(ordinals: Ints) -> tuple[Ints, Ints]:
    """Year and month × 100 + day of ordinal days."""
    dates = (ordinals - _EPOCH).astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    year: Ints = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    md: Ints = (months.astype(np.int64) % 12 + 1) * 100 + (dates - months).astype(np.int64) + 1
    return year, md


def iso_month(day: int) -> str:
    date = dt.date.fromordinal(day)
    return f"{date.year:04d}-{date.month:02d}"
