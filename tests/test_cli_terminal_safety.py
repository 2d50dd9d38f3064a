"""File names a sender chose, and values read from files, reach the operator's terminal as
visible escapes (``kokuho.store.shown_text``), never as control codes: a name holding ESC
cannot retitle the window or clear the screen, one holding a line end cannot forge a line.

Each command is run as on a terminal (``color=True``: click strips nothing), from the outside,
with the file good and with an error inside it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.premiums import record_charges
from kokuho.store import has_control, shown_text
from tests.feedfiles import FEED_COLUMNS, acquire, write_csv, write_insurers
from tests.premiumrows import assessment, payment, write_payments

FIXTURES = Path(__file__).parent / "fixtures"
# ESC (an OSC title and a CSI clear), BEL, CR, LF (a forged line) and RIGHT-TO-LEFT OVERRIDE.
HOSTILE = "evil\x1b]0;title\x07\r\x1b[2J\nFAKE: ok\u202e"
SHOWN = "evil\\x1b]0;title\\x07\\r\\x1b[2J\\nFAKE: ok\\u202e"
# A field's text holding ESC (this one is refused without being repeated).
VALUE = "H\x1b[2J9"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), color=True)


def assert_terminal_safe(result: Result) -> str:
    """Nothing a terminal acts on: no byte below 0x20 but the command's own line ends, no ESC,
    no bidi override; no line forged by a name. The output as text."""
    for data in (result.stdout_bytes, result.stderr_bytes or b""):
        assert not {byte for byte in data if byte < 0x20} - {0x0A}, data
        assert "\u202e".encode() not in data, data
    text = result.stdout + result.stderr
    assert not any(line.startswith("FAKE") for line in text.splitlines()), text
    return text


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    return tmp_path


def test_shown_text_escapes_what_a_terminal_acts_on_and_keeps_the_rest() -> None:
    assert shown_text(HOSTILE) == SHOWN
    assert shown_text("\t\x00\x7f\x85\x9b\u202a\u2066\u2069") == (
        "\\t\\x00\\x7f\\x85\\x9b\\u202a\\u2066\\u2069"
    )
    assert shown_text("a\udcffb\ud800") == "a\\xffb\\ud800"  # not UTF-8, a lone surrogate
    # Every bidi control (Unicode's Bidi_Control), the marks and the Arabic letter mark too:
    # what has_control refuses in a name, shown_text escapes in what it prints.
    marks = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert shown_text(marks) == "".join(f"\\u{ord(c):04x}" for c in marks)
    assert has_control(marks[0]) and all(has_control(c) for c in marks)
    japanese = "讃岐 太郎　高松市番町 (12) ｶﾅ — ok.csv"
    assert shown_text(japanese) == japanese
    assert shown_text(SHOWN) == SHOWN  # escaping twice changes nothing


def test_json_output_escapes_every_bidi_control(capsys: pytest.CaptureFixture[str]) -> None:
    from kokuho.cli._output import emit_json

    marks = "\u061c\u200e\u200f\u202e\u2066"
    emit_json({"name": f"田中{marks}課長"})
    out = capsys.readouterr().out
    assert not set(marks) & set(out), out
    assert json.loads(out) == {"name": f"田中{marks}課長"}  # the same value, read back


def _feed_folder(home: Path, name: str, event: str = "acquire") -> Path:
    folder = home / name
    folder.mkdir()
    row = acquire("E1" if event == "acquire" else "E2", "2021-04-01")
    row["event"] = event
    write_csv(folder / f"{HOSTILE}.csv", FEED_COLUMNS, [row])
    return folder


def test_registry_import_of_a_folder_good_then_with_an_error(home: Path) -> None:
    """A good feed prints no file name (only the totals); the one with an error names it."""
    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    good = run("registry", "import", "--no-reassess", str(_feed_folder(home, "good")))
    assert good.exit_code == 0, assert_terminal_safe(good)
    assert "1 applied" in assert_terminal_safe(good)
    folder = _feed_folder(home, "bad", event="acq\x1b]0;x\x07uire")
    result = run("registry", "import", "--no-reassess", str(folder))
    text = assert_terminal_safe(result)
    assert result.exit_code == 1, text
    assert f"{folder}/{SHOWN}.csv:2: event: " in text
    assert "acq\\x1b]0;x\\x07uire" in text  # the field's value, escaped


def test_a_file_s_text_holding_esc_is_shown_escaped_in_its_row_error(home: Path) -> None:
    """A column the header names but the format has not is echoed as the error's field; a
    value quoted in a reason (the claims reader's) stays escaped too."""
    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    column = "note\x1b]0;x\x07\u202e"
    row = {**acquire("E1", "2021-04-01"), column: "x"}
    path = write_csv(home / "plain.csv", [*FEED_COLUMNS, column], [row])
    result = run("registry", "import", "--no-reassess", str(path))
    text = assert_terminal_safe(result)
    assert result.exit_code == 1, text
    assert f"{path}:1: note\\x1b]0;x\\x07\\u202e: unknown column" in text
    claims = home / "c.UKE"
    data = (FIXTURES / "claims" / "medical_outpatient.UKE").read_bytes()
    claims.write_bytes(data.replace(b",50604,", b",5\x1b[2J13,", 1))
    result = run("claims", "ingest", str(claims))
    text = assert_terminal_safe(result)
    assert result.exit_code == 1, text
    assert f"{claims}:2: (4) 診療年月: " in text and "5\\x1b[2J13" in text


# (command, fixture, suffix, the fixture's bytes spoilt, the problem's start, the loaded line's end)
LAKES = {
    "claims": (
        FIXTURES / "claims" / "medical_outpatient.UKE", ".UKE",
        (b",50604,", b",5\x1b[2J13,"), ":2: (4) 診療年月: ", ": 2 claims, 20 lines ingested",
    ),
    "care": (
        FIXTURES / "care" / "claims_202005.csv", ".csv",
        (b",2000,\r\n", b",2001,\r\n"), ":3: (13) サービス単位数: ", ": 2 claims ingested",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bad", [False, True], ids=["good", "with-an-error"])
@pytest.mark.parametrize("room", sorted(LAKES))
def test_claims_and_care_ingest_of_a_folder(home: Path, room: str, bad: bool) -> None:
    fixture, suffix, (old, new), problem, loaded = LAKES[room]
    folder = home / "in"
    folder.mkdir()
    data = fixture.read_bytes()
    (folder / f"{HOSTILE}{suffix}").write_bytes(data.replace(old, new, 1) if bad else data)
    result = run(room, "ingest", str(folder))
    text = assert_terminal_safe(result)
    assert result.exit_code == (1 if bad else 0), text
    assert f"{folder}/{SHOWN}{suffix}{problem if bad else loaded}" in text
    if bad and room == "claims":
        assert "5\\x1b[2J13" in text  # the quoted value, escaped


@pytest.mark.parametrize("bad", [False, True], ids=["good", "with-an-error"])
def test_premiums_payments_import(home: Path, bad: bool) -> None:
    from kokuho.config import Settings
    from kokuho.store import connect

    engine: sa.Engine = connect(Settings.from_env().database_url)
    record_charges(engine, assessment("H1", 2020, [9_500] * 10), dt.date(2020, 6, 15), "initial")
    engine.dispose()
    household = VALUE if bad else "H1"
    path = write_payments(
        home / f"{HOSTILE}.csv", [payment("G1", household, 2020, "2020-07-31", 9_500, 1)]
    )
    result = run("premiums", "payments", "import", str(path))
    text = assert_terminal_safe(result)
    assert result.exit_code == (1 if bad else 0), text
    assert f"{home}/{SHOWN}.csv" in text
    if bad:  # this reader names the field without repeating its value
        assert f"{SHOWN}.csv:2: household: must be 1–20 letters" in text
    else:
        assert f"{home}/{SHOWN}.csv: 1 rows, 1 added" in text


def test_json_output_escapes_what_json_dumps_leaves_raw_and_keeps_the_name(home: Path) -> None:
    """json.dumps escapes C0 controls only: the bidi override and a C1 control (U+009B, CSI
    to some terminals) are written as \\uXXXX, which reads back as the same name."""
    folder = home / "in"
    folder.mkdir()
    path = folder / f"{HOSTILE}\x9b.UKE"
    shutil.copy(FIXTURES / "claims" / "medical_outpatient.UKE", path)
    result = run("claims", "ingest", str(folder), "--json")
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result)
    assert "\x9b" not in result.stdout
    assert [row["file"] for row in json.loads(result.stdout)["files"]] == [str(path)]


def test_registry_show_escapes_the_name_and_address_a_feed_brought(home: Path) -> None:
    """A feed with control characters in a name or address is refused (registry._events);
    a register may still hold such text from before that (an older import, a copy), and
    ``registry show`` prints it escaped."""
    from kokuho.config import Settings
    from kokuho.registry import tables
    from kokuho.store import connect

    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    name, address = "讃岐\x1b]0;x\x07 太郎", "高松市\r\nFAKE: 番町\u202e"
    row = acquire("E1", "2021-04-01")
    hostile = write_csv(home / "hostile.csv", FEED_COLUMNS, [{**row, "name_kanji": name}])
    refused = run("registry", "import", "--no-reassess", str(hostile))
    assert refused.exit_code == 1 and "name_kanji: contains a control character" in (
        assert_terminal_safe(refused)
    )
    path = write_csv(home / "plain.csv", FEED_COLUMNS, [row])
    assert run("registry", "import", "--no-reassess", str(path)).exit_code == 0
    engine: sa.Engine = connect(Settings.from_env().database_url)
    with engine.begin() as connection:
        connection.execute(sa.update(tables.persons).values(name_kanji=name, address=address))
    engine.dispose()
    result = run("registry", "show", row["insurer_number"], "12", "1001", "01")
    text = assert_terminal_safe(result)
    assert result.exit_code == 0, text
    assert "讃岐\\x1b]0;x\\x07 太郎" in text and "住所 高松市\\r\\nFAKE: 番町\\u202e" in text


@pytest.mark.parametrize("command", ["ingest", "stratify"])
def test_checkups_problems_of_an_archive_with_a_hostile_name(home: Path, command: str) -> None:
    """An archive's problems start with its name: a name holding ESC or a line end is shown
    escaped there as in the command's own error, and forges no line."""
    from kokuho.checkups import write_archive

    good = write_archive(
        home / "w", sender="3710000012", receiver="00370015", checkups=[],
        created=dt.datetime(2020, 9, 30),
    )  # fmt: skip
    folder = home / "in"
    folder.mkdir()
    shutil.copy(good, folder / f"{HOSTILE}.zip")
    result = run("checkups", command, str(folder))
    text = assert_terminal_safe(result)
    assert result.exit_code == 1, text
    assert f"{SHOWN}.zip: archive name: does not follow" in text
