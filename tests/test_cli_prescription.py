"""``kokuho premiums reminders import | prescription | write-offs run|decide|list`` and the
prescribed instalments in ``arrears`` and ``collection-rate``, from the outside, on SQLite and
PostgreSQL (docs/premiums-collection.md, "時効 and 不納欠損")."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.premiums import record_charges
from kokuho.store import connect
from tests.premiumrows import CITY, assessment, reminder, write_reminders


@pytest.fixture
def engine(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[sa.Engine]:
    """The database the command line uses, with H1's FY2023: 第1期 due 2023-07-31 and 第2期
    due 2023-08-31, 10,000円 each, unpaid."""
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", database_url)
    monkeypatch.delenv("KOKUHO_DEBUG", raising=False)
    engine = connect(database_url)
    record_charges(engine, assessment("H1", 2023, [10_000] * 2), dt.date(2023, 6, 15), "initial")
    yield engine
    engine.dispose()


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_the_explanation_names_every_date(engine: sa.Engine, tmp_path: Path) -> None:
    rows = [reminder("H1", 2023, 1, "2023-08-20", "2023-08-30")]
    path = write_reminders(tmp_path / "r.csv", rows)
    loaded = _run("premiums", "reminders", "import", str(path))
    assert loaded.exit_code == 0 and "1 rows, 1 added, 0 already loaded" in loaded.output
    again = _run("premiums", "reminders", "import", str(path), "--json")
    assert json.loads(again.output)["files"][0]["already_loaded"] == 1
    shown = _run("premiums", "prescription", "H1", "--municipality", CITY, "--as-of", "2025-08-30")
    assert shown.exit_code == 0, shown.output
    # The example of docs/premiums-collection.md, and 第2期 (no 督促) prescribed on 2025-09-01.
    assert shown.output.splitlines() == [
        "372013 H1 2025-08-30 現在 (国民健康保険料: 徴収権の時効 2年)",
        "  2023年度 第1期 納期限 2023-07-31: 調定 10,000円, 収納 0円, 不納欠損 0円, "
        "未納 10,000円 — 時効未完成",
        "    起算日 2023-08-01 (納期限の翌日)",
        "    督促 2023-08-20 指定期限 2023-08-30: 督促により時効更新: 2023-08-31 から新たに進行",
        "    2025-08-30 まで徴収可能 (2025-08-31 に時効完成)",
        "  2023年度 第2期 納期限 2023-08-31: 調定 10,000円, 収納 0円, 不納欠損 0円, "
        "未納 10,000円 — 時効未完成",
        "    起算日 2023-09-01 (納期限の翌日)",
        "    2025-08-31 まで徴収可能 (2025-09-01 に時効完成)",
    ]
    document = json.loads(
        _run("premiums", "prescription", "H1", "--municipality", CITY, "--as-of", "2025-08-31",
             "--json").output
    )  # fmt: skip
    first = document["instalments"][0]
    assert (first["status"], first["last_day"], first["prescribed_on"]) == (
        "prescribed",
        "2025-08-30",
        "2025-08-31",
    )
    assert first["renewals"][0]["counts_from"] == "2023-08-30"
    unknown = _run(
        "premiums", "prescription", "H9", "--municipality", CITY, "--as-of", "2025-01-01"
    )
    assert unknown.exit_code == 1 and "household H9: no 調定 in 372013" in unknown.output


def test_the_write_off_run_is_idempotent_and_shows_in_arrears_and_rates(engine: sa.Engine) -> None:
    arrears = _run("premiums", "arrears", "--municipality", CITY, "--as-of", "2025-08-15")
    assert "時効完成 (不納欠損 未処理): 1 件 10,000円" in arrears.output
    assert "第1期" not in arrears.output and "第2期" in arrears.output
    first = _run("premiums", "write-offs", "run", "--municipality", CITY, "--on", "2025-08-15",
                 "--json")  # fmt: skip
    assert first.exit_code == 0, first.output
    [written] = json.loads(first.output)["write_offs"]
    assert (written["instalment"], written["amount"]) == (1, 10_000)
    assert written["ground"] == "prescription"
    assert written["ground_day"] == "2025-08-01"
    again = _run("premiums", "write-offs", "run", "--municipality", CITY, "--on", "2025-08-15")
    assert again.output.splitlines() == ["372013 2025-08-15: 不納欠損 0 件 0円 (時効完成)"]
    listed = _run("premiums", "write-offs", "list", "--municipality", CITY, "--as-of",
                  "2025-08-15", "--csv")  # fmt: skip
    assert listed.output.splitlines()[1].split(",")[-4:] == [
        "2025-08-15", "prescription", "10000", "2025-08-01"
    ]  # fmt: skip
    assert "時効完成" not in _run("premiums", "arrears", "--municipality", CITY, "--as-of",
                                 "2025-08-15").output  # fmt: skip
    rate = _run("premiums", "collection-rate", "--fiscal-year", "2025", "--csv")
    header, row = rate.output.splitlines()
    assert header.endswith(",current_written_off,carried_written_off")
    # FY2023's 20,000 entered FY2025 on 2025-03-31; 10,000 written off during FY2025.
    assert row.split(",")[5:8] == ["20000", "0", "0.00"] and row.endswith(",0,10000")
    text = _run("premiums", "collection-rate", "--fiscal-year", "2025").output
    assert text.rstrip().endswith("過年度分を含む 0.00%, 不納欠損 10,000円")


def test_bad_write_off_requests_end_in_one_line(engine: sa.Engine) -> None:
    later = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    ahead = _run("premiums", "write-offs", "run", "--municipality", CITY, "--on", later)
    assert ahead.exit_code == 2 and "is after today" in ahead.output
    decide = ["premiums", "write-offs", "decide", "H1", "--municipality", CITY, "--fiscal-year",
              "2023", "--instalment", "2"]  # fmt: skip
    unknown = _run(*decide, "--ground", "kindness", "--on", "2024-01-10")
    assert unknown.exit_code == 1
    assert "ground 'kindness': one of stay_three_years, stay_immediate" in unknown.output
    done = _run(*decide, "--ground", "stay_immediate", "--on", "2024-01-10", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["write_offs"][0]["ground_day"] == "2024-01-10"
    # Decisions go in day order: a run dated before it is refused, nothing written.
    early = _run("premiums", "write-offs", "run", "--municipality", CITY, "--on", "2024-01-09")
    assert early.exit_code == 1 and "decided up to 2024-01-10" in early.output
