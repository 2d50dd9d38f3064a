"""The kinds of events of the simulated years and their rates.

Rates are ASSUMPTIONS of plausible size (mortality, fertility, moves, job changes); they are
not Kagawa figures, which were not found per age.
"""

from __future__ import annotations

import math

(DEATH, BIRTH, MOVE, SCHOOL, SEVENTY, SEVENTY_FIVE, TERMS, JOB_TICK, JOB, RESOLVE, REFORM,
 BEREAVED) = range(12)  # fmt: skip
# job changes: 国保 → employee, employee → 国保, employee → employee, 家族 → 本人
INTO_EMPLOYMENT, OUT_OF_EMPLOYMENT, NEW_EMPLOYER, DEPENDANT_HIRED = range(4)
JOB_COUNTERS = (
    "job_kokuho_to_employee",
    "job_employee_to_kokuho",
    "job_employee_to_employee",
    "job_dependant_to_employee",
)
#: The monthly job hazard never exceeds these (thinning: candidates are drawn at this rate
#: and kept with probability hazard / bound). April is when graduates start work.
BOUND = 0.15 / 12
BOUND_APRIL = 0.12
#: Share of job changes from 国保 into employment filed so late that the two coverages
#: overlap (資格重複); at least a few are planted even in a small prefecture.
PLANT_SHARE = 0.008
PLANT_AT_LEAST = 4
MOVE_BETWEEN, MOVE_WITHIN = 0.012, 0.022  # households a year
TERMS_CHANGE = 0.03  # persons a year with a 限度額/特定疾病 change


def mortality(sex: int, age: int) -> float:
    """Annual probability of death: a Gompertz curve near Japanese life tables (0.3 % at 50,
    2 % at 70, 15 % at 90 for men; women about half)."""
    if age < 1:
        q = 0.0018
    elif age < 30:
        q = 0.0003
    else:
        q = 1.82e-5 * math.exp(0.1 * age)
    return min(0.6, 0.85 * q * (0.55 if sex == 2 else 1.0))


def fertility(age: int) -> float:
    """Annual probability that a married woman gives birth."""
    if age < 18 or age >= 45:
        return 0.0
    return (0.22, 0.36, 0.32, 0.24, 0.12, 0.022)[min(5, max(0, (age - 15) // 5))]


def employee_hazards(age: int) -> tuple[float, float]:
    """Monthly hazards of leaving employment (→ 国保) and of changing employer."""
    if age < 55:
        return 0.015 / 12, 0.035 / 12
    if age < 60:
        return 0.025 / 12, 0.02 / 12
    if age < 65:
        return 0.1 / 12, 0.02 / 12
    return 0.12 / 12, 0.0
