"""`kokuho checkups …` end to end: a V08 archive for a small register, ingested, stratified,
and the rates with the official denominator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kokuho.checkups import Checkup, Items, Observation, write_archive
from kokuho.cli import main
from tests.feedfiles import KOKUHO, TARO, acquire, write_changes, write_insurers

HANAKO = dict(
    TARO, name_kanji="讃岐 花子", name_kana="サヌキ ハナコ", birth_date="1972-03-03", sex="2"
)


def pq(items: tuple[str, ...], value: str, unit: str) -> Observation:
    return Observation(items[0], "PQ", value, unit)


def co(items: tuple[str, ...], value: str) -> Observation:
    return Observation(items[0], "CO", value, code_system="1.2.392.200119.6.2003")


def taro_checkup() -> Checkup:
    observations = [
        pq(Items.WAIST, "90", "cm"),
        pq(Items.BMI, "26.1", "kg/m2"),
        pq(Items.SBP, "135", "mmHg"),
        pq(Items.DBP, "80", "mmHg"),
        pq(Items.TG_FASTING, "160", "mg/dL"),
        pq(Items.HDL, "50", "mg/dL"),
        pq(Items.GLUCOSE_FASTING, "90", "mg/dL"),
        pq(Items.HBA1C, "5.2", "%"),
        co(Items.BLOOD_DRAW_TIMING, "2"),
        co(Items.MEDICATION_BP, "2"),
        co(Items.MEDICATION_GLUCOSE, "2"),
        co(Items.MEDICATION_LIPID, "2"),
        co(Items.SMOKING, "3"),
        # The institution judged 動機付け支援; the rule gives 積極的支援 (waist + 2 risks).
        co(Items.GUIDANCE_LEVEL, "2"),
        co(Items.METABOLIC, "1"),
    ]
    return Checkup(
        document="",
        insurer=KOKUHO,
        symbol="12",
        number="1001",
        branch="01",
        sex=1,
        birth_date=dt.date(1970, 5, 15),
        exam_date=dt.date(2020, 9, 1),
        institution="3710000012",
        observations={o.code: o for o in observations},
    )


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args))

    assert invoke("registry", "insurers", str(write_insurers(tmp_path / "i.csv"))).exit_code == 0
    rows = [acquire("K1", "2019-04-01"), acquire("K2", "2019-04-01", number="2002", person=HANAKO)]
    assert invoke("registry", "import", str(write_changes(tmp_path / "c.csv", rows))).exit_code == 0
    return invoke


def test_ingest_stratify_and_rates(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = write_archive(
        tmp_path / "out",
        sender="3710000012",
        receiver="00" + KOKUHO,
        checkups=[taro_checkup()],
        created=dt.datetime(2020, 9, 30),
    )
    ingested = run("checkups", "ingest", str(archive), "--json")
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["archives"][0]["checkups"] == 1
    again = run("checkups", "ingest", str(archive), "--json")
    assert json.loads(again.stdout)["archives"][0]["already_ingested"] is True

    stratified = json.loads(run("checkups", "stratify", str(archive), "--json").stdout)
    [row] = stratified["checkups"]
    assert (row["number"], row["exam_date"], row["level"], row["metabolic"]) == (
        "1001",
        "2020-09-01",
        1,
        1,
    )
    assert set(row["risks"]) == {"bp", "lipid"} and row["reasons"]

    disagreements = json.loads(run("checkups", "disagreements", "--json").stdout)
    assert [(d["reported_level"], d["level"]) for d in disagreements["disagreements"]] == [(2, 1)]

    rates = run("checkups", "rates", "--fy", "2020", "--json")
    assert rates.exit_code == 0, rates.output
    [checkup_rate] = json.loads(rates.stdout)["checkup"]
    # Both are enrolled all of FY2020 and 40–74 at its end; one was examined.
    assert (checkup_rate["eligible"], checkup_rate["examined"], checkup_rate["rate"]) == (2, 1, 0.5)
    [guidance] = json.loads(rates.stdout)["guidance"]
    assert (guidance["targets"], guidance["completed"]) == (1, 0)


def test_bad_archive_is_refused_with_the_reason(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "3710000012_00370015_202009300_1.zip"
    bad.write_bytes(b"not a zip")
    result = run("checkups", "ingest", str(bad))
    assert result.exit_code == 1 and "rejected" in result.stderr


def test_checkups_reach_an_institution_only_within_consent(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from kokuho.config import Settings
    from kokuho.verify import ConsentCategory
    from kokuho.web import create_app
    from tests.feedfiles import write_csv

    archive = write_archive(
        tmp_path / "out",
        sender="3710000012",
        receiver="00" + KOKUHO,
        checkups=[taro_checkup()],
        created=dt.datetime(2020, 9, 30),
    )
    assert run("checkups", "ingest", str(archive)).exit_code == 0
    clinic = {"institution_code": "3710112347", "name": "讃岐クリニック", "status": "active"}
    write_csv(tmp_path / "inst.csv", list(clinic), [clinic])
    assert run("institutions", "load", str(tmp_path / "inst.csv")).exit_code == 0
    token = json.loads(
        run(
            "credentials", "issue", "--institution", "3710112347", "--label", "受付", "--json"
        ).stdout
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = {
        "insurer_number": KOKUHO,
        "symbol": "12",
        "number": "1001",
        "branch": "01",
        "birth_date": "1970-05-15",
        "date_of_care": "2020-12-01",
        "purpose": "care",
    }
    with TestClient(create_app(Settings.from_env())) as http:
        handle = http.post("/api/v1/checks/number", json=body, headers=auth).json()["patient"]
        url = f"/api/v1/patients/{handle}/checkup?date=2020-12-01"
        assert http.get(url, headers=auth).status_code == 403  # no consent yet
        service = http.app.state.service  # type: ignore[attr-defined]
        person = service.person_for(service_principal := service_principal_for(http, token), handle)
        # A consent given on 2020-12-01 for one day has ended: reading "as of" that day now
        # is refused, as a read without a date is.
        service.record_consent(
            "3710112347", person, [ConsentCategory.CHECKUP], dt.date(2020, 12, 1), 1
        )
        assert http.get(url, headers=auth).status_code == 403
        # Given today: the checkups up to the day of care are shown.
        service.record_consent("3710112347", person, [ConsentCategory.CHECKUP], dt.date.today(), 1)
        shown = http.get(url, headers=auth).json()
        assert shown["available"] is True
        [record] = shown["records"]
        assert (record["exam_date"], record["waist"], record["sbp"]) == ("2020-09-01", 90.0, 135.0)
        assert service_principal.institution_code == "3710112347"


def service_principal_for(http, token: str):  # type: ignore[no-untyped-def]
    return http.app.state.authenticate(token)


def test_nephropathy_referral_list(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    hanako = dataclasses.replace(
        taro_checkup(),
        number="2002",
        sex=2,
        birth_date=dt.date(1972, 3, 3),
        observations={
            **taro_checkup().observations,
            Items.HBA1C[0]: Observation(Items.HBA1C[0], "PQ", "7.0", "%"),
            Items.EGFR[0]: Observation(Items.EGFR[0], "PQ", "25.0", "mL/min/1.73m2"),
        },
    )
    archive = write_archive(
        tmp_path / "out",
        sender="3710000012",
        receiver="00" + KOKUHO,
        checkups=[taro_checkup(), hanako],
        created=dt.datetime(2020, 9, 30),
    )
    listed = json.loads(run("checkups", "targets", "--fy", "2020", str(archive), "--json").stdout)
    assert listed["count"] == 1
    [candidate] = listed["candidates"]
    assert candidate["person"].endswith(":2002:01")
    assert any("HbA1c" in reason for reason in candidate["reasons"])
    assert any("eGFR" in reason for reason in candidate["reasons"])
    assert "讃岐" not in json.dumps(listed, ensure_ascii=False)  # no names on the list


def test_integrated_programme_lists_from_questionnaires(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.feedfiles import write_csv

    koki = "39370010"
    elder = dict(
        TARO, name_kanji="讃岐 梅", name_kana="サヌキ ウメ", birth_date="1940-02-02", sex="2"
    )
    write_csv(
        tmp_path / "k.csv",
        ["insurer_number", "name", "kind"],
        [{"insurer_number": koki, "name": "香川県後期高齢者医療広域連合", "kind": "koki"}],
    )
    assert run("registry", "insurers", str(tmp_path / "k.csv")).exit_code == 0
    row = acquire(
        "L1", "2015-02-02", insurer=koki, number="00000077", branch="00", person=elder, symbol=""
    )
    assert run("registry", "import", str(write_changes(tmp_path / "l.csv", [row]))).exit_code == 0
    answers = {f"q{n}": "" for n in range(1, 16)}
    answers.update(q1="4", q6="1", q7="1")
    write_csv(
        tmp_path / "q.csv",
        ["insurer_number", "symbol", "number", "branch", "answered_on", "bmi", *answers],
        [
            {
                "insurer_number": koki,
                "symbol": "",
                "number": "00000077",
                "branch": "00",
                "answered_on": "2020-07-01",
                "bmi": "19.0",
                **answers,
            }
        ],
    )
    result = run(
        "checkups", "targets", "--fy", "2020", "--questionnaires", str(tmp_path / "q.csv"), "--json"
    )
    assert result.exit_code == 0, result.output
    lists = {item["programme"]: item for item in json.loads(result.stdout)["lists"]}
    person = f"{koki}::00000077:00"
    assert [c["person"] for c in lists["low_nutrition"]["candidates"]] == [person]
    assert [c["person"] for c in lists["physical_frailty"]["candidates"]] == [person]
    assert lists["oral"]["candidates"] == []  # neither Q4 nor Q5 answered 該当
    # No 健診, claims not connected and no 介護 loaded yet: 健康状態不明者 with both unverified.
    assert [c["person"] for c in lists["unknown_status"]["candidates"]] == [person]
    assert lists["low_nutrition"]["candidates"][0]["action"] == ""

    # The same person certified 要支援1 from 2020-04-01 to 2021-03-31 (the five items of the
    # register): on 2020-07-01, the day of the answers, 要支援1; known to 介護 in FY2019–FY2020.
    from kokuho.care import Certification, write_certifications

    born = dt.date(1940, 2, 2)
    write_certifications(tmp_path / "certs.csv", [
        Certification("372011", "0000000077", "讃岐 梅", "サヌキ ウメ", born, 2,
                      TARO["address"], "12", dt.date(2020, 3, 20), dt.date(2020, 4, 1),
                      dt.date(2021, 3, 31)),
    ])  # fmt: skip
    assert run("care", "certifications", str(tmp_path / "certs.csv")).exit_code == 0
    result = run(
        "checkups", "targets", "--fy", "2020", "--questionnaires", str(tmp_path / "q.csv"), "--json"
    )
    assert result.exit_code == 0, result.output
    lists = {item["programme"]: item for item in json.loads(result.stdout)["lists"]}
    [flagged] = lists["low_nutrition"]["candidates"]
    assert "要支援1 (2020-07-01 時点)" in flagged["reasons"]
    assert flagged["action"].startswith("地域包括支援センター")
    assert lists["unknown_status"]["candidates"] == []
