"""The 要介護認定 file: one row per certification (認定) of a 介護保険 被保険者, with the person's
five basic items so the care records can be joined to the register (docs/care.md §2).

UTF-8 CSV with a header, like the register's other input files (docs/formats.md §10.5)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kokuho.care._errors import CareFileRejected
from kokuho.care._model import CERTIFICATION_LEVELS
from kokuho.registry import FileRejected, read_csv_rows
from kokuho.store import FileProblem, atomic_file, has_control, quoted

COLUMNS: Final = (
    "insurer_number", "insured_number", "name_kanji", "name_kana", "birth_date", "sex",
    "address", "care_level", "certified_on", "valid_from", "valid_to",
)  # fmt: skip
_REQUIRED: Final = frozenset(COLUMNS)
_ISO_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Certification:
    """One 要介護認定: who (介護保険 保険者番号 and 被保険者番号, the five basic items), which
    区分 (``CERTIFICATION_LEVELS``), when it was decided (認定日) and its 有効期間."""

    insurer_number: str  # 保険者番号 (介護保険), 6 digits
    insured_number: str  # 被保険者番号 (介護保険), 10 digits
    name_kanji: str
    name_kana: str
    birth_date: dt.date
    sex: int
    address: str
    care_level: str
    certified_on: dt.date  # 認定日
    valid_from: dt.date  # 認定有効期間 開始
    valid_to: dt.date  # 認定有効期間 終了
    line: int = 0  # the line of the file it came from (0 when built in code)

    @property
    def key(self) -> tuple[str, str, dt.date]:
        """One certification of one number from one day: what makes a re-import a repeat."""
        return (self.insurer_number, self.insured_number, self.valid_from)

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, column) for column in COLUMNS)


def _digits(value: str, length: int) -> str:
    if len(value) != length or not (value.isascii() and value.isdigit()):
        raise ValueError(f"expected {length} digits, got {quoted(value)}")
    return value


def _date(value: str) -> dt.date:
    try:
        if not _ISO_DAY.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, got {quoted(value)}") from None


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("is required")
    # The five basic items are matched against the register, which refuses these (and shown
    # on pages and terminals): a line break in a quoted field, a bell, a bidi override.
    if has_control(value):
        raise ValueError("contains a control character (C0, C1 or a bidi control)")
    if len(value) > 200:
        raise ValueError("longer than 200 characters")
    return value


def _sex(value: str) -> int:
    if value not in ("1", "2"):
        raise ValueError(f"expected 1 (男) or 2 (女), got {quoted(value)}")
    return int(value)


def _level(value: str) -> str:
    if value not in CERTIFICATION_LEVELS:
        raise ValueError(f"not a 要介護状態区分コード (01, 12, 13, 21–25): {quoted(value)}")
    return value


_PARSE = {
    "insurer_number": lambda v: _digits(v, 6), "insured_number": lambda v: _digits(v, 10),
    "name_kanji": _text, "name_kana": _text, "birth_date": _date, "sex": _sex,
    "address": _text, "care_level": _level, "certified_on": _date, "valid_from": _date,
    "valid_to": _date,
}  # fmt: skip


def read_certifications(path: Path, data: bytes | None = None) -> list[Certification]:
    """The certifications of a file; raises ``CareFileRejected`` with every problem (file,
    line, column) and returns nothing when any row is bad. ``data``: the file's bytes when the
    caller has read them (for their digest): those are parsed, not the file as it is now."""
    name = str(path)
    problems: list[FileProblem] = []
    found: list[Certification] = []
    seen: dict[tuple[str, str, dt.date], int] = {}
    try:
        for line, row in read_csv_rows(
            Path(path), required=_REQUIRED, allowed=_REQUIRED, data=data
        ):
            if "__width__" in row:
                problems.append(FileProblem(name, line, "row", row["__width__"]))
                continue
            values: dict[str, object] = {}
            for column in COLUMNS:
                try:
                    values[column] = _PARSE[column](row[column].strip())
                except ValueError as bad:
                    problems.append(FileProblem(name, line, column, str(bad)))
            if len(values) < len(COLUMNS):
                continue
            cert = Certification(**values, line=line)  # type: ignore[arg-type]
            before = len(problems)
            if cert.valid_from > cert.valid_to:
                problems.append(FileProblem(name, line, "valid_to", "is before valid_from"))
            if cert.birth_date > cert.certified_on:
                problems.append(FileProblem(name, line, "certified_on", "is before birth_date"))
            if cert.key in seen:
                problems.append(FileProblem(name, line, "valid_from",
                    f"the same number and valid_from as line {seen[cert.key]}"))  # fmt: skip
            if len(problems) == before:
                seen[cert.key] = line
                found.append(cert)
    except FileRejected as rejected:
        problems += [
            FileProblem(e.file, e.line, e.field or "file", e.reason) for e in rejected.errors
        ]
    if not found and not problems:  # a header alone: a failed export, not zero 認定
        problems.append(FileProblem(name, 0, "file", "the file holds no certifications"))
    if problems:
        raise CareFileRejected(problems)
    return found


def certifications_text(certifications: Sequence[Certification]) -> str:
    """The file's text (header and rows, LF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for cert in certifications:
        writer.writerow(
            value.isoformat() if isinstance(value, dt.date) else str(value)
            for value in cert.values()
        )
    return out.getvalue()


def write_certifications(path: Path, certifications: Sequence[Certification]) -> None:
    """Writes a 要介護認定 file whole or not at all."""
    with atomic_file(Path(path)) as temporary:
        temporary.write_text(certifications_text(certifications), encoding="utf-8")
