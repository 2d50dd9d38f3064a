"""The workbook: a sheet per part with Japanese headers and number formats, the values,
allocation, 調整交付金, reasons and the unconfirmed items, agreeing with the scoreboard."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from kokuho.incentives import example_inputs, prefecture_scoreboard, write_workbook


def test_the_workbook_of_the_example(tmp_path: Path) -> None:
    board = prefecture_scoreboard(None, None, 2020, example_inputs(), prefecture="37")
    path = write_workbook(board, tmp_path / "r2.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == [
        "市町村分", "市町村分_指標値", "都道府県分", "交付額", "調整交付金", "根拠", "出典・未確認",
    ]  # fmt: skip
    sheet = book["市町村分"]
    assert sheet["A1"].value == "令和2年度 保険者努力支援制度 (取組評価分) 市町村分 (取組評価分)"
    header = [c.value for c in sheet[3]]
    assert header[:3] == ["保険者番号", "市町村名", "被保険者数"]
    assert header[3] == "共通① 特定健診受診率\n(70点)"
    assert header[-4:] == ["合計点", "按分に用いる点数", "交付額(円)", "一人当たり(円)"]
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=4)}
    naoshima = board.part("municipal").unit_score("直島町")
    assert rows["直島町"][-2].value == naoshima.grant_yen
    assert rows["直島町"][-2].number_format == "#,##0"
    assert rows["直島町"][-4].value == naoshima.points == 35
    values = book["市町村分_指標値"]
    checkup = [c.value for c in values[3]].index("特定健診受診率\n(2018年度)")
    [naoshima_values] = [r for r in values.iter_rows(min_row=4) if r[1].value == "直島町"]
    assert naoshima_values[checkup].value == 0.4
    assert naoshima_values[checkup].number_format == "0.0%"
    adjustment = book["調整交付金"]
    assert [c.value for c in adjustment[4]][:3] == ["37", "香川県", 105_900]
    assert adjustment.cell(row=4, column=12).value == 2_719_664_887  # 普通調整交付金
    reasons = book["根拠"]
    statuses = {r[5].value for r in reasons.iter_rows(min_row=4)}
    assert {"加点", "該当せず", "上位段階で加点済", "前提未達"} <= statuses
    unconfirmed = [r[1].value for r in book["出典・未確認"].iter_rows(min_row=4)]
    assert len([u for u in unconfirmed if u]) >= len(board.unconfirmed)
