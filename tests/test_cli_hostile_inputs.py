"""Hostile input that a fuzz run of every ``kokuho`` command found ending in an internal error
or accepted as if it meant something: each is now refused at the edge with a one-line reason
naming the option (exit code 2 for a malformed option, 1 for input the command refuses)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kokuho.cli import main
from tests.feedfiles import write_insurers
from tests.test_cli_inputs import assert_refused, home, run

__all__ = ["home"]  # the fixture: $KOKUHO_HOME in the test's folder


@pytest.mark.parametrize("insurer", ["99999999", "１２３", " ", "-1"])
def test_a_credential_for_an_unregistered_insurer_is_refused(home: Path, insurer: str) -> None:
    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    result = run("credentials", "issue", "--insurer", insurer, "--label", "窓口")
    assert_refused(result, 1, f"error: insurer {insurer!r} is not registered")


def test_a_credential_for_a_registered_insurer_is_issued(home: Path) -> None:
    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    result = run("credentials", "issue", "--insurer", "370015", "--label", "窓口")
    assert result.exit_code == 0, result.output
    assert "token (shown once): kc_" in result.output


#: The reports whose --by names groups from a closed set (NameList), with the first names.
GROUPED = {
    "checkups rates": (("checkups", "rates", "--fy", "2021"), "insurer, municipality"),
    "claims generic-share": (("claims", "generic-share"), "insurer, service_month"),
}


@pytest.mark.parametrize("report", list(GROUPED))
@pytest.mark.parametrize(
    "by", ["１２３", "insurer,sex\u0301", "-1", "insurer,insurer", "x" * 10_000, "insurer," * 2_000]
)
def test_a_report_by_a_group_it_does_not_know_is_refused_before_any_work(
    home: Path, report: str, by: str
) -> None:
    command, names = GROUPED[report]
    result = run(*command, "--by", by)
    assert_refused(result, 2, "Invalid value for '--by'", f"choose distinct names from {names}")
    assert len(result.output) < 500  # a long value is not echoed whole
    # Refused before any work: no database opened (opening one writes kokuho.db), no lake.
    assert not any(home.iterdir()), sorted(p.name for p in home.iterdir())


@pytest.mark.parametrize(
    ("command", "engine"),
    [("kokuho.cli._checkups:RATE_GROUPS", "kokuho.checkups._rates_common:GROUPS"),
     ("kokuho.cli._claims_reports:GENERIC_GROUPS", "kokuho.claims._generic:GENERIC_GROUPS")],
)  # fmt: skip
def test_the_groups_a_command_checks_are_the_engines(command: str, engine: str) -> None:
    import importlib

    def named(where: str) -> object:
        module, name = where.split(":")
        return getattr(importlib.import_module(module), name)

    assert named(command) == named(engine)


def test_rates_with_a_folder_for_the_exclusions_file_is_refused(home: Path) -> None:
    (home / "exclusions").mkdir()
    result = run("checkups", "rates", "--fy", "2021", "--exclusions", str(home / "exclusions"))
    assert_refused(result, 2, "Invalid value for '--exclusions'", "is a directory")


@pytest.mark.parametrize(
    ("budget", "words"),
    [
        ("munipical=50000000000", ["no part 'munipical'", "the parts are municipal, prefectural"]),
        ("\u202emunicipal=50000000000", ["no part '\\u202emunicipal'"]),
        ("municipal=²", ["write PART=YEN"]),
    ],
)
def test_a_budget_of_a_part_the_rules_do_not_have_is_refused(
    home: Path, budget: str, words: list[str]
) -> None:
    result = run("incentives", "allocate", "--fy", "2021", "--example", "--budget", budget)
    assert_refused(result, 1, f"error: --budget {budget!r}", *words)


@pytest.mark.parametrize(
    ("args", "option", "reason"),
    [
        (["boundary", "decide", "1", "loss", "--feed-dir", "{file}"], "--feed-dir", "is a file"),
        (["boundary", "reports", "--municipality", "372013", "--answer", "1", "--confirmed",
          "--text", "t", "--feed-dir", "{file}/x"], "--feed-dir", "is a file, not a folder"),
        (["boundary", "notices", "--case", "1", "--out", "{file}/x"], "--out",
         "is a file, not a folder"),
        (["boundary", "notices", "--list", "--municipality", "372013", "--out", "{home}"],
         "--out", "is a folder, not a file"),
        (["premiums", "households", "--municipality", "372013", "--on", "2021-04-01", "--csv",
          "{home}/no/x.csv"], "--csv", "the folder {home}/no does not exist"),
        (["incentives", "score", "--fy", "2021", "--example", "--csv", ""], "--csv",
         "an empty path"),
        (["incentives", "score", "--fy", "2021", "--example", "--excel", "{file}/x.xlsx"],
         "--excel", "the folder {file} is a file, not a folder"),
        (["synth", "--persons", "10", "--out", "{file}/x"], "--out", "is a file, not a folder"),
        (["cards", "issue", "--out", "{file}"], "--out", "is a file, not a folder"),
        (["provision", "extract", "P000001", "--by", "x", "--out", "{file}/x"], "--out",
         "is a file, not a folder"),
    ],
)  # fmt: skip
def test_a_file_or_folder_that_cannot_be_written_is_refused_before_any_work(
    home: Path, args: list[str], option: str, reason: str
) -> None:
    file = home / "a-file"
    file.write_text("x")
    given = [a.format(home=home, file=file) for a in args]
    result = run(*given)
    assert_refused(result, 2, f"Invalid value for '{option}'", reason.format(home=home, file=file))
    assert not (home / "kokuho.db").exists()  # refused before the database was opened


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_pipe_or_device_where_a_file_goes_is_refused_not_replaced(home: Path) -> None:
    # The list is put in place by a rename: a named pipe (or, run as root, /dev/null, which a
    # probe gave as --out to throw the list away) was replaced by a regular file of names.
    pipe = home / "list.csv"
    os.mkfifo(pipe)
    args = ["boundary", "notices", "--list", "--municipality", "372013", "--out", str(pipe)]
    result = run(*args)
    assert_refused(result, 2, "Invalid value for '--out'", "is not a regular file")
    assert pipe.is_fifo()
    assert not (home / "kokuho.db").exists()  # refused before the database was opened


@pytest.mark.parametrize("folder", [True, False])
def test_a_path_too_long_for_the_file_system_is_refused_not_an_internal_error(
    home: Path, folder: bool
) -> None:
    long = str(home / ("x" * 10_000))
    if folder:
        result = run("boundary", "notices", "--case", "1", "--out", long)
    else:
        result = run("boundary", "notices", "--list", "--municipality", "372013", "--out", long)
    assert_refused(result, 2, "Invalid value for '--out'", "cannot be used")
    assert len(result.output) < 1_000  # the path is not echoed whole
    assert not (home / "kokuho.db").exists()


OUTSIDE = "is outside 1900-01-01–2100-12-31"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["audit", "anomalies", "--since", "0001-01-01"], 2, ["Invalid value for '--since'"]),
        (["audit", "anomalies", "--since", "2020-01-01", "--until", "9999-12-31"], 2,
         ["Invalid value for '--until'"]),
        (["dependants", "recheck", "{file}", "--on", "9999-12-31"], 2, ["'--on'"]),
        (["registry", "overlaps", "--on", "0001-01-01"], 2, ["'--on'"]),
        (["synth", "--out", "{home}/s", "--start", "9999-12-31"], 2, ["'--start'"]),
        (["premiums", "households", "--municipality", "372013", "--on", "0001-01-01"], 2,
         ["Invalid value for '--on'", "0001-01-01"]),
        (["premiums", "refunds", "decide", "--municipality", "372013", "--on", "9999-12-31"], 2,
         ["Invalid value for '--on'", "9999-12-31"]),
        (["boundary", "decide", "1", "loss", "--on", "0001-01-01"], 2,
         ["Invalid value for '--on'", "0001-01-01"]),
    ],
)  # fmt: skip
def test_a_day_outside_the_fiscal_years_is_refused_naming_the_option(
    home: Path, args: list[str], code: int, words: list[str]
) -> None:
    file = home / "dependants.csv"
    file.write_text("x\n")
    result = run(*[a.format(home=home, file=file) for a in args])
    assert_refused(result, code, *words, OUTSIDE)


KEY = "8ca4d049fe8ca1febc685ad08f8176204db06f9642556e72512b8d4a2982216d"


@pytest.mark.parametrize(
    ("institution", "terminal", "reason"),
    [
        ("１２３", "reader-2", "institution '１２３' is not registered"),
        (" ", "reader-2", "institution ' ' is not registered"),
        ("3710112347", "reader-1", "terminal 'reader-1' is already registered"),
        ("3710112347", "x" * 41, f"terminal id {'x' * 40!r}: 1–40 printable characters"),
        ("3710112347", "reader\n2", "terminal id 'reader\\n2': 1–40 printable characters"),
    ],
)
def test_a_reader_of_an_unknown_institution_or_a_taken_id_is_refused(
    home: Path, institution: str, terminal: str, reason: str
) -> None:
    from tests.feedfiles import write_csv

    clinic = {"institution_code": "3710112347", "name": "讃岐クリニック", "status": "active"}
    write_csv(home / "inst.csv", list(clinic), [clinic])
    assert run("institutions", "load", str(home / "inst.csv")).exit_code == 0
    first = ["--institution", "3710112347", "--terminal-id", "reader-1", "--public-key", KEY]
    assert run("terminals", "register", *first).exit_code == 0
    args = ["--institution", institution, "--terminal-id", terminal, "--public-key", KEY]
    assert_refused(run("terminals", "register", *args), 1, f"error: {reason}")


def test_a_reader_is_revoked_once_from_the_command_line(home: Path) -> None:
    from tests.feedfiles import write_csv

    clinic = {"institution_code": "3710112347", "name": "讃岐クリニック", "status": "active"}
    write_csv(home / "inst.csv", list(clinic), [clinic])
    assert run("institutions", "load", str(home / "inst.csv")).exit_code == 0
    args = ["--institution", "3710112347", "--terminal-id", "reader-1", "--public-key", KEY]
    assert run("terminals", "register", *args).exit_code == 0
    revoked = run("terminals", "revoke", "reader-1")
    assert (revoked.exit_code, revoked.output) == (0, "revoked reader reader-1\n")
    assert_refused(run("terminals", "revoke", "reader-1"), 1, "error: no active reader 'reader-1'")
    assert_refused(run("terminals", "revoke", "x\x1b"), 1, "error: no active reader 'x\\x1b'")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "give http(s)://HOST[:PORT]"),
        ("127.0.0.1:8000", "give http(s)://HOST[:PORT]"),
        ("http://127.0.0.1:8000\nx", "Invalid non-printable ASCII character"),
        ("http://１２７.０.０.１:8000", "Invalid IDNA hostname"),
    ],
)
def test_the_agent_refuses_a_service_url_that_is_no_url(home: Path, url: str, reason: str) -> None:
    token = home / "token"
    token.write_text("kc_x.y")
    token.chmod(0o600)
    args = ["--req", str(home / "req"), "--res", str(home / "res"), "--credential-file", str(token)]
    result = run("oqs-agent", *args, "--url", url, "--once")
    assert_refused(result, 2, "Invalid value for '--url'", reason)
    assert not (home / "req").exists()  # refused before the agent made its folders


@pytest.mark.parametrize(
    ("insurer", "reason"),
    [("x" * 10_000, "insurer number 'xxx"), ("１２３", "must have 6 or 8 digits, has 3")],
)
def test_overlaps_of_an_insurer_number_that_is_none_is_refused(
    home: Path, insurer: str, reason: str
) -> None:
    result = run("registry", "overlaps", "--insurer", insurer)
    assert_refused(result, 1, "error: insurer number", reason)
    assert len(result.output) < 500


def test_overlaps_of_an_insurer_number_match_it_as_the_register_writes_it(home: Path) -> None:
    from tests.feedfiles import KYOKAI, acquire, write_changes

    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    changes = [acquire("K1", "2020-04-01"), acquire("E1", "2020-06-01", insurer=KYOKAI)]
    assert run("registry", "import", str(write_changes(home / "c.csv", changes))).exit_code == 0
    found = run("registry", "overlaps", "--insurer", "00370015", "--json")  # 国保: 370015
    assert found.exit_code == 0, found.output
    assert '"count": 1' in found.output


#: Each provision command with a --by, the value put where "BY" stands.
PROVISION_BY = {
    "reviewer": ("reviewer", "委員 丙", "--by", "BY"),
    "review": ("review", "P000001", "--by", "BY", "--decision", "approve", "--minutes", "議事"),
    "extract": ("extract", "P000001", "--out", "OUT", "--by", "BY"),
    "release-check": ("release-check", "TABLE", "--provision", "P000001", "--by", "BY"),
    "delete": ("delete", "P000001", "--by", "BY", "--method", "消去"),
    "revoke": ("revoke", "P000001", "--by", "BY", "--reason", "目的外利用"),
}
#: A NUL, a control character, a bidi control, one character too many, and far too many.
BAD_BY = {"NUL": "事務\x00局", "ESC": "事務\x1b[2J局", "RLO": "事務\u202e局",
          "101": "x" * 101, "10000": "x" * 10_000}  # fmt: skip


@pytest.mark.parametrize("by", list(BAD_BY))
@pytest.mark.parametrize("command", list(PROVISION_BY))
def test_a_provision_by_that_names_no_staff_member_is_refused_at_the_edge(
    home: Path, command: str, by: str
) -> None:
    """As every other --by (staff_by): before the database, a lake or the table is read,
    naming the option, and a long value is not echoed."""
    table = home / "table.csv"
    table.write_text("区分,男,女\n要支援,3,14\n", encoding="utf-8")
    given = {"BY": BAD_BY[by], "OUT": str(home / "out"), "TABLE": str(table)}
    result = run("provision", *(given.get(part, part) for part in PROVISION_BY[command]))
    assert_refused(result, 1, "error: --by: the staff member recording this (1–100 characters")
    assert len(result.output) < 500
    assert not (home / "kokuho.db").exists() and not (home / "out").exists()


@pytest.mark.parametrize("file", ["efforts.csv", "national.csv", "collection_rates.csv"])
def test_an_input_file_with_a_control_character_is_refused_naming_its_line(
    home: Path, file: str
) -> None:
    import shutil

    from kokuho.incentives import example_inputs

    inputs = home / "inputs"
    shutil.copytree(example_inputs(), inputs)
    lines = (inputs / file).read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b",", b",\x00", 1)
    (inputs / file).write_bytes(b"\n".join(lines))
    args = ["--inputs", str(inputs), "--no-register", "--prefecture", "37"]
    result = run("incentives", "score", "--fy", "2021", *args, "--excel", str(home / "s.xlsx"))
    assert_refused(result, 1, "error: 1 problem(s) in the rules or inputs")
    assert f"{file}:2: (file): a control character (U+0000)" in result.output
    assert not (home / "s.xlsx").exists()


@pytest.mark.parametrize("count", ["1" + "0" * 30, "-5", "12.5"])
def test_a_count_of_persons_that_is_none_is_refused_naming_its_line(home: Path, count: str) -> None:
    import csv
    import shutil

    from kokuho.incentives import example_inputs

    inputs = home / "inputs"
    shutil.copytree(example_inputs(), inputs)
    with (inputs / "national.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index("checkup_eligible")] = count
    with (inputs / "national.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    args = ["--inputs", str(inputs), "--no-register", "--prefecture", "37"]
    result = run("incentives", "score", "--fy", "2021", *args)
    assert_refused(result, 1, "error: 1 problem(s) in the rules or inputs")
    assert f"national.csv:2: checkup_eligible: {count!r} is not a whole number of persons" in (
        result.output
    )


def test_a_rule_file_that_is_not_utf8_is_refused_naming_its_line(home: Path) -> None:
    rules = home / "rules.yaml"
    rules.write_bytes(b"schema_version: 1\n\xff\xfe\n")
    result = run("incentives", "rules", "--file", str(rules))
    assert_refused(result, 1, "error: 1 problem(s)")
    assert f"{rules}:2: (file): not UTF-8 (byte 0xff)" in result.output


@pytest.mark.parametrize(
    "content",
    [b"\xf5\x00\x81 SECRETX", "kc_ab.SECRETX".encode("utf-16"), b"kc_ab.SECRETX\xc3\xa9",
     b"kc_ab. SECRETX"],
    ids=["random", "utf-16", "not ascii", "a space"],
)  # fmt: skip
def test_the_agent_refuses_a_credential_file_that_holds_no_token(
    home: Path, content: bytes
) -> None:
    token = home / "token"
    token.write_bytes(content)
    token.chmod(0o600)
    args = ["--req", str(home / "req"), "--res", str(home / "res"), "--credential-file", str(token)]
    result = run("oqs-agent", *args, "--url", "http://127.0.0.1:9", "--once")
    assert_refused(result, 1, f"error: {token}: not a credential token (kc_<id>.<secret>")
    assert "SECRETX" not in result.output  # a secret: never shown
    assert not (home / "res").exists()


def test_dashboard_users_with_a_blank_username_or_an_overlong_name_are_refused(
    home: Path,
) -> None:
    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    password = "a-long-password-123\n"
    add = ["dashboard", "users", "add", "--role", "prefecture", "--password-stdin"]
    blank = CliRunner().invoke(main, [*add, " "], input=password)
    assert_refused(blank, 1, "username must be 1–30 printable ASCII characters without spaces")
    long = CliRunner().invoke(main, [*add, "pref", "--name", "県" * 101], input=password)
    assert_refused(long, 1, "the display name must be at most 100 characters")
    fine = CliRunner().invoke(main, [*add, "pref", "--name", "県　国保室"], input=password)
    assert fine.exit_code == 0, fine.output  # a full-width space is part of a name


@pytest.mark.parametrize("label", ["", " ", "x" * 201, "受付\n1"])
def test_a_credential_label_that_names_no_holder_is_refused(home: Path, label: str) -> None:
    from tests.feedfiles import write_csv

    clinic = {"institution_code": "3710112347", "name": "讃岐クリニック", "status": "active"}
    write_csv(home / "inst.csv", list(clinic), [clinic])
    assert run("institutions", "load", str(home / "inst.csv")).exit_code == 0
    result = run("credentials", "issue", "--institution", "3710112347", "--label", label)
    assert_refused(
        result, 1, "the label must be 1–200 characters without control characters or bidi controls"
    )


@pytest.mark.parametrize("command", ["score", "improvements"])
def test_a_unit_the_scoreboard_does_not_have_is_refused(home: Path, command: str) -> None:
    result = run("incentives", command, "--fy", "2021", "--example", "--unit", "高松巿")
    assert_refused(result, 1, "--unit '高松巿': no such unit; the units are", "高松市")


def test_a_staff_name_with_a_line_break_is_refused(home: Path) -> None:
    result = run("boundary", "refunds", "--municipality", "372013", "--by", "田中\n課長")
    assert_refused(result, 1, "--by: the staff member recording this")


#: Unicode's Bidi_Control characters (kokuho.store.BIDI_CONTROLS): ALM, LRM, RLM, LRE, RLE,
#: PDF, LRO, RLO, LRI, RLI, FSI, PDI. "田中\u202e長課" shows as "田中課長".
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]  # fmt: skip


@pytest.mark.parametrize("bidi", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_a_name_with_a_bidi_control_is_refused_by_every_check_of_names(
    home: Path, bidi: str
) -> None:
    name = f"田中{bidi}長課"
    by = run("boundary", "refunds", "--municipality", "372013", "--by", name)
    assert_refused(by, 1, "--by: the staff member recording this", "bidi controls")
    assert run("registry", "insurers", str(write_insurers(home / "i.csv"))).exit_code == 0
    label = run("credentials", "issue", "--insurer", "370015", "--label", name)
    assert_refused(label, 1, "the label must be 1–200 characters", "bidi controls")
    add = ["dashboard", "users", "add", "pref", "--role", "prefecture", "--password-stdin"]
    shown = CliRunner().invoke(main, [*add, "--name", name], input="a-long-password-123\n")
    assert_refused(shown, 1, "the display name must be at most 100", "bidi controls")
    listed = run("dashboard", "users", "list", "--json")
    assert listed.exit_code == 0 and "pref" not in listed.output  # nothing was added


@pytest.mark.parametrize("key", ["per_household", "per_capita"])
def test_a_premium_rule_file_with_an_amount_beyond_any_premium_is_refused(
    home: Path, key: str
) -> None:
    from kokuho.store import shipped_folder

    shipped = shipped_folder() / "premiums" / "municipal" / "fy2020" / "372013.yaml"
    text = shipped.read_text("utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.strip().startswith(key))
    rules = home / "372013.yaml"
    rules.write_text(text.replace(f"{key}: ", f"{key}: 1{'0' * 30}  # ", 1), "utf-8")
    result = run("premiums", "rules", "--file", str(rules))
    assert_refused(result, 1, "problem(s) in the premium rule files")
    assert f"{rules}:{line}: parts.medical.{key}: Input should be less than or equal to" in (
        result.output
    )


def test_a_questionnaire_answer_the_question_does_not_have_is_refused(home: Path) -> None:
    header = ",".join(
        ["insurer_number", "symbol", "number", "branch", "answered_on"]
        + [f"q{n}" for n in range(1, 16)]
    )
    path = home / "questionnaires.csv"
    path.write_text(f"{header}\n39370010,,15555877,00,2021-06-01,1,{'1,' * 2}7{',1' * 11}\n")
    result = run("checkups", "targets", "--fy", "2021", "--questionnaires", str(path))
    assert_refused(result, 1, f"error: {path}: rejected with 1 error(s)")
    assert f"{path}:2: q4: '7' is not an answer of the question (1 はい, 2 いいえ)" in (
        result.output
    )


@pytest.mark.parametrize(
    ("option", "file", "column"),
    [("--diseases", "b_synthetic.csv", 6), ("--drugs", "y_synthetic.csv", 5)],
)
def test_a_master_with_a_control_character_in_a_name_is_refused(
    home: Path, option: str, file: str, column: int
) -> None:
    from kokuho.store import shipped_folder

    shipped = (shipped_folder() / "masters" / file).read_bytes().split(b"\n")
    cells = shipped[1].split(b",")
    cells[column - 1] = b"\x00" + cells[column - 1]
    shipped[1] = b",".join(cells)
    master = home / file
    master.write_bytes(b"\n".join(shipped))
    extra = (
        ["--generic-list", str(shipped_folder() / "masters" / "generic_list_synthetic.csv")]
        if option == "--drugs"
        else []
    )
    result = run("claims", "masters", option, str(master), *extra)
    assert_refused(result, 1, "master file rejected with 1 problem(s); the lake is unchanged")
    assert f"{master}:2: ({column}) : a control character (U+0000)" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in every folder")
def test_a_folder_the_user_may_not_write_in_is_refused_before_any_work(home: Path) -> None:
    locked = home / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run("synth", "--persons", "10", "--out", str(locked / "out"))
    finally:
        locked.chmod(0o700)
    assert_refused(result, 2, "Invalid value for '--out'", f"cannot write in the folder {locked}")


@pytest.mark.parametrize(
    ("ground", "evidence", "option"),
    [("", "", "--exception-ground"), ("資格決定通知書の遡及", " ", "--exception-evidence"),
     ("x" * 201, "通知書 2023-01-10", "--exception-ground"),
     ("遡及", "通知書\x1b[2J", "--exception-evidence"),
     ("遡及\u202e", "通知書", "--exception-ground"),
     ("遡及", "通知書\x9b2J", "--exception-evidence")],
)  # fmt: skip
def test_a_period_limit_exception_that_names_no_ground_is_refused(
    home: Path, ground: str, evidence: str, option: str
) -> None:
    args = ["--municipality", "372013", "--fiscal-year", "2020", "--decided-on", "2023-06-01"]
    exception = ["--exception-ground", ground, "--exception-evidence", evidence]
    result = run("premiums", "reassess", *args, *exception)
    assert_refused(result, 1, f"error: {option}: name it (1–200 characters")


@pytest.mark.parametrize(("column", "value"), [("q4", "٢"), ("q4", "+1"), ("bmi", "١٩.٥"),
                                               ("bmi", "1_9.5"), ("bmi", "19.5e0x")])  # fmt: skip
def test_a_questionnaire_number_in_another_script_is_refused(
    home: Path, column: str, value: str
) -> None:
    """int() and float() read '٢' as 2 and '١٩.٥' as 19.5: answers nobody typed as numbers
    would list a person for a programme (低栄養: BMI ≤ 20)."""
    header = ",".join(
        ["insurer_number", "symbol", "number", "branch", "answered_on"]
        + [f"q{n}" for n in range(1, 16)] + ["bmi"]
    )  # fmt: skip
    cells = dict(zip(header.split(","), ["39370010", "", "15555877", "00", "2021-06-01"]
                     + ["1"] * 15 + ["22.0"], strict=True))  # fmt: skip
    cells[column] = value
    path = home / "questionnaires.csv"
    path.write_text(f"{header}\n{','.join(cells.values())}\n", encoding="utf-8")
    result = run("checkups", "targets", "--fy", "2021", "--questionnaires", str(path))
    assert_refused(result, 1, f"error: {path}: rejected with 1 error(s)")
    assert f"{path}:2: {column}: " in result.output


def test_a_dashboard_user_is_disabled_from_the_command_line(home: Path) -> None:
    add = ["dashboard", "users", "add", "pref", "--role", "prefecture", "--password-stdin"]
    assert CliRunner().invoke(main, add, input="a-long-password-123\n").exit_code == 0
    disabled = run("dashboard", "users", "disable", "pref")
    assert disabled.exit_code == 0 and "disabled pref" in disabled.output, disabled.output
    listed = run("dashboard", "users", "list")
    assert "pref" in listed.output and "(無効)" in listed.output
    again = run("dashboard", "users", "disable", "pref")
    assert_refused(again, 1, "error: user 'pref' is already disabled")
    assert_refused(run("dashboard", "users", "disable", "nobody"), 1, "error: no user 'nobody'")


def test_a_questionnaire_typed_in_full_width_digits_reads_as_in_ascii(home: Path) -> None:
    """Full-width digits (１, １９．５: typed with a Japanese input method) are the answers and
    the BMI they say, as int() and float() read them before today's change, and as the same
    file's insured numbers are read; only other scripts' digits are refused."""
    from kokuho.checkups import read_questionnaires

    header = ",".join(
        ["insurer_number", "symbol", "number", "branch", "answered_on"]
        + [f"q{n}" for n in range(1, 16)] + ["bmi"]
    )  # fmt: skip
    member = "39370010,,15555877,00,2021-06-01,"
    ascii_path, wide_path = home / "ascii.csv", home / "wide.csv"
    ascii_path.write_text(f"{header}\n{member}{'1,' * 3}2{',1' * 11},19.5\n", encoding="utf-8")
    wide = f"{member}{'１,' * 3}２{',１' * 11},１９．５"
    wide_path.write_text(f"{header}\n{wide}\n", encoding="utf-8")
    [typed] = read_questionnaires(wide_path)
    [plain] = read_questionnaires(ascii_path)
    assert typed.answers == plain.answers and typed.answers[4] == 2
    assert typed.bmi == plain.bmi == 19.5
