"""The 後期高齢者の質問票 file: answers of people 75 and over, for the 一体的実施 lists.

A UTF-8 CSV with a header (docs/formats.md §6): ``insurer_number, symbol, number, branch,
answered_on, q1 … q15, bmi``. Answers are the answer codes of the questionnaire (1 はい …);
an empty cell is an unanswered question. Every problem names file, line and column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from kokuho.checkups._integrated import ElderlyRecord
from kokuho.checkups._programme_common import person_key
from kokuho.checkups._programme_rules import load_rules
from kokuho.ids import InsuredId, InvalidIdentifier, half_width_number, iso_date
from kokuho.registry import FileRejected, RowError, read_csv_rows

QUESTIONS = range(1, 16)
COLUMNS = frozenset(
    {"insurer_number", "symbol", "number", "branch", "answered_on", "bmi"}
    | {f"q{n}" for n in QUESTIONS}
)
REQUIRED = frozenset({"insurer_number", "symbol", "number", "branch", "answered_on"})
_DECIMAL = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4})?")
#: Full-width digits and point (typed with a Japanese input method) are the ASCII ones, as the
#: file's insured numbers are; other scripts' digits are not.


def read_questionnaires(path: Path) -> list[ElderlyRecord]:
    name = str(path)
    # The codes each question has (data/programme_rules.yaml): any other integer was taken as
    # an answer that is not 該当, so a mistyped file passed without a word.
    questions = load_rules().elderly.questions
    records: list[ElderlyRecord] = []
    errors: list[RowError] = []
    for line, row in read_csv_rows(path, required=REQUIRED, allowed=COLUMNS):
        if "__width__" in row:
            errors.append(RowError(name, line, "", row["__width__"]))
            continue
        column = "insurer_number"
        try:
            insured = InsuredId.parse(
                row["insurer_number"], row["symbol"], row["number"], row["branch"]
            )
            column = "answered_on"
            answered = iso_date(row["answered_on"].strip())
            answers = {}
            for n in QUESTIONS:
                column = f"q{n}"
                value = row.get(column, "").strip()
                if value:
                    answers[n] = _answer(value, questions[n].answers if n in questions else {})
            column = "bmi"
            bmi = _bmi(row["bmi"]) if row.get("bmi", "").strip() else None
        except (InvalidIdentifier, ValueError) as error:
            errors.append(RowError(name, line, column, str(error)))
            continue
        key = person_key(insured.insurer, insured.symbol, insured.number, insured.branch)
        records.append(ElderlyRecord(key, answered, answers, bmi))
    if errors:
        raise FileRejected(errors)
    return records


def _answer(text: str, codes: Mapping[int, str]) -> int:
    """An answer code the question lists (a question the rules do not describe: any code)."""
    # ASCII or full-width digits only: int() also reads '٢', '+1' and '1_0'.
    digits = half_width_number(text)
    code = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 3 else None
    if code is None or (codes and code not in codes):
        listed = ", ".join(f"{k} {v}" for k, v in codes.items())
        raise ValueError(f"{text[:40]!r} is not an answer of the question ({listed})")
    return code


def _bmi(text: str) -> float:
    """A BMI: a positive decimal number. float() also reads nan, inf and -18.5, and a nan BMI
    compares false with the 低栄養 threshold, so it listed the person as 低栄養."""
    plain = half_width_number(text.strip())
    # Digits and a point: float() also reads '١٩.٥', '1_9.5' and exponents.
    value = float(plain) if _DECIMAL.fullmatch(plain) else math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text.strip()[:40]!r} is not a BMI (a positive number)")
    return value
