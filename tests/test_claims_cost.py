"""医療費: cost per insured, direct standardisation and the 地域差指数, computed by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
import sqlalchemy as sa

from kokuho.claims import (
    BANDS,
    ReferencePopulation,
    cost,
    cost_table,
    insured_months,
    load_reference_population,
)
from kokuho.claims._cost import ReferenceRejected, parse_reference
from kokuho.claims._insured import INSURED_COLUMNS, prefecture_pool
from kokuho.claims._sources import age_on as age_on_expr
from kokuho.ids import age_on
from kokuho.registry import import_changes, load_insurers
from tests.claimrows import INSURER, OTHER_INSURER, MemoryLake, claim
from tests.feedfiles import KOKUHO, KYOKAI, TARO, acquire, lose, write_changes, write_insurers

FY = 2020
MONTHS = [dt.date(2020 + (m < 4), m, 1) for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]
# Two populated bands in the reference: 40–44 weighs 3, 70–74 weighs 1 (0.75 / 0.25).
REFERENCE = ReferencePopulation(
    bands={band: {"40-44": 3.0, "70-74": 1.0}.get(band, 0.0) for band in BANDS},
    age_month=9, age_day_of_month=30, national_cost={2020: 50_000.0},
    default_national_cost=None, unconfirmed=(),
)  # fmt: skip
FORTY, SEVENTY = "1978-01-01", "1948-01-01"  # 42 and 72 on 2020-09-30


def insured(rows: list[tuple[str, str, int, int]]) -> Any:
    """(insurer, band, persons at each month end, number of months from April)."""
    out: dict[str, list[Any]] = {"insurer": [], "service_month": [], "band": [], "persons": []}
    for insurer, band, persons, months in rows:
        for month in MONTHS[:months]:
            out["insurer"].append(insurer)
            out["service_month"].append(month)
            out["band"].append(band)
            out["persons"].append(persons)
    return ibis.memtable(pa.table(out, schema=pa.schema(INSURED_COLUMNS)))


def test_direct_standardisation_worked_example() -> None:
    claims = [
        # Insurer A, band 40–44: 20,000 points = 200,000 円 over 10 insured → a = 20,000 円.
        claim("a1:1", "2020-04", birth_date=FORTY, points=12_000),
        claim("a2:1", "2021-03", birth_date=FORTY, points=8_000),
        # Band 70–74: 50,000 points = 500,000 円 over 5 insured → a = 100,000 円.
        claim("a3:1", "2020-10", birth_date=SEVENTY, points=50_000),
        # Outside the fiscal year: not counted.
        claim("a4:1", "2021-04", birth_date=SEVENTY, points=99_999),
        claim("a5:1", "2020-03", birth_date=SEVENTY, points=99_999),
        # Insurer B, 70–74 only: 30,000 points = 300,000 円 over 4 persons × 6 months / 12 = 2.
        claim("b1:1", "2020-05", insurer=OTHER_INSURER, birth_date=SEVENTY, points=30_000),
    ]
    people = insured([(INSURER, "40-44", 10, 12), (INSURER, "70-74", 5, 12),
                      (OTHER_INSURER, "70-74", 4, 6),
                      # An insurer with insured but no claims is not reported.
                      ("01370014", "40-44", 7, 12)])  # fmt: skip
    table = cost_table(MemoryLake(claims=claims).table("claims"), people, fiscal_year=FY,
                       reference=REFERENCE)  # fmt: skip
    rows = {r["insurer"]: r for r in table.to_pyarrow().to_pylist()}
    assert list(rows) == ["", INSURER, OTHER_INSURER]
    a = rows[INSURER]
    assert a["insured"] == pytest.approx(15)
    assert a["cost"] == pytest.approx(700_000)
    assert a["cost_per_insured"] == pytest.approx(700_000 / 15)
    # 0.75 × 20,000 + 0.25 × 100,000 = 40,000; ÷ the national 50,000 = 0.8.
    assert a["age_adjusted_cost"] == pytest.approx(40_000)
    assert a["regional_index"] == pytest.approx(0.8)
    b = rows[OTHER_INSURER]
    assert b["insured"] == pytest.approx(2)
    # B has no 40–44 insured: the 70–74 weight is rescaled to 1 → 150,000 (index 3.0).
    assert (b["cost_per_insured"], b["age_adjusted_cost"]) == (
        pytest.approx(150_000), pytest.approx(150_000),
    )  # fmt: skip
    assert b["regional_index"] == pytest.approx(3.0)
    # The prefecture pools A and B: 40–44 200,000/10; 70–74 800,000/7.
    pref = rows[""]
    assert pref["insured"] == pytest.approx(17)
    assert pref["cost_per_insured"] == pytest.approx(1_000_000 / 17)
    assert pref["age_adjusted_cost"] == pytest.approx(0.75 * 20_000 + 0.25 * 800_000 / 7)
    # Pooling A alone gives A's figures.
    alone = cost_table(MemoryLake(claims=claims).table("claims"), people, fiscal_year=FY,
                       reference=REFERENCE, pool={INSURER})  # fmt: skip
    pooled = {r["insurer"]: r for r in alone.to_pyarrow().to_pylist()}
    assert {**pooled[""], "insurer": INSURER} == pytest.approx(a)


def test_without_insured_or_national_cost_the_figures_are_null() -> None:
    claims = [claim("a1:1", "2020-04", birth_date=FORTY, points=100)]
    reference = dataclasses.replace(REFERENCE, national_cost={})
    table = cost_table(MemoryLake(claims=claims).table("claims"), insured([]), fiscal_year=FY,
                       reference=reference, prefecture=False)  # fmt: skip
    [row] = table.to_pyarrow().to_pylist()
    assert row == {"insurer": INSURER, "insured": 0.0, "cost": 1000.0, "cost_per_insured": None,
                   "age_adjusted_cost": None, "regional_index": None}  # fmt: skip


def test_the_age_expression_follows_the_law() -> None:
    # Born on 1 October: a year older at the end of 30 September; 2 October: not yet; 29 Feb.
    births = [
        dt.date(1975, 10, 1),
        dt.date(1975, 10, 2),
        dt.date(1980, 2, 29),
        dt.date(2020, 12, 1),
    ]
    generator = random.Random(5)
    births += [dt.date(1920, 1, 1) + dt.timedelta(days=generator.randrange(36_500))
               for _ in range(200)]  # fmt: skip
    day = dt.date(2020, 9, 30)
    table = ibis.memtable(pa.table({"b": pa.array(births, pa.date32())}))
    got = table.select(age=age_on_expr(table.b, day)).to_pyarrow().column("age").to_pylist()
    assert got == [age_on(b, day) if b <= day else 0 for b in births]
    assert got[:2] == [45, 44]


def test_the_packaged_reference_is_marked_unconfirmed() -> None:
    reference = load_reference_population()
    assert set(reference.unconfirmed) == {"age_on", "structure", "national_cost_per_capita"}
    assert reference.age_day(2020) == dt.date(2020, 9, 30)
    assert sum(reference.weights().values()) == pytest.approx(1)
    assert reference.weights()["75-79"] == 0
    assert reference.national(2020) == reference.national(1999) == 370_000
    text = resources.files("kokuho").joinpath("data/reference_population.yaml").read_text("utf-8")
    assert parse_reference(text.replace('value: "09-30"', 'value: "03-31"')).age_day(2020) == (
        dt.date(2021, 3, 31)
    )
    with pytest.raises(ValueError, match="bands must be"):
        parse_reference(text.replace('"100+": 0', '"100-104": 0'))
    with pytest.raises(ValueError, match="unknown format"):
        parse_reference("format: x\n")


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    hanako = {**TARO, "name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ",
              "birth_date": "1948-01-01", "sex": "2"}  # fmt: skip
    rows = [
        # Taro (50 on 2020-09-30): 国保 from before the year until 2020-10-01 → April–September.
        acquire("T1", "2019-04-01", number="1001"),
        lose("T2", "2020-10-01", number="1001"),
        acquire("T3", "2020-10-01", insurer=KYOKAI, number="2001", branch="00"),
        # Hanako (72): from 2020-06-15 → June … March, 10 month ends.
        acquire("H1", "2020-06-15", number="1002", person=hanako),
        # A loss on the last day of a month: not covered at that month's end.
        acquire(
            "J1",
            "2020-04-01",
            number="1003",
            person={**hanako, "name_kanji": "讃岐 次郎", "name_kana": "サヌキ ジロウ", "sex": "1"},
        ),  # fmt: skip
        lose("J2", "2020-04-30", number="1003"),
    ]
    import_changes(engine, write_changes(tmp_path / "changes.csv", rows))
    return engine


def test_insured_months_count_month_ends(register: sa.Engine) -> None:
    table = insured_months(register, FY, age_day=dt.date(2020, 9, 30))
    rows = table.to_pylist()
    kokuho = [(r["service_month"], r["band"], r["persons"]) for r in rows if r["insurer"] == KOKUHO]
    assert kokuho == sorted(
        [(m, "50-54", 1) for m in MONTHS[:6]] + [(m, "70-74", 1) for m in MONTHS[2:]]
    )
    kyokai = [r["service_month"] for r in rows if r["insurer"] == KYOKAI]
    assert kyokai == MONTHS[6:]
    only = insured_months(register, FY, age_day=dt.date(2020, 9, 30), kinds=["kokuho_municipal"])
    assert set(only.column("insurer").to_pylist()) == {KOKUHO}


def test_the_prefecture_pools_the_municipal_insurers(register: sa.Engine) -> None:
    # 協会けんぽ's or 後期高齢者's claims in the lake are not the prefecture's 国保.
    assert prefecture_pool(register, [KOKUHO, KYOKAI, "39370010"]) == {KOKUHO}
    assert prefecture_pool(register, [KOKUHO, KYOKAI], kinds=None) == {KOKUHO, KYOKAI}
    # When the register knows none of them as 市町村国保, all are pooled.
    assert prefecture_pool(register, [KYOKAI, "39370010"]) == {KYOKAI, "39370010"}
    assert prefecture_pool(register, []) == set()


def test_cost_reads_the_lake_and_the_register(register: sa.Engine) -> None:
    claims = [
        claim(
            "t1:1", "2020-05", insurer=KOKUHO, number="1001", birth_date="1970-05-15", points=6_000
        ),  # fmt: skip
        claim(
            "h1:1", "2020-07", insurer=KOKUHO, number="1002", birth_date="1948-01-01", points=20_000
        ),  # fmt: skip
    ]
    table = cost(MemoryLake(claims=claims), register, fiscal_year=FY, reference=REFERENCE)
    rows = {r["insurer"]: r for r in table.to_pyarrow().to_pylist()}
    # 6 + 10 person-months = 16 / 12; Taro is in 50–54 (weight 0), Hanako in 70–74 (weight 1
    # among the populated bands): a = 200,000 ÷ (10/12).
    kokuho = rows[KOKUHO]
    assert kokuho["insured"] == pytest.approx(16 / 12)
    assert kokuho["cost_per_insured"] == pytest.approx(260_000 / (16 / 12))
    assert kokuho["age_adjusted_cost"] == pytest.approx(200_000 / (10 / 12))
    assert KYOKAI not in rows


def test_claims_figures_of_a_year(register: sa.Engine) -> None:
    from kokuho.claims import GenericClasses, claims_figures
    from tests.claimrows import drug, master

    taro = [
        claim(f"t{i}:1", "2020-05", insurer=KOKUHO, number="1001", birth_date="1970-05-15",
              points=2_000, institution=clinic)
        for i, clinic in enumerate(["0111111", "0122222", "0133333"])
    ]  # fmt: skip
    hanako = claim("h1:1", "2020-07", insurer=KOKUHO, number="1002", birth_date="1948-01-01",
                   points=20_000)  # fmt: skip
    drugs = [drug(c, "610000009", 7) for c in taro]  # one 薬効 from three clinics: 重複
    drugs += [drug(hanako, "610000001", 30), drug(hanako, "610000003", 10)]
    lake = MemoryLake(
        claims=[*taro, hanako], claim_drugs=drugs,
        drug_master=[master("610000001", "2149", "3"), master("610000003", "2149", "2"),
                     master("610000009", "1124", "")],
    )  # fmt: skip
    classes = GenericClasses(frozenset({"3", "★"}), frozenset({"2", "☆"}))
    figures = claims_figures(lake, register, FY, reference=REFERENCE, classes=classes)
    assert list(figures.insurers) == [KOKUHO]
    kokuho = figures.insurers[KOKUHO]
    assert kokuho.insured == pytest.approx(16 / 12)
    assert (kokuho.generic_quantity, kokuho.originator_quantity) == (30.0, 10.0)
    assert kokuho.generic_share == pytest.approx(0.75)
    assert (kokuho.duplicate_persons, kokuho.multi_drug_persons) == (1, 0)
    assert kokuho.duplicate_per_10k == pytest.approx(1 / (16 / 12) * 10_000)
    assert kokuho.multi_drug_per_10k == 0
    assert kokuho.cost_per_insured == pytest.approx(260_000 / (16 / 12))
    assert kokuho.age_adjusted_cost == pytest.approx(240_000)
    assert kokuho.regional_index == pytest.approx(240_000 / 50_000)
    # One insurer: the prefecture is the same figures under insurer "".
    assert figures.prefecture == dataclasses.replace(kokuho, insurer="")
    assert "prescribing_rules: multi_drug.min_count" in figures.unconfirmed
    # A year without claims.
    empty = claims_figures(lake, register, 2019, reference=REFERENCE, classes=classes)
    assert empty.insurers == {} and empty.prefecture.generic_share is None


PACKAGED = resources.files("kokuho").joinpath("data/reference_population.yaml").read_text("utf-8")


def _line(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(start))


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        ('"100+": 0', '"100-104": 0', '"100-104"', "structure.bands.100-104: the bands must be"),
        ('"5-9": 640000', '"5-9": -1', '"5-9"', "structure.bands.5-9: -1 must be ≥ 0"),
        ('"5-9": 640000', '"5-9": true', '"5-9"', "structure.bands.5-9: True is not a number"),
        ('value: "09-30"', 'value: "09-31"', "value:", "age_on.value: '09-31' is not a day"),
        ("default: 370000", "default: 0", "default:", "default: 0 must be > 0"),
        ("    2017: 355668", "    FY2024: 1", "FY2024",
         "by_fiscal_year.FY2024: 'FY2024' is not a fiscal year"),
        ("  confirmed: false\n  default", "  confirmed: maybe\n  default", "confirmed: maybe",
         "national_cost_per_capita.confirmed: 'maybe': true or false"),
        ('"5-9": 640000', '"5-9": [640000', '"10-14"', "not YAML"),
    ],
)  # fmt: skip
def test_a_bad_reference_is_named_by_file_line_and_field(
    old: str, new: str, where: str, reason: str
) -> None:
    assert old in PACKAGED
    text = PACKAGED.replace(old, new)
    with pytest.raises(ReferenceRejected) as rejected:
        parse_reference(text, "mine.yaml")
    message = str(rejected.value)
    assert message.startswith(f"mine.yaml:{_line(text, where)}: "), message
    assert reason in message


def test_a_reference_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "reference.yaml"
    path.write_text(PACKAGED.replace("    2017: 355668", "    2017: 355668\n    2024: 400000"))
    reference = load_reference_population(path)
    assert (reference.national(2024), reference.national(2017), reference.national(2023)) == (
        400_000,
        355_668,
        370_000,
    )
    path.write_text(PACKAGED.replace("structure:", "structures:"), "utf-8")
    with pytest.raises(ReferenceRejected, match=rf"^{path}: structure: missing"):
        load_reference_population(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ReferenceRejected, match="cannot be read as UTF-8"):
        load_reference_population(path)


def test_the_figures_do_not_depend_on_the_order_of_the_rows() -> None:
    """`kokuho claims cost --json` varied in its last digits between runs: the engine summed
    floats (the insured's twelfths, the bands' weighted costs) in whatever order its threads
    met the rows. Sums are now of whole yen and person-months, and the bands' terms are added
    in the order of the bands, so any order of the same rows gives the same figures, exactly."""
    ref = load_reference_population()
    draw = random.Random(20)
    insurers = [INSURER, OTHER_INSURER, "01370014"]
    claims, people = [], []
    for n in range(600):
        birth = dt.date(1925 + draw.randrange(95), 1 + draw.randrange(12), 1)
        month, insurer = f"2020-{4 + n % 9:02d}", draw.choice(insurers)
        points = draw.randrange(1, 99_999)
        claims.append(claim(f"c{n}:1", month, insurer=insurer, birth_date=birth.isoformat(),
                            points=points))  # fmt: skip
    for insurer in insurers:
        for band in BANDS:
            people.append((insurer, band, draw.randrange(1, 997), draw.randrange(1, 13)))
    seen = set()
    for _ in range(6):
        draw.shuffle(claims)
        draw.shuffle(people)
        table = cost_table(MemoryLake(claims=list(claims)).table("claims"), insured(people),
                           fiscal_year=FY, reference=ref)  # fmt: skip
        rows = table.to_pyarrow().to_pylist()
        assert [r["insurer"] for r in rows] == ["", *sorted(insurers)]
        seen.add(repr(rows))
    assert len(seen) == 1
