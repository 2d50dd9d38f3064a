"""The content of the V08 documents of the synthetic checkups: the observations of each
checkup (item codes, units, value sets, the institution's measuring method) and the
:class:`~kokuho.checkups.Checkup` and :class:`~kokuho.checkups.Guidance` records the V08
writer turns into CDA XML.

It reads the column-wise simulation of :mod:`kokuho.synth._checkups_schedule`; the grouping
into archives and their names is :mod:`kokuho.synth._checkups_archives`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from kokuho.checkups import Checkup, Guidance, GuidanceLevel, Items, Observation
from kokuho.synth._checkups_schedule import Institution, Simulation, Year
from kokuho.synth._checkups_values import (
    ABSENT,
    FASTING,
    NOT_DONE,
    NULL,
    VALUE,
    Y_SBP1,
    Y_WAIST_METHOD,
    Distributions,
    HashedNoise,
)
from kokuho.synth._world import World

__all__ = [
    "ALT", "AST", "DBP_FIRST", "DBP_SECOND", "GGT", "OID_LEVEL", "OID_METABOLIC", "OID_SMOKING",
    "OID_TIMING", "OID_URINE", "OID_YES_NO", "SBP_FIRST", "SBP_SECOND", "Observations",
    "build_checkup", "build_guidance", "observation_rows", "receiver_number",
]  # fmt: skip

Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int8]

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


def receiver_number(number: str) -> str:
    """保険者番号 as V08 files carry it: 8 digits, a 6-digit 国保 number zero-padded."""
    return number.zfill(8)


class Observations:
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


def observation_rows(
    sim: Simulation, year: Year, obs: Observations, d: Distributions
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


def build_checkup(
    world: World,
    year: Year,
    row: int,
    document: str,
    institution: str,
    receiver: str,
    items: tuple[Observation | None, ...],
    ticket: str | None,
) -> Checkup:
    """The 特定健診 record of checkup ``row`` of ``year``, with its prepared observations."""
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


def build_guidance(
    sim: Simulation, year: Year, row: int, document: str, institution: Institution
) -> Guidance:
    """The 特定保健指導 record of checkup ``row`` of ``year`` (its guidance started)."""
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
