"""賦課 of a fiscal year from the database, end to end through the real files: residents with
世帯番号, a change feed, an income file → 本算定 → a retroactive change feed → 更正, with
payments and refunds. On SQLite and PostgreSQL.

高松市 (372013) FY2021, synthetic rules (data/premiums/municipal/fy2021/372013.yaml):
医療分 所得割 8.39 %, 均等割 27,100, 平等割 24,300; 支援分 2.48 %, 8,300, 6,400; 基礎控除
430,000; parts floored to 100 yen; ten 納期 June–March, floored to 100 yen, remainder on 第1期.

- W1: P alone, 30, 給与所得 3,000,000 (no 軽減: above the 2割 threshold), the whole year.
  医療分 (3,000,000 − 430,000) × 8.39 % = 215,623 + 27,100 + 24,300 = 267,023 → 267,000;
  支援分 2,570,000 × 2.48 % = 63,736 + 8,300 + 6,400 = 78,436 → 78,400; year 345,400;
  納期 34,540 → 34,500 × 10 with 400 on 第1期 (34,900).
  A retroactive loss on 2021-10-01 leaves April–September, 6 months: 267,023 / 2 = 133,511
  → 133,500 and 78,436 / 2 = 39,218 → 39,200; year 172,700 (減額 172,700).
- W2: Q, and R who joins 国保 retroactively from 2021-08-01 (増額).
- W3: T, not covered at 本算定, covered retroactively from 2021-09-01 (a new household).
"""

from __future__ import annotations

import datetime as dt
from datetime import date as D
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.ids import mynumber_check
from kokuho.premiums import (
    AssessmentRefused,
    ChargeRefused,
    PeriodLimitError,
    PeriodLimitException,
    assess_fiscal_year,
    decide_refunds,
    explain_household,
    import_payments,
    load_incomes,
    reassess,
    record_decisions,
)
from kokuho.premiums._charges import charge_decisions, charges
from kokuho.registry import import_changes, load_insurers, load_residents, tables
from tests.feedfiles import acquire, lose, write_changes, write_csv, write_insurers
from tests.premiumrows import assessment, payment, write_payments

TOWN = "372013"
YEAR = 2021
RESIDENT_COLUMNS = [
    "resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex", "address",
    "municipality_code", "household_id", "relationship", "household_since",
]  # fmt: skip
INCOME_COLUMNS = [
    "fiscal_year", "resident_id", "salary", "pension", "other", "declared", "wage_earner",
    "fixed_asset_tax",
]  # fmt: skip
# name: (number, birth date, household, 続柄, 給与所得)
KANA = {"P": "ピー", "Q": "キュー", "R": "アール", "T": "ティー"}
PEOPLE = {
    "P": (1, "1991-05-15", "W1", "世帯主", 3_000_000),
    "Q": (2, "1985-01-01", "W2", "世帯主", 2_000_000),
    "R": (3, "1987-03-03", "W2", "妻", 0),
    "T": (4, "1990-09-09", "W3", "世帯主", 1_000_000),
}


def person(name: str) -> dict[str, str]:
    number, birth, household, _, _ = PEOPLE[name]
    return {
        "name_kanji": f"讃岐 {name}郎",
        "name_kana": f"サヌキ {KANA[name]}",
        "birth_date": birth,
        "sex": "1",
        "address": f"香川県高松市番町{number}丁目1番1号",
    }


def cover(event: str, name: str, day: str) -> dict[str, str]:
    return acquire(event, day, number=f"{1000 + PEOPLE[name][0]}", person=person(name))


@pytest.fixture
def town(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    feed = [cover("P1", "P", "2019-04-01"), cover("Q1", "Q", "2019-04-01")]
    import_changes(engine, write_changes(tmp_path / "changes1.csv", feed))
    residents = []
    for name, (number, _, household, relationship, _) in PEOPLE.items():
        body = f"{66600000000 + number:011d}"
        residents.append({
            "resident_id": f"{number:011d}", "mynumber": body + str(mynumber_check(body)),
            **person(name), "municipality_code": TOWN, "household_id": household,
            "relationship": relationship, "household_since": "",
        })  # fmt: skip
    load_residents(engine, write_csv(tmp_path / "residents.csv", RESIDENT_COLUMNS, residents),
                   mynumber_key)  # fmt: skip
    incomes = [
        {"fiscal_year": YEAR, "resident_id": f"{number:011d}", "salary": salary, "pension": 0,
         "other": 0, "declared": 1, "wage_earner": 1 if salary else 0, "fixed_asset_tax": 0}
        for number, _, _, _, salary in PEOPLE.values()
    ]  # fmt: skip
    load_incomes(engine, write_csv(tmp_path / "incomes.csv", INCOME_COLUMNS, incomes))
    return engine


def retroactive_changes(engine: sa.Engine, path: Path) -> None:
    """The change feed of early 2022: P lost 国保 on 2021-10-01, R and T joined in 2021."""
    feed = [
        lose("P2", "2021-10-01", number="1001", reason="03"),
        cover("R1", "R", "2021-08-01"),
        cover("T1", "T", "2021-09-01"),
    ]
    import_changes(engine, write_changes(path, feed))


def in_force(engine: sa.Engine) -> dict[str, int]:
    """The 調定 in force per household: the sum of its adjustment rows."""
    query = sa.select(charges.c.household_id, sa.func.sum(charges.c.amount)).group_by(
        charges.c.household_id
    )
    with engine.connect() as connection:
        return {h: int(total) for h, total in connection.execute(query)}


def decision_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(charge_decisions)))


def test_assess_records_the_hand_checked_charge_once(town: sa.Engine) -> None:
    run = assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    assert (run.households, run.recorded, run.already_recorded) == (2, 2, 0)
    assert in_force(town)["W1"] == 345_400
    assert run.total == sum(in_force(town).values())
    with town.connect() as connection:
        w1 = connection.execute(
            sa.select(charges.c.instalment, charges.c.amount)
            .where(charges.c.household_id == "W1")
            .order_by(charges.c.instalment)
        ).all()
    assert [amount for _, amount in w1] == [34_900] + [34_500] * 9
    again = assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    assert (again.recorded, again.already_recorded) == (0, 2)
    assert decision_count(town) == 2


def test_assess_reports_each_stage_to_the_progress_callback(town: sa.Engine) -> None:
    heard: list[tuple[str, int, int]] = []
    run = assess_fiscal_year(
        town, TOWN, YEAR, dt.date(2021, 6, 15), progress=lambda *call: heard.append(call)
    )
    n = run.households
    assert n == 2
    assert heard == [("read", 0, 1), ("read", 1, 1), ("assess", 0, n), ("assess", n, n),
                     ("record", 0, n), ("record", n, n)]  # fmt: skip


def test_reassess_records_decrease_increase_and_new_household_and_refund(
    town: sa.Engine, tmp_path: Path
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    before = in_force(town)
    # W1 pays the whole year in autumn, before the loss reaches the register.
    pay = [payment("PAY1", "W1", YEAR, "2021-09-30", 345_400, municipality=TOWN)]
    import_payments(town, write_payments(tmp_path / "payments.csv", pay))
    retroactive_changes(town, tmp_path / "changes2.csv")
    day = dt.date(2022, 1, 20)
    run = reassess(town, TOWN, YEAR, day)
    kinds = {c.household_id: (c.kind, c.previous_total, c.total) for c in run.changes}
    assert kinds["W1"] == ("decrease", 345_400, 172_700)
    assert kinds["W2"][0] == "increase" and kinds["W2"][1] == before["W2"]
    assert kinds["W3"][:2] == ("initial", 0)
    assert run.refused == ()
    after = in_force(town)
    assert after["W1"] == 172_700 and after["W2"] == kinds["W2"][2] > before["W2"]
    # The 172,700 yen paid beyond the corrected 調定 is 過誤納: refunded (no arrears to 充当).
    refunds = decide_refunds(town, TOWN, day)
    assert [(s.household_id, s.kind, s.amount) for s in refunds] == [("W1", "refund", 172_700)]
    # Idempotent: a second run the same day finds nothing to change.
    count = decision_count(town)
    again = reassess(town, TOWN, YEAR, day)
    assert again.changes == () and again.unchanged == 3
    assert decision_count(town) == count


def test_a_second_assessment_of_the_year_names_the_one_recorded(
    town: sa.Engine, tmp_path: Path
) -> None:
    """A second 本算定 (another clerk's run at the same time, or a rerun on another day) is
    refused naming the 本算定 already recorded and the command for changes, not as one
    household's ledger conflict; nothing is written."""
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    count = decision_count(town)
    with pytest.raises(ChargeRefused) as later:
        assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 20))
    message = str(later.value)
    assert f"{TOWN} FY{YEAR}: a 本算定 is already recorded (decided on 2021-06-15" in message
    assert "2 households" in message and "premiums reassess" in message
    # The same day with other figures (the register changed between the two runs).
    retroactive_changes(town, tmp_path / "changes2.csv")
    with pytest.raises(ChargeRefused, match="a 本算定 is already recorded .*2021-06-15"):
        assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    assert decision_count(town) == count


def test_the_period_limit_bars_every_decision_from_its_first_day(
    town: sa.Engine, tmp_path: Path
) -> None:
    """FY2021's first 納期 is 2021-06-30: from 2023-07-01 no 賦課決定 (§110-2(1))."""
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    before = in_force(town)
    retroactive_changes(town, tmp_path / "late.csv")
    barred = reassess(town, TOWN, YEAR, dt.date(2023, 7, 1))
    reasons = {r.household_id: r.reason for r in barred.refused}
    assert set(reasons) == {"W1", "W2", "W3"}  # W3's 当初賦課 is a 賦課決定 too
    assert all("§110-2(1)" in r and "2023-07-01" in r for r in reasons.values())
    assert barred.changes == () and in_force(town) == before
    with pytest.raises(PeriodLimitError, match="§110-2"):
        assess_fiscal_year(town, TOWN, YEAR, dt.date(2023, 7, 1))
    # The day before the limit, every 更正 is still allowed.
    allowed = reassess(town, TOWN, YEAR, dt.date(2023, 6, 30))
    assert {c.household_id for c in allowed.changes} == {"W1", "W2", "W3"}


def test_the_exception_lets_reductions_pass_the_limit(town: sa.Engine, tmp_path: Path) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    before = in_force(town)
    retroactive_changes(town, tmp_path / "late.csv")
    # A §110-2(2) ground lets the reduction pass; the increase stays barred.
    exception = PeriodLimitException("被用者保険との調整", "資格決定通知書 2023-06-20")
    late = reassess(town, TOWN, YEAR, dt.date(2023, 7, 2), exception=exception)
    assert [(c.household_id, c.kind) for c in late.changes] == [("W1", "decrease")]
    assert [r.household_id for r in late.refused] == ["W2", "W3"]
    assert "reductions only" in late.refused[0].reason
    assert in_force(town)["W1"] == 172_700 and in_force(town)["W2"] == before["W2"]


@pytest.mark.parametrize(("ground", "evidence"), [("", ""), (" ", "\t")])
def test_a_blank_exception_does_not_let_a_reduction_pass_the_limit(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ground: str, evidence: str,
) -> None:  # fmt: skip
    from kokuho.cli import main

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    before = in_force(town)
    retroactive_changes(town, tmp_path / "late.csv")
    args = ["--municipality", TOWN, "--fiscal-year", str(YEAR), "--decided-on", "2023-07-02"]
    blank = ["--exception-ground", ground, "--exception-evidence", evidence]
    result = CliRunner().invoke(main, ["premiums", "reassess", *args, *blank])
    assert result.exit_code == 1, result.output
    assert "error: --exception-ground: name it (1–200 characters" in result.output
    assert in_force(town) == before  # W1's reduction stays barred (§110-2(1))


def test_explain_gives_the_reasons_and_an_unknown_household_is_refused(town: sa.Engine) -> None:
    assessment = explain_household(town, TOWN, YEAR, "W1")
    assert assessment.total == 345_400 and assessment.reduction is None
    assert all(part.reasons for part in assessment.parts if part.amount)
    assert "not yet recorded" in assessment.reasons[-1].text
    with pytest.raises(LookupError, match="W9"):
        explain_household(town, TOWN, YEAR, "W9")


def test_cli_explain_reads_a_household_id_as_the_import_files_do(
    town: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 世帯番号 typed with full-width digits (or letters) names the household the import
    stored from the same text (NFKC, as the 住基 and payment files read it): it was looked up
    as typed, and 「Ｗ１」 was "no 国保 member". Anything else is a usage error (exit 2)
    naming the argument, before the database is asked."""
    import json

    from kokuho.cli import main

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    runner = CliRunner()
    common = ["--municipality", TOWN, "--fiscal-year", str(YEAR), "--json"]
    plain = runner.invoke(main, ["premiums", "explain", "W1", *common])
    assert plain.exit_code == 0, plain.output
    expected = json.loads(plain.output)
    assert expected["household_id"] == "W1"
    for typed in ["Ｗ１", "W１", "Ｗ1", " W1 "]:
        result = runner.invoke(main, ["premiums", "explain", typed, *common])
        assert result.exit_code == 0, (typed, result.output)
        assert json.loads(result.output) == expected, typed
    # The register's one format (docs/formats.md, "世帯番号"): 1–20 letters or digits.
    for typed in ["", "W1;", "W 1", "W" * 21, "W\x001", "-W1", "W-1", "W_1", "Ｗ１\u3000x"]:
        result = runner.invoke(main, ["premiums", "explain", *common, "--", typed])
        assert result.exit_code == 2, (typed, result.output)
        assert "HOUSEHOLD" in result.output, (typed, result.output)
        assert "1–20 letters or digits" in result.output, (typed, result.output)
    # An id of the right form that no household has is still refused by the lookup.
    for typed, looked_up in [("Ｗ９", "W9"), ("9", "9"), ("W" * 20, "W" * 20)]:
        result = runner.invoke(main, ["premiums", "explain", typed, *common])
        assert result.exit_code == 1 and looked_up in result.output, result.output


def test_cli_assess_reassess_explain(town: sa.Engine, database_url: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import json

    from kokuho.cli import main

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    runner = CliRunner()
    common = ["--municipality", TOWN, "--fiscal-year", str(YEAR)]
    result = runner.invoke(main, ["premiums", "assess", *common, "--decided-on", "2021-06-15",
                                  "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["recorded"] == 2 and document["total"] == sum(in_force(town).values())
    retroactive_changes(town, tmp_path / "changes2.csv")
    result = runner.invoke(main, ["premiums", "reassess", *common, "--decided-on", "2022-01-20",
                                  "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    changes = {c["household_id"]: c["kind"] for c in json.loads(result.output)["changes"]}
    assert changes == {"W1": "decrease", "W2": "increase", "W3": "initial"}
    result = runner.invoke(main, ["premiums", "explain", "W1", *common])
    assert result.exit_code == 0, result.output
    assert "世帯 W1" in result.output and "讃岐" not in result.output  # no names
    result = runner.invoke(main, ["premiums", "explain", "W1", *common, "--json"])
    document = json.loads(result.output)
    assert document["total"] == 172_700 and len(document["parts"]) == 3
    # The 納期 in force: the 減額 of 172,700 taken from 第10期 backwards (34,500 × 5 = 172,500,
    # then 200 from 第5期).
    amounts = [i["amount"] for i in document["instalments"]]
    assert amounts == [34_900, 34_500, 34_500, 34_500, 34_300] + [0] * 5
    assert any("in force" in r["text"] for r in document["reasons"])
    bad = runner.invoke(main, ["premiums", "assess", "--municipality", "37201",
                               "--fiscal-year", str(YEAR)])  # fmt: skip
    assert bad.exit_code == 1 and "37201" in bad.output


def test_a_refused_household_refuses_the_whole_run(town: sa.Engine) -> None:
    """An income record made negative behind the importer's back: the engine refuses W1, and
    nothing at all is recorded."""
    with town.begin() as connection:
        connection.execute(sa.text("UPDATE premium_incomes SET salary = -1 WHERE salary = 3000000"))
    with pytest.raises(AssessmentRefused, match="W1") as refused:
        assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    assert [r.household_id for r in refused.value.refused] == ["W1"]
    assert decision_count(town) == 0


def test_a_household_whose_members_all_left_before_the_year_is_reduced_to_zero(
    town: sa.Engine, tmp_path: Path
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    feed = [lose("P2", "2021-04-01", number="1001", reason="03")]  # no day of FY2021 covered
    import_changes(town, write_changes(tmp_path / "gone.csv", feed))
    run = reassess(town, TOWN, YEAR, dt.date(2021, 9, 1))
    assert [(c.household_id, c.kind, c.total) for c in run.changes] == [("W1", "decrease", 0)]
    assert in_force(town)["W1"] == 0


def test_cli_reassess_lists_the_refused_and_exits_2(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kokuho.cli import main

    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    retroactive_changes(town, tmp_path / "late.csv")
    common = ["--municipality", TOWN, "--fiscal-year", str(YEAR), "--decided-on", "2023-07-01"]
    result = CliRunner().invoke(main, ["premiums", "reassess", *common, "--csv"])
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "household,kind,previous_total,total,refused_reason"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["W1", "W2", "W3"]
    assert all("§110-2(1)" in line for line in lines[1:])


def test_record_decisions_is_one_transaction_across_kinds(engine: sa.Engine) -> None:
    """An 更正 run records initial, increase and decrease together: one refused decision (an
    increase for a household without 調定) and the valid initial one is not written either."""
    good = assessment("N1", YEAR, [1_000] * 10)
    orphan = assessment("N2", YEAR, [2_000] * 10)
    with pytest.raises(ChargeRefused, match="N2"):
        record_decisions(engine, [([good], "initial"), ([orphan], "increase")], D(2021, 6, 15))
    assert decision_count(engine) == 0
    [[initial], [], []] = record_decisions(
        engine, [([good], "initial"), ([], "increase"), ([], "decrease")], D(2021, 6, 15)
    )
    assert (initial.household_id, initial.rows, initial.total) == ("N1", 10, 10_000)


def test_cli_assess_lists_members_in_no_household(
    town: sa.Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """U joins 国保 on 2021-04-01 but no resident has U's five items (U is not in the resident
    file): U is in no household and charged nothing. The run says so: in --json as
    ``unplaced`` (no_resident), on stderr otherwise, and stdout stays the report."""
    import json

    from kokuho.cli import main

    stranger = {"name_kanji": "讃岐 U郎", "name_kana": "サヌキ ユー", "birth_date": "1980-01-01",
                "sex": "1", "address": "香川県高松市番町9丁目9番9号"}  # fmt: skip
    feed = [acquire("U1", "2021-04-01", number="1099", person=stranger)]
    import_changes(town, write_changes(tmp_path / "changes-u.csv", feed))
    with town.connect() as connection:
        u = connection.scalar(
            sa.select(tables.persons.c.person_id).where(tables.persons.c.name_kana == "サヌキ ユー")
        )
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    common = ["premiums", "assess", "--municipality", TOWN, "--fiscal-year", str(YEAR),
              "--decided-on", "2021-06-15"]  # fmt: skip
    result = CliRunner().invoke(main, [*common, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["households"] == 2
    assert document["unplaced"] == [{"person_id": u, "reason": "no_resident"}]
    again = CliRunner().invoke(main, common)
    assert again.exit_code == 0
    assert "1 国保 member(s) in no household" in again.stderr
    assert f"person {u}: no resident record" in again.stderr
    assert "本算定" in again.stdout and "no household" not in again.stdout


def test_a_year_whose_incomes_were_never_loaded_is_refused_not_assessed_as_undeclared(
    town: sa.Engine, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The town's income file is of FY2021 only. A 本算定 of FY2022 (the clerk forgot the year's
    市町村民税 file) charged every household as 未申告: no 所得割, no 軽減 — W1 would owe
    医療分 27,500 + 24,700 and 支援分 8,500 + 6,500 (the FY2022 均等割・平等割 alone), not a bill
    on its 3,000,000 yen — and, a 本算定 being made once, only 更正 household by household could
    repair it. Refused naming the missing file; nothing recorded. Once loaded, it assesses."""
    from kokuho.cli import main
    from kokuho.premiums import IncomesMissing

    with pytest.raises(IncomesMissing, match="FY2022") as missing:
        assess_fiscal_year(town, TOWN, 2022, dt.date(2022, 6, 15))
    assert "premiums incomes import" in str(missing.value)
    assert decision_count(town) == 0
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    args = ["premiums", "assess", "--municipality", TOWN, "--fiscal-year", "2022",
            "--decided-on", "2022-06-15"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "未申告" in result.stderr and decision_count(town) == 0
    incomes = [
        {"fiscal_year": 2022, "resident_id": f"{number:011d}", "salary": salary, "pension": 0,
         "other": 0, "declared": 1, "wage_earner": 1 if salary else 0, "fixed_asset_tax": 0}
        for number, _, _, _, salary in PEOPLE.values()
    ]  # fmt: skip
    load_incomes(town, write_csv(tmp_path / "incomes22.csv", INCOME_COLUMNS, incomes))
    run = assess_fiscal_year(town, TOWN, 2022, dt.date(2022, 6, 15))
    assert run.recorded == 2 and run.reductions["none"] == 2
    # A year whose file says everyone is 未申告 is loaded, not missing: it is assessed so.
    undeclared = [{**row, "fiscal_year": 2023, "declared": 0} for row in incomes]
    load_incomes(town, write_csv(tmp_path / "incomes23.csv", INCOME_COLUMNS, undeclared))
    run = assess_fiscal_year(town, TOWN, 2023, dt.date(2023, 6, 15))
    assert run.recorded == 2 and run.reductions["none"] == 2
