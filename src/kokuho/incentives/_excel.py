"""The scoreboard as an Excel workbook, laid out the way prefecture staff file these figures:
one sheet per part (市町村分 by indicator, 都道府県分, 事業費連動分), the indicator values, the
allocation (交付額), the 調整交付金, the reasons (根拠) and the unconfirmed items (出典・未確認).
Japanese headers, yen with separators, rates in %."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from kokuho.incentives._board import Scoreboard
from kokuho.incentives._model import PartScore

YEN = "#,##0"
POINTS = "#,##0.##"
RATE = "0.0%"
COUNT = "#,##0"
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD = PatternFill("solid", fgColor="DDEBF7")
_HOME = PatternFill("solid", fgColor="FFF2CC")
_ORIGINS = "出所: derived = kokuhoが算出 / file = 入力ファイル / national = 全国ファイル"
_ADJUSTMENT_NOTE = (
    "普通調整交付金 = 調整対象需要額 − 調整対象収入額 (正の場合); 暫定措置は被保険者数で按分"
)
_FORMATS = {"rate": RATE, "yen": YEN, "count": COUNT, "per_10k": "0.0", "index": "0.000"}


def _sheet_name(text: str, taken: set[str]) -> str:
    name = "".join(c for c in text if c not in "[]:*?/\\")[:31]
    base, n = name, 2
    while name in taken:
        name = f"{base[:28]}_{n}"
        n += 1
    taken.add(name)
    return name


def _as_text(*rows: Sequence[Any]) -> None:
    """openpyxl stores a string starting with "=" as a formula: a name from national.csv or
    the register (=HYPERLINK(…)) was a live formula in the workbook. Every string stays text
    (the cells are typed; the text itself is kept as it is)."""
    for row in rows:
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _table(
    sheet: Worksheet,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: Sequence[str | None],
    *,
    highlight: Sequence[bool] = (),
    note: str = "",
) -> None:
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.append([note] if note else [])
    sheet.append(list(header))
    _as_text(sheet[1], sheet[2])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.fill = _HEAD
        cell.border = _BOX
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for r, row in enumerate(rows):
        sheet.append(list(row))
        _as_text(sheet[4 + r])
        for c, cell in enumerate(sheet[4 + r]):
            cell.border = _BOX
            number_format = formats[c] if c < len(formats) else None
            if number_format:
                cell.number_format = number_format
            if r < len(highlight) and highlight[r]:
                cell.fill = _HOME
    for c, text in enumerate(header, start=1):
        width = max([len(str(text)) * 2] + [len(str(row[c - 1])) + 2 for row in rows[:50]])
        sheet.column_dimensions[get_column_letter(c)].width = min(max(width, 8), 48)
    sheet.row_dimensions[3].height = 45
    sheet.freeze_panes = "C4"


def _part_sheet(board: Scoreboard, part: PartScore, sheet: Worksheet) -> None:
    if not part.units:
        _table(sheet, f"{board.label} {part.label}", ["(対象なし)"], [], [])
        return
    indicators = part.units[0].indicators
    header = [
        "保険者番号" if part.unit == "municipality" else "都道府県番号",
        "市町村名" if part.unit == "municipality" else "都道府県名",
        "被保険者数",
    ]
    header += [f"{i.group} {i.label}\n({i.max:g}点)" for i in indicators]
    header += ["合計点", "按分に用いる点数", "交付額(円)", "一人当たり(円)"]
    rows = []
    for unit in part.units:
        rows.append(
            [
                unit.code,
                unit.name,
                unit.insured,
                *[i.points for i in unit.indicators],
                unit.points,
                unit.counted_points,
                unit.grant_yen,
                round(unit.per_insured_yen or 0, 0),
            ]
        )
    formats = [None, None, COUNT] + [POINTS] * len(indicators) + [POINTS, POINTS, YEN, YEN]
    note = (
        f"予算 {part.budget_yen:,}円 (確認{'済' if part.budget_confirmed else '未'}); "
        f"全国の対象 {part.national_units + len(part.units):,}; "
        f"全国平均 {part.national_mean_points or 0:.1f}点; 負の合計点: {part.negative_total}"
    )
    _table(sheet, f"{board.label} {part.label}", header, rows, formats, note=note)


def _values_sheet(board: Scoreboard, sheet: Worksheet) -> None:
    units = board.municipalities
    if not units:
        return
    fields = units[0].values
    header = ["保険者番号", "市町村名"] + [f"{v.label}\n({v.year}年度)" for v in fields]
    rows = [[u.code, u.name, *[v.value for v in u.values]] for u in units]
    formats = [None, None] + [_FORMATS.get(v.unit, "#,##0.0") for v in fields]
    _table(sheet, f"{board.label} 指標値", header, rows, formats, note=_ORIGINS)


def _allocation_sheet(board: Scoreboard, sheet: Worksheet) -> None:
    header = [
        "区分",
        "番号",
        "名称",
        "被保険者数",
        "合計点",
        "按分に用いる点数",
        "点数×被保険者数",
        "交付額(円)",
        "予算(円)",
        "一人当たり(円)",
    ]
    rows, home = [], []
    for part in board.parts:
        for unit in part.units:
            weight = round(unit.counted_points * 100) * unit.insured / 100
            rows.append(
                [
                    part.label,
                    unit.code,
                    unit.name,
                    unit.insured,
                    unit.points,
                    unit.counted_points,
                    weight,
                    unit.grant_yen,
                    part.budget_yen,
                    round(unit.per_insured_yen or 0, 0),
                ]
            )
            home.append(part.unit == "prefecture")
    formats = [None, None, None, COUNT, POINTS, POINTS, "#,##0.##", YEN, YEN, YEN]
    note = "交付額 = 予算 × (点数×被保険者数) ÷ Σ全保険者(点数×被保険者数); 最大剰余法で円単位"
    _table(sheet, f"{board.label} 交付額", header, rows, formats, highlight=home, note=note)


def _adjustment_sheet(board: Scoreboard, sheet: Worksheet) -> None:
    result = board.adjustment
    if result is None:
        return
    specials = [(s.key, s.label) for s in result.rows[0].special] if result.rows else []
    header = [
        "都道府県番号",
        "都道府県名",
        "被保険者数",
        "調整対象需要額",
        "控除額",
        "基礎控除後総所得金額等",
        "応能割率",
        "応能",
        "応益割額",
        "応益",
        "調整対象収入額",
        "普通調整交付金",
        "暫定措置",
        *[f"特別調整交付金\n{label}" for _, label in specials],
        "合計",
    ]
    rows = []
    for row in result.rows:
        o = row.ordinary
        rows.append(
            [
                row.prefecture,
                row.name,
                row.insured,
                *(
                    (
                        [
                            o.demand,
                            o.deductions,
                            o.income,
                            o.ability_rate,
                            o.ability_yen,
                            o.benefit_per_insured,
                            o.benefit_yen,
                            o.revenue_yen,
                            o.yen,
                        ]
                    )
                    if o
                    else [None] * 9
                ),
                row.provisional_yen,
                *[s.yen for s in row.special],
                row.total_yen,
            ]
        )
    formats = [
        None,
        None,
        COUNT,
        YEN,
        YEN,
        YEN,
        "0.0000000000000",
        YEN,
        "#,##0.00",
        YEN,
        YEN,
        YEN,
        YEN,
        *[YEN] * len(specials),
        YEN,
    ]
    _table(
        sheet,
        f"{board.label} 調整交付金",
        header,
        rows,
        formats,
        highlight=[r.home for r in result.rows],
        note=_ADJUSTMENT_NOTE,
    )


def _reasons_sheet(board: Scoreboard, sheet: Worksheet) -> None:
    header = ["区分", "番号", "名称", "指標", "段階", "結果", "点数", "根拠", "確認"]
    rows = []
    for part in board.parts:
        for unit in part.units:
            for indicator in unit.indicators:
                for tier in indicator.tiers:
                    rows.append(
                        [
                            part.label,
                            unit.code,
                            unit.name,
                            f"{indicator.group} {indicator.label}",
                            tier.label,
                            _STATUS.get(tier.status, tier.status),
                            tier.awarded,
                            tier.reason_ja,
                            "済" if tier.confirmed else "未",
                        ]
                    )
    _table(
        sheet,
        f"{board.label} 加点・減点の根拠",
        header,
        rows,
        [None, None, None, None, None, None, POINTS, None, None],
    )


_STATUS = {
    "given": "加点",
    "withheld": "該当せず",
    "superseded": "上位段階で加点済",
    "requires": "前提未達",
    "adjustment": "上限・下限調整",
}


def _sources_sheet(board: Scoreboard, sheet: Worksheet) -> None:
    rows = [["未確認", item] for item in board.unconfirmed]
    rows += [["注記", note] for note in board.notes]
    rows.append(["ルールファイル", board.rules_file])
    _table(sheet, f"{board.label} 出典・未確認事項", ["種別", "内容"], rows, [None, None])
    sheet.column_dimensions["B"].width = 120


def write_workbook(board: Scoreboard, path: Path) -> Path:
    """Writes the workbook of ``board`` to ``path`` (.xlsx) and returns it."""
    book = Workbook()
    taken: set[str] = set()
    first = True
    for part in board.parts:
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        first = False
        sheet.title = _sheet_name(part.label.split(" (")[0], taken)
        _part_sheet(board, part, sheet)
        if part.unit == "municipality":
            values = book.create_sheet(_sheet_name(f"{part.label.split(' (')[0]}_指標値", taken))
            _values_sheet(board, values)
    _allocation_sheet(board, book.create_sheet(_sheet_name("交付額", taken)))
    if board.adjustment is not None:
        _adjustment_sheet(board, book.create_sheet(_sheet_name("調整交付金", taken)))
    _reasons_sheet(board, book.create_sheet(_sheet_name("根拠", taken)))
    _sources_sheet(board, book.create_sheet(_sheet_name("出典・未確認", taken)))
    book.save(path)
    return path
