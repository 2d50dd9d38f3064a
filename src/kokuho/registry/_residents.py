"""The resident register (住民基本台帳): the five basic items My Number links are checked
against (docs/formats.md §3), and each resident's household (世帯: 世帯番号 and 続柄, with
history). The 個人番号 itself is never stored: only its keyed hash."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from kokuho.ids import InvalidIdentifier, MyNumber, parse_household_id
from kokuho.registry._csv import read_rows
from kokuho.registry._errors import FileRejected, RowError, scrub
from kokuho.registry._events import PERSON_LIMITS, FieldError, parse_date
from kokuho.registry._normalize import match_key, normalize_kana_name
from kokuho.registry._tables import resident_households, residents
from kokuho.store import chunks, has_control, key_table, write_transaction

COLUMNS: Final = frozenset(
    {"resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex", "address",
     "municipality_code"}
)  # fmt: skip
#: The household columns (世帯番号, 続柄, 世帯異動日): optional, so older files still load.
HOUSEHOLD_COLUMNS: Final = frozenset({"household_id", "relationship", "household_since"})
HEAD: Final = "世帯主"
#: The removal columns (消除日, 消除事由): a resident who left the municipality (転出), died or
#: was removed; the current stay in a household ends that day. Optional.
REMOVAL_COLUMNS: Final = frozenset({"removed_on", "removal_reason"})
REMOVAL_REASONS: Final = ("転出", "国外転出", "死亡", "失踪宣告", "職権消除", "その他")
#: 続柄 as the 住民票 writes it, relative to the 世帯主 (住民基本台帳事務処理要領 style);
#: anything else is written その他.
RELATIONSHIPS: Final = (
    HEAD, "妻", "夫", "未届の妻", "未届の夫", "子", "妻の子", "夫の子", "子の妻", "子の夫",
    "父", "母", "妻の父", "妻の母", "夫の父", "夫の母", "孫", "曾孫", "祖父", "祖母",
    "兄", "弟", "姉", "妹", "伯父", "叔父", "伯母", "叔母", "甥", "姪", "縁故者", "同居人",
    "その他",
)  # fmt: skip
_CHUNK = 500


@dataclass
class ResidentLoadReport:
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    household_changes: int = 0
    """Stays in a household opened (a first household, a move, a new 続柄)."""
    stays_ended: int = 0
    """Stays closed by a removal (転出, 死亡, 職権消除: ``removed_on``)."""
    without_household: int = 0
    """Rows without 世帯番号: these residents cannot be placed in a household (世帯)."""
    errors: list[RowError] = field(default_factory=list)


def _digits(column: str, raw: str, length: int) -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) != length or not (text.isascii() and text.isdigit()):
        raise FieldError(column, f"{raw!r} must be {length} digits")
    return text


def _text(column: str, raw: str) -> str:
    text = raw.strip()
    if not text:
        raise FieldError(column, "must not be empty")
    if has_control(text):  # as the change feed (registry._events), bidi controls too
        raise FieldError(column, "contains control characters")
    if len(text) > PERSON_LIMITS[column]:
        raise FieldError(column, f"is longer than {PERSON_LIMITS[column]} characters")
    return text


def _kana(raw: str) -> str:
    text = _text("name_kana", raw)
    # After normalisation a カナ氏名 is katakana and ー only (ﾔﾏﾀﾞ and やまだ are accepted).
    if not all("ァ" <= char <= "ヺ" or char == "ー" for char in normalize_kana_name(text)):
        raise FieldError("name_kana", f"{raw!r} is not written in kana")
    return text


def _row(row: dict[str, str], key: bytes, today: dt.date) -> dict[str, Any]:
    try:
        mynumber = MyNumber.parse(row["mynumber"])
    except InvalidIdentifier as error:
        raise FieldError("mynumber", str(error)) from None
    birth = parse_date("birth_date", unicodedata.normalize("NFKC", row["birth_date"]))
    if birth > today:
        raise FieldError("birth_date", f"{birth} is in the future")
    sex = unicodedata.normalize("NFKC", row["sex"]).strip()
    if sex not in ("1", "2"):
        raise FieldError("sex", f"{row['sex']!r} is not 1 (男) or 2 (女)")
    record: dict[str, Any] = {
        "resident_id": _digits("resident_id", row["resident_id"], 11),
        "mynumber_hmac": mynumber.keyed_hash(key),
        "name_kanji": _text("name_kanji", row["name_kanji"]),
        "name_kana": _kana(row["name_kana"]),
        "birth_date": birth,
        "sex": int(sex),
        "address": _text("address", row["address"]),
        "municipality_code": _digits("municipality_code", row["municipality_code"], 6),
    }
    record["match_key"] = match_key(
        record["name_kanji"], record["name_kana"], birth, record["sex"], record["address"]
    )
    if "household_id" in row or "relationship" in row:
        record["household"] = _household(row, birth, today)
    removal = _removal(row, birth, today)
    if removal is not None:
        record["removal"] = removal
    return record


def _removal(row: dict[str, str], birth: dt.date, today: dt.date) -> tuple[dt.date, str] | None:
    """(消除日, 消除事由) of one row, or None for a resident still living here."""
    raw_day = unicodedata.normalize("NFKC", row.get("removed_on", "")).strip()
    reason = unicodedata.normalize("NFKC", row.get("removal_reason", "")).strip()
    if not raw_day and not reason:
        return None
    if not raw_day:
        raise FieldError("removed_on", f"required with removal_reason {reason!r}")
    day = parse_date("removed_on", raw_day)
    if day > today:
        raise FieldError("removed_on", f"{day} is in the future")
    if day <= birth:
        raise FieldError("removed_on", f"{day} is not after the birth date {birth}")
    if reason not in REMOVAL_REASONS:
        raise FieldError(
            "removal_reason",
            f"{row.get('removal_reason', '')!r} is not one of " + ", ".join(REMOVAL_REASONS),
        )
    return day, reason


def _household(
    row: dict[str, str], birth: dt.date, today: dt.date
) -> tuple[str, str, dt.date | None]:
    """(世帯番号, 続柄, 世帯異動日 or None) of one row."""
    for column, other in (("household_id", "relationship"), ("relationship", "household_id")):
        if column not in row:
            raise FieldError(column, f"required column is missing when {other} is given")
    try:
        household = parse_household_id(row["household_id"])
    except InvalidIdentifier as error:
        raise FieldError("household_id", str(error)) from None
    relationship = unicodedata.normalize("NFKC", row["relationship"]).strip()
    if relationship not in RELATIONSHIPS:
        raise FieldError(
            "relationship", f"{row['relationship']!r} is not a 続柄 of docs/formats.md §3"
        )
    since: dt.date | None = None
    raw = unicodedata.normalize("NFKC", row.get("household_since", "")).strip()
    if raw:
        since = parse_date("household_since", raw)
        if since > today:
            raise FieldError("household_since", f"{since} is in the future")
        if since < birth:
            raise FieldError("household_since", f"{since} is before the birth date {birth}")
    return household, relationship, since


def _parse(path: Path, key: bytes, report: ResidentLoadReport) -> list[dict[str, Any]]:
    name = str(path)
    today = dt.date.today()
    records: list[dict[str, Any]] = []
    lines: dict[str, int] = {}
    hashes: dict[str, int] = {}
    heads: dict[tuple[str, str], int] = {}
    allowed = COLUMNS | HOUSEHOLD_COLUMNS | REMOVAL_COLUMNS
    for line, row in read_rows(path, required=COLUMNS, allowed=allowed):
        report.rows += 1
        if "__width__" in row:
            report.errors.append(RowError(name, line, "", row["__width__"]))
            continue
        try:
            record = _row(row, key, today)
        except FieldError as error:
            report.errors.append(RowError(name, line, error.field, scrub(str(error))))
            continue
        first = lines.setdefault(record["resident_id"], line)
        if first != line:
            reason = f"resident_id {record['resident_id']} is also on line {first}"
            report.errors.append(RowError(name, line, "resident_id", reason))
            continue
        first = hashes.setdefault(record["mynumber_hmac"], line)
        if first != line:
            reason = f"the same 個人番号 is also on line {first}"
            report.errors.append(RowError(name, line, "mynumber", reason))
            continue
        household = record.get("household")
        if household is not None and household[1] == HEAD:
            first = heads.setdefault((record["municipality_code"], household[0]), line)
            if first != line:
                reason = f"household {household[0]} already has its 世帯主 on line {first}"
                report.errors.append(RowError(name, line, "relationship", reason))
                continue
        record["line"] = line
        records.append(record)
    return records


def _stored(
    connection: sa.Connection, column: sa.Column[Any], values: Iterable[Any]
) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    for chunk in chunks(list(values), _CHUNK):
        for row in connection.execute(sa.select(residents).where(column.in_(chunk))):
            found[row._mapping[column.name]] = row
    return found


def load_residents(engine: sa.Engine, path: Path, key: bytes) -> ResidentLoadReport:
    """Upserts the residents of ``residents.csv`` by ``resident_id``; all or nothing.

    The 個人番号 becomes ``MyNumber.keyed_hash(key)`` as it is read; ``key`` lives outside the
    database. Any row error raises FileRejected and nothing is written.
    """
    report = ResidentLoadReport(file=str(path))
    records = _parse(path, key, report)
    if report.errors:
        raise FileRejected(report.errors)
    columns = [column.name for column in residents.columns]
    report.without_household = sum(1 for record in records if "household" not in record)
    # The write lock before the register is read: a load of the same file at the same time
    # has then committed, and its rows are found stored (not inserted twice: internal error).
    with write_transaction(engine, "residents") as connection:
        by_id = _stored(connection, residents.c.resident_id, (r["resident_id"] for r in records))
        by_hash = _stored(
            connection, residents.c.mynumber_hmac, (r["mynumber_hmac"] for r in records)
        )
        ids = {record["resident_id"] for record in records}
        for record in records:
            holder = by_hash.get(record["mynumber_hmac"])
            # Another resident keeps this number unless the same file gives them a new one.
            if holder is not None and holder.resident_id not in ids:
                reason = f"this 個人番号 belongs to resident {holder.resident_id}"
                report.errors.append(RowError(str(path), record["line"], "mynumber", reason))
        if report.errors:
            raise FileRejected(report.errors)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for record in records:
            values = {name: record[name] for name in columns}
            old = by_id.get(record["resident_id"])
            if old is None:
                inserts.append(values)
            elif {name: old._mapping[name] for name in columns} != values:
                updates.append(values)
            else:
                report.unchanged += 1
        _apply(connection, inserts, updates)
        report.inserted, report.updated = len(inserts), len(updates)
        report.household_changes, report.stays_ended = _stays(connection, str(path), records)
    return report


def _stays(connection: sa.Connection, name: str, records: list[dict[str, Any]]) -> tuple[int, int]:
    """Opens a stay in ``resident_households`` for every resident whose household or 続柄
    changed, closing the current one on the 世帯異動日, and closes the current stay of every
    removed resident on the 消除日. Raises FileRejected (the caller's transaction then writes
    nothing) for a change without a date or dated before the stay it ends, and for a return
    after a removal without a 世帯異動日 from that day on. A first stay without a date runs
    from the birth date: since ever, as far as we know. Returns (opened, ended by removal).
    """
    placed = [record for record in records if "household" in record or "removal" in record]
    if not placed:
        return 0, 0
    h = resident_households.c
    keys = [(record["resident_id"],) for record in placed]
    # One indexed join through a table of the file's ids, not thousands of IN lists.
    with key_table(connection, {"resident_id": sa.String(20)}, keys) as wanted:
        query = sa.select(resident_households).join(wanted, wanted.c.resident_id == h.resident_id)
        current: dict[str, Any] = {}
        ended: dict[str, dt.date] = {}  # the end of the latest closed stay
        for row in connection.execute(query):
            if row.valid_to is None:
                current[row.resident_id] = row
            elif row.valid_to > ended.get(row.resident_id, dt.date.min):
                ended[row.resident_id] = row.valid_to
    errors: list[RowError] = []
    closes: list[dict[str, Any]] = []
    opens: list[dict[str, Any]] = []
    removals = 0
    for record in placed:
        old = current.get(record["resident_id"])
        if "removal" in record:
            day, _ = record["removal"]
            if old is not None:
                if day <= old.valid_from:
                    reason = f"{day} is not after the current stay's start {old.valid_from}"
                    errors.append(RowError(name, record["line"], "removed_on", reason))
                    continue
                closes.append({"b_id": record["resident_id"], "b_from": old.valid_from,
                               "b_to": day})  # fmt: skip
                removals += 1
            elif record["resident_id"] in ended and ended[record["resident_id"]] != day:
                reason = f"the resident's stay already ended on {ended[record['resident_id']]}"
                errors.append(RowError(name, record["line"], "removed_on", reason))
            # Otherwise already ended that day (the same file again), or never placed.
            continue
        household, relationship, since = record["household"]
        left = ended.get(record["resident_id"])
        if old is None and left is not None and (since is None or since < left):
            reason = (
                f"household_since on or after {left} is required: the resident was removed "
                f"on {left} and comes back"
            )
            errors.append(RowError(name, record["line"], "household_since", reason))
            continue
        stay = (record["municipality_code"], household, relationship)
        if old is not None and (old.municipality_code, old.household_id, old.relationship) == stay:
            continue
        if old is not None:
            if since is None:
                reason = (
                    f"household_since is required: the resident moves from household "
                    f"{old.household_id} ({old.relationship}) to {household} ({relationship})"
                )
                errors.append(RowError(name, record["line"], "household_since", reason))
                continue
            if since <= old.valid_from:
                reason = f"{since} is not after the current stay's start {old.valid_from}"
                errors.append(RowError(name, record["line"], "household_since", reason))
                continue
            closes.append({"b_id": record["resident_id"], "b_from": old.valid_from, "b_to": since})
        opens.append(
            {
                "resident_id": record["resident_id"],
                "valid_from": since or record["birth_date"],
                "valid_to": None,
                "municipality_code": stay[0],
                "household_id": household,
                "relationship": relationship,
            }
        )
    if errors:
        raise FileRejected(errors)
    if closes:
        connection.execute(
            resident_households.update()
            .where(h.resident_id == sa.bindparam("b_id"), h.valid_from == sa.bindparam("b_from"))
            .values(valid_to=sa.bindparam("b_to")),
            closes,
        )
    for chunk in chunks(opens, _CHUNK):
        connection.execute(resident_households.insert(), list(chunk))
    return len(opens), removals


def _apply(
    connection: sa.Connection, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> None:
    if updates:
        c = residents.c
        where = c.resident_id == sa.bindparam("b_id")
        # A number re-issued (番号法 §7②) or swapped between two rows of the file would
        # trip the unique hash mid-way; park the changed rows on a placeholder first.
        connection.execute(
            residents.update().where(where).values(mynumber_hmac=sa.bindparam("b_parked")),
            [{"b_id": u["resident_id"], "b_parked": "~" + u["resident_id"]} for u in updates],
        )
        names = [name for name in updates[0] if name != "resident_id"]
        connection.execute(
            residents.update()
            .where(where)
            .values({name: sa.bindparam(f"b_{name}") for name in names}),
            [{"b_id": u["resident_id"], **{f"b_{n}": u[n] for n in names}} for u in updates],
        )
    for chunk in chunks(inserts, _CHUNK):
        connection.execute(residents.insert(), list(chunk))
