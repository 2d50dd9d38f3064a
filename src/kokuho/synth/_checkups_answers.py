"""The answers of the 標準的な質問票 of synthetic checkups: codes cut from a standard-normal
mix of the person's own level, this year's part and a linked factor (adiposity, alcohol,
age), as the distributions file gives per item.
"""

from __future__ import annotations

import math

import numpy as np

from kokuho.synth._checkups_codes import Bools, Codes, Floats, Ints
from kokuho.synth._checkups_distributions import Distributions, categories, cut_points
from kokuho.synth._checkups_noise import P_QUESTION, Y_QUESTION, Noise


def draw_answers(
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
        cuts = cut_points(np.array([item["male"], item["female"]], dtype=np.float64))
        codes = categories(z, cuts[s])
        if item.get("drinkers_only") and drinks is not None:
            codes = np.where(drinks, codes, 0).astype(np.int8)
        if str(item["code"]).startswith("9N786"):
            drinks = codes <= 6  # 7 やめた, 8 飲まない are not asked the amount
        answers[str(item["code"])] = codes
    return answers
