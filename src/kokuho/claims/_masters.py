"""The masters claims are read against, in their published layouts.

- 医薬品マスター (支払基金 基本マスター ``y_*.csv``): col 3 医薬品コード, 5 漢字名称, 10 単位,
  12 新又は現金額, 17 後発品, 32 薬価基準収載医薬品コード. Rows of 35 columns (the old layout)
  and of 40 or more (the new one) are read alike.
- 傷病名マスター (``b_*.csv``): col 3 傷病名コード, 6 基本名称, 8 省略名称, 10 カナ名称,
  16 ICD-10-1(2013).
- MHLW 「各先発医薬品の後発医薬品の有無に関する情報」 (``.xlsx``, first sheet; or the same
  columns as CSV): col 1 区分 (1, 2, ☆, 3, ★), 2 薬価基準収載医薬品コード, 3 成分名, 8 品名.
  Rows before the first one holding a 薬価基準コード are headings and are skipped.

The masters' CSV files have no header row; cp932 is the published encoding, UTF-8 is also
read. Column numbers: /work/shared/domain/codes-masters-formats.md §2 (miyako/
4d-component-ssk-master). Real files: docs/formats.md §7. kokuho ships only a synthetic
sample (``sample_masters``).
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kokuho.claims._errors import ClaimProblem, MasterFileRejected
from kokuho.ids import half_width_number
from kokuho.store import data_path

#: The categories of the MHLW list (the meaning of each: data/generic_classes.yaml).
GENERIC_CATEGORIES: Final = ("1", "2", "☆", "3", "★")


@dataclass(frozen=True, slots=True)
class DrugMasterRow:
    """One row of the 医薬品マスター."""

    code: str  # 医薬品コード (9 digits)
    name: str  # 漢字名称
    unit: str  # 単位 漢字名称
    price: float  # 新又は現金額 (薬価, 円 per unit)
    generic_flag: str  # 後発品 ("1" = 後発品 is the common reading; UNCONFIRMED)
    yakka_code: str  # 薬価基準収載医薬品コード (12 characters; "" when the row has none)

    @property
    def efficacy(self) -> str:
        """薬効分類: the first four characters of the 薬価基準コード (e.g. 3961, 2149)."""
        return self.yakka_code[:4]


@dataclass(frozen=True, slots=True)
class DiseaseMasterRow:
    """One row of the 傷病名マスター."""

    code: str  # 傷病名コード (7 digits)
    name: str  # 傷病名基本名称
    short_name: str  # 傷病名省略名称
    kana: str  # 傷病名カナ名称
    icd10: str  # ICD-10-1(2013)


@dataclass(frozen=True, slots=True)
class GenericListRow:
    """One row of the MHLW 後発医薬品 list."""

    category: str  # 1, 2, ☆, 3 or ★
    yakka_code: str  # 薬価基準収載医薬品コード
    ingredient: str  # 成分名
    name: str  # 品名


@dataclass(frozen=True, slots=True)
class MasterFiles:
    """Where the three masters are."""

    drugs: Path  # y_*.csv
    diseases: Path  # b_*.csv
    generic_list: Path  # the MHLW list (.xlsx or .csv)


def sample_masters() -> MasterFiles:
    """The synthetic sample masters shipped with kokuho (not real drugs or prices: see
    ``src/kokuho/data/masters/README.md``)."""
    return MasterFiles(
        drugs=data_path("masters/y_synthetic.csv"),
        diseases=data_path("masters/b_synthetic.csv"),
        generic_list=data_path("masters/generic_list_synthetic.csv"),
    )


class _Problems:
    def __init__(self, path: Path, what: str) -> None:
        self.name, self.what = str(path), what
        self.found: list[ClaimProblem] = []

    def add(self, line: int, column: int, name: str, reason: str) -> None:
        self.found.append(ClaimProblem(self.name, line, column, name, reason))

    def raise_any(self) -> None:
        if self.found:
            raise MasterFileRejected(self.found)


def _text(path: Path, problems: _Problems) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    problems.add(0, 0, "", f"{problems.what}: neither UTF-8 nor cp932")
    problems.raise_any()
    return ""


def _rows(path: Path, problems: _Problems) -> Iterable[tuple[int, list[str]]]:
    """(line, cells) of each non-empty CSV row; published master files quote text cells."""
    reader = csv.reader(io.StringIO(_text(path, problems), newline=""))
    for cells in reader:
        # A control character (NUL …) in a name went into the lake's masters as it was.
        bad = [(k, m[0]) for k, cell in enumerate(cells) if (m := _CONTROL.search(cell))]
        if bad:
            column, char = bad[0]
            problems.add(
                reader.line_num, column + 1, "", f"a control character (U+{ord(char):04X})"
            )
        elif any(cell.strip() for cell in cells):
            yield reader.line_num, [cell.strip() for cell in cells]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: 新又は現金額: yen with an optional decimal part, ASCII digits (at most 1e15 yen).
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")


def _is_digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def _is_yakka_code(value: str) -> bool:
    return len(value) == 12 and value.isascii() and value.isalnum()


def read_drug_master(path: Path) -> list[DrugMasterRow]:
    """Reads a 医薬品マスター (``y_*.csv``); raises ``MasterFileRejected`` naming line and
    column of every bad row."""
    path = Path(path)
    problems = _Problems(path, "医薬品マスター")
    out: list[DrugMasterRow] = []
    seen: dict[str, int] = {}
    for line, cells in _rows(path, problems):
        if len(cells) != 35 and len(cells) < 40:
            reason = f"{len(cells)} columns; rows have 35 (old layout) or 40 and more (new)"
            problems.add(line, 0, "", reason)
            continue
        code, yakka = cells[2], cells[31]
        bad = len(problems.found)
        if not _is_digits(code, 9):
            problems.add(line, 3, "医薬品コード", f"{code!r} is not 9 digits")
        elif code in seen:
            problems.add(line, 3, "医薬品コード", f"{code} is already on line {seen[code]}")
        # Digits and a point only: float() also reads nan, inf, -5.9, 1_0 and other scripts'
        # digits, which would reach the generic-share figures as prices.
        price = float(cells[11]) if _AMOUNT.fullmatch(cells[11].strip()) else math.nan
        if not math.isfinite(price):
            problems.add(line, 12, "新又は現金額", f"{cells[11][:40]!r} is not an amount")
            price = 0.0
        if yakka and not _is_yakka_code(yakka):
            reason = f"{yakka!r} is not 12 letters and digits"
            problems.add(line, 32, "薬価基準収載医薬品コード", reason)
        if len(problems.found) == bad:
            seen[code] = line
            out.append(DrugMasterRow(code, cells[4], cells[9], price, cells[16], yakka))
    _refuse_empty(out, problems)
    return out


def read_disease_master(path: Path) -> list[DiseaseMasterRow]:
    """Reads a 傷病名マスター (``b_*.csv``)."""
    path = Path(path)
    problems = _Problems(path, "傷病名マスター")
    out: list[DiseaseMasterRow] = []
    for line, cells in _rows(path, problems):
        if len(cells) < 16:
            problems.add(line, 0, "", f"{len(cells)} columns; ICD-10 is column 16")
            continue
        if not _is_digits(cells[2], 7):
            problems.add(line, 3, "傷病名コード", f"{cells[2]!r} is not 7 digits")
            continue
        out.append(DiseaseMasterRow(cells[2], cells[5], cells[7], cells[9], cells[15]))
    _refuse_empty(out, problems)
    return out


def _refuse_empty(rows: Sequence[object], problems: _Problems) -> None:
    """Raises for the problems found, or when a file gave no row: a master replaces the
    loaded one whole, so an empty file (a download cut off, the wrong file) would otherwise
    leave the claims indicators without their drugs or diseases."""
    if not rows and not problems.found:
        problems.add(0, 0, "", f"{problems.what}: has no rows")
    problems.raise_any()


def read_generic_list(path: Path) -> list[GenericListRow]:
    """Reads the MHLW 後発医薬品 list: ``.xlsx`` (first sheet) or CSV with the same columns."""
    path = Path(path)
    problems = _Problems(path, "後発医薬品 list")
    is_book = path.suffix.lower() in (".xlsx", ".xlsm")
    rows = _sheet_rows(path, problems) if is_book else _rows(path, problems)
    out: list[GenericListRow] = []
    seen: dict[str, tuple[int, str]] = {}
    started = False
    for line, cells in rows:
        cells = cells + [""] * (8 - len(cells))
        category, code = half_width_number(cells[0]), cells[1]
        if not started and not _is_yakka_code(code):
            continue  # a heading above the first row of data
        started = True
        if category not in GENERIC_CATEGORIES:
            reason = f"{category!r} is not one of {', '.join(GENERIC_CATEGORIES)}"
            problems.add(line, 1, "区分", reason)
        if not _is_yakka_code(code):
            reason = f"{code!r} is not 12 letters and digits"
            problems.add(line, 2, "薬価基準収載医薬品コード", reason)
        elif code in seen and seen[code][1] != category:
            reason = f"{code} is {seen[code][1]} on line {seen[code][0]}"
            problems.add(line, 2, "薬価基準収載医薬品コード", reason)
        elif code not in seen:
            seen[code] = (line, category)
            out.append(GenericListRow(category, code, cells[2], cells[7]))
    if not started:
        problems.add(0, 0, "", "no row holds a 薬価基準収載医薬品コード in column 2")
    problems.raise_any()
    return out


def _sheet_rows(path: Path, problems: _Problems) -> Iterable[tuple[int, list[str]]]:
    """(row number, cells) of each non-empty row of the first sheet. A file openpyxl cannot
    read (empty, cut off, a zip holding no workbook, a broken sheet) is the file's problem,
    not an error of kokuho's: openpyxl raises what zipfile or the XML parser raised."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (
        zipfile.BadZipFile, zlib.error, KeyError, IndexError, ValueError, EOFError, OSError,
        SyntaxError, InvalidFileException,
    )  # fmt: skip
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles it does not read; they do not matter here.
            warnings.simplefilter("ignore", UserWarning)
            book = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    except unreadable as error:
        reason = f"{problems.what}: not a readable .xlsx workbook ({type(error).__name__})"
        problems.add(0, 0, "", reason)
        problems.raise_any()
    for number, values in enumerate(rows, start=1):
        cells = [_cell(value) for value in values]
        if any(cells):
            yield number, cells


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def join_generic_classes(
    drugs: Sequence[DrugMasterRow], listed: Sequence[GenericListRow]
) -> list[dict[str, object]]:
    """The rows of the lake's ``drug_master``: each drug with its MHLW category and 成分名 by
    薬価基準コード ("" when the list does not name it)."""
    by_code = {row.yakka_code: row for row in listed}
    out: list[dict[str, object]] = []
    for drug in drugs:
        match = by_code.get(drug.yakka_code) if drug.yakka_code else None
        out.append(
            {
                "code": drug.code,
                "name": drug.name,
                "unit": drug.unit,
                "price": drug.price,
                "generic_flag": drug.generic_flag,
                "yakka_code": drug.yakka_code,
                "efficacy": drug.efficacy,
                "generic_class": match.category if match else "",
                "ingredient": match.ingredient if match else "",
            }
        )
    return out
