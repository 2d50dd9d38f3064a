"""The snapshot's ``insured_id`` (one integer per 保険者番号・記号・番号・枝番 of the file): the
export numbers equal insured numbers alike and others apart, and ``rate_tables`` grouping its
受診者 by (insured_id, 生年月日) gives the reference's tables, as it does without the column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from kokuho.checkups._lake import INSURED_ID, Lake
from kokuho.checkups._rate_pair import rate_tables
from kokuho.checkups._rates import checkup_rate_table, guidance_rate_table
from kokuho.checkups._snapshot import export_snapshot
from kokuho.registry import tables
from tests.test_rate_pair import BYS, FY, _case, _rows
from tests.test_rates import checkups, exam, guidance, guidance_row

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

D = dt.date
INSURER = "370015"


def _numbered(snapshot: pa.Table) -> pa.Table:
    """``snapshot`` with ``insured_id`` as the export gives it: dense, equal per insured number."""
    ids: dict[tuple[Any, ...], int] = {}
    keys = zip(
        *(snapshot[c].to_pylist() for c in ("insurer_number", "symbol", "number", "branch")),
        strict=True,
    )
    values = [ids.setdefault(key, len(ids) + 1) for key in keys]
    return snapshot.set_column(
        snapshot.schema.get_field_index(INSURED_ID), INSURED_ID, pa.array(values, pa.int64())
    )


def _equal_to_the_reference(snap: Any, ck: Any, g: Any, x: Any = None) -> None:
    for by in BYS:
        checkup, guided = rate_tables(snap, ck, g, FY, by=by, exclusions=x)
        assert _rows(checkup) == _rows(checkup_rate_table(snap, ck, FY, by=by, exclusions=x)), by
        expected = guidance_rate_table(snap, ck, g, FY, by=by, exclusions=x)
        assert _rows(guided) == _rows(expected), by


@pytest.mark.parametrize("seed", range(4))
def test_rate_tables_with_insured_ids_equal_the_reference(seed: int) -> None:
    snap, ck, g, x = _case(seed)
    numbered = ibis.memtable(_numbered(snap.to_pyarrow()))
    _equal_to_the_reference(numbered, ck, g)
    _equal_to_the_reference(numbered, ck, g, x)


def test_insured_ids_decide_even_when_every_hash_key_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kokuho.checkups._rate_pair as pair

    monkeypatch.setattr(pair, "insured_key", lambda *_: ibis.literal(42, "int64"))
    snap, ck, g, _ = _case(99)
    _equal_to_the_reference(ibis.memtable(_numbered(snap.to_pyarrow())), ck, g)


def test_a_partly_numbered_snapshot_groups_by_the_strings() -> None:
    # A null id (a hand-built table) must not merge members: the strings decide instead.
    snap, ck, g, _ = _case(2)
    numbered = _numbered(snap.to_pyarrow())
    ids = numbered[INSURED_ID].to_pylist()
    ids[0] = None
    partly = numbered.set_column(
        numbered.schema.get_field_index(INSURED_ID), INSURED_ID, pa.array(ids, pa.int64())
    )
    _equal_to_the_reference(ibis.memtable(partly), ck, g)


def _register(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.insurers),
            [
                {
                    "insurer_number": INSURER,
                    "name": "A市",
                    "kind": "kokuho_municipal",
                    "prefecture": "37",
                    "municipality_code": "372013",
                }
            ],
        )
        twins = D(1970, 6, 1)
        born = {1: D(1960, 1, 2), 2: twins, 3: twins, 4: D(1975, 5, 5), 5: D(1965, 3, 3)}
        connection.execute(
            sa.insert(tables.persons),
            [
                {
                    "person_id": n,
                    "name_kanji": f"氏名{n}",
                    "name_kana": f"シメイ{n}",
                    "birth_date": born[n],
                    "sex": 1,
                    "address": "香川県",
                    "match_key": f"{n:032d}",
                }
                for n in born
            ],
        )
        # (person, number, branch, acquired, lost): person 1 holds one insured number twice in
        # the year; the twins 2 and 3 share one without 枝番; 4 holds 2-02; 5 holds "22" (not
        # "2" + "2").
        periods = [
            (1, "1", "01", D(2010, 4, 1), D(FY, 6, 1)),
            (1, "1", "01", D(FY, 9, 1), None),
            (2, "2", "", D(2010, 4, 1), None),
            (3, "2", "", D(2011, 4, 1), None),  # (one tuple is unique per 資格取得日)
            (4, "2", "02", D(2010, 4, 1), None),
            (5, "22", "", D(2010, 4, 1), None),
        ]
        connection.execute(
            sa.insert(tables.coverages),
            [
                {
                    "coverage_id": i,
                    "person_id": person,
                    "insurer_number": INSURER,
                    "symbol": "S",
                    "number": number,
                    "branch": branch,
                    "acquired_on": acquired,
                    "lost_on": lost,
                    "loss_reason": None if lost is None else "1",
                    "relationship": 1,
                    "card_class": "01",
                }
                for i, (person, number, branch, acquired, lost) in enumerate(periods, start=1)
            ],
        )


def test_export_numbers_insured_numbers_and_the_rates_agree(
    engine: sa.Engine, tmp_path: Path
) -> None:
    _register(engine)
    lake = Lake(tmp_path)
    # Numbered as the rows stream: the same ids whatever the batches (one row, two, all).
    exports = [pq.read_table(export_snapshot(engine, lake, FY, chunk_rows=n)) for n in (1, 2, 99)]
    assert exports[0] == exports[1] == exports[2]
    path = export_snapshot(engine, lake, FY, chunk_rows=2)
    written = pq.read_table(path).to_pylist()
    by_coverage = {(r["person_id"], r["acquired_on"]): r[INSURED_ID] for r in written}
    assert len(by_coverage) == 6
    one, two, three, four, five = (
        by_coverage[(1, D(2010, 4, 1))],
        by_coverage[(2, D(2010, 4, 1))],
        by_coverage[(3, D(2011, 4, 1))],
        by_coverage[(4, D(2010, 4, 1))],
        by_coverage[(5, D(2010, 4, 1))],
    )
    assert by_coverage[(1, D(FY, 9, 1))] == one  # the same insured number, twice
    assert two == three  # twins without 枝番: one insured number
    assert len({one, two, four, five}) == 4
    assert sorted(set(by_coverage.values())) == [1, 2, 3, 4]  # dense, from 1

    snap = ibis.memtable(pq.read_table(path))
    ck = ibis.memtable(
        checkups(
            exam("2", D(FY, 7, 1), 2, insurer=INSURER, born=D(1970, 6, 1), branch=None),
            exam("2", D(FY, 8, 1), 1, insurer=INSURER, born=D(1975, 5, 5), branch="02"),
            exam("22", D(FY, 8, 1), 1, insurer=INSURER, born=D(1965, 3, 3), branch=None),
        )
    )
    g = ibis.memtable(
        guidance(guidance_row("2", D(FY, 8, 2), D(FY, 12, 1), insurer=INSURER, born=D(1970, 6, 1)))
    )
    _equal_to_the_reference(snap, ck, g)
    checkup, guided = rate_tables(snap, ck, g, FY, by=())
    [c] = _rows(checkup)
    [gr] = _rows(guided)
    # Twins count twice as examined and once as targets, as the reference counts them.
    assert (c["eligible"], c["examined"]) == (4, 4)  # person 1 is not a whole-year member
    assert (gr["targets"], gr["completed"]) == (3, 1)


def test_insured_ids_with_the_partitioned_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shape other engines get (one window partition per member key), on DuckDB.
    import kokuho.checkups._rate_pair as pair

    monkeypatch.setattr(pair, "ONE_ORDER_BACKENDS", frozenset())
    snap, ck, g, x = _case(6)
    _equal_to_the_reference(ibis.memtable(_numbered(snap.to_pyarrow())), ck, g, x)
