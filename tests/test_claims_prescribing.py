"""重複・多剤: the KDB duplicate definition at its boundaries and the configurable 多剤 rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources
from typing import Any

import pytest

from kokuho.claims import (
    duplicate_prescribing,
    load_prescribing_rules,
    multi_drug,
    parse_prescribing_rules,
    person_counts,
)
from tests.claimrows import MemoryLake, claim, drug, master

A, B, C = "0111111", "0122222", "0133333"  # 7-digit 医療機関コード of three clinics (香川 37)
KEY = {A: "3710111111", B: "3710122222", C: "3710133333"}
X, Y, Z = "2149", "2325", "3399"  # 薬効 of three drugs (血圧降下剤, 消化性潰瘍用剤, 血液・体液用薬)
DRUGS = [master("610000001", X), master("610000002", Y), master("610000003", Z),
         master("610000004", X, name="薬X後発")]  # fmt: skip
CODE = {X: "610000001", Y: "610000002", Z: "610000003"}


class Person:
    """Collects the claims and drug rows of one person."""

    def __init__(self, number: str) -> None:
        self.number = number
        self.claims: list[dict[str, Any]] = []
        self.drugs: list[dict[str, Any]] = []

    def medical(self, clinic: str, month: str, *efficacies: str) -> Person:
        row = claim(f"f{self.number}{len(self.claims)}:1", month, number=self.number,
                    institution=clinic)  # fmt: skip
        self.claims.append(row)
        self.drugs += [drug(row, CODE[e]) for e in efficacies]
        return self

    def pharmacy(
        self, prescriber: str, month: str, *efficacies: str, seven: bool = False
    ) -> Person:
        row = claim(f"f{self.number}{len(self.claims)}:1", month, number=self.number,
                    kind="pharmacy", setting="pharmacy", institution="0190001",
                    prescriber=KEY[prescriber])  # fmt: skip
        self.claims.append(row)
        self.drugs += [drug(row, CODE[e], institution=prescriber if seven else None)
                       for e in efficacies]  # fmt: skip
        return self


def lake_of(*persons: Person) -> MemoryLake:
    return MemoryLake(
        claims=[c for p in persons for c in p.claims],
        claim_drugs=[d for p in persons for d in p.drugs],
        drug_master=DRUGS,
    )


def flagged(lake: MemoryLake, **kwargs: Any) -> dict[str, dict[str, Any]]:
    rows = duplicate_prescribing(lake, **kwargs).to_pyarrow().to_pylist()
    return {f"{r['number']}@{r['service_month']:%Y-%m}": r for r in rows}


def test_the_kdb_duplicate_boundaries() -> None:
    two_by_one = Person("1001").medical(A, "2020-05", X).medical(B, "2020-05", X)
    three_by_one = (
        Person("1002").medical(A, "2020-05", X).medical(B, "2020-05", X).medical(C, "2020-05", X)
    )
    two_by_two = Person("1003").medical(A, "2020-05", X, Y).medical(B, "2020-05", X, Y)
    # The same two 薬効 duplicated, but in different months: 2 × 1 in each.
    split = (
        Person("1004")
        .medical(A, "2020-05", X).medical(B, "2020-05", X)
        .medical(A, "2020-06", Y).medical(B, "2020-06", Y)
    )  # fmt: skip
    found = flagged(lake_of(two_by_one, three_by_one, two_by_two, split))
    assert sorted(found) == ["1002@2020-05", "1003@2020-05"]
    three = found["1002@2020-05"]
    assert (three["institution_count"], three["efficacy_count"]) == (3, 1)
    assert three["institutions"] == [KEY[A], KEY[B], KEY[C]]
    assert three["efficacies"] == [X]
    assert [(d["institution"], d["code"]) for d in three["drugs"]] == [
        (KEY[A], CODE[X]), (KEY[B], CODE[X]), (KEY[C], CODE[X]),
    ]  # fmt: skip
    two = found["1003@2020-05"]
    assert (two["institution_count"], two["efficacy_count"]) == (2, 2)
    assert two["efficacies"] == [X, Y]
    assert len(two["drugs"]) == 4


def test_a_clinic_and_the_pharmacy_filling_its_prescription_are_one_institution() -> None:
    # A prescribes X 院内 and 院外 (the pharmacy's claim names A as 処方医療機関), B prescribes X:
    # two institutions, one duplicated 薬効 → not a duplicate, whether the pharmacy's drug row
    # carries the 10-character 処方医療機関 or only its 7-digit code.
    for seven in (False, True):
        person = (
            Person("1005")
            .medical(A, "2020-05", X)
            .pharmacy(A, "2020-05", X, seven=seven)
            .medical(B, "2020-05", X)
        )
        assert flagged(lake_of(person)) == {}
    # Adding C makes it three institutions with the duplicated 薬効.
    person = (
        Person("1006").medical(A, "2020-05", X).pharmacy(A, "2020-05", X).medical(B, "2020-05", X)
        .pharmacy(C, "2020-05", X)
    )  # fmt: skip
    assert flagged(lake_of(person))["1006@2020-05"]["institutions"] == [KEY[A], KEY[B], KEY[C]]


def test_the_same_institution_twice_is_not_a_duplicate() -> None:
    person = Person("1007").medical(A, "2020-05", X, Y).medical(A, "2020-05", X, Y)
    person.medical(A, "2020-05", X)
    assert flagged(lake_of(person)) == {}


def test_institutions_prescribing_only_undisputed_drugs_do_not_count() -> None:
    # A and B both prescribe X; C prescribes Z alone: 2 institutions × 1 duplicated 薬効.
    person = Person("1008").medical(A, "2020-05", X).medical(B, "2020-05", X)
    person.medical(C, "2020-05", Z)
    assert flagged(lake_of(person)) == {}
    # Counting every prescribing institution (an option of the rules file) lists them.
    rules = dataclasses.replace(load_prescribing_rules(), count_all_institutions=True)
    assert list(flagged(lake_of(person), rules=rules)) == ["1008@2020-05"]


def test_persons_are_counted_once_per_insurer_over_the_year() -> None:
    person = (
        Person("1009")
        .medical(A, "2020-05", X).medical(B, "2020-05", X).medical(C, "2020-05", X)
        .medical(A, "2020-06", X).medical(B, "2020-06", X).medical(C, "2020-06", X)
    )  # fmt: skip
    other = Person("1010").medical(A, "2020-06", X, Y).medical(B, "2020-06", X, Y)
    lake = lake_of(person, other)
    listing = duplicate_prescribing(lake, fiscal_year=2020)
    assert person_counts(listing).to_pyarrow().to_pylist() == [{"insurer": "370015", "persons": 2}]
    monthly = person_counts(listing, by=("insurer", "service_month")).to_pyarrow().to_pylist()
    assert [(r["service_month"], r["persons"]) for r in monthly] == [
        (dt.date(2020, 5, 1), 1), (dt.date(2020, 6, 1), 2),
    ]  # fmt: skip
    # The fiscal year reads its twelve months only, and months narrow it further.
    year = [f"2020-{m:02d}" for m in range(4, 13)] + ["2021-01", "2021-02", "2021-03"]
    assert ("claims", year) in lake.asked
    assert ("claim_drugs", year) in lake.asked
    assert sorted(flagged(lake, months=["2020-06"])) == ["1009@2020-06", "1010@2020-06"]
    assert flagged(lake, fiscal_year=2021) == {}


# -- 多剤 ----------------------------------------------------------------------------------------
MANY = [master(f"62000{i:04d}", f"{1100 + i}") for i in range(16)]


def many(number: str, count: int, *, short: int = 0, month: str = "2020-07") -> tuple[Any, ...]:
    """A person with ``count`` drugs of distinct 薬効, ``short`` of them for 13 days only."""
    row = claim(f"m{number}:1", month, number=number)
    rows = [drug(row, MANY[i]["code"], days_supply=13 if i < short else 14) for i in range(count)]
    return row, rows


def test_multi_drug_counts_distinct_efficacies_supplied_long_enough() -> None:
    rules = load_prescribing_rules()
    assert (rules.multi_min_count, rules.multi_min_days_supply) == (15, 14)
    cases = {"2001": many("2001", 15), "2002": many("2002", 14),
             "2003": many("2003", 16, short=2), "2004": many("2004", 16, short=1)}  # fmt: skip
    lake = MemoryLake(
        claims=[c for c, _ in cases.values()],
        claim_drugs=[d for _, ds in cases.values() for d in ds],
        drug_master=MANY,
    )
    rows = multi_drug(lake).to_pyarrow().to_pylist()
    # 15 → yes; 14 → no; 16 with 2 short → 14 → no; 16 with 1 short → 15 → yes.
    assert [(r["number"], r["drug_count"]) for r in rows] == [("2001", 15), ("2004", 15)]
    assert rows[0]["drugs"] == [f"{1100 + i}" for i in range(15)]
    # Two drugs of one 薬効 count once.
    row = claim("m2005:1", "2020-07", number="2005")
    same = [drug(row, MANY[i]["code"]) for i in range(14)] + [drug(row, "629999999")]
    lake = MemoryLake(claims=[row], claim_drugs=same,
                      drug_master=[*MANY, master("629999999", "1100")])  # fmt: skip
    assert multi_drug(lake).to_pyarrow().num_rows == 0
    lower = dataclasses.replace(rules, multi_min_count=14)
    assert multi_drug(lake, rules=lower).to_pyarrow().column("drug_count").to_pylist() == [14]


def test_the_rules_file_names_sources_and_unconfirmed_rules() -> None:
    rules = load_prescribing_rules()
    assert [(r.institutions, r.efficacies) for r in rules.duplicate] == [(3, 1), (2, 2)]
    assert "duplicate.when" not in rules.unconfirmed
    assert {"multi_drug.min_count", "multi_drug.min_days_supply",
            "diabetes.interruption_months"} <= set(rules.unconfirmed)  # fmt: skip
    text = resources.files("kokuho").joinpath("data/prescribing_rules.yaml").read_text("utf-8")
    with pytest.raises(ValueError, match="multi_drug.min_count"):
        parse_prescribing_rules(text.replace("min_count: {value: 15", "min_count: {value: 0"))
    with pytest.raises(ValueError, match="needs value, source and confirmed"):
        parse_prescribing_rules(text.replace("confirmed: true}\n\nmulti", "}\n\nmulti", 1)
                                .replace("institutions_counted: {value: duplicated, source: "
                                         "*kdb_duplicate, confirmed: false}",
                                         "institutions_counted: {value: duplicated}"))  # fmt: skip
    with pytest.raises(ValueError, match="unknown format"):
        parse_prescribing_rules("format: other\n")
