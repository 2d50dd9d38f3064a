"""Builders of small files in the register's formats (docs/formats.md), for tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

FEED_COLUMNS = [
    "event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch",
    "name_kanji", "name_kana", "birth_date", "sex", "address", "relationship",
    "copay_percent", "elderly_copay_percent", "limit_category", "specific_disease",
    "card_class", "loss_reason",
]  # fmt: skip

KOKUHO = "370015"  # a valid 6-digit 国保 number (37 + 001 + check digit 5)
KYOKAI = "01370014"  # 法別 01, 香川 37, 001, check digit 4

TARO = {
    "name_kanji": "讃岐 太郎",
    "name_kana": "サヌキ タロウ",
    "birth_date": "1970-05-15",
    "sex": "1",
    "address": "香川県高松市番町四丁目1番10号",
}


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return path


def write_insurers(path: Path) -> Path:
    return write_csv(
        path,
        ["insurer_number", "name", "kind", "municipality_code"],
        [
            {"insurer_number": KOKUHO, "name": "高松市国民健康保険", "kind": "kokuho_municipal",
             "municipality_code": "372013"},
            {"insurer_number": KYOKAI, "name": "全国健康保険協会 香川支部", "kind": "kyokai"},
        ],
    )  # fmt: skip


def acquire(
    event_id: str,
    day: str,
    insurer: str = KOKUHO,
    number: str = "1001",
    branch: str = "01",
    person: dict[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    row = {
        "event_id": event_id, "event": "acquire", "effective_date": day,
        "insurer_number": insurer, "symbol": "12", "number": number, "branch": branch,
        "relationship": "1", "copay_percent": "30", **(person or TARO),
    }  # fmt: skip
    row.update(extra)
    return row


def lose(event_id: str, day: str, insurer: str = KOKUHO, number: str = "1001",
         branch: str = "01", reason: str = "03") -> dict[str, str]:  # fmt: skip
    return {
        "event_id": event_id, "event": "lose", "effective_date": day, "insurer_number": insurer,
        "symbol": "12", "number": number, "branch": branch, "loss_reason": reason,
    }  # fmt: skip


def change(event_id: str, day: str, insurer: str = KOKUHO, number: str = "1001",
           branch: str = "01", **fields: str) -> dict[str, str]:  # fmt: skip
    return {
        "event_id": event_id, "event": "change", "effective_date": day,
        "insurer_number": insurer, "symbol": "12", "number": number, "branch": branch, **fields,
    }  # fmt: skip


def write_changes(path: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(path, FEED_COLUMNS, rows)
