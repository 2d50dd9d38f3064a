"""The person files' and the 後発 list's full-width readings go through the shared
``kokuho.ids.half_width_number``; what they accepted and refused before, with their own two
tables (kept here as the reference), stays the same for every input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kokuho.claims import MasterFileRejected, read_generic_list
from kokuho.premiums import _grounds, _payments, _person_files
from tests.test_claims_masters import HEADER, write_csv

#: The tables as they were (premiums._person_files._FULL_WIDTH, claims._masters._WIDE).
OLD_PERSON_FILES = str.maketrans("０１２３４５６７８９－", "0123456789-")
OLD_MASTERS = str.maketrans("０１２３４５６７８９", "0123456789")

# Full-width digits and signs, ASCII, blanks, other scripts' digits, what NFKC would make
# digits, other dashes, and full-width point, comma, plus and percent (new to the shared table).
INPUTS = [
    "", " ", "　", "0", "１", "０１２３４５６７８９", "0123456789", " ０１２３ ", "12a", "１２ａ",
    "-1", "－１", "－", "1-2", "１－２", "2024-04-01", "２０２４－０４－０１", "２０２４-04-０１",
    " ２０２４－０４－０１ ", "20240401", "２０２４０４０１", "2024.04.01", "２０２４．０４．０１",
    "1,000", "１，０００", "１２．５", "12.5", "+1", "＋１", "5%", "５０％", "٣", "۳", "३", "𝟑",
    "①", "²", "Ⅲ", "−1", "–1", "‐1", "ー１", "１２３４５６７８９０１", "12345678901",
    "１２３４５６７８９０１２３４", "000000000012", "０００１", "+２０２４－０４－０１",
    "２０２４／０４／０１", "2024/04/01", "\u00a0１", "１\t",
]  # fmt: skip


def _old_ascii_of(raw: str) -> str | None:
    text = raw.strip().translate(OLD_PERSON_FILES)
    return text if text.isascii() else None


def _old_digits_of(raw: str) -> str | None:
    text = _old_ascii_of(raw)
    return text if text is not None and text.isdigit() else None


def _outcome(read: Callable[[str], Any], raw: str) -> Any:
    try:
        return ("read", read(raw))
    except Exception as error:  # the refusal and its message are the behaviour compared
        return ("refused", type(error).__name__, str(error))


@pytest.mark.parametrize("raw", INPUTS)
def test_digits_read_as_before(raw: str) -> None:
    assert _person_files.digits_of(raw) == _old_digits_of(raw)


@pytest.mark.parametrize("raw", INPUTS)
def test_ascii_text_reads_as_before_or_as_typed_in_ascii(raw: str) -> None:
    """Full-width digits and minus as before; full-width point, comma, plus and percent (which
    the old table left, so the text was refused as not ASCII) now read as their ASCII forms,
    i.e. as if typed in ASCII, and every reader refuses or accepts those as it does the ASCII."""
    new = _person_files.ascii_of(raw)
    if any(c in raw for c in "．，＋％"):
        ascii_typed = raw.translate(str.maketrans("．，＋％", ".,+%"))
        assert new == _old_ascii_of(ascii_typed)
    else:
        assert new == _old_ascii_of(raw)


@pytest.mark.parametrize("raw", INPUTS)
def test_dates_amounts_and_resident_ids_read_as_before(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def readers() -> list[Any]:
        return [
            _outcome(_grounds._date, raw),
            _outcome(lambda r: _payments.date_cell(_person_files.ascii_of(r) or ""), raw),
            _outcome(_payments.integer_cell, raw),
            _outcome(_person_files.read_resident_id, raw),
        ]

    now = readers()
    with monkeypatch.context() as old:
        for module in (_grounds, _payments, _person_files):
            if hasattr(module, "ascii_of"):
                old.setattr(module, "ascii_of", _old_ascii_of)
            if hasattr(module, "digits_of"):
                old.setattr(module, "digits_of", _old_digits_of)
        before = readers()
    assert now == before
    if raw.strip() in ("２０２４－０４－０１", "2024-04-01"):  # the comparison can fail
        assert now[0] == ("read", dt.date(2024, 4, 1))


CATEGORY_SET = ("1", "2", "☆", "3", "★")
CATEGORIES = ["1", "１", "２", "3", "３", "☆", "★", "4", "４", "－１", "１．", "＋３", "٣", "①", ""]


def test_generic_list_categories_read_as_before(tmp_path: Path) -> None:
    """The 後発 list's 区分 column: full-width digits read as ASCII ones, anything else not one
    of the categories is refused on its line, as before."""
    rows = [HEADER]
    for n, category in enumerate(CATEGORIES):
        rows.append([category, f"2149{n:03d}F1010", "成分", "", "", "", "", "錠"])
    path = write_csv(tmp_path / "tp.csv", rows, "utf-8")
    old_refused = {
        line + 2
        for line, category in enumerate(CATEGORIES)
        if category.translate(OLD_MASTERS) not in CATEGORY_SET
    }
    assert old_refused == set(range(9, 17))  # 4, ４, －１, １．, ＋３, ٣, ①, ""
    with pytest.raises(MasterFileRejected) as rejected:
        read_generic_list(path)
    assert {(p.line, p.field) for p in rejected.value.problems} == {
        (line, 1) for line in old_refused
    }
    accepted = [r for n, r in enumerate(rows[1:]) if n + 2 not in old_refused]
    listed = read_generic_list(write_csv(tmp_path / "ok.csv", [HEADER, *accepted], "utf-8"))
    assert [row.category for row in listed] == [
        c.translate(OLD_MASTERS) for c in CATEGORIES if c.translate(OLD_MASTERS) in CATEGORY_SET
    ]
