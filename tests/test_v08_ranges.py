"""Every numeric (PQ) result of a V08 checkup document is checked against its item's format
(data/checkup_item_formats.yaml) before it is accepted: 1e308, a waist of 99999999 cm or an
HbA1c of 1e20 no longer reach 階層化, the rates and the dashboard. Non-finite values are refused
whatever the item. The problem names the archive, the file and the item, as every V08 problem
does, and rejects the document (and, by default, the archive)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from kokuho.checkups import Checkup, Items, Observation
from kokuho.checkups._v08_api import (
    DocumentRejected,
    read_archive,
    read_document,
    write_document,
)
from kokuho.checkups._v08_ranges import load_item_formats, parse_item_formats
from kokuho.store import data_text, quoted
from tests.test_v08 import ARCHIVE, H1, H2, build, edited, rejected

WAIST = "9N016160100000001"  # in the fixture: value, then interpretationCode (general path)
HEIGHT = "9N001000000000001"  # in the fixture: code, then value only (the usual shape)
HBA1C = "3D046000001906202"
UNLISTED = "9Z999000000000001"  # no format of its own: the default applies

NUMERIC_ITEMS = (
    Items.HEIGHT + Items.WEIGHT + Items.BMI + Items.VISCERAL_FAT_AREA + Items.WAIST
    + Items.SBP + Items.DBP + Items.TG_FASTING + Items.TG_RANDOM + Items.HDL + Items.LDL
    + Items.GLUCOSE_FASTING + Items.GLUCOSE_RANDOM + Items.HBA1C + Items.EGFR + Items.CREATININE
)  # fmt: skip

NOT_NUMBERS = ["Infinity", "-Infinity", "NaN", "nan", "inf", "1e309", "9" * 400, "1e99999"]


def _largest(form: str) -> str:
    whole, _, decimals = form.partition(".")
    return "9" * len(whole) + ("." + "9" * len(decimals) if decimals else "")


def _one_step_above(form: str) -> str:
    decimals = len(form.partition(".")[2])
    step = Decimal(1).scaleb(-decimals)
    return str(Decimal(_largest(form)) + step)


def _checkup(code: str, value: str) -> Checkup:
    return Checkup(
        document="",
        insurer="370015",
        symbol="",
        number="1234",
        branch=None,
        sex=1,
        birth_date=dt.date(1960, 4, 2),
        exam_date=dt.date(2024, 6, 1),
        institution="3710000012",
        observations={code: Observation(code, "PQ", value, "cm")},
    )


def _problems(code: str, value: str) -> list[str]:
    try:
        read_document(write_document(_checkup(code, value)), "h.xml")
    except DocumentRejected as error:
        return [f"{p.where}: {p.reason}" for p in error.problems]
    return []


# --- the data file -------------------------------------------------------------------------


def test_every_numeric_item_kokuho_reads_has_a_format() -> None:
    formats = load_item_formats()
    assert set(NUMERIC_ITEMS) <= set(formats.items)
    assert formats.items[WAIST].format == "NNN.N"
    assert formats.items[WAIST].largest == 999.9
    assert formats.items[HBA1C].largest == 99.9
    assert formats.of(UNLISTED) is formats.default
    assert formats.default.largest == 999999.999


def test_every_format_is_unconfirmed_and_names_its_source() -> None:
    formats = load_item_formats()
    assert formats.unconfirmed  # nothing was read in the 項目コード表 itself
    assert "default" in formats.unconfirmed
    assert all(item.source for item in formats.items.values())


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("format: NNN.N\n", "format: '999.9'\n", "身長: format '999.9' is not N… or N….N…"),
        ("format: NNN.N\n", "format: NNN.\n", "身長: format 'NNN.' is not N… or N….N…"),
        ("format: NNN.N\n", "format: " + "N" * 16 + "\n", "身長: format"),
        ("    confirmed: false\n", "    confirmed: maybe\n", "身長: needs confirmed: true/false"),
        ("    source: *assumed\n", "    source: ''\n", "身長: needs a source"),
        ("codes: [9N006000000000001]", "codes: [9N001000000000001]", "9N001000000000001"),
        ("codes: [9N006000000000001]", "codes: [9N00600000000]", "'9N00600000000'"),
        ("format: kokuho checkup item formats 1", "format: other", "format"),
    ],
)
def test_a_malformed_file_is_refused_with_the_reason(old: str, new: str, reason: str) -> None:
    text = data_text("checkup_item_formats.yaml")
    assert old in text, old
    with pytest.raises(ValueError, match="checkup item formats") as caught:
        parse_item_formats(text.replace(old, new, 1))
    assert reason in str(caught.value)


# --- each item: the largest value its format allows, and one step above ---------------------


@pytest.mark.parametrize("code", sorted(set(NUMERIC_ITEMS)))
def test_the_largest_value_of_the_format_is_accepted_and_one_step_above_refused(
    code: str,
) -> None:
    item = load_item_formats().items[code]
    assert _problems(code, _largest(item.format)) == []
    assert _problems(code, "0") == []  # the bound is technical: no clinical floor
    above = _one_step_above(item.format)
    assert _problems(code, above) == [
        f"observation {code}: value {above!r} is out of range: {item.label} allows 0 to "
        f"{_largest(item.format)} (format {item.format})"
    ]


def test_an_item_without_a_format_of_its_own_gets_the_default() -> None:
    assert _problems(UNLISTED, "999999.999") == []
    assert _problems(UNLISTED, "1e308") == [
        f"observation {UNLISTED}: value '1e308' is out of range: an item without a format of "
        "its own allows 0 to 999999.999 (format NNNNNN.NNN)"
    ]


@pytest.mark.parametrize("value", ["999.9", "999.90", "0999.9", "0", "0.0", "85", "9.999e2"])
def test_values_within_the_waist_format_are_accepted(value: str) -> None:
    assert _problems(WAIST, value) == []


@pytest.mark.parametrize(
    "value",
    ["1000", "1000.0", "999.95", "99999999", "1e308", "1E308", "+1e308", "1e20", "1" + "0" * 300],
)
def test_absurd_magnitudes_of_the_waist_are_refused(value: str) -> None:
    assert _problems(WAIST, value) == [
        f"observation {WAIST}: value {quoted(value)} is out of range: 腹囲 allows 0 to 999.9 "
        "(format NNN.N)"
    ]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("code", [WAIST, HBA1C, UNLISTED])
def test_non_finite_values_are_refused_whatever_the_item(code: str, value: str) -> None:
    (problem,) = _problems(code, value)
    assert problem.startswith(f"observation {code}: value ")
    assert problem.endswith(" is not a number")


# --- in an archive: the problem names archive, file and item; the archive is rejected -------


@pytest.mark.parametrize(
    ("code", "old", "value", "reason"),
    [
        (
            WAIST,
            'value="86.0" unit="cm"',
            "99999999",
            "is out of range: 腹囲 allows 0 to 999.9 (format NNN.N)",
        ),
        (
            HEIGHT,
            'value="170.2" unit="cm"',
            "1e308",
            "is out of range: 身長 allows 0 to 999.9 (format NNN.N)",
        ),
        (
            HBA1C,
            'value="5.6" unit="%"',
            "1e20",
            "is out of range: HbA1c allows 0 to 99.9 (format NN.N)",
        ),
        (WAIST, 'value="86.0" unit="cm"', "Infinity", "is not a number"),
        (HEIGHT, 'value="170.2" unit="cm"', "NaN", "is not a number"),
    ],
)
def test_the_archive_problem_names_archive_file_and_item(
    tmp_path: Path, code: str, old: str, value: str, reason: str
) -> None:
    files = edited(H1, old, old.replace(old.split('"')[1], value))
    assert [str(p) for p in rejected(build(tmp_path, files))] == [
        f"{ARCHIVE}: {H1}: observation {code}: value {value!r} {reason}"
    ]
    # Not strict: the other document is kept, this one is left out whole.
    contents = read_archive(build(tmp_path, files), strict=False)
    assert [c.document for c in contents.checkups] == [H2]
    assert [p.file for p in contents.problems] == [H1]


def test_the_largest_waist_in_an_archive_is_accepted(tmp_path: Path) -> None:
    files = edited(H1, 'value="86.0" unit="cm"', 'value="999.9" unit="cm"')
    contents = read_archive(build(tmp_path, files))
    (checkup,) = [c for c in contents.checkups if c.document == H1]
    assert checkup.observations[WAIST].number == 999.9


# --- the usual shape (taken by index) and the general one give the same answer --------------


def _shaped(code: str, value: str, general: bool) -> bytes:
    data = write_document(_checkup(code, value))
    if general:
        # An interpretationCode after the value: the observation is no longer (code, value).
        end = b"</observation>"
        data = data.replace(end, b'  <interpretationCode code="H"/>\n            ' + end, 1)
    return data


@pytest.mark.parametrize(
    "value", ["999.9", "1000.0", "1e308", "99999999", "Infinity", "NaN", "9" * 400, "0", "-1"]
)
def test_the_usual_and_the_general_observation_shape_agree(value: str) -> None:
    answers = []
    for general in (False, True):
        data = _shaped(WAIST, value, general)
        assert (b"interpretationCode" in data) is general
        try:
            answers.append(read_document(data, "h.xml").observations[WAIST])
        except DocumentRejected as error:
            answers.append([str(p) for p in error.problems])  # type: ignore[arg-type]
    assert answers[0] == answers[1]
