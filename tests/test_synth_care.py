"""The synthetic prefecture's 要介護認定 and 介護 claims: readable by kokuho.care, every claim
backed by its certification, the certified share rising with age, and the planted linkage
failures where the manifest says."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from kokuho.care import ONE_ITEM_DIFFERS, link_to_register, read_care_files, read_certifications
from kokuho.registry import import_changes, load_insurers, normalize_kana_name
from kokuho.store import connect
from kokuho.synth import generate


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth_care")
    generate(folder, seed=11, persons=6000, checkups=False, claims=False, incentives=False)
    return folder


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _band(age: int) -> str:
    return "65-74" if age < 75 else "75-84" if age < 85 else "85+"


def test_the_files_read_and_agree(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    names = [f for f in manifest["files"] if f.startswith("care/") and f.endswith(".csv")]
    assert "care/certifications.csv" in names
    certs = read_certifications(out / "care" / "certifications.csv")
    files = read_care_files([out / n for n in names if n != "care/certifications.csv"])
    claims = [c for f in files for c in f.claims]
    assert len(claims) == manifest["counts"]["care_claims"] > 0
    assert len(certs) == manifest["counts"]["care_certifications"]
    by_number: dict[tuple[str, str], list[object]] = {}
    for cert in certs:
        by_number.setdefault((cert.insurer_number, cert.insured_number), []).append(cert)
    for claim in claims:
        matching = [
            c for c in by_number[(claim.insurer, claim.insured)]
            if c.valid_from <= claim.service_month <= c.valid_to  # type: ignore[attr-defined]
        ]  # fmt: skip
        assert len(matching) == 1
        cert = matching[0]
        assert (claim.care_level, claim.birth_date, claim.sex) == (
            cert.care_level, cert.birth_date, cert.sex,  # type: ignore[attr-defined]
        )  # fmt: skip
        assert _age(claim.birth_date, claim.service_month) >= 64
    # billed in the month after the service month
    assert all(
        c.service_month < f.billing_month and (f.billing_month - c.service_month).days <= 31
        for f in files for c in f.claims
    )  # fmt: skip


def test_the_certified_share_rises_with_age(out: Path) -> None:
    end = dt.date.fromisoformat(json.loads((out / "manifest.json").read_text("utf-8"))["end"])
    with (out / "residents.csv").open(encoding="utf-8") as handle:
        births = [dt.date.fromisoformat(r["birth_date"]) for r in csv.DictReader(handle)]
    people = Counter(_band(_age(b, end)) for b in births if _age(b, end) >= 65)
    current = [c for c in read_certifications(out / "care" / "certifications.csv")
               if c.valid_from <= end <= c.valid_to]  # fmt: skip
    certified = Counter(_band(_age(c.birth_date, end)) for c in current)
    share = {band: certified[band] / people[band] for band in ("65-74", "75-84", "85+")}
    # National 認定率 is a few % at 65–74, near a fifth at 75–84 and over half at 85+: the
    # synthetic prefecture must at least rise steeply and stay within those orders of size.
    assert share["65-74"] < share["75-84"] < share["85+"]
    assert 0.01 < share["65-74"] < 0.10
    assert 0.08 < share["75-84"] < 0.35
    assert 0.35 < share["85+"] < 0.80
    # every current certification is of someone 65 or older
    assert all(_age(c.birth_date, end) >= 65 for c in current)


def test_the_planted_linkage_failures(out: Path) -> None:
    planted = json.loads((out / "care" / "planted.json").read_text("utf-8"))
    counts = json.loads((out / "manifest.json").read_text("utf-8"))["counts"]
    assert len(planted["kana_differs"]) == counts["care_kana_differs_planted"] > 0
    assert len(planted["renumbered"]) == counts["care_renumbered_planted"] > 0
    certs = {(c.insurer_number, c.insured_number): c
             for c in read_certifications(out / "care" / "certifications.csv")}  # fmt: skip
    for case in planted["kana_differs"]:
        cert = certs[(case["insurer"], case["insured"])]
        assert cert.name_kana == case["care_kana"]
        assert normalize_kana_name(case["care_kana"]) != normalize_kana_name(case["register_kana"])
    for case in planted["renumbered"]:
        old, new = certs[(case["insurer"], case["old"])], certs[(case["insurer"], case["new"])]
        assert old.insured_number != new.insured_number
        assert (old.name_kanji, old.birth_date, old.sex) == (
            new.name_kanji,
            new.birth_date,
            new.sex,
        )
        assert old.valid_to == new.valid_from - dt.timedelta(days=1)


def test_the_synthetic_care_records_link_to_the_loaded_register(out: Path, tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    load_insurers(engine, out / "insurers.csv")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    for name in manifest["files"]:
        if name.startswith("changes/"):
            import_changes(engine, out / name, load_good_rows=True)
    certs = read_certifications(out / "care" / "certifications.csv")
    report = link_to_register(engine, certs)
    engine.dispose()
    planted = json.loads((out / "care" / "planted.json").read_text("utf-8"))
    kana = {(p["insurer"], p["insured"]) for p in planted["kana_differs"]}
    # Every planted カナ difference is found, and named as the one differing item …
    found = {(u.insurer_number, u.insured_number): u for u in report.unlinked}
    assert all(found[number].reason == ONE_ITEM_DIFFERS for number in kana)
    assert all(found[number].items == ("name_kana",) for number in kana)
    # … both numbers of a renumbered person name the same person …
    for case in planted["renumbered"]:
        old, new = (case["insurer"], case["old"]), (case["insurer"], case["new"])
        assert report.persons.get(old) == report.persons.get(new) is not None
    assert len(report.several_numbers) == len(planted["renumbered"])
    # … and nearly everyone else links (a register may hold two records of one human).
    numbers = {(c.insurer_number, c.insured_number) for c in certs}
    others = [u for u in report.unlinked if (u.insurer_number, u.insured_number) not in kana]
    assert len(others) <= 0.01 * len(numbers)
    assert len(report.persons) + len(report.unlinked) == len(numbers)
