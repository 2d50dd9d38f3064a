from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from kokuho.registry._errors import FileRejected, RowError


def read_rows(
    path: Path, *, required: frozenset[str], allowed: frozenset[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields ``(line, row)`` of a UTF-8 CSV file with a header (line 1).

    The header must name every required column and nothing outside ``allowed``: a misspelt
    column would otherwise be ignored silently. Raises FileRejected for header problems and
    for bytes that are not UTF-8.
    """
    name = str(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise FileRejected([RowError(name, 0, "", f"cannot open: {error.strerror}")]) from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            raise FileRejected([RowError(name, 0, "", "the file is empty")]) from None
        except UnicodeDecodeError as error:
            raise FileRejected([RowError(name, 1, "", f"not UTF-8 ({error.reason})")]) from None
        problems = [
            RowError(name, 1, column, "unknown column")
            for column in header
            if column not in allowed
        ]
        problems += [
            RowError(name, 1, column, "required column is missing")
            for column in sorted(required - set(header))
        ]
        if len(set(header)) != len(header):
            problems.append(RowError(name, 1, "", "a column is named twice"))
        if problems:
            raise FileRejected(problems)
        width = len(header)
        line = 1
        try:
            for record in reader:
                line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if len(record) != width:
                    yield line, {"__width__": f"has {len(record)} fields, the header has {width}"}
                    continue
                yield line, dict(zip(header, record, strict=True))
        except UnicodeDecodeError as error:
            raise FileRejected(
                [RowError(name, line + 1, "", f"not UTF-8 ({error.reason})")]
            ) from None
        except csv.Error as error:
            raise FileRejected([RowError(name, reader.line_num, "", f"bad CSV: {error}")]) from None
