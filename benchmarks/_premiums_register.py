"""The premiums benchmark's households written into the real register tables, in bulk: what
``household_inputs`` and ``household_columns`` read (persons, residents with their stays in
households, 国保 and 後期 coverages, the fiscal year's incomes).

From the generated member rows (``bench_premiums.generate``): every person has a person
record and a resident record (``match_key`` shared, a verified My Number link for one in
three), a stay in their household since 2000-01-01 or birth (世帯主 for the head), and an
income row. A member has a 国保 coverage from ``acquired`` to ``lost``; a 特定同一世帯所属者
had 国保 from 2010-04-01 and 後期 from 2022-06-01 (so a household left with one member is a
特定世帯 since that day); a 擬制世帯主 has no coverage here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from kokuho.premiums._tables import premium_income_files, premium_incomes
from kokuho.registry import tables as t
from kokuho.store import bulk_insert

KOKUHO, KOKI = "370015", "39370010"
MOVED_TO_KOKI = "2022-06-01"
_CHUNK = 250_000


def _iso(column: pa.ChunkedArray) -> list[str | None]:
    return list(column.cast(pa.string()).to_pylist())


def write_register(
    engine: sa.Engine, municipality: str, fiscal_year: int, members: pa.Table, households: pa.Table
) -> None:
    """Writes the register rows of ``members`` / ``households`` (integer household ids)."""
    pid = members.column("person_id").to_numpy()
    house = members.column("household_id").to_numpy()
    heads = households.column("head_person_id").to_numpy()
    is_head = pid == heads[house]
    birth = _iso(members.column("birth_date"))
    acquired = _iso(members.column("acquired"))
    lost = _iso(members.column("lost"))
    specified = members.column("specified_same_household").to_numpy(zero_copy_only=False)
    fat = households.column("fixed_asset_tax").to_numpy()
    columns = {
        name: members.column(name).to_pylist()
        for name in ("salary", "pension", "other", "declared", "wage_earner")
    }
    with engine.begin() as connection:
        connection.execute(
            t.insurers.insert(),
            [
                {"insurer_number": KOKUHO, "name": "高松市国保", "kind": "kokuho_municipal",
                 "prefecture": "37", "municipality_code": municipality},
                {"insurer_number": KOKI, "name": "香川県後期", "kind": "koki",
                 "prefecture": "37", "municipality_code": None},
            ],
        )  # fmt: skip
        connection.execute(
            premium_income_files.insert(),
            [{"file_id": 1, "name": "bench", "sha256": "0" * 64, "fiscal_year": fiscal_year,
              "loaded_at": dt.datetime.now(dt.UTC), "rows": len(pid)}],
        )  # fmt: skip
    coverage_id = 0
    for lo in range(0, len(pid), _CHUNK):
        rows: dict[str, list[tuple[Any, ...]]] = {
            "persons": [], "residents": [], "links": [], "stays": [], "coverages": [],
            "incomes": [],
        }  # fmt: skip
        for k in range(lo, min(lo + _CHUNK, len(pid))):
            p = int(pid[k])
            rid, key = f"R{p:011d}", f"{p:032x}"
            address = f"香川県高松市番町{p % 9 + 1}-{p % 30 + 1}"
            rows["persons"].append((p, f"姓{p}", f"セイ{p}", birth[k], 1 + p % 2, address, key))
            rows["residents"].append((rid, f"{p:064x}", f"姓{p}", f"セイ{p}", birth[k],
                                      1 + p % 2, address, municipality, key))  # fmt: skip
            if p % 3 == 0:
                rows["links"].append((p, f"{p:064x}", rid, dt.datetime(2020, 1, 1), p))
            since = max(birth[k] or "2000-01-01", "2000-01-01")
            relationship = "世帯主" if is_head[k] else "子"
            rows["stays"].append((rid, since, None, municipality, f"H{int(house[k]):09d}",
                                  relationship))  # fmt: skip
            if specified[k]:
                coverage_id += 2
                rows["coverages"].append((coverage_id - 1, p, KOKUHO, "1", str(p), "01",
                                          "2010-04-01", MOVED_TO_KOKI, "09", 1, "01"))  # fmt: skip
                rows["coverages"].append((coverage_id, p, KOKI, "1", str(p), "01",
                                          MOVED_TO_KOKI, None, None, 1, "01"))  # fmt: skip
            elif acquired[k] is not None:
                coverage_id += 1
                rows["coverages"].append((coverage_id, p, KOKUHO, "1", str(p), "01",
                                          acquired[k], lost[k], None, 1, "01"))  # fmt: skip
            rows["incomes"].append((fiscal_year, rid, columns["salary"][k],
                                    columns["pension"][k], columns["other"][k],
                                    columns["declared"][k], columns["wage_earner"][k],
                                    int(fat[house[k]]) if is_head[k] else 0, 1, k + 1))  # fmt: skip
        with engine.begin() as connection:
            _insert(connection, rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "ANALYZE insurers, persons, residents, person_mynumbers, resident_households, "
                "coverages, premium_incomes"
            )
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def _insert(connection: sa.Connection, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    postgres = connection.dialect.name == "postgresql"

    def dates(values: list[tuple[Any, ...]], at: tuple[int, ...]) -> list[tuple[Any, ...]]:
        if not postgres:
            return values
        out = []
        for row in values:
            items = list(row)
            for i in at:
                items[i] = None if items[i] is None else dt.date.fromisoformat(items[i])
            out.append(tuple(items))
        return out

    bulk_insert(connection, t.persons, ["person_id", "name_kanji", "name_kana", "birth_date",
                "sex", "address", "match_key"], dates(rows["persons"], (3,)))  # fmt: skip
    bulk_insert(connection, t.residents, ["resident_id", "mynumber_hmac", "name_kanji",
                "name_kana", "birth_date", "sex", "address", "municipality_code", "match_key"],
                dates(rows["residents"], (4,)))  # fmt: skip
    bulk_insert(connection, t.person_mynumbers, ["person_id", "mynumber_hmac", "resident_id",
                "verified_at", "request_id"], rows["links"])  # fmt: skip
    bulk_insert(connection, t.resident_households, ["resident_id", "valid_from", "valid_to",
                "municipality_code", "household_id", "relationship"],
                dates(rows["stays"], (1, 2)))  # fmt: skip
    bulk_insert(connection, t.coverages, ["coverage_id", "person_id", "insurer_number", "symbol",
                "number", "branch", "acquired_on", "lost_on", "loss_reason", "relationship",
                "card_class"], dates(rows["coverages"], (6, 7)))  # fmt: skip
    bulk_insert(connection, premium_incomes, ["fiscal_year", "resident_id", "salary", "pension",
                "other", "declared", "wage_earner", "fixed_asset_tax", "file_id", "line"],
                rows["incomes"])  # fmt: skip
