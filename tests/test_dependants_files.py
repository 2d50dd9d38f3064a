"""`kokuho dependants check|recheck` on change feeds and dependants files, and the residency
columns of the change feed through `kokuho registry import` (docs/dependants.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, lose, write_csv, write_insurers

RESIDENCY = ["residence", "visa_status", "residency_exception", "exception_evidence",
             "exception_until"]  # fmt: skip
COLUMNS = FEED_COLUMNS + RESIDENCY
DEPENDANTS = ["application_id", "insurer_number", "symbol", "number", "branch",
              "judgement_date", *RESIDENCY]  # fmt: skip

HANAKO = {
    "name_kanji": "讃岐 花子",
    "name_kana": "サヌキ ハナコ",
    "birth_date": "2001-07-01",
    "sex": "2",
    "address": "香川県高松市番町四丁目1番10号",
}


def family(event_id: str, day: str, branch: str, **residency: str) -> dict[str, str]:
    return acquire(
        event_id, day, insurer=KYOKAI, number="77", branch=branch, person=HANAKO,
        relationship="2", **residency,
    )  # fmt: skip


def application(app_id: str, day: str, branch: str, **residency: str) -> dict[str, str]:
    return {
        "application_id": app_id, "insurer_number": KYOKAI, "symbol": "12", "number": "77",
        "branch": branch, "judgement_date": day, **residency,
    }  # fmt: skip


def run(*args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(main, list(args))
    try:
        document = json.loads(result.stdout) if "--json" in args else result.stdout
    except json.JSONDecodeError:
        document = result.stdout
    return result.exit_code, document, result.stderr


def test_a_feed_judges_only_its_dependants_acquires(tmp_path: Path) -> None:
    feed = write_csv(
        tmp_path / f"{KYOKAI}_2021-04.csv",
        COLUMNS,
        [
            acquire("E1", "2021-04-01", insurer=KYOKAI, number="77"),  # 本人: not judged
            family("E2", "2021-04-01", "02", residence="abroad", residency_exception="1",
                   exception_evidence="査証;学生証;在学証明書", exception_until="2023-03-31"),
            family("E3", "2021-04-01", "03", residence="abroad"),
            family("E4", "2021-04-01", "04", residence="domestic", visa_status="特定活動:26"),
            family("E5", "2021-04-01", "05"),  # no residency columns filled
            lose("E6", "2021-05-01", insurer=KYOKAI, number="77", branch="03"),
        ],
    )  # fmt: skip
    code, document, _ = run("dependants", "check", str(feed), "--json")
    assert code == 0
    (report,) = document["files"]
    assert report["kind"] == "feed"
    assert report["not_judged"] == 2  # the 本人 acquire and the lose
    found = {r["row_id"]: (r["line"], r["decision"]["outcome"], r["decision"]["rule"])
             for r in report["rows"]}  # fmt: skip
    assert found == {
        "E2": (3, "認定", "exception:1"),
        "E3": (4, "不認定", "principle"),
        "E4": (5, "不認定", "exclusion:medical_stay_carer"),
        "E5": (6, "要確認", "residence_unknown"),
    }
    assert report["counts"] == {"認定": 1, "不認定": 2, "要確認": 1}
    assert report["rows"][0]["insured"].startswith(KYOKAI)


def test_a_dependants_file_is_judged_on_each_rows_date(tmp_path: Path) -> None:
    rows = [
        application("A1", "2020-03-31", "02", residence="abroad"),
        application("A2", "2020-04-01", "02", residence="abroad"),
        application("A3", "2020-04-01", "03", residence="abroad", residency_exception="4",
                    exception_evidence="出生証明"),
        application("A4", "2020-04-01", "04", residence="abroad", residency_exception="2",
                    exception_evidence="査証"),
    ]  # fmt: skip
    path = write_csv(tmp_path / "dependants.csv", DEPENDANTS, rows)
    code, printed, _ = run("dependants", "check", str(path))
    assert code == 0
    lines = printed.splitlines()
    assert lines[0] == (
        f"{path} (dependants): 4 dependant(s) judged: 2 認定, 1 不認定, 1 要確認; 0 other row(s)"
    )
    assert "A1 2020-03-31: 認定 [not_in_force]" in lines[1]
    assert "A2 2020-04-01: 不認定 [principle]" in lines[2]
    assert "A3 2020-04-01: 認定 [exception:4]" in lines[3]
    assert "A4 2020-04-01: 要確認 [exception:2]" in lines[4]
    assert "(海外赴任辞令、居住証明)" in lines[4]


def _refused(path: Path) -> list[str]:
    code, document, _ = run("dependants", "check", str(path), "--json")
    assert code == 1
    errors: list[str] = document["rejected"]["errors"]
    return errors


def test_bad_rows_are_refused_together_naming_file_line_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        DEPENDANTS,
        [
            application("B1", "2021-04-01", "02", residence="abroad", residency_exception="6"),
            application("B2", "2021-04-01", "03", residence="overseas"),
            application("B3", "2021-04-01", "04", residence="abroad",
                        exception_evidence="査証"),  # papers without an exception
            application("B4", "2021-04-01", "5", residence="domestic"),
            application("B5", "2021-04-01", "06", residence="abroad", residency_exception="1",
                        exception_until="2021-02-30"),
            application("B6", "2021-04-01", "07", residence="domestic", visa_status="観光"),
        ],
    )  # fmt: skip
    errors = _refused(path)
    assert [e.split(": ")[0:2] for e in errors] == [
        [f"{path}:2", "residency_exception"],
        [f"{path}:3", "residence"],
        [f"{path}:4", "exception_evidence"],
        [f"{path}:5", "branch"],
        [f"{path}:6", "exception_until"],
        [f"{path}:7", "visa_status"],
    ]
    assert "'6' is not a code (1 留学, 2 同行家族" in errors[0]


def test_a_nul_byte_is_refused_with_its_line_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "nul.csv",
        DEPENDANTS,
        [
            application("N1", "2021-04-01", "02", residence="domestic"),
            application("N2", "2021-04-01", "03", residence="abroad",
                        residency_exception="1\x00"),
        ],
    )  # fmt: skip
    (error,) = _refused(path)
    assert error.startswith(f"{path}:3: residency_exception: contains a NUL byte")


def test_missing_and_unknown_columns_are_refused_at_the_header(tmp_path: Path) -> None:
    columns = [c for c in DEPENDANTS if c != "judgement_date"] + ["visa"]
    path = write_csv(tmp_path / "header.csv", columns, [{"residence": "abroad"}])
    errors = _refused(path)
    assert f"{path}:1: visa: unknown column" in errors
    assert f"{path}:1: judgement_date: required column is missing" in errors


def test_residency_columns_belong_to_a_dependants_acquire_only(tmp_path: Path) -> None:
    self_row = acquire("S1", "2021-04-01", insurer=KYOKAI, number="77", residence="abroad")
    path = write_csv(tmp_path / "self.csv", COLUMNS, [self_row])
    (error,) = _refused(path)
    assert error.startswith(f"{path}:2: residence: only a 2 家族 acquire")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    code, _, stderr = run("registry", "insurers", str(write_insurers(tmp_path / "i.csv")))
    assert code == 0, stderr
    return tmp_path


def test_the_register_imports_a_feed_with_residency_columns(home: Path) -> None:
    good = write_csv(
        home / "good.csv",
        COLUMNS,
        [
            acquire("G1", "2021-04-01", insurer=KYOKAI, number="77"),
            family("G2", "2021-04-01", "02", residence="abroad", residency_exception="3",
                   exception_evidence="査証"),  # 要確認, still the insurer's own 認定
        ],
    )  # fmt: skip
    code, document, _ = run("registry", "import", str(good), "--json")
    assert code == 0
    assert document["totals"]["applied"] == 2


def test_the_register_refuses_a_feed_with_a_bad_residency_value_and_changes_nothing(
    home: Path,
) -> None:
    bad = write_csv(
        home / "bad.csv",
        COLUMNS,
        [
            acquire("H1", "2021-04-01", insurer=KYOKAI, number="77"),
            family("H2", "2021-04-01", "02", residence="abroad", residency_exception="9"),
        ],
    )  # fmt: skip
    code, document, _ = run("registry", "import", str(bad), "--json")
    assert code == 1
    assert document["rejected"]["errors"][0].startswith(f"{bad}:3: residency_exception:")
    code, shown, _ = run("registry", "show", KYOKAI, "12", "77", "01")
    assert code != 0  # the 本人 row of the refused file was not loaded either


def test_recheck_lists_ended_and_ending_exceptions_from_the_files_in_order(
    tmp_path: Path,
) -> None:
    study = "査証;学生証;在学証明書"
    april = write_csv(
        tmp_path / f"{KYOKAI}_2020-04.csv",
        COLUMNS,
        [
            family("R1", "2020-04-01", "02", residence="abroad", residency_exception="1",
                   exception_evidence=study, exception_until="2021-03-31"),
            family("R2", "2020-04-01", "03", residence="abroad", residency_exception="2",
                   exception_evidence="査証;海外赴任辞令;居住証明",
                   exception_until="2021-09-30"),
            family("R3", "2020-04-01", "04", residence="abroad", residency_exception="1",
                   exception_evidence=study, exception_until="2021-10-13"),
            family("R4", "2020-04-01", "05", residence="abroad", residency_exception="1",
                   exception_evidence=study, exception_until="2021-03-31"),
            family("R5", "2020-04-01", "06", residence="domestic"),
        ],
    )  # fmt: skip
    later = write_csv(
        tmp_path / f"{KYOKAI}_2021-03.csv",
        COLUMNS,
        [
            lose("R6", "2021-03-20", insurer=KYOKAI, number="77", branch="05"),
            # A loss dated after the day counted from leaves the dependant on the list.
            lose("R7", "2021-05-01", insurer=KYOKAI, number="77", branch="03"),
        ],
    )
    code, document, _ = run(
        "dependants", "recheck", str(april), str(later), "--on", "2021-04-15",
        "--within", "180", "--json",
    )  # fmt: skip
    assert code == 0
    listed = [
        (d["row_id"], d["status"], d["exception_until"], d["days_left"])
        for d in document["dependants"]
    ]
    # 2021-04-15 → 2021-03-31 is 15 days back; → 2021-09-30 is 15 + 31 + 30 + 31 + 31 + 30 =
    # 168 days; 2021-10-13 is 181 days ahead, one past the window. R4 lost its coverage
    # (lose on 2021-03-20), R5 lives in Japan.
    assert listed == [("R1", "ended", "2021-03-31", -15), ("R2", "ending", "2021-09-30", 168)]
    code, document, _ = run(
        "dependants", "recheck", str(april), "--on", "2021-04-15", "--within", "181", "--json"
    )
    assert [d["row_id"] for d in document["dependants"]] == ["R1", "R4", "R2", "R3"]


MY_NUMBER = "123456789018"  # 12 digits with a valid 検査用数字


@pytest.mark.parametrize(
    "misplaced",
    [{"visa_status": MY_NUMBER}, {"judgement_date": MY_NUMBER}, {"residence": MY_NUMBER}],
)
def test_a_my_number_in_a_refused_value_is_masked(
    tmp_path: Path, misplaced: dict[str, str]
) -> None:
    # Every row error of the register's readers masks what looks like a My Number (a value in
    # the wrong column); the dependants file's errors (kokuho.store.FileProblem) repeated it.
    row = {**application("M1", "2021-04-01", "02", residence="domestic"), **misplaced}
    path = write_csv(tmp_path / "misplaced.csv", DEPENDANTS, [row])
    for extra in ((), ("--json",)):
        code, document, errors = run("dependants", "check", str(path), *extra)
        assert code == 1
        assert MY_NUMBER not in f"{document}{errors}"
        assert "********9018" in f"{document}{errors}"


def test_a_judged_row_shows_a_bidi_control_escaped(tmp_path: Path) -> None:
    # An application id with U+202E (RLO) made the rest of its printed line read backwards
    # (認定 and the rule); the line shows it escaped, as the rejected rows' lines do.
    row = application("A\u202e1", "2021-04-01", "02", residence="domestic")
    path = write_csv(tmp_path / "rlo.csv", DEPENDANTS, [row])
    code, printed, _ = run("dependants", "check", str(path))
    assert code == 0
    assert "\u202e" not in printed
    assert "A\\u202e1 2021-04-01: 認定 [principle]" in printed


def test_an_end_more_than_ten_years_before_the_day_is_refused_to_the_day(tmp_path: Path) -> None:
    """'More than ten years before the 認定日 is refused as a typo' (docs/dependants.md): ten
    years before 2020-04-01 is 2010-04-01. The guard counted 3,660 days, so 2010-03-31 and
    the six days before it passed as an exception that ended in time to be re-checked."""

    def check(until: str) -> int:
        row = application("T1", "2020-04-01", "02", residence="abroad",
                          residency_exception="1", exception_until=until)  # fmt: skip
        path = write_csv(tmp_path / f"t{until}.csv", DEPENDANTS, [row])
        return run("dependants", "check", str(path), "--json")[0]

    for until in ("2010-03-31", "2010-03-26"):
        assert check(until) == 1, until
    assert check("2010-04-01") == 0  # exactly ten years: not more
    assert check("2019-02-28") == 0


def test_recheck_on_a_day_ignores_applications_judged_after_it(tmp_path: Path) -> None:
    """As of --on, only what had been judged by then: an application judged later neither
    lists a dependant nor replaces (or removes) the row in force that day."""
    study = "査証;学生証;在学証明書"
    path = write_csv(
        tmp_path / "applications.csv",
        DEPENDANTS,
        [
            # judged the day after --on: not known on 2021-04-15
            application("A1", "2021-04-16", "02", residence="abroad", residency_exception="1",
                        exception_evidence=study, exception_until="2021-03-31"),
            # in force on 2021-04-15 (ended); its renewal judged in May does not count yet
            application("A2", "2020-04-01", "03", residence="abroad", residency_exception="1",
                        exception_evidence=study, exception_until="2021-03-31"),
            application("A3", "2021-05-10", "03", residence="abroad", residency_exception="1",
                        exception_evidence=study, exception_until="2022-03-31"),
            # judged on the day itself: known
            application("A4", "2021-04-15", "04", residence="abroad", residency_exception="1",
                        exception_evidence=study, exception_until="2021-06-30"),
            # back in Japan, judged after the day: still listed as it stood
            application("A5", "2020-04-01", "05", residence="abroad", residency_exception="1",
                        exception_evidence=study, exception_until="2021-05-31"),
            application("A6", "2021-04-20", "05", residence="domestic"),
        ],
    )  # fmt: skip
    code, document, _ = run(
        "dependants", "recheck", str(path), "--on", "2021-04-15", "--within", "90", "--json"
    )
    assert code == 0
    listed = [(d["row_id"], d["status"], d["exception_until"]) for d in document["dependants"]]
    assert listed == [
        ("A2", "ended", "2021-03-31"),
        ("A5", "ending", "2021-05-31"),
        ("A4", "ending", "2021-06-30"),
    ]
    # Counted from a day after all of them, the later rows are in force.
    code, document, _ = run("dependants", "recheck", str(path), "--on", "2021-06-01", "--json")
    assert [d["row_id"] for d in document["dependants"]] == ["A1", "A4"]
