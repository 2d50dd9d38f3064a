"""公表物確認 on CSV files: which cells break the rules, by row and column name, and the files
that cannot be read, by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.provision import check_file, release_rules
from kokuho.store import FileProblemsError


def _write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _found(path: Path, **options: object) -> list[tuple[str, str, str, int]]:
    result = check_file(path, release_rules(), **options)  # type: ignore[arg-type]
    return [(f.rule, f.row, f.column, f.line) for f in result.findings]


def test_a_small_shown_count_in_a_cp932_table_is_named_by_row_and_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "年齢階級,男,女,合計\r\n40～44歳,9,20,29\r\n45～49歳,15,30,45\r\n合計,24,50,74\r\n",
        "cp932",
    )
    assert _found(path) == [("minimum_cell", "40～44歳", "男", 2)]


def test_a_lone_hidden_cell_is_recoverable_from_its_row_total(tmp_path: Path) -> None:
    # 男 of 40～44 is hidden but 29 - 20 = 9 (and 24 - 15 = 9 down the column).
    path = _write(tmp_path, "年齢,男,女,合計\n40-44,‐,20,29\n45-49,15,30,45\n合計,24,50,74\n")
    assert _found(path) == [("recoverable", "40-44", "男", 2)]


def test_two_hidden_cells_that_can_only_be_one_each_are_recoverable(tmp_path: Path) -> None:
    # Row A: 10 shown, total 12, two hidden cells each at least 1 (0 would be shown): 1 and 1.
    # Column totals are left out, so only the row says anything, and it says it all.
    path = _write(tmp_path, "区分,x,y,z,合計\nA,‐,‐,10,12\nB,20,30,40,90\n")
    assert _found(path) == [("recoverable", "A", "x", 2), ("recoverable", "A", "y", 2)]


def test_a_correctly_suppressed_table_without_totals_passes(tmp_path: Path) -> None:
    path = _write(tmp_path, "区分,x,y\nA,‐,12\nB,0,15\n")
    result = check_file(path, release_rules())
    assert result.ok and result.hidden == 1 and (result.rows, result.columns) == (2, 2)


def test_totals_that_do_not_add_up_are_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "区分,x,y,合計\nA,15,12,30\nB,10,15,25\n")
    assert _found(path) == [("totals", "(table)", "(table)", 0)]


def test_the_small_municipality_rule_needs_twenty(tmp_path: Path) -> None:
    path = _write(tmp_path, "区分,x,y\nA,15,25\nB,30,40\n")
    assert _found(path) == []
    # Under 2,000 inhabitants (unconfirmed extra rule): 15 must be hidden too; 2,000 is not under.
    assert _found(path, population=1999) == [("minimum_cell", "A", "x", 2)]
    assert _found(path, population=2000) == []


def test_a_cell_from_too_few_providers_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "区分,x,y\nA,15,25\nB,30,0\n")
    providers = _write(tmp_path, "区分,x,y\nA,2,3\nB,5,0\n", name="p.csv")
    assert _found(path, providers=providers) == [("minimum_providers", "A", "x", 2)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,x,y\nA,1\x002,30\n", "t.csv:2: column 2: NUL byte"),
        (b"a,x,y\nA,1\x072,30\n", "t.csv:2: column 2: control character"),
        (b"a,x,y\nA,12,30\nB,99999999999999999999,40\n", "t.csv:3: x: '9999999999999"),
        (b"a,x,y\nA,12,30\nB,\x82\xff,40\n", "t.csv:3: (encoding): neither UTF-8 nor cp932"),
        (b"a,x,y\nA,12,-3\n", "t.csv:2: y: '-3' is negative"),
        (b"a,x,y\nA,12,\n", "t.csv:2: y: '' is empty"),
        (b"a,x,y\nA,12,3.5\n", "t.csv:2: y: '3.5' is not a whole count"),
        (b"a,x,y\nA,12\n", "t.csv:2: (row): has 2 fields, the header 3"),
        (b"a,x,y\n", "t.csv: (file): needs a header row"),
    ],
)
def test_unreadable_files_are_named_by_file_line_and_field(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(FileProblemsError) as caught:
        check_file(path, release_rules())
    assert str(caught.value).startswith(str(tmp_path / message.split(":", 1)[0]))
    assert message.split(":", 1)[1] in str(caught.value)


def test_the_command_reports_in_json_and_exits_by_verdict(tmp_path: Path) -> None:
    bad = _write(tmp_path, "年齢,男,女,合計\n40-44,‐,20,29\n45-49,15,30,45\n合計,24,50,74\n")
    result = CliRunner().invoke(main, ["provision", "release-check", str(bad), "--json"])
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["hidden"] == 1
    assert document["findings"][0] | {"reason": ""} == {
        "rule": "recoverable", "row": "40-44", "column": "男", "line": 2, "reason": "",
    }  # fmt: skip
    good = _write(tmp_path, "区分,x,y\nA,‐,12\nB,0,15\n", name="g.csv")
    result = CliRunner().invoke(main, ["provision", "release-check", str(good)])
    assert result.exit_code == 0 and "fit to publish" in result.stdout
    broken = _write(tmp_path, "a,x\nA,\x00\n", name="n.csv")
    result = CliRunner().invoke(main, ["provision", "release-check", str(broken)])
    assert result.exit_code == 1 and "n.csv:2: column 2: NUL byte" in result.stderr
    result = CliRunner().invoke(
        main, ["provision", "release-check", str(good), "--population", "0"]
    )
    assert result.exit_code == 2


def test_lines_are_the_file_lines_past_blank_lines_and_quoted_breaks(tmp_path: Path) -> None:
    path = _write(tmp_path, '区分,x,y\n\n"A\nα",5,12\nB,0,15\n\n合計,5,27\n')
    assert _found(path) == [
        ("minimum_cell", "A\nα", "x", 4),
        ("minimum_cell", "(合計)", "x", 7),
    ]


def test_a_second_total_row_or_column_is_refused(tmp_path: Path) -> None:
    rows = _write(tmp_path, "区分,x,y\nA,10,12\n合計,10,12\n計,10,12\n")
    with pytest.raises(FileProblemsError, match=r"t.csv:4: 区分: a second total row"):
        check_file(rows, release_rules())
    columns = _write(tmp_path, "区分,x,合計,計\nA,10,10,10\n", name="c.csv")
    with pytest.raises(FileProblemsError, match=r"c.csv:1: 計: a second total column"):
        check_file(columns, release_rules())


def test_a_table_of_the_cap_is_read_one_byte_more_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``MAX_BYTES`` (lowered here) bounds what is read of a table (``kokuho.store.read_capped``):
    a file of exactly the cap is checked, one byte more is refused naming the file and cap."""
    import kokuho.provision._table_csv as table_csv

    path = _write(tmp_path, "年齢,男,女\n40-44,10,20\n")
    size = path.stat().st_size
    monkeypatch.setattr(table_csv, "MAX_BYTES", size)
    assert _found(path) == []
    monkeypatch.setattr(table_csv, "MAX_BYTES", size - 1)
    with pytest.raises(FileProblemsError) as raised:
        check_file(path, release_rules())
    assert str(raised.value) == f"{path}: (file): larger than {size - 1:,} bytes"
