"""Reading a result table someone means to publish (CSV, UTF-8 or cp932) into counts, hidden
cells and totals, refusing what cannot be read with file, line and field."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kokuho.provision._network import Cell
from kokuho.store import FileProblem, FileProblemsError, FileTooLarge, read_capped

#: A result table is small; anything this big is not one (and would be slow to check).
MAX_BYTES = 20 * 1024 * 1024
MAX_CELLS = 20_000
#: No count of persons in Japan reaches 10億; a longer number is a mistake, not a count.
MAX_COUNT = 999_999_999
_TOTAL = re.compile(r"^(合計|総計|総数|計|全体|total|grandtotal|all)$", re.IGNORECASE)
#: A total whose name says what it totals (男女計, 県計, 市町村計) is a total all the same: a
#: reader subtracts from it whatever it is called.
_NAMED_TOTAL = re.compile(r"^.+計$")
#: Words ending in 計 that name a thing, not a total: 会計 (一般会計, 特別会計), 統計, 設計, 時計,
#: 家計, 生計, and the instruments a 保健事業 table counts by (歩数計, 血圧計 …). Read as totals
#: they refused harmless tables ("a second total row", "the totals do not add up"). Only
#: words that are never a total belong here: a total missed would give hidden cells away,
#: while a word missing here only sends a table to a human (so 推計 is not listed).
_NOT_TOTAL = re.compile(
    r"(会|統|設|時|家|生|歩数|血圧|体温|体重|体脂肪|体組成|血糖|活動量|温度|湿度)計$"
)
_SUBTOTAL = re.compile(r"小計|subtotal", re.IGNORECASE)
#: A unit after the name: 計(人), 総数（人）.
_UNIT_SUFFIX = re.compile(r"\([^()]*\)$")
#: A number that is not a bare count: a count with a unit (5人, 7名, 五人), a rate or a decimal
#: (4.5%, 12.5). Read as a name it would never be checked, and a share of a shown total gives
#: the count away as well as the count itself.
_COUNT_WITH_UNIT = re.compile(
    r"^[0-9][0-9,]*(\.[0-9]+)?(人|名|件|例|世帯|人分|%|‰)?$"
    r"|^[〇一二三四五六七八九十百千万]+(人|名|件|例|世帯|人分)$"
)
_COUNT = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+$|^[0-9]+$")
#: A number a reader or a spreadsheet still reads as a count: signed (-3, +3, −3), in exponent
#: form (1e0), or a formula (=3, =1+2, @3). Read as a name it would never be checked.
_NUMBER_FORM = re.compile(
    r"^[+\-−][0-9][0-9,]*(\.[0-9]+)?([eE][+\-]?[0-9]+)?$"
    r"|^[0-9][0-9,]*(\.[0-9]+)?[eE][+\-]?[0-9]+$"
    r"|^[=@]"
)


@dataclass(frozen=True, slots=True)
class PublishedTable:
    """A table as published: ``values`` maps (row, column) to a count or None (hidden), with
    -1 for the total row/column when the table has one (see kokuho.provision._network)."""

    path: str
    row_names: tuple[str, ...]
    column_names: tuple[str, ...]
    values: dict[Cell, int | None]
    lines: dict[int, int]
    """The file line of each row (-1: the total row)."""
    has_total_row: bool
    has_total_column: bool
    name_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """The columns that name the rows, as the file writes them (header, values), for the
    identifier scan: a published table carries no names, dates or pseudonymous IDs."""
    name_lines: tuple[int, ...] = ()
    """The file line of each body row, in order (the total row included)."""
    header_line: int = 1
    sha256: str = ""
    """The SHA-256 of the bytes read: what a 公表物確認 verdict is about."""

    def name(self, cell: Cell) -> tuple[str, str]:
        """(row name, column name) of ``cell`` as the file writes them."""
        row, column = cell
        return (
            "(合計)" if row < 0 else self.row_names[row],
            "(合計)" if column < 0 else self.column_names[column],
        )


def _decode(data: bytes, where: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError as sjis:
            at = max(utf8.start, sjis.start)
            line = data.count(b"\n", 0, at) + 1
            raise FileProblemsError(
                [FileProblem(where, line, "(encoding)", "neither UTF-8 nor cp932 (Shift_JIS)")]
            ) from None


def _bare(text: str) -> str:
    """``text`` in NFKC without any white space (合 計 = 合計, ５ 人 = 5人)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def is_subtotal(text: str) -> bool:
    """A subtotal (小計) row or column name."""
    return bool(_SUBTOTAL.search(_bare(text)))


def _is_total(text: str) -> bool:
    """A total row or column name: 合計, 総数, Total, and any name ending in 計 (男女計, 県計),
    with or without a unit after it (計（人）), but for the words that end in 計 without being
    a total (会計, 歩数計); a subtotal (小計) is not the table's total."""
    name = _UNIT_SUFFIX.sub("", _bare(text))
    if not name or is_subtotal(text):
        return False
    if _TOTAL.match(name):
        return True
    return bool(_NAMED_TOTAL.match(name)) and not _NOT_TOTAL.search(name)


def _count(text: str, marks: frozenset[str]) -> int | None | str:
    """A count, None for a hidden cell, or the reason the text is neither."""
    value = unicodedata.normalize("NFKC", text).strip()
    if text.strip() in marks or value in marks:
        return None
    if not value:
        return "is empty: write 0 or a hidden-cell mark"
    if value.startswith("-") and value[1:].replace(",", "").isdigit():
        return "is negative: a count is 0 or more"
    if not _COUNT.match(value):
        return "is not a whole count"
    digits = value.replace(",", "")
    if len(digits) > len(str(MAX_COUNT)) or int(digits) > MAX_COUNT:
        return f"is larger than {MAX_COUNT:,}: not a count of persons"
    return int(digits)


def _disguised_count(text: str) -> str | None:
    """How a row name (of a column after the first) reads as a count, or None: a count with a
    unit, a rate or a decimal (5人, 4.5%), one too large, one signed or in exponent form (-3,
    1e0), one in another script's digits (٣), or a formula (=3)."""
    bare = _bare(text)
    if _COUNT.match(bare):
        reason = _count(bare, frozenset())
        return f"is a number that {reason}" if isinstance(reason, str) else "is a count"
    if _COUNT_WITH_UNIT.match(bare):
        return "looks like a count with a unit, a rate or a decimal"
    unsigned = bare.lstrip("+-−").replace(",", "")
    if _NUMBER_FORM.match(bare) or (unsigned and unsigned.isdecimal()):
        return "reads as a number (signed, in exponent form, in another script or a formula)"
    return None


def _rows(text: str, where: str) -> list[tuple[int, list[str]]]:
    """Each record with the file line it ends on."""
    problems = []
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            line = reader.line_num
            for index, field in enumerate(row):
                if "\x00" in field:
                    problems.append(FileProblem(where, line, f"column {index + 1}", "NUL byte"))
                elif any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in field):
                    problems.append(
                        FileProblem(where, line, f"column {index + 1}", "control character")
                    )
            rows.append((line, row))
    except csv.Error as error:
        problems.append(FileProblem(where, reader.line_num, "(csv)", str(error)))
    if problems:
        raise FileProblemsError(problems)
    return rows


def read_table(path: Path, hidden_marks: tuple[str, ...]) -> PublishedTable:
    """The table in ``path``: a header row naming the columns, then one row per category. The
    leading columns whose cells are not counts are the row's name; a row or column named
    合計・総計・総数・計 (or Total) holds the totals. Raises FileProblemsError (file, line,
    field) for anything that is not a count or a hidden-cell mark."""
    where = str(path)
    # Read once: the digest and the checked table are of the same bytes.
    try:
        data = read_capped(path, MAX_BYTES)
    except FileTooLarge as large:
        raise FileProblemsError([FileProblem(where, 0, "(file)", str(large))]) from None
    numbered = [
        (line, row)
        for line, row in _rows(_decode(data, where), where)
        if any(c.strip() for c in row)  # blank lines are not rows
    ]
    rows = [row for _, row in numbered]
    if len(rows) < 2:
        raise FileProblemsError(
            [FileProblem(where, 0, "(file)", "needs a header row and a row of counts")]
        )
    header, body = rows[0], rows[1:]
    body_lines = [line for line, _ in numbered[1:]]
    width = len(header)
    marks = frozenset(hidden_marks)
    problems = []
    for number, row in zip(body_lines, body, strict=True):
        if len(row) != width:
            problems.append(
                FileProblem(where, number, "(row)", f"has {len(row)} fields, the header {width}")
            )
    if problems:
        raise FileProblemsError(problems)
    if width * len(body) > MAX_CELLS:
        raise FileProblemsError([FileProblem(where, 0, "(file)", f"more than {MAX_CELLS:,} cells")])
    # The name columns: the first always, then every leading column holding a non-count.
    labels = 1
    while labels < width - 1 and any(isinstance(_count(r[labels], marks), str) for r in body):
        if any(not isinstance(_count(r[labels], marks), str) for r in body if r[labels].strip()):
            break  # a column of counts with a few bad cells: report them below
        labels += 1
    # A name column (after the first) holding a count with a unit (5人) is a column of counts
    # the checker would otherwise never see.
    for c in range(1, labels):
        for number, row in zip(body_lines, body, strict=True):
            looks = _disguised_count(row[c])
            if looks is not None:
                field = header[c].strip() or f"column {c + 1}"
                problems.append(
                    FileProblem(
                        where,
                        number,
                        field,
                        f"{row[c].strip()[:20]!r} {looks}, which the check cannot vouch for: "
                        "write the bare count (or a name that does not start with a number), "
                        "or check by hand",
                    )  # fmt: skip
                )
    if problems:
        raise FileProblemsError(problems)
    value_columns = list(range(labels, width))
    total_columns = [c for c in value_columns if _is_total(header[c])]
    if len(total_columns) > 1:
        raise FileProblemsError(
            [FileProblem(where, numbered[0][0], header[total_columns[1]], "a second total column")]
        )
    column_index: dict[int, int] = {}
    names: list[str] = []
    for c in value_columns:
        if c in total_columns:
            column_index[c] = -1
        else:
            column_index[c] = len(names)
            names.append(header[c].strip())
    values: dict[Cell, int | None] = {}
    lines: dict[int, int] = {}
    row_names: list[str] = []
    total_row = False
    for number, row in zip(body_lines, body, strict=True):
        name = " ".join(part.strip() for part in row[:labels] if part.strip())
        if any(_is_total(part) for part in row[:labels]):
            if total_row:
                raise FileProblemsError(
                    [FileProblem(where, number, header[0] or "(name)", "a second total row")]
                )
            total_row, index = True, -1
        else:
            index = len(row_names)
            row_names.append(name)
        lines[index] = number
        for c in value_columns:
            parsed = _count(row[c], marks)
            if isinstance(parsed, str):
                field = header[c].strip() or f"column {c + 1}"
                problems.append(
                    FileProblem(where, number, field, f"{row[c].strip()[:20]!r} {parsed}")
                )
            else:
                values[(index, column_index[c])] = parsed
    if problems:
        raise FileProblemsError(problems)
    name_columns = tuple(
        (header[c].strip() or f"column {c + 1}", tuple(row[c] for row in body))
        for c in range(labels)
    )
    return PublishedTable(
        where, tuple(row_names), tuple(names), values, lines, total_row, bool(total_columns),
        name_columns, tuple(body_lines), numbered[0][0], hashlib.sha256(data).hexdigest(),
    )  # fmt: skip
