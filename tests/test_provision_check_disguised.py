"""公表物確認 of tables whose totals or counts are written in ways the checker must not miss:
a total named 男女計 or 計（人）, a subtotal (小計) row, counts written with a unit (5人).
Each of these passed as fit to publish while a reader could work the hidden cell back. And
the other way round: a word that only ends in 計 (歩数計, 一般会計) is not a total, and a
harmless table of them is not refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kokuho.provision import check_file, release_rules
from kokuho.store import FileProblemsError
from tests.clihome import invoke


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _found(path: Path) -> list[tuple[str, str, str, int]]:
    result = check_file(path, release_rules())
    return [(f.rule, f.row, f.column, f.line) for f in result.findings]


@pytest.mark.parametrize(
    "total", ["男女計", "計（人）", "合 計", "総数(人)", "Grand Total", "県計"]
)
def test_a_total_column_with_a_longer_name_still_gives_a_lone_hidden_cell_away(
    tmp_path: Path, total: str
) -> None:
    # 男 of 40-44 is 29 - 20 = 9, whatever the total column is called.
    path = _write(tmp_path, f"年齢,男,女,{total}\n40-44,‐,20,29\n45-49,15,30,45\n")
    assert _found(path) == [("recoverable", "40-44", "男", 2)]


@pytest.mark.parametrize("total", ["県計", "総数（人）", "男女計"])
def test_a_total_row_with_a_longer_name_still_gives_a_lone_hidden_cell_away(
    tmp_path: Path, total: str
) -> None:
    path = _write(tmp_path, f"区分,x,y\nA,‐,20\nB,15,30\n{total},24,50\n")
    assert _found(path) == [("recoverable", "A", "x", 2)]


def test_a_subtotal_row_beside_hidden_cells_is_sent_to_a_human(tmp_path: Path) -> None:
    # 小計 of 男 = 9 + 20: a reader subtracts it; the checker cannot model subtotals, so it must
    # not call the table fit to publish.
    path = _write(
        tmp_path,
        "性別,年齢,人数\n男,40-44,‐\n男,45-49,20\n男,小計,29\n女,40-44,15\n女,45-49,30\n",
    )
    assert _found(path) == [("subtotals", "男 小計", "(table)", 4)]


def test_a_subtotal_row_without_hidden_cells_is_only_checked_for_the_minimum(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "性別,年齢,人数\n男,40-44,12\n男,45-49,20\n男,小計,32\n")
    assert _found(path) == []


@pytest.mark.parametrize(
    "cell",
    ["5人", "５ 人", "7名", "3件", "1,234人", "五人", "4.5%", "12.5",
     # Signed, in exponent form, in another script, a formula: these passed as fit to
     # publish while a reader (or a spreadsheet, for =3) reads 3.
     "-3", "+3", "−3", "－3", "1e0", "3E+0", "٣", "३", "=3", "=1+2", "@3"],
)  # fmt: skip
def test_counts_written_with_a_unit_are_refused_not_taken_for_row_names(
    tmp_path: Path, cell: str
) -> None:
    # Every cell of 男 carries a unit (or another disguise), so the column used to be read as
    # part of the row names and its 5 was never checked.
    path = _write(tmp_path, f'年齢,男,女\n40-44,"{cell}",20\n45-49,12人,30\n')
    with pytest.raises(FileProblemsError) as raised:
        check_file(path, release_rules())
    assert "t.csv:2: 男:" in str(raised.value)
    assert "bare count" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Row-level data keyed by the extract's pseudonymous ID: one person per row.
        (
            "pid,points\n" + "0f" * 32 + ",1234\n" + "a" * 64 + ",567\n",
            [("identifier", "(table)", "pid", 2)],
        ),
        # Names and birth dates as row names, a count column beside them.
        (
            "氏名,生年月日,点数\n山田 太郎,1950-04-02,1234\n佐藤 花子,1948-01-09,567\n",
            [("identifier", "(table)", "氏名", 2), ("identifier", "(table)", "生年月日", 2)],
        ),
    ],
)
def test_identifiers_in_the_row_names_are_not_fit_to_publish(
    tmp_path: Path, text: str, expected: list[tuple[str, str, str, int]]
) -> None:
    path = _write(tmp_path, text)
    assert _found(path) == expected
    findings = check_file(path, release_rules()).findings
    assert all("山田" not in f.reason and "1950" not in f.reason for f in findings)


def test_a_long_numeric_row_name_is_taken_for_a_pseudonymous_id(tmp_path: Path) -> None:
    # 16 digits or more, letters or not: an ID whose hash happened to hold no letter, or a
    # numeric person number, is refused; a real 10-digit 医療機関コード is not.
    path = _write(tmp_path, "id,人数\n" + "0" * 63 + "1,12\n")
    assert _found(path) == [("identifier", "(table)", "id", 2)]
    path = _write(tmp_path, "医療機関コード,人数\n3710112347,12\n3710112354,15\n")
    assert _found(path) == []


def test_an_amount_from_too_few_patients_is_reported_with_their_count(tmp_path: Path) -> None:
    # 点数 per cell are all 10 or more, yet A × x comes from 2 patients.
    points = _write(tmp_path, "区分,x,y\nA,1520,2480\nB,3300,0\n")
    patients = _write(tmp_path, "区分,x,y\nA,2,14\nB,25,0\n", name="p.csv")
    assert _found(points) == []
    found = check_file(points, release_rules(), patients=patients).findings
    assert [(f.rule, f.row, f.column, f.line) for f in found] == [("minimum_patients", "A", "x", 2)]
    result = invoke("provision", "release-check", str(points), "--patients", str(patients))
    assert result.exit_code == 3 and "minimum_patients" in result.output


@pytest.mark.parametrize(
    "text",
    [
        # Devices a 保健事業 counts its participants by: neither column is a total.
        "年齢,アプリ,歩数計\n40代,25,14\n50代,31,22\n",
        "年齢,アプリ,歩数計,血圧計\n40代,25,14,12\n50代,31,22,15\n",
        # Accounts (会計) as row names: neither row is a total.
        "会計,人数\n一般会計,25\n特別会計,31\n",
    ],
)
def test_a_word_ending_in_kei_that_is_not_a_total_is_not_refused(tmp_path: Path, text: str) -> None:
    # Any name ending in 計 was read as a total: "a second total column/row" (exit 1) or
    # "the totals do not add up" (exit 3) for tables with every count 10 or more.
    path = _write(tmp_path, text)
    result = invoke("provision", "release-check", str(path))
    assert result.exit_code == 0, result.output
    assert "fit to publish" in result.output


def test_a_total_beside_a_device_column_still_gives_a_lone_hidden_cell_away(
    tmp_path: Path,
) -> None:
    # 歩数計 of 40代 is 29 - 20 = 9, worked back from the 男女計 column.
    path = _write(tmp_path, "年齢,アプリ,歩数計,男女計\n40代,20,‐,29\n50代,31,22,53\n")
    assert _found(path) == [("recoverable", "40代", "歩数計", 2)]


def test_a_count_too_large_taken_for_a_row_name_is_refused_as_too_large(tmp_path: Path) -> None:
    big = "9" * 20
    path = _write(tmp_path, f"年齢,男,女\n40-44,{big},20\n45-49,{big},30\n")
    with pytest.raises(FileProblemsError) as raised:
        check_file(path, release_rules())
    assert "t.csv:2: 男:" in str(raised.value)
    assert "larger than 999,999,999" in str(raised.value)


@pytest.mark.parametrize("label", ["40-44", "90+", "1人世帯", "三豊市", "III", "R3"])
def test_second_level_row_names_that_are_not_counts_still_pass(tmp_path: Path, label: str) -> None:
    path = _write(tmp_path, f"区分,小区分,人数\nA,{label},12\nB,{label},15\n")
    assert _found(path) == []
