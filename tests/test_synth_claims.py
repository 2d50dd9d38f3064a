"""Synthetic claims (レセプト) of the synthetic prefecture: the files read back, agree with the
people (their coverage on the day of service, their checkups, their age), carry a realistic
generic share, and hold exactly the planted 重複・多剤 and 資格過誤 cases."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from kokuho.checkups import Items, read_archive
from kokuho.claims import (
    Claim,
    ClaimFile,
    ClaimKind,
    read_claim_file,
    read_disease_master,
    read_drug_master,
    read_generic_list,
    sample_masters,
)
from kokuho.synth import _alongside, _checkups, _claims, generate
from kokuho.synth._claims_config import load_config, parse
from kokuho.synth._claims_people import People
from kokuho.synth._claims_records import drug_points
from kokuho.synth._world import World

SEED = 11
PERSONS = 900
START = dt.date(2021, 4, 1)
Person = tuple[str, str, str, str]  # 保険者番号, 記号, 番号, 枝番


@dataclass
class Run:
    out: Path
    world: World
    manifest: dict[str, Any]
    files: dict[str, ClaimFile]  # relative path → file
    planted: dict[str, Any]

    def claims(self) -> Iterator[tuple[str, ClaimFile, Claim]]:
        for name, f in self.files.items():
            for claim in f.claims:
                yield name, f, claim


def person(claim: Claim) -> Person:
    return (claim.insurer_number, claim.symbol, claim.number, claim.branch)


def month(claim: Claim) -> str:
    return f"{claim.service_month:%Y-%m}"


def service_days(claim: Claim) -> list[dt.date]:
    """The days of service a claim records: 算定日 of SI/IY, 調剤月日 of 調剤."""
    found: set[int] = set()
    for record in (*claim.procedures, *claim.drugs):
        found.update(n + 1 for n, count in enumerate(record.days) if count)
    days = [claim.service_month.replace(day=d) for d in found]
    days += [d.dispensed_on for d in claim.drugs if d.dispensed_on is not None]
    return sorted(days)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("claims")
    seen: list[World] = []
    write = _claims.write

    def keep(world: World, *args: Any, **kwargs: Any) -> _claims.Written:
        seen.append(world)
        return write(world, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_claims, "write", keep)
        # The world is kept by ``keep`` in this process: no forked claims writer.
        patch.setattr(_alongside, "can_fork", lambda: False)
        generate(out, seed=SEED, persons=PERSONS, start=START, years=1)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    files = {
        p.relative_to(out).as_posix(): read_claim_file(p)
        for p in sorted((out / "claims").glob("*.csv"))
    }
    planted = json.loads((out / "claims" / "planted.json").read_text("utf-8"))
    return Run(out, seen[0], manifest, files, planted)


@pytest.fixture(scope="module")
def efficacy() -> dict[str, str]:
    """医薬品コード → 薬効 (the first 4 characters of its 薬価基準コード)."""
    return {row.code: row.yakka_code[:4] for row in read_drug_master(sample_masters().drugs)}


def snapshot(out: Path, *, without_claims: bool = False) -> dict[str, bytes]:
    found = {}
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        if not path.is_file():
            continue
        if without_claims and name.split("/")[0] in ("claims", "masters", "manifest.json"):
            continue
        found[name] = path.read_bytes()
    return found


# -- the files ------------------------------------------------------------------------------------
def test_every_claim_file_reads_back_as_named(run: Run) -> None:
    counts = run.manifest["counts"]
    assert len(run.files) == counts["claim_files"] > 20
    kinds: Counter[str] = Counter()
    for name, f in run.files.items():
        code10, billing, payer = Path(name).stem.split("_")
        assert f.prefecture + f.fee_table + f.institution_code == code10
        assert f"{f.billing_month:%Y-%m}" == billing
        # 国保連 (2) for 市町村国保 and 後期高齢者; the employee schemes are not written.
        assert (payer, f.reviewer) == ("kokuho", "2")
        assert f.kind == (ClaimKind.PHARMACY if f.fee_table == "4" else ClaimKind.MEDICAL)
        assert [c.receipt_number for c in f.claims] == list(range(1, len(f.claims) + 1))
        for claim in f.claims:
            assert claim.service_month < f.billing_month  # billed after the service month
            if f.kind == ClaimKind.PHARMACY:
                assert claim.prescriber and not claim.procedures and claim.drugs
                assert claim.receipt_type.startswith("4")
                kinds["pharmacy"] += 1
            else:
                assert not claim.prescriber and claim.diagnoses and claim.procedures
                assert claim.receipt_type[0] == "1"
                kinds["inpatient" if claim.admission_date else "outpatient"] += 1
    assert kinds == {k: counts[f"claims_{k}"] for k in ("pharmacy", "inpatient", "outpatient")}
    late = [
        c for _, f, c in run.claims() if c.service_month.month % 12 + 1 != f.billing_month.month
    ]
    assert len(late) < 0.02 * sum(kinds.values())  # 月遅れ請求 only now and then
    lines = sum(len((run.out / n).read_bytes().split(b"\r\n")) - 1 for n in run.files)
    assert lines == counts["claim_lines"]
    assert "masters/y_synthetic.csv" in run.manifest["files"]
    assert (
        run.out / "masters" / "y_synthetic.csv"
    ).read_bytes() == sample_masters().drugs.read_bytes()


def test_points_add_up(run: Run) -> None:
    """HO 合計点数 is the sum of SI and IY 点数 × 回数 (医科); the drug points follow the
    15 円 rule; the 一部負担金 is the 負担割合 of it, rounded to 10 円."""
    prices = {row.code: row.price for row in read_drug_master(sample_masters().drugs)}
    for _, f, claim in run.claims():
        if f.kind == ClaimKind.MEDICAL:
            total = sum((p.points or 0) * p.times for p in claim.procedures)
            total += sum((d.points or 0) * d.times for d in claim.drugs)
            assert claim.total_points == total
            # the 剤 ends at the drug that carries the points
            group: list[Any] = []
            for drug in claim.drugs:
                group.append(drug)
                if drug.points is not None:
                    yen = sum(prices[d.code] * float(d.amount) for d in group)
                    assert drug.points == drug_points(yen)
                    group = []
        assert claim.copayment is not None and claim.copayment % 10 == 0
        assert claim.total_points * 10 * 0.1 - 5 <= claim.copayment
        assert claim.copayment <= claim.total_points * 10 * 0.3 + 5


def test_drug_points_rule() -> None:
    assert drug_points(3.2) == 1
    assert drug_points(15.0) == 1
    assert drug_points(15.01) == 2
    assert drug_points(25.0) == 2
    assert drug_points(25.01) == 3
    assert drug_points(121.9 * 2) == 24  # 243.8 円: 1 + ⌈228.8 / 10⌉


# -- the same run, and a run without claims -------------------------------------------------------
def test_same_seed_gives_identical_claims(run: Run, tmp_path: Path) -> None:
    generate(tmp_path, seed=SEED, persons=PERSONS, start=START, years=1)
    assert snapshot(tmp_path) == snapshot(run.out)


def test_without_claims_every_other_file_is_identical(run: Run, tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=SEED, persons=PERSONS, start=START, years=1, claims=False)
    assert not (tmp_path / "claims").exists()
    assert snapshot(tmp_path, without_claims=True) == snapshot(run.out, without_claims=True)
    with_claims = run.manifest
    assert [f for f in with_claims["files"] if not f.startswith(("claims/", "masters/"))] == list(
        manifest.files
    )
    others = {k: v for k, v in with_claims["counts"].items() if not k.startswith("claim")}
    assert others == manifest.counts


def test_every_scheme_when_configured(run: Run, tmp_path: Path) -> None:
    """With ``period.insurers: all`` the employee schemes' claims go to the 支払基金 in files
    of their own; the 国保連 files keep 市町村国保 and 後期高齢者."""
    shutil.copy(run.out / "institutions.csv", tmp_path / "institutions.csv")
    config = dataclasses.replace(load_config(), kokuhoren_only=False)
    written = _claims.write(run.world, tmp_path, SEED, config=config)
    insurers: dict[str, set[str]] = defaultdict(set)
    for name in written.files:
        if not name.endswith("kokuho.csv") and not name.endswith("shaho.csv"):
            continue
        f = read_claim_file(tmp_path / name)
        payer = name.rsplit("_", 1)[1].removesuffix(".csv")
        assert f.reviewer == {"kokuho": "2", "shaho": "1"}[payer]
        insurers[payer].update(c.insurer_number for c in f.claims)
    kinds = {k: {"kokuho" if len(n) == 6 else n[:2] for n in v} for k, v in insurers.items()}
    assert kinds["kokuho"] == {"kokuho", "39"}  # 市町村国保, 後期高齢者医療広域連合
    assert {"01", "06"} <= kinds["shaho"] and not kinds["shaho"] & {"kokuho", "39"}


def test_refuses_to_mix_with_earlier_claims(tmp_path: Path) -> None:
    folder = tmp_path / "claims"
    folder.mkdir()
    earlier = folder / "3714000019_2022-05_kokuho.csv"
    earlier.write_bytes(b"IR\r\n")
    mine = folder / "notes.csv"  # not a claims file of a run: left alone
    mine.write_bytes(b"x")
    with pytest.raises(FileExistsError, match="claims of a synthetic prefecture"):
        _claims.prepare(tmp_path, overwrite=False)
    _claims.prepare(tmp_path, overwrite=True)
    assert not earlier.exists() and mine.exists()


def test_configuration_errors_name_the_problem() -> None:
    text = resources_text()
    raw = yaml.safe_load(text)
    raw["acute"]["episodes"][0]["drugs"] = ["2149"]  # a hypertension class
    with pytest.raises(ValueError, match="acute and chronic drug classes overlap: 2149"):
        parse(raw)
    raw = yaml.safe_load(text)
    raw["other_chronic"]["conditions"][0]["drugs"] = ["1124"]  # also 不眠症's
    with pytest.raises(ValueError, match="more than one chronic condition"):
        parse(raw)
    raw = yaml.safe_load(text)
    del raw["planted"]["confirmed"]
    with pytest.raises(ValueError, match="planted needs source and confirmed"):
        parse(raw)


def resources_text() -> str:
    from importlib import resources

    return resources.files("kokuho").joinpath("data/claims_distributions.yaml").read_text("utf-8")


# -- generic share --------------------------------------------------------------------------------
def test_generic_share_by_quantity(run: Run) -> None:
    """数量ベース: 後発 (3, ★) ÷ (後発のある先発 (2, ☆) + 後発), in 薬価基準 units."""
    category = {
        row.yakka_code: row.category for row in read_generic_list(sample_masters().generic_list)
    }
    side = {}
    for row in read_drug_master(sample_masters().drugs):
        c = category.get(row.yakka_code, "")
        side[row.code] = "generic" if c in ("3", "★") else "originator" if c in ("2", "☆") else ""
    quantity: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    total: dict[str, Decimal] = defaultdict(Decimal)
    for _, _, claim in run.claims():
        for drug in claim.drugs:
            if side[drug.code]:
                quantity[claim.insurer_number][side[drug.code]] += drug.quantity
                total[side[drug.code]] += drug.quantity
    share = total["generic"] / (total["generic"] + total["originator"])
    assert 0.70 <= share <= 0.88
    ppm = run.manifest["counts"]["claim_generic_share_ppm"]
    assert abs(ppm / 1e6 - float(share)) < 1e-6
    shares = [c["generic"] / (c["generic"] + c["originator"]) for c in quantity.values()
              if c["generic"] + c["originator"] > 500]  # fmt: skip
    assert max(shares) - min(shares) > Decimal("0.03")  # it varies by municipality


# -- planted 重複・多剤 ----------------------------------------------------------------------------
def prescribing(
    run: Run, efficacy: dict[str, str]
) -> dict[tuple[Person, str], dict[str, set[str]]]:
    """person-month → 薬効 → prescribing institutions (the 処方医療機関 for 調剤)."""
    found: dict[tuple[Person, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for _, f, claim in run.claims():
        institution = claim.prescriber if f.kind == ClaimKind.PHARMACY else f.institution_code
        for drug in claim.drugs:
            found[(person(claim), month(claim))][efficacy[drug.code]].add(institution)
    return found


def planted_keys(entries: list[dict[str, Any]]) -> set[tuple[Person, str]]:
    return {((e["insurer"], e["symbol"], e["number"], e["branch"]), e["service_month"])
            for e in entries}  # fmt: skip


def test_duplicates_are_exactly_the_planted_ones(run: Run, efficacy: dict[str, str]) -> None:
    """KDB: 3 institutions with ≥ 1 duplicated 薬効, or 2 institutions with ≥ 2."""
    found = set()
    for key, by_efficacy in prescribing(run, efficacy).items():
        duplicated = {e: i for e, i in by_efficacy.items() if len(i) > 1}
        institutions = set().union(*duplicated.values()) if duplicated else set()
        if (len(institutions) >= 3 and duplicated) or (
            len(institutions) >= 2 and len(duplicated) >= 2
        ):
            found.add(key)
    planted = run.planted["duplicate"]
    assert found == planted_keys(planted)
    assert len(planted) == run.manifest["counts"]["claims_planted_duplicate"] >= 3
    variants = Counter(e["variant"] for e in planted)
    assert variants["3x1"] > 0 and variants["2x2"] > 0
    table = prescribing(run, efficacy)
    for e in planted:
        by_efficacy = table[((e["insurer"], e["symbol"], e["number"], e["branch"]),
                             e["service_month"])]  # fmt: skip
        codes = {i[3:] for i in e["institutions"]}
        for code in e["efficacies"]:
            assert codes <= by_efficacy[code]
        assert len(codes) == (3 if e["variant"] == "3x1" else 2)


def test_multi_drug_are_exactly_the_planted_ones(run: Run, efficacy: dict[str, str]) -> None:
    """15 or more 薬効 supplied for 14 days or more in a month (prescribing_rules.yaml)."""
    long: dict[tuple[Person, str], set[str]] = defaultdict(set)
    for _, _, claim in run.claims():
        for drug in claim.drugs:
            supplied = drug.dispensed_units if drug.dispensed_units is not None else sum(drug.days)
            if supplied >= 14 and drug.section in ("", "21") and drug.dosage_form in ("", "1"):
                long[(person(claim), month(claim))].add(efficacy[drug.code])
    found = {key for key, codes in long.items() if len(codes) >= 15}
    assert found == planted_keys(run.planted["multi_drug"])
    assert len(found) == run.manifest["counts"]["claims_planted_multi_drug"] >= 3


# -- 資格過誤 -------------------------------------------------------------------------------------
def coverage_periods(out: Path) -> dict[Person, tuple[dt.date, dt.date | None]]:
    """Each tuple's 資格取得日 and 資格喪失日 from the change feed."""
    periods: dict[Person, list[dt.date | None]] = {}
    for path in sorted((out / "changes").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["insurer_number"], row["symbol"], row["number"], row["branch"])
                day = dt.date.fromisoformat(row["effective_date"])
                if row["event"] == "acquire":
                    periods.setdefault(key, [day, None])[0] = day
                elif row["event"] == "lose":
                    periods.setdefault(key, [None, None])[1] = day
    return {k: (v[0], v[1]) for k, v in periods.items() if v[0] is not None}


def test_claims_use_the_tuple_valid_on_their_days(run: Run) -> None:
    periods = coverage_periods(run.out)
    planted = {(c["file"], c["receipt_number"]): e
               for e in run.planted["eligibility"] for c in e["claims"]}  # fmt: skip
    seen: Counter[str] = Counter()
    for name, _, claim in run.claims():
        days = service_days(claim)
        assert days and days[0].replace(day=1) == claim.service_month
        entry = planted.pop((name, claim.receipt_number), None)
        period = periods.get(person(claim))
        if entry is None:
            assert period is not None, (name, claim.receipt_number)
            acquired, lost = period
            assert acquired <= days[0] and (lost is None or days[-1] < lost)
            continue
        seen[entry["reason"]] += 1
        if entry["reason"] == "not_found":
            assert period is None
        else:
            assert period is not None and period[1] is not None
            assert period[1] == dt.date.fromisoformat(entry["lost_on"]) <= days[0]
            assert entry["responsible_insurer"] != "" and entry["responsible_insurer"] is not None
    assert not planted  # every planted claim was found in the files
    counts = run.manifest["counts"]
    assert sum(seen.values()) == counts["claims_planted_eligibility_claims"]
    assert seen["lost_coverage"] >= 3 and seen["not_found"] >= 3


# -- agreement with the people --------------------------------------------------------------------
def test_claims_agree_with_the_checkups(run: Run) -> None:
    """A checkup that says 服薬 はい (blood pressure, glucose, lipids) is a person with that
    condition's 傷病名 on their claims of the year; HbA1c ≥ 6.5 without medication is mostly
    untreated (no 糖尿病 claims)."""
    disease = {"I10": "bp", "E11": "glucose", "E14": "glucose", "E78": "lipid"}
    codes = {}
    for row in read_disease_master(sample_masters().diseases):
        for prefix, name in disease.items():
            if row.icd10.startswith(prefix):
                codes[row.code] = name
    treated_for: dict[Person, set[str]] = defaultdict(set)
    for _, _, claim in run.claims():
        for diagnosis in claim.diagnoses:
            if diagnosis.code in codes:
                treated_for[person(claim)].add(codes[diagnosis.code])
    asked = Counter[str]()
    agreed = Counter[str]()
    high_untreated = high_without_claims = 0
    for archive in sorted((run.out / "checkups").glob("*_1.zip")):
        for checkup in read_archive(archive).checkups:
            insurer = checkup.insurer.lstrip("0")
            if len(insurer) != 6:
                continue  # 市町村国保 (6 digits): the checkup takers whose claims are written
            key = (insurer, checkup.symbol, checkup.number, checkup.branch or "")
            for name, item in (("bp", Items.MEDICATION_BP), ("glucose", Items.MEDICATION_GLUCOSE),
                               ("lipid", Items.MEDICATION_LIPID)):  # fmt: skip
                answer = checkup.first(*item)
                if answer is not None and answer.value == "1":
                    asked[name] += 1
                    agreed[name] += name in treated_for[key]
            hba1c = checkup.first(*Items.HBA1C)
            value = hba1c.number if hba1c is not None else None
            answer = checkup.first(*Items.MEDICATION_GLUCOSE)
            if value is not None and value >= 6.5 and answer is not None and answer.value == "2":
                high_untreated += 1
                high_without_claims += "glucose" not in treated_for[key]
    for name in ("bp", "glucose", "lipid"):
        assert agreed[name] >= 1, name
    # Missed visits, inpatient months and a bimonthly visit outside the year explain the rest.
    assert sum(asked.values()) >= 15
    assert sum(agreed.values()) >= 0.85 * sum(asked.values()), (agreed, asked)
    assert high_without_claims >= 0.5 * high_untreated


def test_conditions_are_the_checkups_own(run: Run) -> None:
    """On the day of each checkup, the claims' conditions are exactly its 服薬 answers (the same
    latent propensities and thresholds), and the untreated diabetics are those whose values
    show diabetes."""
    world = run.world
    institutions = _checkups.load_institutions(run.out / "institutions.csv", 17)
    sim = _checkups.simulate(world, SEED, institutions)
    people = People(world, SEED, load_config())
    compared = 0
    for year in sim.years:
        bp, treated, diabetic, lipid = people.conditions(year.exam, year.pid)
        assert (bp == year.drawn.med_bp).all()
        assert (treated == year.drawn.med_glucose).all()
        assert (lipid == year.drawn.med_lipid).all()
        hba1c = year.drawn.value("hba1c")
        untreated = diabetic & ~treated & (hba1c == hba1c)  # measured
        others = ~diabetic & (hba1c == hba1c)
        assert untreated.sum() >= 5
        assert (hba1c[untreated] >= 6.5).mean() > 0.5
        assert (hba1c[others] >= 6.5).mean() < 0.05
        compared += len(year.pid)
    assert compared > 100


def test_visits_rise_with_age(run: Run) -> None:
    claims_of: Counter[tuple[str, int]] = Counter()
    people: dict[int, set[Person]] = defaultdict(set)
    for _, f, claim in run.claims():
        age = (claim.service_month - claim.birth_date).days // 365
        band = 0 if age < 15 else 1 if age < 40 else 2 if age < 65 else 3 if age < 75 else 4
        setting = "pharmacy" if f.kind == ClaimKind.PHARMACY else (
            "inpatient" if claim.admission_date else "outpatient")  # fmt: skip
        claims_of[(setting, band)] += 1
        people[band].add(person(claim))
    per = {(s, b): claims_of[(s, b)] / max(len(people[b]), 1) for s, b in claims_of}
    assert per[("outpatient", 1)] < per[("outpatient", 2)] < per[("outpatient", 4)]
    assert per.get(("inpatient", 1), 0) < per[("inpatient", 4)]


def test_diabetes_treatment_status(run: Run) -> None:
    """Treated, untreated (未治療) and interrupted (中断: 糖尿病 claims in the first months
    only) diabetics are all there."""
    counts = run.manifest["counts"]
    assert counts["claims_diabetes_treated_persons"] > 10
    assert counts["claims_diabetes_untreated_persons"] > 3
    assert counts["claims_diabetes_interrupted_persons"] > 0
    diabetes = {r.code for r in read_disease_master(sample_masters().diseases)
                if r.icd10.startswith(("E11", "E14"))}  # fmt: skip
    months_of: dict[Person, set[int]] = defaultdict(set)
    for _, _, claim in run.claims():
        if any(d.code in diabetes for d in claim.diagnoses):
            index = (claim.service_month.year - START.year) * 12 + claim.service_month.month - 4
            months_of[person(claim)].add(index)
    stopped = [p for p, months in months_of.items() if max(months) <= 5]
    assert len(stopped) >= counts["claims_diabetes_interrupted_persons"] // 2


# -- the indicators of kokuho.claims find exactly the planted cases --------------------------------
def test_indicators_find_the_planted_cases(run: Run, tmp_path: Path) -> None:
    """kokuho.claims over the lake and the register finds exactly the planted 重複, 多剤 and
    資格過誤 of a service month, and a generic share in range. (One month: ingesting every
    file of the year would take most of this file's time.)"""
    from kokuho.claims import (
        ClaimsLake,
        duplicate_prescribing,
        eligibility_errors,
        generic_share,
        multi_drug,
    )
    from kokuho.registry import import_changes, load_insurers
    from kokuho.store import connect

    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    load_insurers(engine, run.out / "insurers.csv")
    for path in sorted((run.out / "changes").glob("*.csv"), key=lambda p: (p.stem[-7:], p.stem)):
        import_changes(engine, path)

    # One service month, the one with the most kinds of planted cases, and every claim of it:
    # 月遅れ ones are billed up to three months later.
    def count(kind: str) -> Counter[str]:
        return Counter(e["service_month"] for e in run.planted[kind])

    kinds = [count("eligibility"), count("duplicate"), count("multi_drug")]
    chosen = max(kinds[0], key=lambda m: ([k[m] > 0 for k in kinds], kinds[0][m]))
    months = [chosen]
    first = dt.date.fromisoformat(f"{chosen}-01")
    billed = {f"{first.year + (first.month + k - 1) // 12}-{(first.month + k - 1) % 12 + 1:02d}"
              for k in (1, 2, 3)}  # fmt: skip
    names = [n for n in run.files if Path(n).stem.split("_")[1] in billed]
    lake = ClaimsLake(tmp_path / "lake")
    lake.ingest([run.out / name for name in names])
    masters = sample_masters()
    lake.load_masters(masters.drugs, masters.generic_list)

    def keys(table: Any) -> set[tuple[Person, str]]:
        rows = table.to_pyarrow().to_pylist()
        return {((r["insurer"], r["symbol"], r["number"], r["branch"]),
                 f"{r['service_month']:%Y-%m}") for r in rows}  # fmt: skip

    def planted(kind: str) -> set[tuple[Person, str]]:
        return {k for k in planted_keys(run.planted[kind]) if k[1] in months}

    assert keys(duplicate_prescribing(lake, months=months)) == planted("duplicate")
    assert keys(multi_drug(lake, months=months)) == planted("multi_drug")

    found_share = generic_share(lake, months=months, by=()).to_pyarrow().to_pylist()[0]["share"]
    assert 0.70 <= found_share <= 0.88

    digest = {name: hashlib.sha256((run.out / name).read_bytes()).hexdigest() for name in names}
    expected = {
        f"{digest[c['file']]}:{c['receipt_number']}": e
        for e in run.planted["eligibility"]
        for c in e["claims"]
        if c["file"] in digest and e["service_month"] in months
    }
    found = {error.claim_id: error for error in eligibility_errors(lake, engine, months=months)}
    assert set(found) == set(expected) != set()
    for claim_id, error in found.items():
        entry = expected[claim_id]
        if entry["reason"] == "not_found":
            assert error.reason == "not_found"
        else:
            assert error.reason in ("superseded", "lost_before_service")
            assert error.lost_on == dt.date.fromisoformat(entry["lost_on"])
            if error.reason == "superseded":
                assert error.responsible_insurer == entry["responsible_insurer"]
    engine.dispose()
