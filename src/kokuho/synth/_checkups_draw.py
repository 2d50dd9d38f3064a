"""The values of synthetic checkups, drawn column-wise from shared latent factors.

Adiposity, blood pressure, glycaemia, lipids, LDL, liver, kidney and alcohol factors, each
the person's own level mixed with this year's part; medication from the same factors, and
the treated values lowered. The items left out and the questionnaire answers come from
:mod:`kokuho.synth._checkups_quality` and :mod:`kokuho.synth._checkups_answers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kokuho.synth._checkups_answers import draw_answers
from kokuho.synth._checkups_codes import (
    EARLY,
    FASTING,
    MEASURES,
    RANDOM,
    VALUE,
    Bools,
    Codes,
    Floats,
    Ints,
)
from kokuho.synth._checkups_distributions import (
    Distributions,
    as_floats,
    band_of,
    categories,
    cut_points,
    mixed_noise,
    rest_weight,
    threshold,
)
from kokuho.synth._checkups_noise import (
    P_ADIPOSITY,
    P_ALCOHOL,
    P_BP,
    P_CKD,
    P_CKD_SEVERITY,
    P_DIABETES,
    P_GLYCAEMIA,
    P_HDL,
    P_HEIGHT,
    P_KIDNEY,
    P_LDL,
    P_LIPID,
    P_LIVER,
    P_MED_BP,
    P_MED_GLUCOSE,
    P_MED_LIPID,
    P_SGLT2,
    P_SMOKING,
    Y_ADIPOSITY,
    Y_ALT,
    Y_AST,
    Y_BP,
    Y_DBP,
    Y_GGT,
    Y_GLYCAEMIA,
    Y_HBA1C,
    Y_HDL,
    Y_HEIGHT,
    Y_KIDNEY,
    Y_LDL,
    Y_LIPID,
    Y_TIMING,
    Y_URINE_PROTEIN,
    Y_URINE_SUGAR,
    Y_WAIST,
    Noise,
)
from kokuho.synth._checkups_quality import quality


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
    a = mixed_noise(person.normal(P_ADIPOSITY), year.normal(Y_ADIPOSITY), m["bmi"]["year_sd"])
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
             + rest_weight(*mw["bp"].values()) * person.normal(P_MED_BP))  # fmt: skip
    on_glucose = (mw["glucose"]["glycaemia"] * g_person + mw["glucose"]["adiposity"] * a_person
                  + rest_weight(*mw["glucose"].values())
                  * person.normal(P_MED_GLUCOSE))  # fmt: skip
    on_lipid = (mw["lipid"]["ldl"] * c_person + mw["lipid"]["tg"] * l_person
                + rest_weight(*mw["lipid"].values()) * person.normal(P_MED_LIPID))  # fmt: skip
    med_bp = on_bp > threshold(d.table("medication", "bp"))[s, band]
    med_glucose = on_glucose > threshold(d.table("medication", "glucose"))[s, band]
    med_lipid = on_lipid > threshold(d.table("medication", "lipid"))[s, band]

    # -- blood pressure: adiposity and age (through the band means) -----------------------
    b = mixed_noise(b_person, year.normal(Y_BP), m["sbp"]["year_sd"])
    zb = w["bp_on_adiposity"] * a + rest_weight(w["bp_on_adiposity"]) * b
    sbp = tab("sbp", "mean") + tab("sbp", "sd") * zb - m["sbp"]["treated_drop"] * med_bp
    zd = w["dbp_on_sbp"] * zb + rest_weight(w["dbp_on_sbp"]) * year.normal(Y_DBP)
    dbp = tab("dbp", "mean") + tab("dbp", "sd") * zd - m["dbp"]["treated_drop"] * med_bp
    sbp = np.round(np.clip(sbp, 85.0, 240.0))
    dbp = np.round(np.clip(np.minimum(dbp, sbp - 15), 40.0, 140.0))

    # -- glycaemia: most people near the band's median, diabetics well above it ----------
    # Diabetics are those with the highest treatment propensity: the treated ones and, just
    # below them, the untreated ones (未治療), whose share the yaml gives.
    dm = m["diabetes"]
    treated_share = float(dm["treated_share"])
    diabetes_rate = np.minimum(d.table("medication", "glucose") / treated_share, 0.5)
    margin = on_glucose - threshold(diabetes_rate)[s, band]
    diabetic = margin > 0
    g = mixed_noise(g_person, year.normal(Y_GLYCAEMIA), m["glucose"]["year_sd"])
    zg = w["glucose_on_adiposity"] * a + rest_weight(w["glucose_on_adiposity"]) * g
    excess = np.maximum(zg - 1.0, 0.0) ** 2
    glucose = tab("glucose", "median") * np.exp(
        tab("glucose", "log_sd") * zg + m["glucose"]["tail"] * excess
    )
    za1c = w["hba1c_on_glucose"] * zg + rest_weight(w["hba1c_on_glucose"]) * year.normal(Y_HBA1C)
    hba1c = tab("hba1c", "median") * np.exp(
        tab("hba1c", "log_sd") * za1c + m["hba1c"]["tail"] * np.maximum(za1c - 1.0, 0.0) ** 2
    )
    # A diabetic's own level (person) plus this year's control (year), independent of the
    # margin that made them diabetic: the median is the diabetics' median.
    severity = np.clip(margin, 0.0, 3.0) - 0.5
    zdm = w["diabetes_person"] * person.normal(P_DIABETES)
    zdm = zdm + w["diabetes_year"] * year.normal(Y_GLYCAEMIA)
    zdm_a1c = w["hba1c_on_glucose"] * zdm + rest_weight(w["hba1c_on_glucose"]) * year.normal(
        Y_HBA1C
    )
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
    lipid = mixed_noise(l_person, year.normal(Y_LIPID), m["tg"]["year_sd"])
    ztg_w = (w["tg_on_adiposity"], w["tg_on_glucose"])
    ztg = ztg_w[0] * a + ztg_w[1] * zg + rest_weight(*ztg_w) * lipid
    tg_fasting = tab("tg", "median") * np.exp(tab("tg", "log_sd") * ztg)
    h = mixed_noise(person.normal(P_HDL), year.normal(Y_HDL), m["hdl"]["year_sd"])
    zh_w = (w["hdl_on_adiposity"], w["hdl_on_tg"])
    zh = zh_w[0] * a + zh_w[1] * lipid + rest_weight(*zh_w) * h
    hdl = as_floats(
        np.round(np.clip(tab("hdl", "mean") * np.exp(tab("hdl", "cv") * zh), 15.0, 150.0))
    )
    c = mixed_noise(c_person, year.normal(Y_LDL), m["ldl"]["year_sd"])
    zl = w["ldl_on_adiposity"] * a + rest_weight(w["ldl_on_adiposity"]) * c
    ldl = tab("ldl", "mean") + tab("ldl", "sd") * zl
    ldl = as_floats(ldl * np.where(med_lipid, float(m["ldl"]["treated_factor"]), 1.0))
    ldl = as_floats(np.round(np.clip(ldl, 25.0, 400.0)))

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
    tg = as_floats(np.round(np.clip(tg_fasting * tg_factor, 20.0, 3000.0)))
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
        z = rest_weight(*weights.values()) * year.normal(stream)
        for factor, weight in weights.items():
            z = z + weight * factors[factor]
        result: Floats = tab(name, "median") * np.exp(tab(name, "log_sd") * z)
        return result

    alt, ast, ggt = enzyme("alt", Y_ALT), enzyme("ast", Y_AST), enzyme("ggt", Y_GGT)
    alt, ast, ggt = (as_floats(np.round(np.clip(x, 3.0, 1500.0))) for x in (alt, ast, ggt))

    # -- kidney: creatinine, eGFR, urine --------------------------------------------------------
    k = mixed_noise(person.normal(P_KIDNEY), year.normal(Y_KIDNEY), m["creatinine"]["year_sd"])
    kw = w["kidney"]
    zk = (
        kw["glycaemia"] * zg
        + kw["bp"] * zb
        + rest_weight(*kw.values()) * k
        + dm["kidney"] * diabetic
    )
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
    own = rest_weight(uw["kidney"], uw["glycaemia"], uw["bp"]) * year.normal(Y_URINE_PROTEIN)
    zu = (
        uw["kidney"] * zk + uw["glycaemia"] * zg + uw["bp"] * zb + own
        + up["age_shift"] * band + uw["ckd"] * ckd + dm["urine_protein"] * diabetic
    )  # fmt: skip
    # code 1 (−) for the lowest zu … 5 (3+) for the highest
    cuts = cut_points(np.array([up["shares"]], dtype=np.float64))
    urine_protein = categories(-zu, cuts[np.zeros(n, dtype=np.int64)])
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
    quality(d, state, values, sex, age, group, timing, year)
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
    drawn.answers = draw_answers(d, s, age, a_person, alcohol, person, year)
    return drawn
