"""A register of N persons written in bulk, shared by the benchmarks.

Four insurers; person ``pid`` (1…N) has one open coverage (insurer ``insurers[pid % 4]``,
記号 ``pid // 100``, 番号 ``pid``, 枝番 ``01``, acquired 2020-04-01) and one terms row.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

import sqlalchemy as sa

from kokuho.registry import tables as t
from kokuho.store import bulk_insert

Insurer = tuple[str, str, str | None]

#: (保険者番号, kind, municipality) of the four insurers ``fill`` writes by default (what
#: bench_register.py has always used). Two of them fail the 検証番号 check, which a direct
#: database look-up never notices but the service refuses (422): see ``VALID_INSURERS``.
INSURERS = [("370015", "kokuho_municipal", "372013"), ("01370014", "kyokai", None),
            ("06370015", "kumiai", None), ("39370013", "koki", None)]  # fmt: skip
#: The same four kinds with numbers that pass the 検証番号 check, for checks over the API.
VALID_INSURERS = [("370015", "kokuho_municipal", "372013"), ("01370014", "kyokai", None),
                  ("06370019", "kumiai", None), ("39370010", "koki", None)]  # fmt: skip
ACQUIRED_ON = dt.date(2020, 4, 1)


def member(pid: int, insurers: Sequence[Insurer] = INSURERS) -> tuple[str, str, str, str]:
    """The insured-number tuple ``fill`` gives person ``pid``."""
    return insurers[pid % 4][0], str(pid // 100), str(pid), "01"


def fill(
    engine: sa.Engine, persons: int, seed: int, insurers: Sequence[Insurer] = INSURERS
) -> None:
    """Writes ``persons`` members of four insurers, one coverage and terms row each."""
    with engine.begin() as connection:
        connection.execute(
            t.insurers.insert(),
            [{"insurer_number": n, "name": n, "kind": k, "prefecture": "37",
              "municipality_code": m} for n, k, m in insurers],
        )  # fmt: skip
    rng = random.Random(seed)
    chunk = 200_000
    day = ACQUIRED_ON
    for start in range(0, persons, chunk):
        people, cover, terms = [], [], []
        for pid in range(start + 1, min(start + chunk, persons) + 1):
            birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(33000))
            people.append((pid, f"姓{pid}", f"セイ{pid}", birth, 1 + pid % 2,
                           f"香川県高松市番町{pid % 9 + 1}-{pid % 30 + 1}-{pid % 20 + 1}",
                           f"{pid:032x}"))  # fmt: skip
            insurer = insurers[pid % 4][0]
            cover.append((pid, pid, insurer, str(pid // 100), str(pid), "01", day, None, None,
                          1, "01"))  # fmt: skip
            terms.append((pid, day, 30, None, None, None))
        with engine.begin() as connection:
            bulk_insert(connection, t.persons, ["person_id", "name_kanji", "name_kana",
                        "birth_date", "sex", "address", "match_key"], people)  # fmt: skip
            bulk_insert(connection, t.coverages, ["coverage_id", "person_id", "insurer_number",
                        "symbol", "number", "branch", "acquired_on", "lost_on", "loss_reason",
                        "relationship", "card_class"], cover)  # fmt: skip
            bulk_insert(connection, t.coverage_terms, ["coverage_id", "effective_from",
                        "copay_percent", "elderly_copay_percent", "limit_category",
                        "specific_disease"], terms)  # fmt: skip
    if engine.dialect.name == "postgresql":
        # Only the tables written here: a bare ANALYZE walks the whole database, every other
        # schema in it included (seconds to minutes on a shared server).
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE insurers, persons, coverages, coverage_terms")
