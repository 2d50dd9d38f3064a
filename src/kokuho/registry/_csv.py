from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from kokuho.registry._errors import FileRejected, RowError


def read_rows(
    path: Path, *, required: frozenset[str], allowed: frozenset[str], data: bytes | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields ``(line, row)`` of a UTF-8 CSV file with a header (line 1).

    The header must name every required column and nothing outside ``allowed``: a misspelt
    column would otherwise be ignored silently. Raises FileRejected for header problems, for
    bytes that are not UTF-8 and for a NUL byte (a text file has none, PostgreSQL refuses it
    and SQLite would cut the value at it), each with the exact line and column.

    A row with the wrong number of fields comes as ``{"__width__": reason}``.

    ``data``: the file's bytes when the caller has read them already (to take their digest):
    the rows are then those bytes, never a later version of the file.
    """
    header, records = read_records(path, required=required, allowed=allowed, data=data)
    for line, record in records:
        if isinstance(record, str):
            yield line, {"__width__": record}
        else:
            yield line, dict(zip(header, record, strict=True))


def read_records(
    path: Path, *, required: frozenset[str], allowed: frozenset[str], data: bytes | None = None
) -> tuple[list[str], Iterator[tuple[int, list[str] | str]]]:
    """The header of a CSV file as :func:`read_rows` checks it (raises FileRejected now), and
    its rows as ``(line, fields)``, a field per column of the header, or ``(line, reason)``
    for a row of another width. For a reader that takes the fields by position: a dict per
    row costs more than the parse of the row's fields."""
    name = str(path)
    handle: TextIO
    if data is not None:
        handle = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    else:
        try:
            handle = path.open(encoding="utf-8-sig", newline="")
        except OSError as error:
            raise FileRejected([RowError(name, 0, "", f"cannot open: {error.strerror}")]) from None
    nul = [False]
    try:
        reader = csv.reader(_watch(handle, nul))
        header = _header(path, reader, required, allowed, data)
    except BaseException:
        handle.close()
        raise
    return header, _records(path, handle, reader, header, nul, data)


def _header(
    path: Path, reader: Any, required: frozenset[str], allowed: frozenset[str], data: bytes | None
) -> list[str]:
    name = str(path)
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise FileRejected([RowError(name, 0, "", "the file is empty")]) from None
    except UnicodeDecodeError:
        raise FileRejected([_not_utf8(path, data)]) from None
    _refuse_nul(name, 1, header, header)
    problems = [
        RowError(name, 1, column, "unknown column") for column in header if column not in allowed
    ]
    problems += [
        RowError(name, 1, column, "required column is missing")
        for column in sorted(required - set(header))
    ]
    if len(set(header)) != len(header):
        problems.append(RowError(name, 1, "", "a column is named twice"))
    if problems:
        raise FileRejected(problems)
    return header


def _records(
    path: Path, handle: TextIO, reader: Any, header: list[str], nul: list[bool], data: bytes | None
) -> Iterator[tuple[int, list[str] | str]]:
    name = str(path)
    with handle:
        width = len(header)
        try:
            for record in reader:
                line = reader.line_num
                if nul[0]:
                    _refuse_nul(name, line, header, record)
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if len(record) != width:
                    yield line, f"has {len(record)} fields, the header has {width}"
                    continue
                yield line, record
        except UnicodeDecodeError:
            # The decoder reads ahead in 8 KiB chunks: its error does not say which line.
            raise FileRejected([_not_utf8(path, data)]) from None
        except csv.Error as error:
            raise FileRejected([RowError(name, reader.line_num, "", f"bad CSV: {error}")]) from None


def _watch(lines: Iterator[str], nul: list[bool]) -> Iterator[str]:
    """Passes lines to the CSV reader and notes a NUL byte: a test per line, not per field,
    keeps the bulk load fast; the record that holds it is searched then."""
    for line in lines:
        if "\x00" in line:
            nul[0] = True
        yield line


def _refuse_nul(name: str, line: int, header: list[str], record: list[str]) -> None:
    for index, value in enumerate(record):
        at = value.find("\x00")
        if at >= 0:
            column = header[index] if index < len(header) else f"field {index + 1}"
            reason = f"contains a NUL byte (character {at + 1} of the field)"
            raise FileRejected([RowError(name, line, column, reason)])


def _not_utf8(path: Path, data: bytes | None) -> RowError:
    """The first line with bytes that are not UTF-8, and the character they start at. Lines
    end at LF, CR LF or a lone CR, as the CSV reader counts them."""
    if data is not None:
        return _first_not_utf8(path, io.BytesIO(data))
    with path.open("rb") as handle:
        return _first_not_utf8(path, handle)


def _first_not_utf8(path: Path, physical_lines: Iterable[bytes]) -> RowError:
    line = 0
    for physical in physical_lines:
        parts = physical.split(b"\r")
        if parts[-1] in (b"", b"\n") and len(parts) > 1:
            parts.pop()  # the CR of a CR LF ending
        for part in parts:
            line += 1
            if line == 1 and part.startswith(codecs.BOM_UTF8):
                part = part[len(codecs.BOM_UTF8) :]  # not a character of the text
            try:
                part.decode("utf-8")
            except UnicodeDecodeError as error:
                column = len(part[: error.start].decode("utf-8")) + 1
                reason = f"not UTF-8 (byte 0x{part[error.start]:02x} at character {column})"
                return RowError(str(path), line, "", reason)
    return RowError(str(path), 0, "", "not UTF-8")
