"""The input files of a scoring run (docs/incentives.md, "Input files").

One folder holds::

    national.csv          the national backdrop: every other municipality and prefecture,
                          one row per unit and fiscal year (indicator values, answers,
                          insured, optionally the official total points)
    efforts.csv           self-assessed 取組 of the home municipalities and prefecture
    collection_rates.csv  収納率 (現年度分) of the home municipalities
    indicators.csv        (optional) any indicator value of a home unit, overriding kokuho's

All are UTF-8 CSV (a BOM is accepted) with a header. Rates are fractions (0.45) or
percentages written with % (45%). Problems name file, line and column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from kokuho.ids import half_width_number
from kokuho.incentives._numbers import read_number, read_percent
from kokuho.incentives._schema import RuleFile
from kokuho.store import data_path, has_control

NATIONAL: Final = "national.csv"
EFFORTS: Final = "efforts.csv"
COLLECTION: Final = "collection_rates.csv"
INDICATORS: Final = "indicators.csv"
KINDS: Final = ("municipality", "prefecture")
_BASE: Final = ("fiscal_year", "kind", "code", "name", "prefecture", "insured")
_YES: Final = frozenset({"yes", "y", "true", "1", "はい", "○", "◯", "有", "済", "実施"})
_NO: Final = frozenset({"no", "n", "false", "0", "いいえ", "×", "無", "未", "未実施"})


@dataclass(frozen=True, slots=True)
class InputProblem:
    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.reason}"


class InputFileError(ValueError):
    """Input files that cannot be used; ``problems`` name file, line and column."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(shown + more)


@dataclass(frozen=True, slots=True)
class BackdropRow:
    """One unit of the national backdrop in one fiscal year."""

    year: int
    kind: str
    code: str
    name: str
    prefecture: str
    insured: int | None
    values: dict[str, float]
    efforts: dict[str, str]
    points: dict[str, float]  # part key → official total, when the file gives it


@dataclass(frozen=True)
class Inputs:
    """Everything read from an inputs folder, keyed for look-up by unit and year."""

    national: dict[tuple[str, str, int], BackdropRow] = field(default_factory=dict)
    efforts: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    values: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def rows(self, kind: str, year: int) -> Iterator[BackdropRow]:
        for (k, _code, y), row in self.national.items():
            if k == kind and y == year:
                yield row


def example_inputs() -> Path:
    """The small example inputs shipped with kokuho (香川県 with three municipalities and two
    other prefectures; synthetic figures), used by the docs and ``--example``."""
    return data_path("incentives/example")


def read_inputs(folder: Path, rules: RuleFile) -> Inputs:
    """Reads the input files of ``folder`` (missing files are empty) against ``rules``."""
    reader = _Reader(rules)
    files = []
    for name, read in (
        (NATIONAL, reader.national),
        (EFFORTS, reader.efforts_file),
        (COLLECTION, reader.collection),
        (INDICATORS, reader.indicators),
    ):
        path = folder / name
        if path.is_file():
            files.append(str(path))
            read(path)
    if reader.problems:
        raise InputFileError(reader.problems)
    return Inputs(
        national=reader.national_rows,
        efforts=reader.answers,
        values=reader.values,
        files=tuple(files),
        notes=tuple(reader.notes),
    )


#: The most insured persons one row may give: Japan's population, rounded up (a prefecture or
#: the whole 市町村国保 has fewer); past it is a typo, and from 2**63 on NumPy cannot hold it.
MAX_INSURED: Final = 200_000_000
#: The longest name of a unit (the longest 市区町村 name has 10 characters).
MAX_NAME: Final = 100


def _is_digits(text: str, most: int) -> bool:
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


class _Reader:
    def __init__(self, rules: RuleFile) -> None:
        self.rules = rules
        self.problems: list[InputProblem] = []
        self.notes: list[str] = []
        self.national_rows: dict[tuple[str, str, int], BackdropRow] = {}
        self.answers: dict[tuple[str, int], dict[str, str]] = {}
        self.values: dict[tuple[str, int], dict[str, float]] = {}
        self.parts = {p.key for p in rules.parts}

    def _rows(self, path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
        if not self._utf8(path):
            return
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            if missing:
                self.problems.append(InputProblem(path.name, 1, ",".join(missing), "missing"))
                return
            reader.fieldnames = header
            for row in reader:
                # The line the row ends on: DictReader skips empty lines, so counting rows
                # named the line before the real one after each (and after a quoted line break).
                cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
                if any(cells.values()):
                    yield reader.line_num, cells

    def _utf8(self, path: Path) -> bool:
        """Whether ``path`` is UTF-8 text without control characters; if not, its problem
        names the line of the first bad byte (reading it as text would fail mid-file with a
        message naming neither). A control character (NUL …) reached the names and notes of
        the workbook, which refused it (an internal error) and the terminal."""
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            self._problem(path, line, "(file)", f"not UTF-8 (byte 0x{data[error.start]:02x})")
            return False
        control = next((c for c in text if c < " " and c not in "\r\n\t" or c == "\x7f"), None)
        if control is not None:
            line = text.count("\n", 0, text.index(control)) + 1
            self._problem(path, line, "(file)", f"a control character (U+{ord(control):04X})")
            return False
        return True

    def _problem(self, path: Path, line: int, column: str, reason: str) -> None:
        self.problems.append(InputProblem(path.name, line, column, reason))

    def _year(self, path: Path, line: int, text: str) -> int | None:
        # ASCII digits only: str.isdigit also says yes to '²', which int() refuses.
        if not _is_digits(text, 4) or not 2000 <= int(text) <= 2100:
            self._problem(path, line, "fiscal_year", f"{text!r} is not a fiscal year (e.g. 2020)")
            return None
        return int(text)

    def number(self, path: Path, line: int, column: str, text: str) -> float | None:
        """A field's value, or None when empty; rates accept 45% and must be ≤ 1 otherwise."""
        if text == "":
            return None
        spec = self.rules.fields.get(column)
        unit = spec.unit if spec is not None else "number"
        percent = half_width_number(text).endswith("%")
        number = half_width_number(text).removesuffix("%")
        read = read_percent(number) if percent else read_number(number)
        if read is None:
            self._problem(path, line, column, f"{text[:40]!r} is not a number")
            return None
        value = read
        if not math.isfinite(value):
            self._problem(path, line, column, f"{text[:40]!r} is not a finite number")
            return None
        if percent and unit != "rate":
            self._problem(path, line, column, "only rates take %")
            return None
        if unit == "rate" and spec is not None and not spec.is_rate(value):
            # With % too: '4500%' was the rate 45.0 (a 4,500 % 受診率), given its points; and
            # below 0: a 受診率 of -0.5 was scored (only a signed 減少率 may be negative).
            low = "-1" if spec.signed else "0"
            reason = f"{text[:40]} is not a rate ({low} to 1): write 0.45 or 45% for 45 %"
            self._problem(path, line, column, reason)
            return None
        elif unit == "count" and not (0 <= value <= MAX_INSURED and value.is_integer()):
            # A count of persons as `insured` is: 10**30 or -5 checkup-eligible members passed.
            reason = f"{text[:40]!r} is not a whole number of persons up to {MAX_INSURED:,}"
            self._problem(path, line, column, reason)
            return None
        return value

    def answer(self, path: Path, line: int, item: str, text: str) -> str | None:
        """An effort answer normalised to one of the item's values (yes/no synonyms)."""
        if text == "":
            return None
        allowed = self.rules.efforts[item].values
        lowered = text.lower()
        if set(allowed) == {"yes", "no"}:
            if lowered in _YES:
                return "yes"
            if lowered in _NO:
                return "no"
        if text in allowed:
            return text
        self._problem(path, line, item, f"{text!r} is not one of {list(allowed)}")
        return None

    def national(self, path: Path) -> None:
        if not self._utf8(path):
            return
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in _BASE if c not in header]
            if missing:
                self._problem(path, 1, ",".join(missing), "missing")
                return
            base = {c: header.index(c) for c in _BASE}
            fields = [(k, c) for k, c in enumerate(header) if c in self.rules.fields]
            efforts = [(k, c) for k, c in enumerate(header) if c in self.rules.efforts]
            points = [
                (k, c[7:])
                for k, c in enumerate(header)
                if c.startswith("points:") and c[7:] in self.parts
            ]
            known = set(_BASE) | {c for _, c in fields} | {c for _, c in efforts}
            unused = sorted(c for c in header if c not in known and not c.startswith("points:"))
            if unused:
                self.notes.append(
                    f"{path.name}: columns not used by the FY{self.rules.fiscal_year} rules: "
                    + ", ".join(unused)
                )
            cache: dict[tuple[int, str], str | None] = {}
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # an empty line (a trailing one, or ',,,' from a spreadsheet)
                line = reader.line_num
                if len(row) < len(header):
                    row += [""] * (len(header) - len(row))
                self._national_row(path, line, row, base, fields, efforts, points, cache)

    def _national_row(
        self,
        path: Path,
        line: int,
        row: list[str],
        base: dict[str, int],
        fields: list[tuple[int, str]],
        efforts: list[tuple[int, str]],
        points: list[tuple[int, str]],
        cache: dict[tuple[int, str], str | None],
    ) -> None:
        cell = {c: row[k].strip() for c, k in base.items()}
        year = self._year(path, line, cell["fiscal_year"])
        kind, code = cell["kind"], cell["code"]
        if kind not in KINDS:
            self._problem(path, line, "kind", f"{kind!r} is not one of {list(KINDS)}")
            return
        if not code:
            self._problem(path, line, "code", "empty")
            return
        prefecture = cell["prefecture"] or (code if kind == "prefecture" else "")
        if not _is_digits(prefecture, 2) or len(prefecture) != 2:
            self._problem(path, line, "prefecture", f"{prefecture!r} is not 01–47")
            return
        if not self._code_and_name(path, line, kind, code, prefecture, cell["name"]):
            return
        insured = self._insured(path, line, cell["insured"])
        values: dict[str, float] = {}
        for k, column in fields:
            text = row[k].strip()
            if not text:
                continue
            number: float | None = None
            # The common case, a plain ASCII number within range; anything else (other
            # scripts' digits, '_' and full-width forms, which float() reads or refuses
            # differently) is read, or refused, by ``number``.
            if text.isascii() and "_" not in text:
                try:
                    number = float(text)
                except ValueError:
                    number = None
            spec = self.rules.fields[column]
            unit = spec.unit
            if (
                number is None
                or not math.isfinite(number)
                or (unit == "rate" and not spec.is_rate(number))
                or (unit == "count" and not (0 <= number <= MAX_INSURED and number.is_integer()))
            ):
                number = self.number(path, line, column, text)  # reports the problem
            if number is not None:
                values[column] = number
        answers: dict[str, str] = {}
        for k, item in efforts:
            text = row[k].strip()
            if not text:
                continue
            key = (k, text)
            if key in cache:  # answers repeat: normalise each spelling once
                answer = cache[key]
            else:
                before = len(self.problems)
                answer = self.answer(path, line, item, text)
                if len(self.problems) == before:
                    cache[key] = answer
            if answer is not None:
                answers[item] = answer
        totals: dict[str, float] = {}
        for k, part in points:
            number = self.number(path, line, f"points:{part}", row[k].strip())
            if number is not None:
                totals[part] = number
        if year is None:
            return
        if (kind, code, year) in self.national_rows:
            self._problem(path, line, "code", f"{kind} {code} of {year} is listed twice")
            return
        self.national_rows[(kind, code, year)] = BackdropRow(
            year, kind, code, cell["name"], prefecture, insured, values, answers, totals
        )

    def _code_and_name(
        self, path: Path, line: int, kind: str, code: str, prefecture: str, name: str
    ) -> bool:
        """A municipality's code is a 6-digit 保険者番号 of its prefecture (the first two
        digits), a prefecture's its 2-digit number: 丸亀市 (370023) listed under 38 ended the
        scoreboard with "units listed twice", and 'ABC' was a unit sharing the budget. The
        name is printed, written to the CSV and the workbook: one line of at most
        ``MAX_NAME`` characters without control characters or bidi controls."""
        digits = 6 if kind == "municipality" else 2
        shown = code if len(code) <= 40 else code[:40] + "…"
        if not _is_digits(code, digits) or len(code) != digits:
            what = "保険者番号 (6 digits)" if digits == 6 else "都道府県番号 (01–47)"
            self._problem(path, line, "code", f"{shown!r} is not a {what}")
            return False
        if kind == "municipality" and code[:2] != prefecture:
            reason = f"{code} is a number of prefecture {code[:2]}, not {prefecture}"
            self._problem(path, line, "code", reason)
            return False
        if kind == "prefecture" and code != prefecture:
            self._problem(path, line, "code", f"{code} is not prefecture {prefecture}")
            return False
        if has_control(name) or len(name) > MAX_NAME:
            reason = (
                f"one line of at most {MAX_NAME} characters without control characters or "
                "bidi controls (a line break, ESC, U+202E …)"
            )
            self._problem(path, line, "name", reason)
            return False
        return True

    def _insured(self, path: Path, line: int, text: str) -> int | None:
        if text == "":
            return None
        digits = text.replace(",", "")
        if not _is_digits(digits, len(str(MAX_INSURED))) or int(digits) > MAX_INSURED:
            reason = f"{text[:40]!r} is not a whole number of persons up to {MAX_INSURED:,}"
            self._problem(path, line, "insured", reason)
            return None
        return int(digits)

    def efforts_file(self, path: Path) -> None:
        unknown: set[str] = set()
        for line, row in self._rows(path, ("fiscal_year", "code", "item", "value")):
            year = self._year(path, line, row["fiscal_year"])
            item = row["item"]
            if item not in self.rules.efforts:
                unknown.add(item)
                continue
            answer = self.answer(path, line, item, row["value"])
            if year is None or answer is None or not row["code"]:
                continue
            answers = self.answers.setdefault((row["code"], year), {})
            if item in answers:
                self._problem(path, line, "item", f"{item} of {row['code']} {year} given twice")
            answers[item] = answer
        if unknown:
            self.notes.append(
                f"{path.name}: items not in the FY{self.rules.fiscal_year} rules: "
                + ", ".join(sorted(unknown))
            )

    def _value(self, path: Path, line: int, code: str, year: int | None, name: str, v: str) -> None:
        number = self.number(path, line, name, v)
        if year is None or number is None or not code:
            return
        values = self.values.setdefault((code, year), {})
        if name in values:
            self._problem(path, line, name, f"{name} of {code} {year} given twice")
        values[name] = number

    def collection(self, path: Path) -> None:
        for line, row in self._rows(path, ("fiscal_year", "code", "rate")):
            year = self._year(path, line, row["fiscal_year"])
            if "collection_rate" not in self.rules.fields:
                self.notes.append(f"{path.name}: the rules have no field collection_rate")
                return
            self._value(path, line, row["code"], year, "collection_rate", row["rate"])

    def indicators(self, path: Path) -> None:
        unknown: set[str] = set()
        for line, row in self._rows(path, ("fiscal_year", "code", "field", "value")):
            year = self._year(path, line, row["fiscal_year"])
            if row["field"] not in self.rules.fields:
                unknown.add(row["field"])
                continue
            self._value(path, line, row["code"], year, row["field"], row["value"])
        if unknown:
            self.notes.append(
                f"{path.name}: fields not in the FY{self.rules.fiscal_year} rules: "
                + ", ".join(sorted(unknown))
            )


def merged(*layers: Mapping[str, float] | None) -> dict[str, float]:
    """Later layers win."""
    out: dict[str, float] = {}
    for layer in layers:
        if layer:
            out.update(layer)
    return out
