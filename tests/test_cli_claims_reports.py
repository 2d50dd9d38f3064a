"""`kokuho claims generic-share | prescribing | cost | eligibility-errors` end to end: the
hand-written レセ電 files of tests/fixtures/claims ingested into a small register's home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import kokuho.cli._claims_reports  # noqa: F401  (registers the commands on `claims`)
from kokuho.claims import load_reference_population
from kokuho.cli import main
from tests.feedfiles import KOKUHO, TARO, acquire, write_changes, write_insurers

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "claims"
# The patients of the fixtures: 香川太郎 (370015 香川 1234 01, 昭和25年3月2日) and 讃岐花子
# (370015, no 記号, 5678, no 枝番 on the claim, 平成8年7月10日).
KAGAWA_TARO = {**TARO, "name_kanji": "香川 太郎", "name_kana": "カガワ タロウ",
               "birth_date": "1950-03-02"}  # fmt: skip
SANUKI_HANAKO = {**TARO, "name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ",
                 "birth_date": "1996-07-10", "sex": "2"}  # fmt: skip


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args))

    assert invoke("registry", "insurers", str(write_insurers(tmp_path / "i.csv"))).exit_code == 0
    rows = [
        acquire("T1", "2020-04-01", number="1234", symbol="香川", person=KAGAWA_TARO),
        # 花子 joins on 2024-04-05, after her clinic visit of 2024-04-02.
        acquire("H1", "2024-04-05", number="5678", symbol="", person=SANUKI_HANAKO),
    ]
    assert invoke("registry", "import", str(write_changes(tmp_path / "c.csv", rows))).exit_code == 0
    return invoke


def document(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_lake_without_claims_is_reported(run) -> None:  # type: ignore[no-untyped-def]
    for command in (["generic-share", "--fy", "2024"], ["cost", "--fy", "2024"],
                    ["eligibility-errors"], ["prescribing", "--fy", "2024"]):  # fmt: skip
        result = run("claims", *command)
        assert result.exit_code == 1
        assert "kokuho claims ingest" in result.stderr, command


def test_reports_over_the_hand_written_files(run) -> None:  # type: ignore[no-untyped-def]
    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0
    assert run("claims", "masters").exit_code == 0

    # 後発医薬品使用割合: 370015 generic 134, originator 49 (worked out in test_claims_generic);
    # 370023's only drug is insulin without a generic: null share.
    share = document(run("claims", "generic-share", "--fy", "2024", "--json"))
    assert [(r["insurer"], r["service_month"], r["generic_quantity"], r["originator_quantity"])
            for r in share["rows"]] == [(KOKUHO, "2024-04", 134.0, 49.0),
                                        ("370023", "2024-04", 0.0, 0.0)]  # fmt: skip
    assert share["rows"][0]["share"] == pytest.approx(134 / 183)
    assert share["rows"][1]["share"] is None
    by_setting = document(run("claims", "generic-share", "--month", "2024-04", "--by", "setting",
                              "--json"))  # fmt: skip
    assert [(r["setting"], r["generic_quantity"]) for r in by_setting["rows"]] == [
        ("inpatient", 0.0), ("outpatient", 56.0), ("pharmacy", 78.0),
    ]  # fmt: skip
    text = run("claims", "generic-share", "--fy", "2024")
    assert f"{KOKUHO} 2024-04: 134.0 / (49.0 + 134.0) = 73.2%" in text.stdout
    bad = run("claims", "generic-share", "--by", "prefecture")
    assert bad.exit_code == 2 and "Invalid value for '--by': 'prefecture': choose" in bad.stderr
    long = run("claims", "generic-share", "--by", "x" * 10_000)  # not echoed whole
    assert long.exit_code == 2 and len(long.output) < 500, len(long.output)

    # 重複・多剤: 太郎's clinic and the pharmacy filling its prescription are one institution.
    prescribing = document(run("claims", "prescribing", "--fy", "2024", "--json"))
    assert (prescribing["duplicates"], prescribing["multi_drug"]) == ([], [])
    # Every insurer with claims is counted, nobody listed: 0 per 10,000 of 370015's 2 insured;
    # no rate where the register has no insured.
    assert [(r["insurer"], r["insured"], r["duplicate_persons"], r["duplicate_per_10k"])
            for r in prescribing["insurers"]] == [(KOKUHO, 2.0, 0, 0.0), ("370023", 0.0, 0, None),
                                                  ("370031", 0.0, 0, None)]  # fmt: skip
    assert "multi_drug.min_count" in prescribing["unconfirmed"]

    # 医療費: 370015 has 463 + 650 (太郎, 74 on 2024-09-30) and 500 (花子, 28) points over
    # 2 insured (12 month ends each).
    cost = document(run("claims", "cost", "--fy", "2024", "--json"))
    rows = {r["insurer"]: r for r in cost["rows"]}
    kokuho = rows[KOKUHO]
    assert (kokuho["insured"], kokuho["cost"]) == (2.0, 16_130.0)
    assert kokuho["cost_per_insured"] == pytest.approx(8_065)
    weights = load_reference_population().weights()
    w25, w70 = weights["25-29"], weights["70-74"]
    adjusted = (w25 * 5_000 + w70 * 11_130) / (w25 + w70)
    assert kokuho["age_adjusted_cost"] == pytest.approx(adjusted)
    assert kokuho["regional_index"] == pytest.approx(adjusted / 370_000)
    # 370023 and 370031 have claims but no insured in the register, which does not know them
    # as 市町村国保 either: the prefecture row pools 370015 alone.
    assert rows["370023"]["cost_per_insured"] is None
    assert (rows[""]["cost"], rows[""]["age_adjusted_cost"]) == (
        16_130.0,
        kokuho["age_adjusted_cost"],
    )
    assert set(cost["unconfirmed"]) == {"age_on", "structure", "national_cost_per_capita"}
    assert "仮の値" in run("claims", "cost", "--fy", "2024").stdout

    # 資格過誤: the numbers of 370023 and 370031 are unknown to the register; 花子's claim of
    # 2024-04-02 (no 枝番, matched by 生年月日) is before her 資格取得日 of 2024-04-05.
    errors = document(run("claims", "eligibility-errors", "--json"))["errors"]
    assert sorted((e["insurer"], e["number"], e["reason"]) for e in errors) == [
        (KOKUHO, "5678", "not_yet_acquired"),
        ("370023", "777", "not_found"),
        ("370031", "31", "not_found"),
        ("370031", "32", "not_found"),
    ]
    # Each names what a clerk sends back by: file name, line, レセプト番号, 10-digit code.
    where = {e["number"]: e for e in errors}
    assert [(where["777"][k], where["32"][k]) for k in ("file", "line", "receipt_number",
            "institution")] == [("medical_inpatient.UKE", "set_vol01.UKE"), (2, 2), (1, 2),
                                ("3717654325", "3712345671")]  # fmt: skip
    assert len(where["777"]["sha256"]) == 64
    march = document(run("claims", "eligibility-errors", "--month", "2024-03", "--json"))
    assert [(e["number"], e["service_month"], e["line"]) for e in march["errors"]] == [
        ("32", "2024-03-01", 2),
    ]
    summary = run("claims", "eligibility-errors").stdout
    assert summary.startswith(
        "4 claim(s) with an eligibility error: not_found 3, not_yet_acquired 1"
    )
    assert "  medical_inpatient.UKE:2 レセプト番号 1 医療機関 3717654325: 2024-04 370023" in summary


def test_duplicate_prescribing_is_listed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    from decimal import Decimal

    from kokuho.claims import Claim, ClaimFile, ClaimKind, Drug, write_claim_file

    # 香川太郎 gets メトホルミン「ＳＹＮ」(薬効 3962) from three clinics in May 2024: 3 × 1.
    folder = tmp_path / "claims"
    folder.mkdir()
    for clinic in ("1111116", "2222227", "3333338"):  # valid 検証番号 as 371…
        drug = Drug(code="699000102", amount=Decimal(2), section="21", burden="1", points=10,
                    times=14)  # fmt: skip
        claim = Claim(receipt_number=1, receipt_type="1112", service_month=dt.date(2024, 5, 1),
                      name="香川　太郎", sex=1, birth_date=dt.date(1950, 3, 2),
                      insurer_number=KOKUHO, symbol="香川", number="1234", branch="01", days=1,
                      total_points=100, drugs=(drug,))  # fmt: skip
        write_claim_file(
            ClaimFile(kind=ClaimKind.MEDICAL, reviewer="2", prefecture="37", fee_table="1",
                      institution_code=clinic, institution_name="合成医院",
                      billing_month=dt.date(2024, 6, 1), claims=(claim,)),
            folder / f"{clinic}.UKE",
        )  # fmt: skip
    assert run("claims", "ingest", str(folder)).exit_code == 0
    assert run("claims", "masters").exit_code == 0
    found = document(run("claims", "prescribing", "--fy", "2024", "--json"))
    [person] = found["duplicates"]
    assert (person["service_month"], person["number"], person["branch"]) == (
        "2024-05",
        "1234",
        "01",
    )
    assert person["institutions"] == ["3711111116", "3712222227", "3713333338"]
    assert person["efficacies"] == ["3962"]
    assert {d["name"] for d in person["drugs"]} == {"メトホルミン塩酸塩錠２５０ｍｇ「ＳＹＮ」"}
    # One person over the 2 insured of 370015: 5,000 per 10,000.
    [insurer] = found["insurers"]
    assert (insurer["duplicate_persons"], insurer["duplicate_per_10k"]) == (1, 5_000.0)
    listed = run("claims", "prescribing", "--fy", "2024", "--list").stdout
    assert f"{KOKUHO}: 重複 1 (5,000.0), 多剤 0 (0.0)" in listed
    assert (f"重複 2024-05 {KOKUHO} 香川 1234 01: 医療機関 3711111116,3712222227,3713333338; "
            "薬効 3962") in listed  # fmt: skip
    assert document(run("claims", "prescribing", "--fy", "2023", "--json"))["insurers"] == []


def test_a_missing_drug_master_names_claims_masters(run) -> None:  # type: ignore[no-untyped-def]
    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0  # but no `claims masters`
    for command in (["generic-share", "--fy", "2024"], ["prescribing", "--fy", "2024"]):
        result = run("claims", *command)
        assert result.exit_code == 1, command
        assert "kokuho claims masters" in result.stderr, command
        assert "claims ingest" not in result.stderr, command


def test_cost_without_claims_of_the_year_or_insured_fails(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0
    none = run("claims", "cost", "--fy", "2019")
    assert none.exit_code == 1 and "no claims of 2019年度" in none.stderr
    # A home with the same claims and an empty register.
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "empty"))
    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0
    for args in (["--fy", "2024"], ["--fy", "2024", "--json"]):
        empty = run("claims", "cost", *args)
        assert empty.exit_code == 1, empty.output
        assert "the register has no insured person in 2024年度" in empty.stderr
        assert "kokuho registry import" in empty.stderr
        assert empty.stdout == ""


def test_cost_reads_the_reference_given(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from importlib import resources

    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0
    text = resources.files("kokuho").joinpath("data/reference_population.yaml").read_text("utf-8")
    mine = tmp_path / "national.yaml"
    mine.write_text(text.replace("default: 370000", "default: 400000"), "utf-8")
    document_ = document(run("claims", "cost", "--fy", "2024", "--reference", str(mine), "--json"))
    kokuho = {r["insurer"]: r for r in document_["rows"]}[KOKUHO]
    assert kokuho["regional_index"] == pytest.approx(kokuho["age_adjusted_cost"] / 400_000)
    assert document_["reference"] == str(mine)

    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines, 1) if line.strip().startswith('"60-64"'))
    mine.write_text(text.replace('"60-64": 2300000', '"60-64": many'), "utf-8")
    bad = run("claims", "cost", "--fy", "2024", "--reference", str(mine))
    assert bad.exit_code == 1 and bad.stdout == ""
    assert f"{mine}:{at}: structure.bands.60-64: 'many' is not a number" in bad.stderr


def test_cost_names_the_reference_file_it_read(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    """The packaged reference, a local copy in $KOKUHO_HOME/data, or --reference FILE: the
    document names the one whose figures it used."""
    from importlib import resources

    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0
    packaged = document(run("claims", "cost", "--fy", "2024", "--json"))
    assert packaged["reference"] == "packaged"
    text = resources.files("kokuho").joinpath("data/reference_population.yaml").read_text("utf-8")
    local = tmp_path / "home" / "data" / "reference_population.yaml"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text.replace("default: 370000", "default: 500000"), "utf-8")
    copied = document(run("claims", "cost", "--fy", "2024", "--json"))
    assert copied["reference"] == str(local)
    kokuho = {r["insurer"]: r for r in copied["rows"]}[KOKUHO]
    assert kokuho["regional_index"] == pytest.approx(kokuho["age_adjusted_cost"] / 500_000)
    given = tmp_path / "national.yaml"
    given.write_text(text, "utf-8")
    chosen = document(run("claims", "cost", "--fy", "2024", "--reference", str(given), "--json"))
    assert chosen["reference"] == str(given)
    human = run("claims", "cost", "--fy", "2024")
    assert (
        human.exit_code == 0
        and f"※ 全国の基準人口・一人当たり医療費は仮の値 ({local}:" in human.stdout
    )


@pytest.mark.parametrize("month", ["2024-4", "２０２４-０４", "٢٠٢٤-٠٤", "2024-13", "x" * 10_000])
def test_a_month_option_not_written_yyyy_mm_is_a_usage_error(run, month: str) -> None:  # type: ignore[no-untyped-def]
    """'--month 2024-4' was taken and the report came back empty with exit status 0 (the
    lake's months are 2024-04); '2024-13' ended with exit status 1, not a usage error."""
    assert run("claims", "ingest", str(FIXTURES)).exit_code == 0
    for command in (["generic-share"], ["prescribing", "--fy", "2024"], ["eligibility-errors"]):
        result = run("claims", *command, "--month", month)
        assert result.exit_code == 2, (command, result.output)
        assert "YYYY-MM" in result.stderr and len(result.stderr) < 400
