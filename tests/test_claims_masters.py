"""The masters in their published layouts: 医薬品マスター (35 and ≥ 40 columns), 傷病名マスター,
the MHLW 後発 list (xlsx and CSV), the shipped synthetic sample, and drug_master in the lake."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from kokuho.claims import (
    ClaimsLake,
    DiseaseMasterRow,
    DrugMasterRow,
    GenericListRow,
    MasterFileRejected,
    read_disease_master,
    read_drug_master,
    read_generic_list,
    sample_masters,
)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "cp932") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def y_row(
    width: int, code: str, name: str, unit: str, price: str, generic: str, yakka: str
) -> list[str]:
    row = ["0", "Y"] + [""] * (width - 2)
    row[2], row[4], row[9], row[11], row[16], row[31] = code, name, unit, price, generic, yakka
    return row


def test_old_and_new_layout_rows_read_alike(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "y.csv",
        [
            # 35 columns (old layout); the name holds a comma inside quotes, as published files may
            y_row(35, "620000001", "テスト錠１０ｍｇ,分割", "錠", "12.30", "0", "2149001F1010"),
            y_row(42, "620000002", "テスト錠１０ｍｇ「Ａ」", "錠", "5.9", "1", "2149001F1029"),
            y_row(40, "620000003", "テスト注", "瓶", "1000", "0", ""),
        ],
    )
    assert read_drug_master(path) == [
        DrugMasterRow("620000001", "テスト錠１０ｍｇ,分割", "錠", 12.3, "0", "2149001F1010"),
        DrugMasterRow("620000002", "テスト錠１０ｍｇ「Ａ」", "錠", 5.9, "1", "2149001F1029"),
        DrugMasterRow("620000003", "テスト注", "瓶", 1000.0, "0", ""),
    ]
    assert read_drug_master(path)[1].efficacy == "2149"


def test_bad_drug_rows_are_named_by_line_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "y.csv",
        [
            y_row(42, "620000001", "良い行", "錠", "1", "0", "2149001F1010"),
            y_row(37, "620000002", "列が足りない", "錠", "1", "0", "2149001F1029"),
            y_row(42, "62000000X", "コード", "錠", "1", "0", "2149001F1037"),
            y_row(42, "620000004", "金額", "錠", "十円", "0", "2149001F1045"),
            y_row(42, "620000001", "重複", "錠", "1", "0", "2149001F1053"),
        ],
    )
    with pytest.raises(MasterFileRejected) as rejected:
        read_drug_master(path)
    found = [(p.line, p.field, p.name) for p in rejected.value.problems]
    assert found == [
        (2, 0, ""),
        (3, 3, "医薬品コード"),
        (4, 12, "新又は現金額"),
        (5, 3, "医薬品コード"),
    ]
    assert "35 (old layout) or 40" in rejected.value.problems[0].reason
    assert "already on line 1" in rejected.value.problems[3].reason


@pytest.mark.parametrize("price", ["nan", "inf", "-5.9", "1_0", "١٠", "1e400", " "])
def test_a_drug_price_is_a_plain_amount(tmp_path: Path, price: str) -> None:
    """float() read these as prices: a nan or negative 薬価 in the generic-share figures."""
    path = write_csv(
        tmp_path / "y.csv",
        [y_row(42, "620000001", "テスト錠", "錠", price, "0", "2149001F1010")],
        encoding="utf-8" if not price.isascii() else "cp932",
    )
    with pytest.raises(MasterFileRejected) as rejected:
        read_drug_master(path)
    assert [(p.line, p.name) for p in rejected.value.problems] == [(1, "新又は現金額")]


def test_disease_master(tmp_path: Path) -> None:
    rows = read_disease_master(sample_masters().diseases)
    assert len(rows) == 41
    assert rows[1] == DiseaseMasterRow("9900002", "2型糖尿病", "2型糖尿病", "", "E119")
    by_icd = {r.icd10 for r in rows}
    assert {"E112", "E119", "I10", "E785", "N189", "N183"} <= by_icd
    bad = write_csv(tmp_path / "b.csv", [["0", "B", "123456"] + [""] * 43])
    with pytest.raises(MasterFileRejected) as rejected:
        read_disease_master(bad)
    assert (rejected.value.problems[0].line, rejected.value.problems[0].field) == (1, 3)


HEADER = ["区分", "薬価基準収載医薬品コード", "成分名", "規格", "局", "麻", "※", "品名"]
LISTED = [
    ["２", "2149001F1010", "テスト成分", "10mg1錠", "", "", "", "テスト錠"],
    [3, "2149001F1029", "テスト成分", "10mg1錠", "", "", "", "テスト錠「Ａ」"],
    ["☆", "3962001F1010", "別の成分", "", "", "", "", "別錠"],
    ["★", "3962001F1029", "別の成分", "", "", "", "", "別錠「Ｂ」"],
    ["1", "2149002F1015", "新成分", "", "", "", "", "新錠"],
]
EXPECTED = [
    GenericListRow("2", "2149001F1010", "テスト成分", "テスト錠"),
    GenericListRow("3", "2149001F1029", "テスト成分", "テスト錠「Ａ」"),
    GenericListRow("☆", "3962001F1010", "別の成分", "別錠"),
    GenericListRow("★", "3962001F1029", "別の成分", "別錠「Ｂ」"),
    GenericListRow("1", "2149002F1015", "新成分", "新錠"),
]


def test_generic_list_from_xlsx(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["各先発医薬品の後発医薬品の有無に関する情報（令和6年4月）"])  # a title row
    sheet.append(HEADER)
    for row in LISTED:
        sheet.append(row)
    book.create_sheet("備考").append(["not read"])
    book.save(tmp_path / "tp.xlsx")
    assert read_generic_list(tmp_path / "tp.xlsx") == EXPECTED


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_generic_list_from_csv(tmp_path: Path, encoding: str) -> None:
    rows = [HEADER] + [[str(cell) for cell in row] for row in LISTED]
    assert read_generic_list(write_csv(tmp_path / "tp.csv", rows, encoding)) == EXPECTED


def test_bad_generic_list_rows(tmp_path: Path) -> None:
    rows = [HEADER] + [[str(c) for c in r] for r in LISTED] + [
        ["4", "2149003F1010", "", "", "", "", "", ""],
        ["3", "2149001F1010", "", "", "", "", "", ""],  # listed above as 2
        ["3", "bad", "", "", "", "", "", ""],
    ]  # fmt: skip
    with pytest.raises(MasterFileRejected) as rejected:
        read_generic_list(write_csv(tmp_path / "tp.csv", rows))
    assert [(p.line, p.field) for p in rejected.value.problems] == [(7, 1), (8, 2), (9, 2)]
    empty = write_csv(tmp_path / "empty.csv", [HEADER])
    with pytest.raises(MasterFileRejected, match="no row holds"):
        read_generic_list(empty)


def test_the_synthetic_sample_is_consistent() -> None:
    files = sample_masters()
    drugs = read_drug_master(files.drugs)
    listed = {row.yakka_code: row.category for row in read_generic_list(files.generic_list)}
    assert 60 <= len(drugs) <= 100
    assert all(d.code.startswith("699") for d in drugs)
    classes = {d.efficacy for d in drugs}
    assert {"3961", "3962", "3969", "2492", "2499", "2149", "2189", "1129", "2329"} <= classes
    generics = [d for d in drugs if d.generic_flag == "1"]
    assert generics and all(listed[d.yakka_code] in ("3", "★") for d in generics)
    originators = [d for d in drugs if d.generic_flag == "0" and d.yakka_code in listed]
    assert {listed[d.yakka_code] for d in originators} == {"1", "2", "☆"}
    # every originator with a generic shares its first 9 characters with one
    for d in originators:
        if listed[d.yakka_code] in ("2", "☆"):
            assert any(g.yakka_code[:9] == d.yakka_code[:9] for g in generics), d
    assert [d.name for d in drugs if d.yakka_code not in listed] == [
        "アセトアミノフェン原末「ＳＹＮ」"
    ]


def test_drug_master_joins_the_list(tmp_path: Path) -> None:
    lake = ClaimsLake(tmp_path / "lake")
    assert not lake.has_table("drug_master")
    files = sample_masters()
    assert lake.load_masters(files.drugs, files.generic_list) == 84
    rows = {r["code"]: r for r in lake.table("drug_master").to_pyarrow().to_pylist()}
    assert rows["699000101"] == {
        "code": "699000101",
        "name": "シンセメトホ錠２５０ｍｇ",
        "unit": "錠",
        "price": 10.1,
        "generic_flag": "0",
        "yakka_code": "3962901F1012",
        "efficacy": "3962",
        "generic_class": "☆",
        "ingredient": "メトホルミン塩酸塩",
    }
    assert [rows[c]["generic_class"] for c in ("699000102", "699000117", "699000184")] == [
        "3",  # a generic
        "1",  # エンパグリフロジン: no generic
        "",  # not on the list
    ]
    assert rows["699000184"]["ingredient"] == ""
    # loading again replaces the table (one file, the manifest names the new one)
    lake.load_masters(files.drugs, files.generic_list)
    assert len(list((tmp_path / "lake" / "drug_master").glob("*.parquet"))) == 1
    assert lake.load_disease_master(files.diseases) == 41
    assert lake.table("disease_master").count().to_pyarrow().as_py() == 41
