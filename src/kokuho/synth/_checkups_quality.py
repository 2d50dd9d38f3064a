"""The items a synthetic checkup leaves out, could not do or could not measure.

Optional items are left out by group (クレアチニン, HbA1c when fasting); a document misses at
most one group of items (urine, LDL, liver, creatinine, HbA1c); a few values are not
measurable (nullFlavor). Items the stratification needs are never touched.
"""

from __future__ import annotations

import numpy as np

from kokuho.synth._checkups_codes import (
    ABSENT,
    FASTING,
    KOKUHO_LIKE,
    MEASURES,
    NOT_DONE,
    NULL,
    VALUE,
    Codes,
    Floats,
    Ints,
)
from kokuho.synth._checkups_distributions import Distributions
from kokuho.synth._checkups_noise import (
    Y_CREATININE_MEASURED,
    Y_HBA1C_MEASURED,
    Y_NOT_DONE,
    Y_NULL,
    Noise,
)


def quality(
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
