"""The insurers (保険者) of the register."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from kokuho.ids import InsurerNumber, InvalidIdentifier, half_width_number
from kokuho.registry._csv import read_rows
from kokuho.registry._errors import FileRejected, RowError
from kokuho.registry._tables import insurers

#: Insurer kinds and the schemes they stand for.
INSURER_KINDS: Final[dict[str, str]] = {
    "kyokai": "全国健康保険協会（協会けんぽ）",
    "kumiai": "健康保険組合",
    "kyosai": "共済組合",
    "kokuho_municipal": "市町村国保",
    "kokuho_kumiai": "国民健康保険組合",
    "koki": "後期高齢者医療広域連合",
}
_COLUMNS = frozenset({"insurer_number", "name", "kind", "municipality_code"})


@dataclass
class InsurerLoadReport:
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


def _check(name: str, line: int, row: dict[str, str]) -> dict[str, str | None]:
    def error(column: str, reason: str) -> FileRejected:
        return FileRejected([RowError(name, line, column, reason)])

    try:
        number = InsurerNumber.parse(row["insurer_number"])
    except InvalidIdentifier as problem:
        raise error("insurer_number", problem.reason) from None
    kind = row["kind"].strip()
    if kind not in INSURER_KINDS:
        raise error("kind", f"{kind!r} is not one of {', '.join(INSURER_KINDS)}")
    title = row["name"].strip()
    if not title:
        raise error("name", "must not be empty")
    # Full-width digits are made half-width, as in every identifier (docs/formats.md); other
    # scripts' digits ('٣', '²'), which str.isdigit also accepts, are not digits here.
    municipality = half_width_number(row.get("municipality_code", "").strip()) or None
    if kind == "kokuho_municipal" and municipality is None:
        raise error("municipality_code", "required for 市町村国保")
    if municipality is not None and not (
        len(municipality) == 6 and municipality.isascii() and municipality.isdigit()
    ):
        raise error("municipality_code", "must be the 6-digit 全国地方公共団体コード")
    if number.is_kokuho != kind.startswith("kokuho"):
        raise error("kind", f"{kind} does not fit a {len(number.value)}-digit 保険者番号")
    return {
        "insurer_number": number.value,
        "name": title,
        "kind": kind,
        "prefecture": number.prefecture,
        "municipality_code": municipality,
    }


def load_insurers(engine: sa.Engine, path: Path) -> InsurerLoadReport:
    """Upserts the insurers of ``insurers.csv`` (docs/formats.md §1); all or nothing."""
    report = InsurerLoadReport(file=str(path))
    rows: list[dict[str, str | None]] = []
    for line, row in read_rows(
        path, required=frozenset({"insurer_number", "name", "kind"}), allowed=_COLUMNS
    ):
        report.rows += 1
        if "__width__" in row:
            report.errors.append(RowError(str(path), line, "", row["__width__"]))
            continue
        try:
            rows.append(_check(str(path), line, row))
        except FileRejected as rejected:
            report.errors.extend(rejected.errors)
    if report.errors:
        raise FileRejected(report.errors)
    with engine.begin() as connection:
        existing = {r.insurer_number: r._mapping for r in connection.execute(sa.select(insurers))}
        for record in rows:
            old = existing.get(str(record["insurer_number"]))
            if old is None:
                connection.execute(insurers.insert().values(record))
                report.inserted += 1
            elif dict(old) != record:
                connection.execute(
                    insurers.update()
                    .where(insurers.c.insurer_number == record["insurer_number"])
                    .values(record)
                )
                report.updated += 1
            else:
                report.unchanged += 1
    return report
