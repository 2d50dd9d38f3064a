"""Rules and households for the premium tests: the published city's FY2020 table (医療 6.7 % /
26,800円 / 19,200円; 支援 2.3 % / 9,100円 / 7,000円; 介護 2.1 % / 11,000円 / 5,500円; caps
630,000 / 190,000 / 170,000円; 10 納期 June–March, 100円未満切捨て, remainder on the first) under
the national file of the year asked for."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kokuho.premiums import HouseholdInput, Income, Member, PremiumRules, load_rules_file
from kokuho.premiums._rules import MunicipalRules, NationalRules, combine

DATA = Path(__file__).resolve().parents[1] / "src" / "kokuho" / "data" / "premiums"
CITY = "000000"


def city_rules(fiscal_year: int = 2020) -> PremiumRules:
    """The city's FY2020 rates under the national rules of ``fiscal_year`` (its caps included
    only where the city's own are lower)."""
    national = load_rules_file(DATA / "national" / f"fy{fiscal_year}.yaml")
    city = load_rules_file(DATA / "example" / "city_fy2020.yaml")
    assert isinstance(national, NationalRules) and isinstance(city, MunicipalRules)
    city = city.model_copy(update={"fiscal_year": fiscal_year})
    return combine(national, f"national/fy{fiscal_year}.yaml", city, "example/city_fy2020.yaml")


def member(
    person_id: int,
    born: date,
    *,
    acquired: date | None = date(2010, 4, 1),
    lost: date | None = None,
    salary: int = 0,
    pension: int = 0,
    other: int = 0,
    declared: bool = True,
    wage_earner: bool = False,
    **more: object,
) -> Member:
    income = Income(salary, pension, other, declared, wage_earner)
    return Member(person_id, born, acquired, lost, income, **more)  # type: ignore[arg-type]


def household(
    *members: Member,
    fiscal_year: int = 2020,
    head: int | None = None,
    specified_since: date | None = None,
    asset_tax: int = 0,
) -> HouseholdInput:
    return HouseholdInput(
        household_id="H1",
        municipality=CITY,
        fiscal_year=fiscal_year,
        head_person_id=members[0].person_id if head is None else head,
        members=members,
        fixed_asset_tax=asset_tax,
        specified_household_since=specified_since,
    )
