"""The codes and array types shared by the modules that draw checkup values.

One array element per checkup: the state of a measured item, the blood-drawing time, the
group whose shares a checkup follows, and the numeric measurements with their rounding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

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

#: The numeric measurements and their rounding (decimals) as written into the file.
MEASURES: dict[str, int] = {
    "height": 1, "weight": 1, "bmi": 1, "waist": 1, "sbp": 0, "dbp": 0, "tg": 0, "hdl": 0,
    "ldl": 0, "glucose": 0, "hba1c": 1, "ast": 0, "alt": 0, "ggt": 0, "creatinine": 2,
    "egfr": 1,
}  # fmt: skip
