"""The values of synthetic specific health checkups (特定健診), drawn column-wise with NumPy.

Everything here works on arrays: one element per checkup. The shapes come from
``data/checkup_distributions.yaml`` (sex × 5-year age band); correlations come from a few
latent factors shared between measurements, so that a heavy person tends to have a larger
waist, higher blood pressure, triglycerides and glucose, and age raises blood pressure:

- adiposity → BMI, waist, BP, TG, HDL (−), glucose, ALT/γGT;
- blood pressure, glycaemia, lipids, LDL, liver, kidney, alcohol: each its own factor, the
  kidney factor also fed by glycaemia and blood pressure (diabetic and hypertensive
  nephropathy).

Each factor is the person's own level (fixed for life) mixed with a part that is new each
year, so a person's checkups of consecutive years resemble each other. Medication answers
(服薬) are drawn from the same factors, so treated people are those whose untreated values
would be high, and their values are then lowered by the treatment.

The noise comes through :class:`Noise`: counter-based (:class:`HashedNoise`, the same person
and year always get the same numbers whatever the order of the work) for the synthetic
prefecture, or a plain NumPy generator (:class:`GeneratorNoise`) for bulk benchmark rows.

The local judgement (:func:`judge`) is a minimal copy of the stratification (階層化) and
metabolic-syndrome (メタボ判定) rules of checkups-claims.md §1.1–1.2, written here only so
that the synth can decide who is offered guidance and what the institution reports; the
official implementation lives in ``kokuho/checkups/_stratify.py``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import yaml

from kokuho.store import data_text

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.int8]

BANDS = 7  # 40–44 … 70–74
SEXES = ("male", "female")
#: state of a measured item: a value, absent from the document, not done (negationInd),
#: or not measurable (nullFlavor)
VALUE, ABSENT, NOT_DONE, NULL = 0, 1, 2, 3
#: 採血時間(食後) 9N141 (OID 1.2.392.200119.6.2202)
FASTING, RANDOM, EARLY = 2, 3, 4
#: group of a checkup for the shares that differ: 個別健診 (国保, 被扶養者) or 事業者健診
KOKUHO_LIKE, EMPLOYEE = 0, 1

_MASK = (1 << 64) - 1
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(n) for n in (30, 27, 31, 11))
_UNIT = 1.0 / float(1 << 53)
_GAUSS = NormalDist()


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: a bijection of 64-bit words that spreads every input bit."""
    x = x + _M1
    x = (x ^ (x >> _S30)) * _M2
    x = (x ^ (x >> _S27)) * _M3
    return x ^ (x >> _S31)


def seed_key(text: str) -> int:
    """A 64-bit number from ``text``: stable across runs and machines."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class Noise(Protocol):
    """Standard normal and uniform [0, 1) numbers, one per element, by stream number."""

    def normal(self, stream: int) -> Floats: ...

    def uniform(self, stream: int) -> Floats: ...


class HashedNoise:
    """Counter-based noise: the number of (key, id, stream) is a hash of the three, so a
    person's numbers do not depend on who else is drawn or in which order."""

    def __init__(self, key: str, ids: Ints) -> None:
        self._base = _mix(ids.astype(np.uint64) ^ np.uint64(seed_key(key)))

    def uniform(self, stream: int) -> Floats:
        offset = np.uint64(((stream + 1) * 0x632BE59BD9B4E019) & _MASK)
        bits = _mix(_mix(self._base + offset))
        return (bits >> _S11).astype(np.float64) * _UNIT

    def normal(self, stream: int) -> Floats:
        # Box–Muller on two uniforms of streams no plain uniform stream uses.
        u1 = self.uniform(100_000 + 2 * stream)
        u2 = self.uniform(100_001 + 2 * stream)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * math.pi * u2)


class GeneratorNoise:
    """Noise from one NumPy generator, drawn at a stream's first use: fast, for bulk rows.
    As with :class:`HashedNoise`, asking a stream again gives the same numbers."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self._rng = rng
        self._size = size
        self._normal: dict[int, Floats] = {}
        self._uniform: dict[int, Floats] = {}

    def normal(self, stream: int) -> Floats:
        found = self._normal.get(stream)
        if found is None:
            found = self._normal[stream] = self._rng.standard_normal(self._size)
        return found

    def uniform(self, stream: int) -> Floats:
        found = self._uniform.get(stream)
        if found is None:
            found = self._uniform[stream] = self._rng.random(self._size)
        return found


# Streams of the person's lifelong numbers (P_) and of each year's new part (Y_). Each
# stream serves one purpose: two uses of one stream would tie the two together.
(P_HEIGHT, P_ADIPOSITY, P_BP, P_LIPID, P_HDL, P_LDL, P_GLYCAEMIA, P_LIVER, P_KIDNEY,
 P_ALCOHOL, P_SMOKING, P_MED_BP, P_MED_GLUCOSE, P_MED_LIPID, P_CKD, P_CKD_SEVERITY, P_SGLT2,
 P_INSTITUTION, P_PARTICIPATION, P_DIABETES) = range(20)  # fmt: skip
P_QUESTION = 100  # + item index
(Y_HEIGHT, Y_ADIPOSITY, Y_WAIST, Y_BP, Y_DBP, Y_LIPID, Y_HDL, Y_LDL, Y_GLYCAEMIA, Y_HBA1C,
 Y_ALT, Y_AST, Y_GGT, Y_KIDNEY, Y_URINE_PROTEIN, Y_URINE_SUGAR, Y_TIMING, Y_HBA1C_MEASURED,
 Y_CREATININE_MEASURED, Y_NOT_DONE, Y_NULL, Y_READINGS, Y_SBP1, Y_WAIST_METHOD,
 Y_METABOLIC_WRONG, Y_LEVEL_WRONG, Y_WRONG_VALUE, Y_TAKE, Y_MONTH, Y_DAY, Y_GUIDANCE,
 Y_GUIDANCE_COMPLETE, Y_GUIDANCE_START_DAYS, Y_GUIDANCE_EVAL_DAYS) = range(34)  # fmt: skip
Y_QUESTION = 100  # + item index


class Distributions:
    """``data/checkup_distributions.yaml`` with helpers that turn its sex × band tables into
    arrays of shape (2, 7): row 0 men, row 1 women."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._tables: dict[tuple[str, ...], Floats] = {}

    def node(self, *path: str) -> Any:
        node: Any = self.raw
        for part in path:
            node = node[part]
        return node

    def table(self, *path: str) -> Floats:
        """The sex × band table at ``path``: ``table("measures", "bmi", "mean")`` reads
        ``measures.bmi.male.mean`` and ``…female.mean``; with the leaf left out
        (``table("medication", "bp")``) the sexes hold the lists themselves."""
        cached = self._tables.get(path)
        if cached is not None:
            return cached
        rows = []
        for sex in SEXES:
            if path[-1] in SEXES:
                raise ValueError(f"checkup distributions: bad path {path}")
            parent = self.node(*path[:-1])
            value = parent[sex][path[-1]] if sex in parent else self.node(*path)[sex]
            rows.append(_band_row(value, path))
        table = np.array(rows, dtype=np.float64)
        self._tables[path] = table
        return table

    def pair(self, *path: str) -> Floats:
        """A per-sex scalar (``measures.waist.male.slope``) as an array of two."""
        node = self.node(*path[:-1])
        return np.array([float(node[sex][path[-1]]) for sex in SEXES])


def _band_row(value: Any, path: tuple[str, ...]) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)] * BANDS
    row = [float(v) for v in value]
    if len(row) != BANDS:
        raise ValueError(f"checkup distributions: {'.'.join(path)} needs {BANDS} bands")
    return row


@lru_cache(maxsize=1)
def load_distributions() -> Distributions:
    """Reads ``data/checkup_distributions.yaml`` (packaged with kokuho)."""
    text = data_text("checkup_distributions.yaml")
    raw = yaml.safe_load(text)
    if raw.get("format") != "kokuho checkup distributions 1":
        raise ValueError("checkup distributions: unknown format")
    return Distributions(raw)


def band_of(age: Ints) -> Ints:
    """The 5-year band 0 (40–44) … 6 (70–74); ages outside are clamped."""
    return np.clip((age - 40) // 5, 0, BANDS - 1).astype(np.int64)


def _upper(p: float) -> float:
    """z such that P(Z > z) = p (p clipped away from 0 and 1)."""
    return _GAUSS.inv_cdf(1.0 - min(max(p, 1e-9), 1.0 - 1e-9))


def _threshold(rates: Floats) -> Floats:
    """:func:`_upper` of every element of a small table (sex × band)."""
    return np.array([[_upper(float(p)) for p in row] for row in rates], dtype=np.float64)


def _f(values: Any) -> Floats:
    """``values`` as float64 (NumPy's stubs lose the dtype through clip and where)."""
    return np.asarray(values, dtype=np.float64)


def _rest(*weights: float) -> float:
    """The weight of a value's own noise, given the weights of its shared factors."""
    return math.sqrt(max(0.0, 1.0 - sum(w * w for w in weights)))


def _mixed(person: Floats, year: Floats, year_sd: float) -> Floats:
    return math.sqrt(1.0 - year_sd * year_sd) * person + year_sd * year


def _cuts(shares: Floats) -> Floats:
    """Cut points on the standard-normal scale of a small table of answer shares (one row
    per sex): code 1 above the first cut, code k below the last."""
    cumulative = np.cumsum(shares, axis=-1)[..., :-1]
    return np.array([[_upper(float(p)) for p in row] for row in cumulative], dtype=np.float64)


def _categories(z: Floats, cuts: Floats) -> Codes:
    """Codes 1…k of a standard-normal ``z`` (high z → code 1) given per-element cut points
    (shape (n, k − 1)): the code is one more than the number of cuts z stays below."""
    codes: Codes = (1 + (z[:, None] < cuts).sum(axis=1)).astype(np.int8)
    return codes


@dataclass
class Drawn:
    """The values of n checkups, as arrays, rounded as they are written into the file.

    ``state`` says, per measurement, whether the document carries a value (VALUE), leaves
    the item out (ABSENT), marks it not done (NOT_DONE) or not measurable (NULL); numeric
    arrays hold NaN where there is no value. ``answers`` maps a question item code to its
    answer codes (0 = not asked).
    """

    values: dict[str, Floats]
    state: dict[str, Codes]
    timing: Codes
    smoking: Codes
    med_bp: Bools
    med_glucose: Bools
    med_lipid: Bools
    urine_protein: Codes
    urine_sugar: Codes
    answers: dict[str, Codes] = field(default_factory=dict)

    def value(self, name: str) -> Floats:
        """The values of ``name``; NaN where the item has no value."""
        result: Floats = np.where(self.state[name] == VALUE, self.values[name], np.nan)
        return result


#: The numeric measurements and their rounding (decimals) as written into the file.
MEASURES: dict[str, int] = {
    "height": 1, "weight": 1, "bmi": 1, "waist": 1, "sbp": 0, "dbp": 0, "tg": 0, "hdl": 0,
    "ldl": 0, "glucose": 0, "hba1c": 1, "ast": 0, "alt": 0, "ggt": 0, "creatinine": 2,
    "egfr": 1,
}  # fmt: skip


def draw(
    d: Distributions,
    sex: Ints,
    age: Ints,
    group: Ints,
    person: Noise,
    year: Noise,
    *,
    adiposity_shift: Floats | None = None,
) -> Drawn:
    """Draws one checkup per element: ``sex`` 1/2, ``age`` in years (the band uses it as
    given; eGFR too), ``group`` KOKUHO_LIKE or EMPLOYEE (blood-drawing time, optional items).
    ``adiposity_shift`` lowers the adiposity factor (completed guidance)."""
    n = len(sex)
    s = (sex - 1).astype(np.int64)
    band = band_of(age)
    m = d.node("measures")
    w = d.node("correlations")
    female = s == 1

    def tab(*path: str) -> Floats:
        result: Floats = d.table("measures", *path)[s, band]
        return result

    # -- body ------------------------------------------------------------------------------
    height = tab("height", "mean") + tab("height", "sd") * person.normal(P_HEIGHT)
    height = height + w["height_year_cm"] * year.normal(Y_HEIGHT)
    a = _mixed(person.normal(P_ADIPOSITY), year.normal(Y_ADIPOSITY), m["bmi"]["year_sd"])
    if adiposity_shift is not None:
        a = a - adiposity_shift
    bmi_mean, bmi_sd = tab("bmi", "mean"), tab("bmi", "sd")
    log_sd = np.sqrt(np.log1p((bmi_sd / bmi_mean) ** 2))
    bmi_true = bmi_mean * np.exp(log_sd * a - log_sd * log_sd / 2)
    height = np.round(height, 1)
    weight = np.round(bmi_true * (height / 100) ** 2, 1)
    bmi = np.round(weight / (height / 100) ** 2, 1)
    slope = d.pair("measures", "waist", "slope")[s]
    waist_sd = d.pair("measures", "waist", "sd")[s]
    waist = tab("waist", "base") + slope * (bmi_true - bmi_mean)
    waist = np.round(waist + waist_sd * year.normal(Y_WAIST), 1)

    # -- medication: from the same factors as the values they treat --------------------------
    b_person = person.normal(P_BP)
    g_person = person.normal(P_GLYCAEMIA)
    c_person = person.normal(P_LDL)
    l_person = person.normal(P_LIPID)
    a_person = person.normal(P_ADIPOSITY)
    mw = w["medication"]
    on_bp = (mw["bp"]["bp"] * b_person + mw["bp"]["adiposity"] * a_person
             + _rest(*mw["bp"].values()) * person.normal(P_MED_BP))  # fmt: skip
    on_glucose = (mw["glucose"]["glycaemia"] * g_person + mw["glucose"]["adiposity"] * a_person
                  + _rest(*mw["glucose"].values()) * person.normal(P_MED_GLUCOSE))  # fmt: skip
    on_lipid = (mw["lipid"]["ldl"] * c_person + mw["lipid"]["tg"] * l_person
                + _rest(*mw["lipid"].values()) * person.normal(P_MED_LIPID))  # fmt: skip
    med_bp = on_bp > _threshold(d.table("medication", "bp"))[s, band]
    med_glucose = on_glucose > _threshold(d.table("medication", "glucose"))[s, band]
    med_lipid = on_lipid > _threshold(d.table("medication", "lipid"))[s, band]

    # -- blood pressure: adiposity and age (through the band means) -----------------------
    b = _mixed(b_person, year.normal(Y_BP), m["sbp"]["year_sd"])
    zb = w["bp_on_adiposity"] * a + _rest(w["bp_on_adiposity"]) * b
    sbp = tab("sbp", "mean") + tab("sbp", "sd") * zb - m["sbp"]["treated_drop"] * med_bp
    zd = w["dbp_on_sbp"] * zb + _rest(w["dbp_on_sbp"]) * year.normal(Y_DBP)
    dbp = tab("dbp", "mean") + tab("dbp", "sd") * zd - m["dbp"]["treated_drop"] * med_bp
    sbp = np.round(np.clip(sbp, 85.0, 240.0))
    dbp = np.round(np.clip(np.minimum(dbp, sbp - 15), 40.0, 140.0))

    # -- glycaemia: most people near the band's median, diabetics well above it ----------
    # Diabetics are those with the highest treatment propensity: the treated ones and, just
    # below them, the untreated ones (未治療), whose share the yaml gives.
    dm = m["diabetes"]
    treated_share = float(dm["treated_share"])
    diabetes_rate = np.minimum(d.table("medication", "glucose") / treated_share, 0.5)
    margin = on_glucose - _threshold(diabetes_rate)[s, band]
    diabetic = margin > 0
    g = _mixed(g_person, year.normal(Y_GLYCAEMIA), m["glucose"]["year_sd"])
    zg = w["glucose_on_adiposity"] * a + _rest(w["glucose_on_adiposity"]) * g
    excess = np.maximum(zg - 1.0, 0.0) ** 2
    glucose = tab("glucose", "median") * np.exp(
        tab("glucose", "log_sd") * zg + m["glucose"]["tail"] * excess
    )
    za1c = w["hba1c_on_glucose"] * zg + _rest(w["hba1c_on_glucose"]) * year.normal(Y_HBA1C)
    hba1c = tab("hba1c", "median") * np.exp(
        tab("hba1c", "log_sd") * za1c + m["hba1c"]["tail"] * np.maximum(za1c - 1.0, 0.0) ** 2
    )
    # A diabetic's own level (person) plus this year's control (year), independent of the
    # margin that made them diabetic: the median is the diabetics' median.
    severity = np.clip(margin, 0.0, 3.0) - 0.5
    zdm = w["diabetes_person"] * person.normal(P_DIABETES)
    zdm = zdm + w["diabetes_year"] * year.normal(Y_GLYCAEMIA)
    zdm_a1c = w["hba1c_on_glucose"] * zdm + _rest(w["hba1c_on_glucose"]) * year.normal(Y_HBA1C)
    glucose_dm = dm["glucose_median"] * np.exp(
        dm["glucose_log_sd"] * (dm["severity"] * severity + zdm)
    )
    hba1c_dm = dm["hba1c_median"] * np.exp(
        dm["hba1c_log_sd"] * (dm["severity"] * severity + zdm_a1c)
    )
    treated = np.where(med_glucose, dm["treated_factor"], 1.0)
    glucose = np.where(diabetic, glucose_dm * treated, glucose)
    hba1c = np.where(diabetic, hba1c_dm * treated, hba1c)
    hba1c = np.round(np.clip(hba1c, 4.0, 14.0), 1)

    # -- lipids -------------------------------------------------------------------------------
    lipid = _mixed(l_person, year.normal(Y_LIPID), m["tg"]["year_sd"])
    ztg_w = (w["tg_on_adiposity"], w["tg_on_glucose"])
    ztg = ztg_w[0] * a + ztg_w[1] * zg + _rest(*ztg_w) * lipid
    tg_fasting = tab("tg", "median") * np.exp(tab("tg", "log_sd") * ztg)
    h = _mixed(person.normal(P_HDL), year.normal(Y_HDL), m["hdl"]["year_sd"])
    zh_w = (w["hdl_on_adiposity"], w["hdl_on_tg"])
    zh = zh_w[0] * a + zh_w[1] * lipid + _rest(*zh_w) * h
    hdl = _f(np.round(np.clip(tab("hdl", "mean") * np.exp(tab("hdl", "cv") * zh), 15.0, 150.0)))
    c = _mixed(c_person, year.normal(Y_LDL), m["ldl"]["year_sd"])
    zl = w["ldl_on_adiposity"] * a + _rest(w["ldl_on_adiposity"]) * c
    ldl = tab("ldl", "mean") + tab("ldl", "sd") * zl
    ldl = _f(ldl * np.where(med_lipid, float(m["ldl"]["treated_factor"]), 1.0))
    ldl = _f(np.round(np.clip(ldl, 25.0, 400.0)))

    # -- blood-drawing time decides which TG and glucose codes are written --------------------
    t = d.node("timing")
    shares = np.array([t["kokuho"], t["employee"]], dtype=np.float64)[group]
    u = year.uniform(Y_TIMING)
    timing = np.where(
        u < shares[:, 0], FASTING, np.where(u < shares[:, 0] + shares[:, 1], RANDOM, EARLY)
    ).astype(np.int8)
    tg_factor = np.where(
        timing == FASTING,
        1.0,
        np.where(timing == RANDOM, t["random_tg_factor"], t["early_tg_factor"]),
    )
    tg = _f(np.round(np.clip(tg_fasting * tg_factor, 20.0, 3000.0)))
    glucose_factor = np.where(
        timing == FASTING,
        1.0,
        np.where(timing == RANDOM, t["random_glucose_factor"], t["early_glucose_factor"]),
    )
    glucose_true = glucose
    glucose = np.round(np.clip(glucose * glucose_factor, 50.0, 600.0))

    # -- liver ----------------------------------------------------------------------------------
    liver = person.normal(P_LIVER)
    alcohol = person.normal(P_ALCOHOL)
    factors = {"adiposity": a, "liver": liver, "alcohol": alcohol}

    def enzyme(name: str, stream: int) -> Floats:
        weights: dict[str, float] = w[name]
        z = _rest(*weights.values()) * year.normal(stream)
        for factor, weight in weights.items():
            z = z + weight * factors[factor]
        result: Floats = tab(name, "median") * np.exp(tab(name, "log_sd") * z)
        return result

    alt, ast, ggt = enzyme("alt", Y_ALT), enzyme("ast", Y_AST), enzyme("ggt", Y_GGT)
    alt, ast, ggt = (_f(np.round(np.clip(x, 3.0, 1500.0))) for x in (alt, ast, ggt))

    # -- kidney: creatinine, eGFR, urine --------------------------------------------------------
    k = _mixed(person.normal(P_KIDNEY), year.normal(Y_KIDNEY), m["creatinine"]["year_sd"])
    kw = w["kidney"]
    zk = kw["glycaemia"] * zg + kw["bp"] * zb + _rest(*kw.values()) * k + dm["kidney"] * diabetic
    creatinine = tab("creatinine", "median") * np.exp(tab("creatinine", "log_sd") * zk)
    ckd_share = np.array(m["creatinine"]["ckd_share"], dtype=np.float64)[band]
    ckd = person.uniform(P_CKD) < ckd_share
    low, high = m["creatinine"]["ckd_log_factor"]
    severity = low + (high - low) * person.uniform(P_CKD_SEVERITY)
    creatinine = creatinine * np.exp(np.where(ckd, severity, 0.0))
    creatinine = np.round(np.clip(creatinine, 0.2, 15.0), 2)
    egfr = 194.0 * creatinine**-1.094 * np.maximum(age, 18).astype(np.float64) ** -0.287
    egfr = np.round(egfr * np.where(female, 0.739, 1.0), 1)

    up = m["urine_protein"]
    uw = w["urine_protein"]
    own = _rest(uw["kidney"], uw["glycaemia"], uw["bp"]) * year.normal(Y_URINE_PROTEIN)
    zu = (
        uw["kidney"] * zk + uw["glycaemia"] * zg + uw["bp"] * zb + own
        + up["age_shift"] * band + uw["ckd"] * ckd + dm["urine_protein"] * diabetic
    )  # fmt: skip
    # code 1 (−) for the lowest zu … 5 (3+) for the highest
    cuts = _cuts(np.array([up["shares"]], dtype=np.float64))
    urine_protein = _categories(-zu, cuts[np.zeros(n, dtype=np.int64)])
    us = m["urine_sugar"]
    spill = 1.0 / (1.0 + np.exp(-(glucose_true * 1.0 - us["threshold"]) / us["width"]))
    u_sugar = year.uniform(Y_URINE_SUGAR)
    sglt2 = med_glucose & (person.uniform(P_SGLT2) < us["sglt2_share"])
    positive = (u_sugar < spill) | (u_sugar > 1.0 - us["background"]) | sglt2
    step = float(w["urine_sugar_step"])
    strength = np.clip(2 + np.floor((glucose_true - us["threshold"]) / step), 2, 5)
    urine_sugar = np.where(positive, np.where(sglt2, 5, strength), 1).astype(np.int8)

    # -- smoking --------------------------------------------------------------------------------
    current = d.table("smoking", "current")[s, band]
    former = d.table("smoking", "former")[s, band]
    us_ = person.uniform(P_SMOKING)
    smoking = np.where(us_ < current, 1, np.where(us_ < current + former, 2, 3)).astype(np.int8)

    values: dict[str, Floats] = {
        "height": height, "weight": weight, "bmi": bmi, "waist": waist, "sbp": sbp,
        "dbp": dbp, "tg": tg, "hdl": hdl, "ldl": ldl, "glucose": glucose, "hba1c": hba1c,
        "ast": ast, "alt": alt, "ggt": ggt, "creatinine": creatinine, "egfr": egfr,
    }  # fmt: skip
    state = {
        name: np.zeros(n, dtype=np.int8) for name in (*MEASURES, "urine_protein", "urine_sugar")
    }
    _quality(d, state, values, sex, age, group, timing, year)
    drawn = Drawn(
        values=values,
        state=state,
        timing=timing,
        smoking=smoking,
        med_bp=med_bp,
        med_glucose=med_glucose,
        med_lipid=med_lipid,
        urine_protein=urine_protein,
        urine_sugar=urine_sugar,
    )
    drawn.answers = _answers(d, s, age, a_person, alcohol, person, year)
    return drawn


def _quality(
    d: Distributions,
    state: dict[str, Codes],
    values: dict[str, Floats],
    sex: Ints,
    age: Ints,
    group: Ints,
    timing: Codes,
    year: Noise,
) -> None:
    """Optional items left out, items not done and values not measurable.

    None of them touches an item the stratification needs (waist, BMI, BP, TG, HDL and the
    glucose item it uses), so the level is always determinable and the institution's
    judgement is wrong only where it was planted so.
    """
    q = d.node("quality")
    n = len(sex)
    kokuho = group == KOKUHO_LIKE
    creatinine_share = np.where(
        kokuho, q["creatinine_measured"]["kokuho"], q["creatinine_measured"]["employee"]
    )
    state["creatinine"][year.uniform(Y_CREATININE_MEASURED) >= creatinine_share] = ABSENT
    state["egfr"][state["creatinine"] == ABSENT] = ABSENT
    hba1c_share = np.where(
        kokuho,
        q["hba1c_measured_when_fasting"]["kokuho"],
        q["hba1c_measured_when_fasting"]["employee"],
    )
    skip_hba1c = (timing == FASTING) & (year.uniform(Y_HBA1C_MEASURED) >= hba1c_share)
    state["hba1c"][skip_hba1c] = ABSENT

    u = year.uniform(Y_NOT_DONE)
    menstruating = (sex == 2) & (age < 60)
    urine_rate = np.where(menstruating, q["urine_not_done_women_40_59"], q["urine_not_done_other"])
    urine = u < urine_rate
    state["urine_protein"][urine] = NOT_DONE
    state["urine_sugar"][urine] = NOT_DONE
    # Other misses use slices of the same uniform above the urine share, so that each
    # document misses at most one group of items (as when a tube was lost).
    edge = float(np.max(urine_rate)) if n else 0.0
    bands = (
        ("ldl", q["ldl_not_done"]),
        ("liver", q["liver_not_done"]),
        ("creatinine", q["creatinine_not_done"]),
    )
    for name, rate in bands:
        hit = (u >= edge) & (u < edge + rate)
        edge += rate
        targets = ("ast", "alt", "ggt") if name == "liver" else (name,)
        for target in targets:
            state[target][hit & (state[target] == VALUE)] = NOT_DONE
        if name == "creatinine":
            state["egfr"][hit & (state["egfr"] == VALUE)] = NOT_DONE
    hit = (u >= edge) & (u < edge + q["hba1c_not_done_when_fasting"]) & (timing == FASTING)
    state["hba1c"][hit & (state["hba1c"] == VALUE)] = NOT_DONE

    v = year.uniform(Y_NULL)
    ldl_null = (values["tg"] >= 400) & (v < q["ldl_null_when_tg_400"])
    state["ldl"][ldl_null & (state["ldl"] == VALUE)] = NULL
    rare = v > 1.0 - q["null_other"] * 4
    pick = np.floor((1.0 - v) / q["null_other"]).astype(np.int64)  # 0..3 within the tail
    for index, target in enumerate(("creatinine", "ast", "alt", "ggt")):
        chosen = rare & (pick == index) & (state[target] == VALUE)
        state[target][chosen] = NULL
        if target == "creatinine":
            state["egfr"][chosen & (state["egfr"] == VALUE)] = NULL
    for name in MEASURES:
        values[name] = np.where(state[name] == VALUE, values[name], np.nan)


def _answers(
    d: Distributions,
    s: Ints,
    age: Ints,
    adiposity: Floats,
    alcohol: Floats,
    person: Noise,
    year: Noise,
) -> dict[str, Codes]:
    """Answers of the 標準的な質問票 items in the distributions file, mostly stable from
    year to year (80 % of each answer's own noise is the person's)."""
    answers: dict[str, Codes] = {}
    links = {
        "adiposity": adiposity,
        "alcohol": alcohol,
        "age": (age.astype(np.float64) - 57.0) / 10.0,
    }
    drinks: Bools | None = None
    for index, item in enumerate(d.node("questions", "items")):
        own = d.node("correlations", "answers_person") * person.normal(P_QUESTION + index)
        own = own + d.node("correlations", "answers_year") * year.normal(Y_QUESTION + index)
        rho = float(item["rho"])
        link = links.get(str(item["link"]))
        z = own if link is None or rho == 0 else rho * link + math.sqrt(1 - rho * rho) * own
        cuts = _cuts(np.array([item["male"], item["female"]], dtype=np.float64))
        codes = _categories(z, cuts[s])
        if item.get("drinkers_only") and drinks is not None:
            codes = np.where(drinks, codes, 0).astype(np.int8)
        if str(item["code"]).startswith("9N786"):
            drinks = codes <= 6  # 7 やめた, 8 飲まない are not asked the amount
        answers[str(item["code"])] = codes
    return answers


# -- the local judgement ----------------------------------------------------------------------
@dataclass(frozen=True)
class Judgement:
    """メタボ判定 (1 基準該当, 2 予備群, 3 非該当) and 保健指導レベル (1 積極的, 2 動機付け,
    3 なし) of each checkup, by the synth's local rule."""

    metabolic: Codes
    level: Codes


def judge(drawn: Drawn, sex: Ints, age_at_year_end: Ints, fiscal_year: int) -> Judgement:
    """The minimal stratification (階層化) of checkups-claims.md §1.1 and メタボ判定 of §1.2,
    with the choices ``checkups/_stratify.py`` and ``checkups/_metabolic.py`` make.

    階層化: glucose by fasting glucose, else HbA1c, else random glucose drawn 3.5–10 h after
    a meal; TG fasting ≥150, or from FY2024 (第4期) random ≥175 drawn 3.5–10 h after a meal;
    people on any of the three medications are not offered guidance (level 3); at 65–74 on
    the fiscal year's last day 積極的支援 becomes 動機付け支援.
    メタボ判定: glucose by fasting ≥110, else random (3.5–10 h) ≥110, else HbA1c ≥6.0; TG by
    the fasting value only; a medication meets its factor.

    The official implementation is ``kokuho/checkups/_stratify.py``; this copy only decides
    whom the synth offers guidance and what the institution writes into the file. It relies
    on the synth never leaving out an item the rules need (waist, BMI, BP, HDL, TG, glucose).
    """
    v = drawn.value
    waist, bmi, sbp, dbp = v("waist"), v("bmi"), v("sbp"), v("dbp")
    tg, hdl, glucose, hba1c = v("tg"), v("hdl"), v("glucose"), v("hba1c")
    timing = drawn.timing
    fasting, random = timing == FASTING, timing == RANDOM
    visceral = np.where(sex == 1, waist >= 85, waist >= 90)
    bmi_only = ~visceral & (bmi >= 25)
    has_a1c = ~np.isnan(hba1c)

    bp = (sbp >= 130) | (dbp >= 85)
    tg_fasting = fasting & (tg >= 150)
    tg_risk = tg_fasting | (random & (tg >= 175) & (fiscal_year >= 2024))
    lipid = tg_risk | (hdl < 40)
    glucose_risk = np.where(
        fasting, glucose >= 100, np.where(has_a1c, hba1c >= 5.6, random & (glucose >= 100))
    )
    base = bp.astype(np.int64) + lipid + glucose_risk
    risks = base + ((drawn.smoking == 1) & (base > 0))
    level = np.full(len(sex), 3, dtype=np.int8)
    level[visceral & (risks >= 2)] = 1
    level[visceral & (risks == 1)] = 2
    level[bmi_only & (risks >= 3)] = 1
    level[bmi_only & (risks >= 1) & (risks <= 2)] = 2
    level[(level == 1) & (age_at_year_end >= 65)] = 2
    level[drawn.med_bp | drawn.med_glucose | drawn.med_lipid] = 3

    meta_glucose = (
        np.where(fasting | random, glucose >= 110, has_a1c & (hba1c >= 6.0)) | drawn.med_glucose
    )
    meta_lipid = tg_fasting | (hdl < 40) | drawn.med_lipid
    meta_bp = bp | drawn.med_bp
    count = meta_glucose.astype(np.int64) + meta_lipid + meta_bp
    metabolic = np.full(len(sex), 3, dtype=np.int8)
    metabolic[visceral & (count >= 2)] = 1
    metabolic[visceral & (count == 1)] = 2
    return Judgement(metabolic=metabolic, level=level)
