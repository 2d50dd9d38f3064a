"""Whose records each legal basis's extract holds (docs/provision.md §6), worked by hand on a
register of several insurers: a 市町村's extract to the prefecture holds only the persons its
own 国保 covered on some day of the data period and the claims billed to it; the 広域連合's
holds only its 後期高齢者医療 members (75+, or 65–74 by 障害認定) with their 後期 claims and
介護 records; the NDB-style 第三者提供 holds every insurer's. The boundary days: 取得日 = the
period's last day is covered, 喪失日 = its first day is not (資格喪失日 is the first day
without coverage)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.care import Certification
from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    CareService,
    Catalogue,
    MedicalClaim,
    ProvisionError,
    Sources,
    apply,
    extract,
    load_sources,
)
from kokuho.registry import tables
from tests.provisioncases import ON, SOURCE, D, application, approved, items

TAKAMATSU = "00370015"  # 高松市 国保 (the provider of the prefecture request)
MARUGAME = "00370023"  # 丸亀市 国保
KYOKAI = "01370014"  # 協会けんぽ 香川支部
KUMIAI = "00373019"  # a 国民健康保険組合
KOKI = "39370010"  # 香川県後期高齢者医療広域連合

INSURERS = [
    (TAKAMATSU, "高松市", "kokuho_municipal", "372013"),
    (MARUGAME, "丸亀市", "kokuho_municipal", "372021"),
    (KYOKAI, "協会けんぽ 香川支部", "kyokai", None),
    (KUMIAI, "香川県建設国保組合", "kokuho_kumiai", None),
    (KOKI, "香川県後期高齢者医療広域連合", "koki", None),
]
#: person id → カナ, 生年月日, 性別. The sexes and birth dates make every age band distinct.
PERSONS = {
    1: ("キョウカイ イチ", D(1980, 1, 10), 1),  # 協会けんぽ only
    2: ("イドウ ニ", D(1981, 2, 10), 2),  # 協会けんぽ → 高松 国保 on 2023-10-01
    3: ("カニュウ サン", D(1982, 3, 10), 1),  # 高松 国保 from 2024-03-31 (the last day)
    4: ("ソウシツ ヨン", D(1983, 4, 10), 2),  # 高松 国保 lost 2023-04-01 (the first day)
    5: ("ソウシツ ゴ", D(1984, 5, 10), 1),  # 高松 国保 lost 2023-04-02: covered on 04-01
    6: ("マルガメ ロク", D(1985, 6, 10), 2),  # 丸亀 国保
    7: ("クミアイ ナナ", D(1986, 7, 10), 1),  # 国保組合
    8: ("コウキ ハチ", D(1940, 8, 10), 2),  # 後期 (83)
    9: ("イコウ キュウ", D(1948, 9, 10), 1),  # 高松 国保 → 後期 on 2023-09-10 (turns 75)
    10: ("カニュウ ジュウ", D(1981, 10, 10), 2),  # 高松 国保 from 2024-04-01: after the period
}
#: coverage rows: person, insurer, 番号, 取得日, 喪失日
COVERAGES: list[tuple[int, str, str, dt.date, dt.date | None]] = [
    (1, KYOKAI, "101", D(2010, 4, 1), None),
    (2, KYOKAI, "102", D(2010, 4, 1), D(2023, 10, 1)),
    (2, TAKAMATSU, "202", D(2023, 10, 1), None),
    (3, TAKAMATSU, "203", D(2024, 3, 31), None),
    (4, TAKAMATSU, "204", D(2010, 4, 1), D(2023, 4, 1)),
    (5, TAKAMATSU, "205", D(2010, 4, 1), D(2023, 4, 2)),
    (6, MARUGAME, "206", D(2010, 4, 1), None),
    (7, KUMIAI, "207", D(2010, 4, 1), None),
    (8, KOKI, "208", D(2015, 8, 10), None),
    (9, TAKAMATSU, "209", D(2010, 4, 1), D(2023, 9, 10)),
    (9, KOKI, "309", D(2023, 9, 10), None),
    (10, TAKAMATSU, "210", D(2024, 4, 1), None),
]
#: claims: person, insurer, 番号, 診療年月, 点数 (the 点数 name the claim in the assertions)
CLAIMS = [
    (1, KYOKAI, "101", D(2023, 6, 1), 101),
    (2, KYOKAI, "102", D(2023, 6, 1), 102),  # before the move: billed to 協会けんぽ
    (2, TAKAMATSU, "202", D(2023, 11, 1), 202),
    (3, TAKAMATSU, "203", D(2024, 3, 1), 203),
    (5, TAKAMATSU, "205", D(2023, 4, 1), 205),
    (6, MARUGAME, "206", D(2023, 6, 1), 206),
    (7, KUMIAI, "207", D(2023, 6, 1), 207),
    (8, KOKI, "208", D(2023, 6, 1), 208),
    (9, TAKAMATSU, "209", D(2023, 7, 1), 209),  # 国保, before 75
    (9, KOKI, "309", D(2023, 12, 1), 309),  # 後期
]


def _build(engine: sa.Engine) -> Sources:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.insurers),
            [{"insurer_number": n, "name": name, "kind": kind, "prefecture": "37",
              "municipality_code": code} for n, name, kind, code in INSURERS],
        )  # fmt: skip
        connection.execute(
            sa.insert(tables.persons),
            [{"person_id": p, "name_kanji": f"試験 {p}", "name_kana": kana, "birth_date": born,
              "sex": sex, "address": "香川県高松市番町1-1", "match_key": f"m{p}"}
             for p, (kana, born, sex) in PERSONS.items()],
        )  # fmt: skip
        connection.execute(
            sa.insert(tables.coverages),
            [{"coverage_id": i, "person_id": p, "insurer_number": insurer, "symbol": "S",
              "number": number, "branch": "00", "acquired_on": start, "lost_on": end,
              "loss_reason": None, "relationship": 1, "card_class": "01"}
             for i, (p, insurer, number, start, end) in enumerate(COVERAGES, 1)],
        )  # fmt: skip
    claims = []
    for p, insurer, number, month, points in CLAIMS:
        _, born, sex = PERSONS[p]
        claims.append(MedicalClaim(insurer, "S", number, born, sex, month, "outpatient", 1, points))
    certifications = [_certification(8, "0000000008"), _certification(1, "0000000001")]
    services = [_service(8, 8), _service(1, 1), _service(2, 2)]
    return load_sources(engine, certifications=certifications, care_services=services,
                        claims=claims)  # fmt: skip


def _certification(p: int, number: str) -> Certification:
    kana, born, sex = PERSONS[p]
    return Certification("372011", number, f"試験 {p}", kana, born, sex, "香川県高松市番町1-1",
                         "21", D(2023, 4, 1), D(2023, 4, 1), D(2024, 3, 31))  # fmt: skip


def _service(p: int, units: int) -> CareService:
    kana, born, sex = PERSONS[p]
    return CareService(kana, born, sex, D(2023, 6, 1), "15", units)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


ALL = items(persons=("birth_month",), claims=("points",),
            care_certifications=("care_level",), care_services=("service_units",))  # fmt: skip


def _extract(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, sources: Sources,
    basis: str, requested: Any, **changes: Any,
) -> dict[str, list[dict[str, str]]]:  # fmt: skip
    pid = approved(engine, cat, audit, basis=basis, requested=requested, **changes)
    done = extract(engine, cat, pid, sources, out=tmp_path / "out", by="職員", on=ON,
                   audit=audit, source_key=SOURCE, key_folder=tmp_path / "keys")  # fmt: skip
    return {t: _read(done.folder / f"{t}.csv") for t in requested}


def _born(rows: list[dict[str, str]]) -> list[int]:
    """The persons of ``persons`` rows, by their birth month."""
    by_month = {f"{b.year:04d}-{b.month:02d}": p for p, (_, b, _) in PERSONS.items()}
    return sorted(by_month[r["birth_month"]] for r in rows)


def _points(rows: list[dict[str, str]], column: str = "points") -> list[int]:
    return sorted(int(r[column]) for r in rows)


def test_a_municipality_provides_only_its_own_kokuho_members_and_their_claims(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    sources = _build(engine)
    got = _extract(engine, cat, audit, tmp_path, sources, "prefecture_request",
                   items(persons=("birth_month",), claims=("points",)), organisation="香川県",
                   provider=TAKAMATSU)  # fmt: skip
    # 2 moved in mid-period, 3 joined on the last day, 5 lost on 04-02 (covered 04-01), 9 left
    # for 後期 mid-period. Not: 1 (協会けんぽ only), 4 (lost on the first day), 6 (丸亀),
    # 7 (国保組合), 8 (後期 only), 10 (joined after the period).
    assert _born(got["persons"]) == [2, 3, 5, 9]
    # Only the claims billed to 高松市 国保: 2's 協会けんぽ claim and 9's 後期 claim stay out.
    assert _points(got["claims"]) == [202, 203, 205, 209]


def test_the_wide_area_union_provides_only_its_koki_members(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    sources = _build(engine)
    got = _extract(engine, cat, audit, tmp_path, sources, "integrated_request", ALL,
                   organisation="高松市", provider=KOKI)  # fmt: skip
    assert _born(got["persons"]) == [8, 9]
    # 9's 国保 claim of 2023-07 was not billed to the 広域連合.
    assert _points(got["claims"]) == [208, 309]
    # 介護: only its members' records (1 and 2 are nobody it insures).
    assert len(got["care_certifications"]) == 1
    assert _points(got["care_services"], "service_units") == [8]


def test_the_third_party_provision_holds_every_insurers_members(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    sources = _build(engine)
    got = _extract(engine, cat, audit, tmp_path, sources, "third_party", ALL)
    # Everyone covered by any insurer on some day of the period: not 4 (lost on the first
    # day) nor 10 (joined after it).
    assert _born(got["persons"]) == [1, 2, 3, 5, 6, 7, 8, 9]
    assert _points(got["claims"]) == sorted(points for *_, points in CLAIMS)
    assert len(got["care_certifications"]) == 2
    assert _points(got["care_services"], "service_units") == [1, 2, 8]


@pytest.mark.parametrize(
    ("basis", "provider", "message"),
    [
        ("prefecture_request", None, "names the providing insurer"),
        ("prefecture_request", KYOKAI, "is kyokai, not kokuho_municipal"),
        ("prefecture_request", KUMIAI, "is kokuho_kumiai, not kokuho_municipal"),
        ("prefecture_request", "00379999", "no insurer 00379999 in the register"),
        ("integrated_request", TAKAMATSU, "is kokuho_municipal, not koki"),
        ("third_party", TAKAMATSU, "names no providing insurer"),
    ],
)
def test_the_provider_must_fit_the_basis(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, basis: str, provider: str | None,
    message: str,
) -> None:  # fmt: skip
    _build(engine)
    app = application(basis, requested=items(persons=("sex",)), provider=provider)
    with pytest.raises(ProvisionError, match=message):
        apply(engine, cat, app, on=ON, audit=audit)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("select count(*) from provisions")) == 0


def test_a_request_recorded_without_its_provider_is_not_extracted(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    """A statutory request recorded before it had to name its provider (migration 0015 left
    it NULL) would otherwise fall back on nobody's scope: refused, nothing written."""
    sources = _build(engine)
    pid = approved(engine, cat, audit, basis="prefecture_request",
                   requested=items(persons=("sex",)), provider=TAKAMATSU)  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.text("update provisions set provider_insurer = null"))
    with pytest.raises(ProvisionError, match=f"provision {pid}: provider: .* names the"):
        extract(engine, cat, pid, sources, out=tmp_path / "out", by="職員", on=ON, audit=audit,
                source_key=SOURCE, key_folder=tmp_path / "keys")  # fmt: skip
    assert not (tmp_path / "out" / pid).exists() or not any((tmp_path / "out" / pid).iterdir())
