"""The eligibility snapshot (資格情報スナップショット): the register's facts that the
実施率 denominators need, exported to the lake once per fiscal year.

The register is operational (SQLite/PostgreSQL); the rates are analytics over Parquet. Rather
than joining across the two, the register's coverage periods that touch the fiscal year are
copied to ``eligibility/fiscal_year=YYYY/snapshot.parquet`` with everything the denominator
asks: who (person_id, sex, birth_date → 年度末年齢), which insurer (保険者番号, kind, the
市町村国保's 全国地方公共団体コード), which insured number (記号・番号・枝番, to match checkups)
and when (資格取得日, 資格喪失日 → 年度を通じた加入).

``insured_id`` numbers the insured numbers (保険者番号・記号・番号・枝番) of the file densely,
from 1 in the export's order: two rows carry the same id exactly when the four strings are
equal, so the rates can group a year's 受診者 by two integers (``insured_id``, 生年月日)
instead of five columns, four of them strings (kokuho.checkups._rate_pair). The export
numbers the rows as they stream: the query orders them by the four columns (then 資格取得日),
so the periods of one insured number arrive together, and the id grows by one whenever the
four differ from the previous row's (``_Numbering``). The four are never null in the register,
so "" and null need no reconciling. Numbering in the query instead (``DENSE_RANK``) costs
PostgreSQL a second sort of every row. Files written before the column existed read it as null,
and the rates then group by the strings as before.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from pathlib import Path
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa

from kokuho.checkups._lake import INSURED_ID, Lake, atomic_file
from kokuho.ids import FiscalYear
from kokuho.registry import tables

#: Columns of the snapshot, in file order. ``lost_on`` is the 資格喪失日: the first day NOT
#: covered (null while covered).
SNAPSHOT_COLUMNS: Final[dict[str, pa.DataType]] = {
    "person_id": pa.int64(),
    "insurer_number": pa.string(),
    "insurer_kind": pa.string(),  # kokuho.registry.INSURER_KINDS
    "municipality_code": pa.string(),  # 市町村国保 only
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "sex": pa.int16(),
    "birth_date": pa.date32(),
    "acquired_on": pa.date32(),
    "lost_on": pa.date32(),
    INSURED_ID: pa.int64(),  # equal exactly when 保険者番号・記号・番号・枝番 are (see above)
}

#: Rows fetched and written per batch: bounded memory at millions of coverages.
CHUNK_ROWS: Final = 100_000


def snapshot_path(lake: Lake, fiscal_year: FiscalYear | int) -> Path:
    fy = fiscal_year if isinstance(fiscal_year, FiscalYear) else FiscalYear(fiscal_year)
    return lake.root / "eligibility" / f"fiscal_year={fy.year}" / "snapshot.parquet"


#: 保険者番号・記号・番号・枝番 of a coverage: the export's order and ``insured_id``'s key.
_INSURED_NUMBER: Final = (
    tables.coverages.c.insurer_number,
    tables.coverages.c.symbol,
    tables.coverages.c.number,
    tables.coverages.c.branch,
)
_NUMBERED_BY: Final = ("insurer_number", "symbol", "number", "branch")


class _Numbering:
    """``insured_id`` of rows that arrive ordered by ``_NUMBERED_BY``, batch after batch: the
    previous id plus one wherever the four columns differ from the row before."""

    def __init__(self) -> None:
        self._last: tuple[Any, ...] | None = None
        self._count = 0

    def ids(self, batch: dict[str, pa.Array]) -> pa.Array:
        keys = [batch[name] for name in _NUMBERED_BY]
        n = len(keys[0])
        if n == 0:
            return pa.array([], pa.int64())
        first = tuple(key[0].as_py() for key in keys)
        changed = [pa.array([first != self._last])]
        if n > 1:  # the columns are never null in the register: not_equal is never null
            changes = [pc.not_equal(key.slice(1), key.slice(0, n - 1)) for key in keys]
            changed.append(reduce(pc.or_, changes))
        steps = pa.concat_arrays(changed).cast(pa.int64())
        ids = pc.add(pc.cumulative_sum(steps), self._count)
        self._last = tuple(key[n - 1].as_py() for key in keys)
        self._count = ids[n - 1].as_py()
        return ids


def _query(fy: FiscalYear) -> sa.Select[Any]:
    c, p, i = tables.coverages, tables.persons, tables.insurers
    return (
        sa.select(
            c.c.person_id,
            c.c.insurer_number,
            i.c.kind.label("insurer_kind"),
            i.c.municipality_code,
            c.c.symbol,
            c.c.number,
            c.c.branch,
            p.c.sex,
            p.c.birth_date,
            c.c.acquired_on,
            c.c.lost_on,
        )
        .select_from(
            c.join(p, p.c.person_id == c.c.person_id).join(
                i, i.c.insurer_number == c.c.insurer_number
            )
        )
        # Periods sharing at least one day with the year: anything else cannot be in its
        # denominator and would only grow the file.
        .where(
            c.c.acquired_on <= fy.last_day,
            sa.or_(c.c.lost_on.is_(None), c.c.lost_on > fy.first_day),
        )
        # The unique index (insurer_number, symbol, number, branch, acquired_on) gives this
        # order cheaply, and sorted files compress and prune better.
        .order_by(*_INSURED_NUMBER, c.c.acquired_on)
    )


def export_snapshot(
    engine: sa.Engine, lake: Lake, fiscal_year: FiscalYear | int, *, chunk_rows: int = CHUNK_ROWS
) -> Path:
    """Writes the coverage periods overlapping ``fiscal_year`` to the lake and returns the file.

    Streams the register in chunks of ``chunk_rows`` (a server-side cursor on PostgreSQL) into
    one Parquet file, written atomically: readers see the previous snapshot or the new one.
    """
    fy = fiscal_year if isinstance(fiscal_year, FiscalYear) else FiscalYear(fiscal_year)
    schema = pa.schema(SNAPSHOT_COLUMNS).with_metadata(
        {
            "kokuho.fiscal_year": str(fy.year),
            "kokuho.exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    final = snapshot_path(lake, fy)
    names = [name for name in SNAPSHOT_COLUMNS if name != INSURED_ID]  # the query's columns
    numbering = _Numbering()
    # Exits run in reverse: the writer closes its file before atomic_file fsyncs and renames.
    with (
        lake.locked(),
        atomic_file(final) as temporary,
        pq.ParquetWriter(temporary, schema, compression="zstd") as writer,
        engine.connect() as connection,
    ):
        result = connection.execution_options(yield_per=chunk_rows).execute(_query(fy))
        for rows in result.partitions():
            columns = list(zip(*rows, strict=True))
            batch = {
                name: pa.array(values, type=SNAPSHOT_COLUMNS[name])
                for name, values in zip(names, columns, strict=True)
            }
            batch[INSURED_ID] = numbering.ids(batch)
            writer.write_batch(pa.record_batch(list(batch.values()), schema=schema))
    return final
