"""`kokuho registry …` as staff use it: exit codes, one-line reasons, --json documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from kokuho.cli._registry import feed_files
from tests.clihome import assert_audit_chain_intact, audit_rows
from tests.feedfiles import KOKUHO, KYOKAI, TARO, acquire, lose, write_changes, write_insurers


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["registry", "insurers", str(write_insurers(tmp_path / "i.csv"))])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    return runner


def test_import_show_and_overlaps(run: CliRunner, tmp_path: Path) -> None:
    month1 = tmp_path / "changes" / "2020-04"
    month2 = tmp_path / "changes" / "2020-08"
    month1.mkdir(parents=True)
    month2.mkdir(parents=True)
    write_changes(month1 / f"{KOKUHO}.csv", [acquire("K1", "2020-04-01")])
    write_changes(
        month2 / f"{KYOKAI}.csv", [acquire("S1", "2020-06-01", insurer=KYOKAI, number="77")]
    )
    result = run.invoke(main, ["registry", "import", str(tmp_path / "changes"), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["totals"]["applied"] == 2 and document["totals"]["persons_created"] == 1

    again = run.invoke(main, ["registry", "import", str(tmp_path / "changes")])
    assert (
        again.exit_code == 0 and "0 applied" in again.output and "2 already loaded" in again.output
    )

    shown = run.invoke(main, ["registry", "show", KOKUHO, "12", "１００１", "01", "--json"])
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.output)
    assert record["name_kanji"] == TARO["name_kanji"]
    assert [c["insurer_number"] for c in record["coverages"]] == [KOKUHO, KYOKAI]
    assert "mynumber" not in json.dumps(record).replace("mynumber_linked", "")

    text = run.invoke(main, ["registry", "show", KOKUHO, "12", "1001", "01"])
    assert "讃岐 太郎" in text.output and "負担 30%" in text.output

    overlaps = json.loads(run.invoke(main, ["registry", "overlaps", "--json"]).output)
    assert overlaps["count"] == 1 and overlaps["overlaps"][0]["overlap_from"] == "2020-06-01"


def test_rejected_file_exits_1_with_reason(run: CliRunner, tmp_path: Path) -> None:
    good = write_changes(tmp_path / "2020-04.csv", [acquire("K1", "2020-04-01")])
    bad = write_changes(tmp_path / "2020-05.csv", [lose("K2", "2020-05-01", reason="7")])
    result = run.invoke(main, ["registry", "import", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: loss_reason:" in result.stderr
    assert (
        "rejected with 1 error(s), nothing changed; 1 earlier file(s) stay loaded" in result.stderr
    )


def test_show_errors(run: CliRunner) -> None:
    bad = run.invoke(main, ["registry", "show", KOKUHO, "12", "1001", "1"])
    assert bad.exit_code == 1 and "枝番" in bad.stderr
    missing = run.invoke(main, ["registry", "show", KOKUHO, "12", "9999", "01"])
    assert missing.exit_code == 1 and "no member" in missing.stderr


def test_merges_listing(run: CliRunner, tmp_path: Path) -> None:
    empty = run.invoke(main, ["registry", "merges"])
    assert empty.exit_code == 0 and "0 merge(s)" in empty.output
    document = json.loads(run.invoke(main, ["registry", "merges", "--json"]).output)
    assert document == {"count": 0, "merges": []}
    bad = run.invoke(main, ["registry", "merges", "--person", "0"])
    assert bad.exit_code == 2 and "--person" in bad.output
    write_changes(tmp_path / "a.csv", [acquire("K1", "2020-04-01")])
    run.invoke(main, ["registry", "import", str(tmp_path / "a.csv")])
    shown = json.loads(run.invoke(main, ["registry", "show", KOKUHO, "12", "1001", "01",
                                         "--json"]).output)  # fmt: skip
    assert shown["merges"] == []


def test_folder_files_load_in_filing_order(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    names = ["01370014_2021-01.csv", "370015_2020-12.csv", "370015_2021-01.csv", "zz.csv"]
    for name in names:
        (tmp_path / "x" / name).write_text("")
    ordered = [p.name for p in feed_files((tmp_path / "x",))]
    assert ordered == ["zz.csv", "370015_2020-12.csv", "01370014_2021-01.csv", "370015_2021-01.csv"]


def test_show_is_a_read_of_a_person_and_is_audited(run: CliRunner, tmp_path: Path) -> None:
    """`registry show` prints a person's name, address and birth date: a read of that person's
    data, on the hash-chained audit log like the other staff commands (actor cli:<login>)."""
    write_changes(tmp_path / "a.csv", [acquire("K1", "2020-04-01")])
    assert run.invoke(main, ["registry", "import", str(tmp_path / "a.csv")]).exit_code == 0
    shown = run.invoke(main, ["registry", "show", KOKUHO, "12", "1001", "01", "--json"])
    assert shown.exit_code == 0, shown.output
    person_id = json.loads(shown.output)["person_id"]
    missing = run.invoke(main, ["registry", "show", KOKUHO, "12", "9999", "01"])
    assert missing.exit_code == 1
    home = tmp_path / "home"
    rows = audit_rows(home, "read_member", ("actor", "person_id", "purpose", "outcome"))
    assert [(r.person_id, r.purpose, r.outcome) for r in rows] == [(person_id, "insurer", "shown")]
    assert rows[0].actor.startswith("cli:")
    assert_audit_chain_intact()


def test_overlaps_list_is_a_read_of_each_person_listed_and_is_audited(
    run: CliRunner, tmp_path: Path
) -> None:
    """`registry overlaps` prints persons' insured numbers, insurers and periods: a read of each
    person listed, one record each on the audit log (none when nobody is listed)."""
    write_changes(tmp_path / "k.csv", [acquire("K1", "2020-04-01")])
    write_changes(tmp_path / "s.csv", [acquire("S1", "2020-06-01", insurer=KYOKAI, number="77")])
    home = tmp_path / "home"
    assert run.invoke(main, ["registry", "import", str(tmp_path / "k.csv")]).exit_code == 0
    # Nobody listed: a record without a person says the list was asked for.
    assert run.invoke(main, ["registry", "overlaps"]).exit_code == 0
    empty = audit_rows(home, "read_member", ("actor", "person_id", "purpose", "outcome"))
    assert [(r.person_id, r.outcome) for r in empty] == [(None, "shown")]
    assert run.invoke(main, ["registry", "import", str(tmp_path / "s.csv")]).exit_code == 0
    listed = json.loads(run.invoke(main, ["registry", "overlaps", "--json"]).output)
    person = listed["overlaps"][0]["person_id"]
    rows = audit_rows(home, "read_member", ("actor", "person_id", "purpose", "outcome"))
    assert [(r.person_id, r.purpose, r.outcome) for r in rows[1:]] == [(person, "insurer", "shown")]
    assert all(r.actor.startswith("cli:") for r in rows)
    assert_audit_chain_intact()


@pytest.mark.parametrize("place", ["symbol", "number"])
def test_show_does_not_repeat_a_my_number_typed_in_the_wrong_place(
    run: CliRunner, place: str
) -> None:
    # `registry show 370015 123456789018 1 01` (a My Number typed for the 記号) answered
    # "no member with 370015 記号:123456789018 …" on stderr, which logs keep.
    typed = "123456789018"  # 12 digits with a valid 検査用数字
    args = {"symbol": "12", "number": "1001", place: typed}
    missing = run.invoke(main, ["registry", "show", KOKUHO, args["symbol"], args["number"], "01"])
    assert missing.exit_code == 1 and "no member" in missing.stderr
    assert typed not in missing.output and "********9018" in missing.stderr
