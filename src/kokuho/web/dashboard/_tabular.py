"""Tables as the pages show them and as staff download them (CSV and Excel)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from kokuho.ids import wareki_label
from kokuho.store import shown_text, spreadsheet_text

Kind = Literal["text", "int", "float", "percent", "yen", "date", "index"]
EXCEL_FORMATS: Final[dict[str, str]] = {
    "int": "#,##0",
    "yen": "#,##0",
    "float": "#,##0.0",
    "percent": "0.0%",
    "index": "0.000",
    "date": "yyyy-mm-dd",
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = "text"


@dataclass(frozen=True)
class DataTable:
    """One table of a page. ``person_level`` tables name persons: shown and downloaded only
    for the insurer's own staff, and every view is written to the audit log."""

    table_id: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    note: str = ""
    person_level: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def values(self, key: str) -> list[Any]:
        return [row.get(key) for row in self.rows]


def table(
    table_id: str,
    caption: str,
    columns: Iterable[tuple[str, str, Kind] | tuple[str, str]],
    rows: Iterable[Mapping[str, Any]],
    *,
    note: str = "",
    person_level: bool = False,
) -> DataTable:
    cols = tuple(Column(c[0], c[1], c[2] if len(c) > 2 else "text") for c in columns)
    return DataTable(table_id, caption, cols, tuple(rows), note, person_level)


def display(value: Any, kind: Kind) -> str:
    """A cell as the page shows it (Japanese conventions: 1,234 / 12.3% / 1,234円)."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "yen":
        return f"{round(value):,}円"
    if kind == "float":
        return f"{float(value):,.1f}"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if kind == "index":
        return f"{float(value):.3f}"
    if kind == "date" and isinstance(value, dt.date):
        return f"{wareki_label(value)} ({value.isoformat()})"
    return str(value)


def sort_key(value: Any, kind: Kind) -> str:
    """The ``data-sort`` attribute: numbers as numbers for the table sorter."""
    if value is None:
        return ""
    if kind in ("int", "yen", "float", "percent", "index"):
        return repr(float(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _csv_value(value: Any, kind: Kind) -> Any:
    if value is None:
        return ""
    if kind == "percent":
        return round(float(value) * 100, 4)
    if isinstance(value, dt.date):
        return value.isoformat()
    return spreadsheet_text(value)


def _as_text(cells: Iterable[Any]) -> None:
    """openpyxl stores a string starting with "=" as a formula: keep every string a string
    (the workbook's cells are typed, so the text itself stays as it is)."""
    for cell in cells:
        if cell.data_type == "f":
            cell.data_type = "s"


def _sheet_value(value: Any) -> Any:
    """A cell for the workbook: a worksheet cannot hold most C0 controls (openpyxl refuses
    them, and the whole download failed), so those are shown as their escape (``\\x0b``, as
    ``kokuho.store.shown_text`` writes it); a name a change feed sent with one stays readable."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(lambda found: shown_text(found.group()), value)
    return value


def _label(column: Column) -> str:
    return f"{column.label} (%)" if column.kind == "percent" else column.label


def to_csv(data: DataTable) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens the Japanese headers correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_label(c) for c in data.columns])
    for row in data.rows:
        writer.writerow([_csv_value(row.get(c.key), c.kind) for c in data.columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(data: DataTable) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = data.table_id[:31]
    sheet.append([_sheet_value(data.caption)])
    sheet["A1"].font = Font(bold=True)
    sheet.append([c.label for c in data.columns])
    _as_text(sheet[1])
    _as_text(sheet[2])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in data.rows:
        sheet.append([_sheet_value(row.get(column.key)) for column in data.columns])
        _as_text(sheet[sheet.max_row])
    for index, column in enumerate(data.columns, start=1):
        number_format = EXCEL_FORMATS.get(column.kind)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(10, min(40, len(column.label) * 2 + 2))
        if number_format is None:
            continue
        for (cell,) in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
            cell.number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
