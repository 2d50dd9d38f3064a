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

The work is done by private modules of the synth room, each importing only those above it
in this list:

- :mod:`kokuho.synth._checkups_codes`: item states, blood-drawing times, groups, the array
  types and the measurements' rounding;
- :mod:`kokuho.synth._checkups_noise`: the noise and its stream numbers;
- :mod:`kokuho.synth._checkups_distributions`: the distributions file and the helpers that
  put its shares and weights on the standard-normal scale;
- :mod:`kokuho.synth._checkups_quality` and :mod:`kokuho.synth._checkups_answers`: the
  items left out or not measurable, and the questionnaire answers;
- :mod:`kokuho.synth._checkups_draw`: the values themselves (``draw``, ``Drawn``);
- :mod:`kokuho.synth._checkups_judge`: the local judgement (``judge``).

The names the rest of the synth and the tests use are re-exported here, where they import them
(only those: the stream numbers are listed once, in ``_checkups_noise``).
"""

from __future__ import annotations

from kokuho.synth._checkups_codes import (
    ABSENT,
    EARLY,
    EMPLOYEE,
    FASTING,
    KOKUHO_LIKE,
    MEASURES,
    NOT_DONE,
    NULL,
    VALUE,
)
from kokuho.synth._checkups_distributions import (
    Distributions,
    band_of,
    load_distributions,
    rest_weight,
    threshold,
)
from kokuho.synth._checkups_draw import Drawn, draw
from kokuho.synth._checkups_judge import Judgement, judge
from kokuho.synth._checkups_noise import (
    P_ADIPOSITY,
    P_BP,
    P_GLYCAEMIA,
    P_INSTITUTION,
    P_LDL,
    P_LIPID,
    P_MED_BP,
    P_MED_GLUCOSE,
    P_MED_LIPID,
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
    GeneratorNoise,
    HashedNoise,
    seed_key,
)

__all__ = [
    "ABSENT", "Distributions", "Drawn", "EARLY", "EMPLOYEE", "FASTING", "GeneratorNoise",
    "HashedNoise", "Judgement", "KOKUHO_LIKE", "MEASURES", "NOT_DONE", "NULL", "P_ADIPOSITY",
    "P_BP", "P_GLYCAEMIA", "P_INSTITUTION", "P_LDL", "P_LIPID", "P_MED_BP", "P_MED_GLUCOSE",
    "P_MED_LIPID", "VALUE", "Y_DAY", "Y_GUIDANCE", "Y_GUIDANCE_COMPLETE",
    "Y_GUIDANCE_EVAL_DAYS", "Y_GUIDANCE_START_DAYS", "Y_LEVEL_WRONG", "Y_METABOLIC_WRONG",
    "Y_MONTH", "Y_SBP1", "Y_TAKE", "Y_WAIST_METHOD", "Y_WRONG_VALUE", "rest_weight", "threshold",
    "band_of", "draw", "judge", "load_distributions", "seed_key",
]  # fmt: skip
