"""The register import's fast path (issue 15 item 4) decides exactly as the row-by-row path.

Seeded random feeds — acquisitions, the same person under a second insurer, losses,
re-acquisitions, changes of names, addresses and terms, rows with odd or bad values, rows
repeated with the same or other content, files loaded twice, files rejected after part of them
was applied in memory, files loaded with ``load_good_rows`` — go through ``import_changes``
once with ``row_by_row=True`` (every row through ``parse_event``) and once on the fast path,
into two databases of the same kind. Every report and every row of every table must agree.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.registry import FileRejected, import_changes, load_insurers
from kokuho.registry import tables as t
from kokuho.registry._events import COLUMNS, FieldError, parse_event
from kokuho.registry._events import RESIDENCY_COLUMNS as RESIDENCY
from kokuho.registry._events_fast import fast_event
from kokuho.store import connect, metadata
from tests.conftest import POSTGRES_URL, require_postgres
from tests.feedfiles import FEED_COLUMNS, KOKUHO, KYOKAI, write_csv, write_insurers

UNREGISTERED = "01130012"  # a valid 保険者番号 that the register does not hold
FAMILY = ["讃岐", "佐藤", "髙橋", "田中"]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ")]
KANA_FAMILY = {"讃岐": "サヌキ", "佐藤": "サトウ", "髙橋": "タカハシ", "田中": "タナカ"}
PLACES = [
    "香川県高松市番町四丁目1番10号", "高松市番町4-1-10", "香川県丸亀市大手町二丁目4番21号",
    "東京都府中市宮西町2-24", "広島県府中市府川町315", "府中市宮西町二丁目24番地",
]  # fmt: skip
#: Values a column may take besides its normal ones: odd but valid (full-width digits,
#: 和暦 dates, surrounding spaces, lower case), and bad.
ODD: dict[str, list[str]] = {
    "event_id": ["", "x" * 65, " イベント ", "E" * 64],
    "event": ["acquired", "", " lose "],
    "effective_date": [
        "2020-13-01",
        "5020415",
        "20200415",
        "4311231",
        " 2021-02-03 ",
        "x",
        "2020-W15-1",
    ],  # fmt: skip
    "insurer_number": [UNREGISTERED, "370016", "３７００１５", "", " 01370014 "],
    "symbol": ["１２", "1 2", "", "a" * 21, "記号", "香警01", "\ufa19", "1\u00a02", "ｶ1"],
    "number": ["１００１", "", "10 01", "n\x07", "0000307", "\u3000", "①"],
    "branch": ["1", "０１", "ab", "001"],
    "birth_date": ["2030-01-01", "3450101", "1970-02-30", ""],
    "sex": ["3", " 1 ", "", "２"],
    "relationship": ["3", "2", ""],
    "copay_percent": ["-", "40", "20", " 10", ""],
    "elderly_copay_percent": ["-", "10", "20"],
    "limit_category": ["a01", "A07", "-", "B10", " b01"],
    "specific_disease": ["4", "-", "2"],
    "card_class": ["1", "0A", "０１", "!!"],
    "loss_reason": ["04", "01", "99", ""],
    "decided_on": ["2019-01-01", "2030-01-01", "bad", "5030101"],
    "residence": ["domestic", ""],
    "name_kanji": ["", "讃岐　太郎", " 佐藤 花子 "],
    "name_kana": ["", "ｻﾇｷ ﾀﾛｳ"],
    "address": ["", *PLACES],
}


@dataclasses.dataclass
class _Insured:
    insurer: str
    number: str
    person: dict[str, str]
    open: bool = False


class _Feed:
    """A random but mostly plausible filing history."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.insured: list[_Insured] = []
        self.ids = 0
        self.rows: list[dict[str, str]] = []

    def _id(self) -> str:
        self.ids += 1
        return f"E{self.ids}" if self.ids % 7 else f"異動{self.ids}"

    def _person(self) -> dict[str, str]:
        rng = self.rng
        family, (given, kana) = rng.choice(FAMILY), rng.choice(GIVEN)
        return {
            "name_kanji": f"{family} {given}",
            "name_kana": f"{KANA_FAMILY[family]} {kana}",
            "birth_date": f"19{rng.randint(50, 99)}-0{rng.randint(1, 3)}-1{rng.randint(0, 2)}",
            "sex": rng.choice("12"),
            "address": rng.choice(PLACES),
        }

    def _row(self, kind: str, who: _Insured, day: str, **extra: str) -> dict[str, str]:
        return {
            "event_id": self._id(), "event": kind, "effective_date": day,
            "insurer_number": who.insurer, "symbol": "12", "number": who.number,
            "branch": "01", **extra,
        }  # fmt: skip

    def event(self, day: str) -> dict[str, str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35 or not self.insured:
            if self.insured and rng.random() < 0.3:
                person = dict(rng.choice(self.insured).person)  # the same person elsewhere
            else:
                person = self._person()
            who = _Insured(rng.choice([KOKUHO, KYOKAI]), str(rng.randint(1000, 1200)), person)
            self.insured.append(who)
        else:
            who = rng.choice(self.insured)
        if roll < 0.35 or (roll > 0.85 and not who.open):
            who.open = True
            terms = {"copay_percent": rng.choice(["10", "20", "30"])}
            if rng.random() < 0.3:
                terms["limit_category"] = rng.choice(["A01", "B05"])
            if rng.random() < 0.2:
                terms["decided_on"] = day[:8] + "28"  # 資格決定日 later in the month
            relationship = rng.choice("112")
            return self._row("acquire", who, day, relationship=relationship, **who.person, **terms)
        if roll < 0.55:
            who.open = False
            extra = {"address": rng.choice(PLACES)} if rng.random() < 0.3 else {}
            return self._row("lose", who, day, loss_reason=rng.choice(["01", "03", "99"]), **extra)
        changes: dict[str, str] = {}
        for name, values in (
            ("address", PLACES), ("name_kanji", ["讃岐 太郎", "佐藤 花子"]),
            ("copay_percent", ["10", "30"]), ("elderly_copay_percent", ["20", "-"]),
            ("specific_disease", ["1", "-"]),
        ):  # fmt: skip
            if rng.random() < 0.35:
                changes[name] = rng.choice(values)
        if "address" in changes:
            who.person["address"] = changes["address"]
        return self._row("change", who, day, **changes)

    def file(self, month: int) -> list[dict[str, str]]:
        rng = self.rng
        year, month = 2020 + (month + 3) // 12, (month + 3) % 12 + 1
        rows = []
        for _ in range(rng.randint(1, 30)):
            day = f"{year}-{month:02d}-{rng.randint(1, 28):02d}"
            row = self.event(day)
            if rng.random() < 0.04:
                column = rng.choice(sorted(ODD))
                row[column] = rng.choice(ODD[column])
            rows.append(row)
            if self.rows and rng.random() < 0.03:
                again = dict(rng.choice(self.rows))  # a row filed again …
                if rng.random() < 0.5:
                    again["loss_reason" if again["event"] == "lose" else "address"] = "99"
                rows.append(again)  # … or its event id with other content
        self.rows.extend(rows)
        return rows


def _write(path: Path, rows: list[dict[str, str]], rng: random.Random, width: bool) -> Path:
    columns = [*FEED_COLUMNS, "decided_on", "residence"]
    rng.shuffle(columns)  # the digest must not depend on the column order
    write_csv(path, columns, rows)
    if width:
        with path.open("a", encoding="utf-8", newline="") as handle:
            handle.write("E0,acquire\r\n")
    return path


def _engines(kind: str, tmp_path: Path) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    if kind == "sqlite":
        engines = [connect(f"sqlite:///{tmp_path / f'{n}.db'}") for n in ("slow", "fast")]
        yield engines[0], engines[1]
        for engine in engines:
            engine.dispose()
        return
    require_postgres()
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    engines = [
        connect(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}") for schema in schemas
    ]
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()
    with admin.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_registers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    for slow, fast in _engines(request.param, tmp_path):
        for engine in (slow, fast):
            load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
        yield slow, fast


def _outcome(engine: sa.Engine, path: Path, good_rows: bool, slow: bool) -> Any:
    try:
        report = import_changes(engine, path, load_good_rows=good_rows, row_by_row=slow)
    except FileRejected as error:
        return ("rejected", [dataclasses.astuple(e) for e in error.errors])
    return dataclasses.asdict(report)


def _tables(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table; the load time of a file is the one column that may differ."""
    dump = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = [c for c in table.c if c.name != "loaded_at"]
            query = sa.select(*columns).order_by(*columns)
            dump[table.name] = [tuple(row) for row in connection.execute(query)]
    return dump


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_and_row_by_row_imports_leave_the_same_register(
    two_registers: tuple[sa.Engine, sa.Engine], tmp_path: Path, seed: int
) -> None:
    slow, fast = two_registers
    rng = random.Random(seed)
    feed = _Feed(rng)
    files: list[Path] = []
    outcomes = {"applied": 0, "rejected": 0, "duplicates": 0}
    for month in range(20):
        if files and rng.random() < 0.2:
            path = rng.choice(files)  # a file loaded again
        else:
            path = _write(tmp_path / f"m{month}.csv", feed.file(month), rng, rng.random() < 0.1)
            files.append(path)
        good_rows = rng.random() < 0.6
        expected = _outcome(slow, path, good_rows, slow=True)
        assert _outcome(fast, path, good_rows, slow=False) == expected, path
        if isinstance(expected, dict):
            outcomes["applied"] += expected["applied"]
            outcomes["duplicates"] += expected["duplicates"]
        else:
            outcomes["rejected"] += 1
    assert _tables(fast) == _tables(slow)
    # The feed exercised what it is meant to: applied rows, repeats and rejected files.
    assert outcomes["applied"] > 50 and outcomes["duplicates"] > 0 and outcomes["rejected"] > 0


def test_fast_event_is_parse_event_or_declines() -> None:
    """On rows with random odd and bad values the fast path gives parse_event's Event or
    None (then parse_event answers, with its error); on well-formed rows it answers itself."""
    rng = random.Random(7)
    feed = _Feed(rng)
    columns = sorted(COLUMNS)
    answered = declined = 0
    for line in range(2, 6000):
        row = dict.fromkeys(columns, "") | feed.event("2021-06-15")
        clean = rng.random() < 0.5
        if not clean:
            for column in rng.sample(sorted(ODD), rng.randint(1, 3)):
                row[column] = rng.choice(ODD[column])
        fast = fast_event(line, row, sorted(row))
        try:
            expected = parse_event(line, row)
        except FieldError:
            assert fast is None
            declined += 1
            continue
        if clean:
            assert fast == expected, row
        if fast is None:
            declined += 1
        else:
            assert fast == expected, row
            answered += 1
    assert answered > 2000 and declined > 500


def test_look_ups_of_thousands_of_keys_in_one_statement(engine: sa.Engine, tmp_path: Path) -> None:
    """More keys than the old chunks of 2,000 held: every person is found again by the five
    items under a second insurer, and every coverage's terms are read before a change."""
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    count = 2500
    people = [
        {"name_kanji": f"讃岐 {n}", "name_kana": "サヌキ タロウ", "birth_date": "1970-05-15",
         "sex": "1", "address": f"香川県高松市番町{n}"}
        for n in range(count)
    ]  # fmt: skip

    def acquires(insurer: str, prefix: str) -> list[dict[str, str]]:
        return [
            {"event_id": f"{prefix}{n}", "event": "acquire", "effective_date": "2020-04-01",
             "insurer_number": insurer, "symbol": "12", "number": str(10000 + n),
             "branch": "01", "relationship": "1", "copay_percent": "30", **person}
            for n, person in enumerate(people)
        ]  # fmt: skip

    columns = sorted(COLUMNS - {"decided_on", *RESIDENCY})
    first = write_csv(tmp_path / "a.csv", columns, acquires(KOKUHO, "A"))
    assert import_changes(engine, first).persons_created == count
    second = write_csv(tmp_path / "b.csv", columns, acquires(KYOKAI, "B"))
    report = import_changes(engine, second)
    assert (report.acquired, report.persons_created) == (count, 0)
    changes = [
        {"event_id": f"C{n}", "event": "change", "effective_date": "2021-04-01",
         "insurer_number": KOKUHO, "symbol": "12", "number": str(10000 + n), "branch": "01",
         "copay_percent": "20"}
        for n in range(count)
    ]  # fmt: skip
    assert import_changes(engine, write_csv(tmp_path / "c.csv", columns, changes)).changed == count
    assert import_changes(engine, second).duplicates == count  # every event id found again
    with engine.connect() as connection:
        terms = connection.execute(
            sa.select(t.coverage_terms.c.copay_percent, sa.func.count()).group_by(
                t.coverage_terms.c.copay_percent
            )
        ).all()
    assert sorted(tuple(row) for row in terms) == [(20, count), (30, 2 * count)]
