"""The prefecture's medical institutions (保険医療機関・薬局), for the eligibility service.

Counts follow population roughly as Japan's do (about one clinic per 1,300 people, a dental
clinic per 1,800, a pharmacy per 1,700, a hospital per 12,000: rounded national ratios, not
Kagawa's own figures). Codes are valid 10-digit 医療機関コード of prefecture 37; names are
invented. Onboarding dates and the 医療情報化支援基金 subsidy follow the national roll-out
(launch 2021-10-20; most facilities online by 2023).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from kokuho.ids import luhn_2_1
from kokuho.synth._data import Prefecture

COLUMNS = (
    "institution_code",
    "name",
    "status",
    "online_since",
    "subsidy_applied_on",
    "subsidy_approved_on",
    "subsidy_paid_on",
    "subsidy_yen",
)
# (score table, people per facility, name suffix)
KINDS = (
    ("1", 1300, "クリニック"),
    ("3", 1800, "歯科医院"),
    ("4", 1700, "薬局"),
    ("1", 12000, "病院"),
)
LAUNCH = dt.date(2021, 10, 20)


def write_institutions(path: Path, prefecture: Prefecture, persons: int, seed: int) -> int:
    rng = random.Random(f"institutions-{seed}")
    scale = persons / sum(m.population for m in prefecture.municipalities)
    rows = []
    serial = 0
    for district, municipality in enumerate(prefecture.municipalities, start=1):
        people = municipality.population * scale
        for table, per, suffix in KINDS:
            for _ in range(max(1, round(people / per))):
                serial += 1
                body = f"37{table}{district:02d}{serial:04d}"
                code = body + str(luhn_2_1(body))
                online = LAUNCH + dt.timedelta(days=int(rng.expovariate(1 / 300)))
                applied = online - dt.timedelta(days=rng.randint(30, 120))
                paid = online + dt.timedelta(days=rng.randint(30, 200))
                yen = 0 if rng.random() < 0.1 else rng.choice((321_000, 427_000, 1_050_000))
                status = "active" if rng.random() > 0.02 else "closed"
                town = rng.choice(municipality.towns).name if municipality.towns else ""
                rows.append(
                    (
                        code,
                        f"{municipality.name}{town}{suffix}",
                        status,
                        online.isoformat(),
                        applied.isoformat(),
                        (applied + dt.timedelta(days=20)).isoformat(),
                        paid.isoformat() if yen else "",
                        str(yen) if yen else "",
                    )
                )
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)
