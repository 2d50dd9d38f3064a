"""The rows of the checkup lake's tables (part of ``_lake``): their columns, the row of a
特定健診 or 特定保健指導 record, the flat measurement columns, and the Arrow tables written."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._model import Checkup, Guidance
from kokuho.ids import FiscalYear

#: Identifier columns of every ``checkups`` row; the measurement columns follow them.
CHECKUP_COLUMNS: Final[dict[str, pa.DataType]] = {
    "document": pa.string(),  # file name inside the archive
    "insurer": pa.string(),  # 保険者番号
    "symbol": pa.string(),  # 記号
    "number": pa.string(),  # 番号
    "branch": pa.string(),  # 枝番 (null when the document has none)
    "sex": pa.int16(),  # 1 男 2 女
    "birth_date": pa.date32(),
    "exam_date": pa.date32(),  # 健診実施日
    "institution": pa.string(),  # 健診機関番号
    "ticket": pa.string(),  # 受診券番号
    "archive": pa.string(),  # sha256 of the zip the row came from
}

#: Columns of every ``guidance`` row (特定保健指導).
GUIDANCE_COLUMNS: Final[dict[str, pa.DataType]] = {
    "document": pa.string(),
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "sex": pa.int16(),
    "birth_date": pa.date32(),
    "institution": pa.string(),
    "level": pa.int16(),  # 1 積極的支援 2 動機付け支援
    "started_on": pa.date32(),  # 初回面接
    "evaluated_on": pa.date32(),  # 実績評価 (null while not completed)
    "archive": pa.string(),
}


@dataclass(frozen=True)
class MeasureSpec:
    """The flat measurement columns of a checkup row and how to compute them.

    The default comes from ``kokuho.checkups._measures``: ``MEASURE_COLUMNS`` (it repeats the
    identifier columns; the lake keeps its own for those and takes ``fiscal_year`` from the
    folder name) and ``measures(checkup)``, an object with one attribute per other column.
    Tests pass their own. ``columns_of``, when given, computes the same values for a list
    of checkups at once, as one list per measured column (the default's is
    ``measure_columns``: no object per checkup).
    """

    columns: Mapping[str, pa.DataType]
    measure: Callable[[Checkup], object]
    columns_of: Callable[[Sequence[Checkup]], Mapping[str, list[Any]]] | None = None

    @property
    def measured(self) -> dict[str, pa.DataType]:
        """The columns ``measure`` provides (those that are not identifiers)."""
        skip = set(CHECKUP_COLUMNS) | {"fiscal_year"}
        return {name: kind for name, kind in self.columns.items() if name not in skip}


def default_measures() -> MeasureSpec:
    """``MeasureSpec`` of ``kokuho.checkups._measures`` (imported when first needed, so the
    lake's other uses do not load the measurement rules)."""
    from kokuho.checkups._measures import MEASURE_COLUMNS, measure_columns, measures

    return MeasureSpec(columns=dict(MEASURE_COLUMNS), measure=measures, columns_of=measure_columns)


def checkup_row(checkup: Checkup, digest: str) -> dict[str, Any]:
    return {
        "document": checkup.document,
        "insurer": checkup.insurer,
        "symbol": checkup.symbol,
        "number": checkup.number,
        "branch": checkup.branch or None,
        "sex": checkup.sex,
        "birth_date": checkup.birth_date,
        "exam_date": checkup.exam_date,
        "institution": checkup.institution,
        "ticket": checkup.ticket,
        "archive": digest,
    }


def guidance_row(guidance: Guidance, digest: str) -> dict[str, Any]:
    return {
        "document": guidance.document,
        "insurer": guidance.insurer,
        "symbol": guidance.symbol,
        "number": guidance.number,
        "branch": guidance.branch or None,
        "sex": guidance.sex,
        "birth_date": guidance.birth_date,
        "institution": guidance.institution,
        "level": int(guidance.level),
        "started_on": guidance.started_on,
        "evaluated_on": guidance.evaluated_on,
        "archive": digest,
    }


def by_year(
    rows: list[tuple[int, dict[str, Any]]], date_column: str
) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    years: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for index, row in rows:
        years.setdefault(FiscalYear.of(row[date_column]).year, []).append((index, row))
    return dict(sorted(years.items()))


def checkup_table(
    rows: list[dict[str, Any]], checkups: list[Checkup], spec: MeasureSpec
) -> pa.Table:
    measured = spec.measured
    schema = pa.schema({**CHECKUP_COLUMNS, **measured})
    columns = {name: [r[name] for r in rows] for name in CHECKUP_COLUMNS}
    if spec.columns_of is not None:
        computed = spec.columns_of(checkups)
        for name in measured:
            columns[name] = computed[name]
    else:
        values = [spec.measure(c) for c in checkups]
        for name in measured:
            columns[name] = [getattr(v, name) for v in values]
    return pa.Table.from_pydict(columns, schema=schema)
