"""The synthetic prefecture: deterministic, valid in every format, and the planted cases are
exactly the ones a replay of the change feed finds."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.ids import (
    InsurerNumber,
    InvalidIdentifier,
    MyNumber,
    mynumber_check,
    parse_branch,
    parse_number,
    parse_symbol,
)
from kokuho.synth import Manifest, generate
from kokuho.synth._address import FEED_STYLES, KANJI_STYLE, Addresses
from kokuho.synth._data import load_names, load_prefecture
from kokuho.synth._text import halfwidth_kana, kanji_number

PERSONS = 2000
SEED = 7
START = dt.date(2020, 4, 1)
D = dt.date.fromisoformat

FEED_COLUMNS = [
    "event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch",
    "name_kanji", "name_kana", "birth_date", "sex", "address", "relationship",
    "copay_percent", "elderly_copay_percent", "limit_category", "specific_disease",
    "card_class", "loss_reason",
]  # fmt: skip
LIMITS = {f"A0{n}" for n in range(1, 7)} | {f"B{n:02d}" for n in range(1, 11)}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("synth")
    return out, generate(out, seed=SEED, persons=PERSONS, start=START, years=3)


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = []
        for record in reader:
            assert len(record) == len(header), f"{path.name}:{reader.line_num}"
            rows.append(dict(zip(header, record, strict=True)))
    return header, rows


def files_in_filing_order(out: Path, *, reverse_insurers: bool = False) -> list[Path]:
    """Months in order; within a month, insurers in either order (it must not matter)."""
    paths = list((out / "changes").glob("*.csv"))

    def key(path: Path) -> tuple[str, str]:
        insurer, month = path.stem.split("_")
        return month, insurer

    paths.sort(key=key)
    if reverse_insurers:
        by_month: dict[str, list[Path]] = {}
        for path in paths:
            by_month.setdefault(key(path)[0], []).append(path)
        paths = [p for month in sorted(by_month) for p in reversed(by_month[month])]
    return paths


# -- a tiny register: the docs/formats.md §2 rules, and the five-item person join ------------
@dataclass
class Period:
    acquired: dt.date
    lost: dt.date | None = None


@dataclass
class Replay:
    periods: dict[tuple[str, str, str, str], list[Period]] = field(default_factory=dict)
    person_of: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    items: dict[int, dict[str, str]] = field(default_factory=dict)
    by_items: dict[tuple[str, ...], int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    seen_ids: set[tuple[str, str]] = field(default_factory=set)

    @staticmethod
    def key(items: dict[str, str]) -> tuple[str, ...]:
        return tuple(items[k] for k in ("name_kanji", "name_kana", "birth_date", "sex", "address"))

    def apply(self, where: str, row: dict[str, str]) -> None:
        insured = (row["insurer_number"], row["symbol"], row["number"], row["branch"])
        day = D(row["effective_date"])
        event_key = (row["insurer_number"], row["event_id"])
        if event_key in self.seen_ids:
            self.violations.append(f"{where}: event id used twice")
        self.seen_ids.add(event_key)
        plist = self.periods.setdefault(insured, [])
        if row["event"] == "acquire":
            if any(p.lost is None or p.lost > day for p in plist):
                self.violations.append(f"{where}: acquire while a period is open")
            if D(row["birth_date"]) > day:
                self.violations.append(f"{where}: born after the 資格取得日")
            if insured not in self.person_of:
                items = {k: row[k] for k in ("name_kanji", "name_kana", "birth_date", "sex")}
                items["address"] = row["address"]
                person = self.by_items.setdefault(self.key(items), len(self.items))
                self.items.setdefault(person, items)
                self.person_of[insured] = person
            plist.append(Period(day))
        elif row["event"] == "lose":
            earlier = [p for p in plist if p.acquired <= day]
            if not earlier:
                self.violations.append(f"{where}: lose without a coverage on or before it")
                return
            earlier[-1].lost = day
        else:
            live = [p for p in plist if p.acquired <= day and (p.lost is None or day < p.lost)]
            if not live:
                self.violations.append(f"{where}: change outside any coverage period")
                return
            person = self.person_of[insured]
            if row["address"]:
                items = self.items[person]
                items["address"] = row["address"]
                self.by_items.setdefault(self.key(items), person)

    def open_by_person(self) -> dict[int, list[tuple[str, str, str, str]]]:
        found: dict[int, list[tuple[str, str, str, str]]] = {}
        for insured, plist in self.periods.items():
            if plist and plist[-1].lost is None:
                found.setdefault(self.person_of[insured], []).append(insured)
        return found

    def overlapping_persons(self) -> dict[int, list[tuple[dt.date, dt.date | None]]]:
        """Persons with two coverages of different insurers in force on the same day."""
        by_person: dict[int, list[tuple[str, Period]]] = {}
        for insured, plist in self.periods.items():
            for period in plist:
                by_person.setdefault(self.person_of[insured], []).append((insured[0], period))
        found: dict[int, list[tuple[dt.date, dt.date | None]]] = {}
        far = dt.date.max
        for person, periods in by_person.items():
            for i, (insurer_a, a) in enumerate(periods):
                for insurer_b, b in periods[i + 1 :]:
                    if insurer_a == insurer_b:
                        continue
                    begin = max(a.acquired, b.acquired)
                    until = min(a.lost or far, b.lost or far)
                    if begin < until:
                        found.setdefault(person, []).append(
                            (begin, None if until == far else until)
                        )
        return found


def replay(out: Path, *, reverse_insurers: bool = False) -> Replay:
    state = Replay()
    for path in files_in_filing_order(out, reverse_insurers=reverse_insurers):
        _, rows = read(path)
        for line, row in enumerate(rows, start=2):
            state.apply(f"{path.name}:{line}", row)
    return state


@pytest.fixture(scope="module")
def replayed(run: tuple[Path, Manifest]) -> Replay:
    return replay(run[0])


# -- determinism --------------------------------------------------------------------------------
def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_and_size_give_identical_bytes(
    run: tuple[Path, Manifest], tmp_path: Path
) -> None:
    out, _ = run
    generate(tmp_path / "again", seed=SEED, persons=PERSONS, start=START, years=3)
    assert snapshot(tmp_path / "again") == snapshot(out)


def test_another_seed_gives_another_prefecture(run: tuple[Path, Manifest], tmp_path: Path) -> None:
    out, _ = run
    generate(tmp_path / "other", seed=SEED + 1, persons=PERSONS, start=START, years=3)
    assert (tmp_path / "other" / "residents.csv").read_bytes() != (
        out / "residents.csv"
    ).read_bytes()


def test_refuses_to_mix_with_an_earlier_run(run: tuple[Path, Manifest]) -> None:
    out, _ = run
    with pytest.raises(FileExistsError):
        generate(out, seed=SEED, persons=PERSONS, start=START, years=3)


# -- formats and identifiers ----------------------------------------------------------------------
def test_insurers_file(run: tuple[Path, Manifest]) -> None:
    out, _ = run
    header, rows = read(out / "insurers.csv")
    assert header == ["insurer_number", "name", "kind", "municipality_code"]
    kinds = Counter(row["kind"] for row in rows)
    assert kinds["kokuho_municipal"] == 17 and kinds["kyokai"] == 1 and kinds["koki"] == 1
    assert kinds["kumiai"] >= 1 and kinds["kyosai"] >= 1
    for row in rows:
        assert InsurerNumber.parse(row["insurer_number"]).value == row["insurer_number"]
        assert InsurerNumber.parse(row["insurer_number"]).prefecture == "37"
        assert bool(row["municipality_code"]) == (row["kind"] == "kokuho_municipal")
    codes = {row["municipality_code"] for row in rows if row["municipality_code"]}
    assert codes == {m.code for m in load_prefecture().municipalities}


def test_every_change_row_is_well_formed(run: tuple[Path, Manifest]) -> None:
    out, manifest = run
    insurers = {row["insurer_number"] for row in read(out / "insurers.csv")[1]}
    total = 0
    for path in (out / "changes").glob("*.csv"):
        assert re.fullmatch(r"\d{6}(\d{2})?_\d{4}-\d{2}\.csv", path.name)
        header, rows = read(path)
        assert header == FEED_COLUMNS
        insurer = path.stem.split("_")[0]
        assert insurer in insurers
        total += len(rows)
        for row in rows:
            assert row["insurer_number"] == insurer
            InsurerNumber.parse(row["insurer_number"])
            parse_symbol(row["symbol"])
            parse_number(row["number"])
            assert parse_branch(row["branch"]) == row["branch"]
            assert re.fullmatch(r"E\d{8}", row["event_id"])
            D(row["effective_date"])
            used = {k for k, v in row.items() if v}
            if row["event"] == "acquire":
                D(row["birth_date"])
                assert row["sex"] in ("1", "2") and row["relationship"] in ("1", "2")
                assert row["name_kanji"] and row["name_kana"] and row["address"]
                assert row["copay_percent"] in ("10", "20", "30")
                assert row["elderly_copay_percent"] in ("", "20", "30")
                assert row["card_class"] in ("", "01", "03", "05")
                assert not row["loss_reason"]
            elif row["event"] == "lose":
                assert row["loss_reason"] in ("01", "03", "99")
                # A loss on moving away carries the 転出先 address; nothing else does.
                moved = {"address"} if row["address"] else set()
                assert used | {"symbol"} == set(FEED_COLUMNS[:7]) | {"loss_reason"} | moved
                assert not moved or row["loss_reason"] == "99"
            else:
                assert row["event"] == "change"
                assert used - set(FEED_COLUMNS[:7]) <= {
                    "address", "copay_percent", "elderly_copay_percent", "limit_category",
                    "specific_disease",
                }  # fmt: skip
                assert used - set(FEED_COLUMNS[:7])
            assert row["limit_category"] in LIMITS | {"", "-"}
            assert row["specific_disease"] in ("", "1", "2", "3", "-")
    assert total == manifest.counts["change_rows"]
    listed = sorted(name for name in manifest.files if name.endswith(".csv"))
    assert listed == sorted(str(p.relative_to(out)) for p in out.rglob("*.csv"))


def test_insured_number_styles(replayed: Replay, run: tuple[Path, Manifest]) -> None:
    out, _ = run
    kinds = {row["insurer_number"]: row["kind"] for row in read(out / "insurers.csv")[1]}
    relationship: dict[tuple[str, str, str, str], str] = {}
    for path in (out / "changes").glob("*.csv"):
        for row in read(path)[1]:
            if row["event"] == "acquire":
                insured = (row["insurer_number"], row["symbol"], row["number"], row["branch"])
                relationship[insured] = row["relationship"]
    households: dict[tuple[str, str, str], list[str]] = {}
    for insured, rel in relationship.items():
        kind = kinds[insured[0]]
        if kind == "koki":
            assert insured[1] == "" and re.fullmatch(r"\d{8}", insured[2]) and rel == "1"
        elif kind == "kokuho_municipal":
            assert rel == "1"  # every 国保 member is a 被保険者
        else:
            assert (rel == "1") == (insured[3] == "00")  # 本人 00, 家族 01 …
        households.setdefault(insured[:3], []).append(insured[3])
    for branches in households.values():
        assert len(branches) == len(set(branches))


def test_residents_and_submissions(run: tuple[Path, Manifest]) -> None:
    out, manifest = run
    header, residents = read(out / "residents.csv")
    assert header == [
        "resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex", "address",
        "municipality_code", "household_id", "relationship", "household_since",
    ]  # fmt: skip
    assert len(residents) == manifest.counts["residents"] == manifest.counts["persons_alive_at_end"]
    assert len({r["resident_id"] for r in residents}) == len(residents)
    assert len({r["mynumber"] for r in residents}) == len(residents)
    for row in residents:
        assert re.fullmatch(r"\d{11}", row["resident_id"])
        MyNumber.parse(row["mynumber"])
        D(row["birth_date"])
        assert not re.search("[\uff61-\uff9f]", row["name_kana"])  # 住基 kana are full-width
    codes = Counter(r["municipality_code"] for r in residents)
    assert set(codes) == {m.code for m in load_prefecture().municipalities}
    assert codes.most_common(1)[0][0] == "372013"  # 高松市 is the largest

    header, submissions = read(out / "mynumber_submissions.csv")
    assert header == ["insurer_number", "symbol", "number", "branch", "mynumber"]
    failing = 0
    for row in submissions:
        InsurerNumber.parse(row["insurer_number"])
        parse_branch(row["branch"])
        try:
            MyNumber.parse(row["mynumber"])
        except InvalidIdentifier:
            failing += 1
    assert failing == manifest.counts["submissions_typo_failing_check"] > 0
    assert len(submissions) == manifest.counts["submissions"]


def test_no_mynumber_outside_the_two_files_that_carry_it(run: tuple[Path, Manifest]) -> None:
    out, _ = run
    numbers = {row["mynumber"] for row in read(out / "residents.csv")[1]}
    numbers |= {row["mynumber"] for row in read(out / "mynumber_submissions.csv")[1]}
    for path in out.rglob("*"):
        if path.is_file() and path.name not in ("residents.csv", "mynumber_submissions.csv"):
            if path.suffix == ".zip":  # V08 archives: scan every member
                with zipfile.ZipFile(path) as archive:
                    texts = [archive.read(name).decode("utf-8") for name in archive.namelist()]
            else:
                data = path.read_bytes()
                try:
                    texts = [data.decode("utf-8")]
                except UnicodeDecodeError:  # レセ電 files and 支払基金 masters are cp932
                    texts = [data.decode("cp932")]
            for text in texts:
                found = set(re.findall(r"(?<!\d)\d{12}(?!\d)", text))
                assert not found & numbers, path.name


# -- the population -------------------------------------------------------------------------------
def opening_rows(out: Path) -> Iterator[dict[str, str]]:
    for path in (out / "changes").glob("*_2020-04.csv"):
        for row in read(path)[1]:
            if row["event"] == "acquire" and D(row["effective_date"]) < START:
                yield row


def test_age_structure_and_opening(run: tuple[Path, Manifest]) -> None:
    out, manifest = run
    rows = list(opening_rows(out))
    assert len(rows) == PERSONS == manifest.counts["opening_rows"]
    bands: Counter[str] = Counter()
    for row in rows:
        years = (START - D(row["birth_date"])).days / 365.2425
        bands["0-14" if years < 15 else "15-64" if years < 65 else "65+"] += 1
    target = {"0-14": 12.0, "15-64": 54.5, "65+": 31.2}
    total = sum(target.values())
    for band, percent in target.items():
        assert abs(bands[band] / PERSONS * 100 - percent / total * 100) < 1.5, band
    sexes = Counter(row["sex"] for row in rows)
    assert 0.44 < sexes["1"] / PERSONS < 0.5
    households = Counter(row["address"] for row in rows)
    assert 2.0 < PERSONS / len(households) < 2.7
    assert max(households.values()) <= 10


def test_everyone_alive_has_one_coverage_and_75_is_koki(
    replayed: Replay, run: tuple[Path, Manifest]
) -> None:
    out, manifest = run
    kinds = {row["insurer_number"]: row["kind"] for row in read(out / "insurers.csv")[1]}
    open_by_person = replayed.open_by_person()
    assert len(open_by_person) == manifest.counts["residents"]
    doubles = [p for p, tuples in open_by_person.items() if len(tuples) > 1]
    assert all(len(open_by_person[p]) == 2 for p in doubles)
    assert len(doubles) == manifest.counts["overlaps_open_at_end"]
    for person, tuples in open_by_person.items():
        birth = D(replayed.items[person]["birth_date"])
        seventy_five = (
            birth.replace(year=birth.year + 75)
            if (birth.month, birth.day) != (2, 29)
            else dt.date(birth.year + 75, 3, 1)
        )
        in_koki = [kinds[t[0]] == "koki" for t in tuples]
        assert all(in_koki) == (seventy_five <= manifest.end), replayed.items[person]


def test_replay_in_filing_order_finds_no_violation(
    replayed: Replay, run: tuple[Path, Manifest]
) -> None:
    assert replayed.violations == []
    assert replay(run[0], reverse_insurers=True).violations == []


def test_planted_overlaps_are_exactly_the_overlaps_in_the_feed(
    replayed: Replay, run: tuple[Path, Manifest]
) -> None:
    out, manifest = run
    found = replayed.overlapping_persons()
    assert len(found) == manifest.counts["overlaps_planted"] == len(manifest.overlaps) > 0
    still_open = sum(1 for spans in found.values() if any(until is None for _, until in spans))
    assert still_open == manifest.counts["overlaps_open_at_end"]
    assert {(f, u) for spans in found.values() for f, u in spans} == {
        (o.overlap_from, o.overlap_until) for o in manifest.overlaps
    }
    # The same result whatever order a month's files are loaded in.
    assert len(replay(out, reverse_insurers=True).overlapping_persons()) == len(found)
    for overlap in manifest.overlaps:
        assert overlap.employee_filed - overlap.overlap_from >= dt.timedelta(days=30) or (
            overlap.employee_filed == manifest.end
        )


def test_planted_submission_cases(replayed: Replay, run: tuple[Path, Manifest]) -> None:
    """Notation-only differences normalise to the same five items, real ones do not."""
    import kokuho.registry as normalize

    out, manifest = run
    residents = {r["mynumber"]: r for r in read(out / "residents.csv")[1]}
    outcome: Counter[str] = Counter()
    for row in read(out / "mynumber_submissions.csv")[1]:
        resident = residents.get(row["mynumber"])
        if resident is None:
            outcome["unknown number"] += 1
            continue
        insured = (row["insurer_number"], row["symbol"], row["number"], row["branch"])
        member = replayed.items[replayed.person_of[insured]]

        def key(items: dict[str, str]) -> str:
            return str(
                normalize.match_key(
                    items["name_kanji"], items["name_kana"], D(items["birth_date"]),
                    int(items["sex"]), items["address"],
                )
            )  # fmt: skip

        same = all(member[k] == resident[k] for k in member)
        outcome["exact" if same else "notation" if key(member) == key(resident) else "differs"] += 1
    counts = manifest.counts
    assert outcome["exact"] == counts["submissions_exact"]
    assert outcome["notation"] == counts["submissions_notation_only"] > 0
    typos_known = counts["submissions_typo"] - outcome["unknown number"]
    assert outcome["differs"] == (
        counts["submissions_real_difference"] + counts["submissions_other_person"] + typos_known
    )


def test_life_events_happened(run: tuple[Path, Manifest]) -> None:
    counts = run[1].counts
    for name in (
        "births", "deaths", "moves_between_municipalities", "moves_within_municipality",
        "job_kokuho_to_employee", "job_employee_to_kokuho", "turned_70", "turned_75",
        "school_entries", "limit_changes", "koki_twenty_percent",
    ):  # fmt: skip
        assert counts[name] > 0, name
    # About 1 % a year die and 0.6 % are born, as in 香川.
    assert 0.006 < counts["deaths"] / PERSONS / 3 < 0.02
    assert 0.003 < counts["births"] / PERSONS / 3 < 0.012


# -- notations ----------------------------------------------------------------------------------
def test_address_notations_are_the_same_address() -> None:
    import random

    import kokuho.registry as normalize

    prefecture = load_prefecture()
    addresses = Addresses(prefecture, random.Random(1))
    for municipality in range(len(prefecture.municipalities)):
        for _ in range(40):
            parts = addresses.new(municipality)
            # The prefix is the prefecture, which the comparison ignores when one side lacks it.
            forms = {
                normalize.address_parts(addresses.render(parts, style, prefix))[1]
                for style in (*range(FEED_STYLES), KANJI_STYLE)
                for prefix in (False, True)
            }
            assert len(forms) == 1, forms


def test_kana_and_numerals() -> None:
    names = load_names()
    for _, kana in names.surnames:
        assert unicodedata.normalize("NFKC", halfwidth_kana(kana)) == kana
    for entries, _ in names.given.values():
        for _, kana in entries:
            assert unicodedata.normalize("NFKC", halfwidth_kana(kana)) == kana
    assert halfwidth_kana("ジュンコ\u3000ガ") == "ｼﾞｭﾝｺ ｶﾞ"
    assert [kanji_number(n) for n in (4, 10, 12, 21, 305, 1234)] == [
        "四", "十", "十二", "二十一", "三百五", "千二百三十四",
    ]  # fmt: skip
    assert mynumber_check("12345678901") in range(10)


# -- the command ----------------------------------------------------------------------------------
def test_cli_writes_and_reports(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main, ["synth", "--seed", "3", "--persons", "300", "--out", str(tmp_path / "p"), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["persons"] == 300 and document["counts"]["residents"] > 250
    again = runner.invoke(main, ["synth", "--persons", "300", "--out", str(tmp_path / "p")])
    assert again.exit_code != 0 and "--force" in again.output
    forced = runner.invoke(
        main, ["synth", "--seed", "3", "--persons", "300", "--out", str(tmp_path / "p"), "--force"]
    )
    assert forced.exit_code == 0, forced.output
    assert "overlap" in forced.output
    bad = runner.invoke(main, ["synth", "--persons", "5", "--out", str(tmp_path / "q")])
    assert bad.exit_code != 0
