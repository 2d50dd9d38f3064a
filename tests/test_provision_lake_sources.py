"""The extract's 医療 claims and 介護 services come from the real lakes: the claims lake's
claims of the period as the レセ電 reader reads them, the care lake's 明細 with their
明細書's person items; nothing outside the period."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kokuho.care import CareLake, read_care_file
from kokuho.claims import ClaimsLake, read_claim_file
from kokuho.provision import lake_care_services, lake_claims

CLAIMS = Path(__file__).parent / "fixtures" / "claims" / "medical_outpatient.UKE"
CARE = Path(__file__).parent / "fixtures" / "care" / "claims_202005.csv"
D = dt.date


def test_claims_of_the_period_as_the_reader_reads_them(tmp_path: Path) -> None:
    lake = ClaimsLake(tmp_path / "lake")
    assert lake_claims(lake, D(2000, 1, 1), D(2030, 12, 31)) == []  # nothing ingested yet
    lake.ingest([CLAIMS])
    read = read_claim_file(CLAIMS).claims
    months = sorted({c.service_month for c in read})
    found = lake_claims(lake, months[0], months[-1])
    assert sorted((c.insurer, c.symbol, c.number, c.birth_date, c.sex, c.service_month,
                   c.days, c.points) for c in found) == sorted(
        (c.insurer_number, c.symbol, c.number, c.birth_date, c.sex, c.service_month, c.days,
         c.total_points) for c in read)  # fmt: skip
    before = months[0].replace(day=1) - dt.timedelta(days=1)
    assert lake_claims(lake, D(2000, 1, 1), before) == []


def test_care_services_carry_their_claims_person_items(tmp_path: Path) -> None:
    lake = CareLake(tmp_path / "lake")
    lake.ingest([CARE])
    read = read_care_file(CARE).claims
    month = read[0].service_month
    found = lake_care_services(lake, month, month)
    expected = sorted(
        (c.name_kana, c.birth_date, c.sex, c.service_month, d.service_type, d.service_units)
        for c in read for d in c.details
    )  # fmt: skip
    assert expected and sorted(
        (s.name_kana, s.birth_date, s.sex, s.service_month, s.service_type, s.service_units)
        for s in found
    ) == expected  # fmt: skip
    assert lake_care_services(lake, D(2021, 1, 1), D(2021, 12, 31)) == []
