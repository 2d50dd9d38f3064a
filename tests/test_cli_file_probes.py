"""Bad files fed to the import commands as staff would send them (session 11's probe): each ends
in a one-line reason naming the file, never in ``internal error``; nothing is half written. A
folder with nothing to read in it is refused the same way, naming the folder."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.registry import tables as t
from kokuho.store import connect
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, write_csv, write_insurers


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    result = invoke("registry", "insurers", str(write_insurers(tmp_path / "i.csv")))
    assert result.exit_code == 0, result.output
    return tmp_path


def _feed_bytes(tmp_path: Path) -> bytes:
    path = write_csv(tmp_path / "plain.csv", FEED_COLUMNS, [acquire("E1", "2021-04-01")])
    return path.read_bytes()


def _cr_only(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\r")  # old Mac line ends


def _utf16(data: bytes) -> bytes:
    return data.decode("utf-8").encode("utf-16")  # Excel's 'Unicode text'


def _bad_byte_at_header_end(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\r\xed\xa0\x80\n", 1)  # a lone surrogate's bytes


@pytest.mark.parametrize("spoil", [_utf16, _bad_byte_at_header_end])
@pytest.mark.parametrize("command", [("registry", "import"), ("dependants", "check")])
def test_a_feed_with_odd_line_ends_or_encoding_is_refused_naming_the_file(
    home: Path, command: tuple[str, ...], spoil: object
) -> None:
    assert callable(spoil)
    path = home / f"{KYOKAI}_2021-04 odd.csv"
    path.write_bytes(spoil(_feed_bytes(home)))
    result = invoke(*command, str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert str(path) in result.output


def test_a_feed_with_cr_line_ends_is_read_like_one_with_crlf(home: Path) -> None:
    path = home / f"{KYOKAI}_2021-04.csv"
    path.write_bytes(_cr_only(_feed_bytes(home)))
    checked = invoke("dependants", "check", str(path))
    assert checked.exit_code == 0, checked.output
    assert "1 other row(s)" in checked.output  # the 本人 acquire, read as a feed row
    imported = invoke("registry", "import", "--no-reassess", str(path))
    assert imported.exit_code == 0, imported.output
    assert "1 applied" in imported.output


def _masters(*args: str) -> Result:
    return invoke("claims", "masters", *args, "--json")


def _loaded_masters(home: Path) -> dict[str, object]:
    from kokuho.claims import ClaimsLake
    from kokuho.config import Settings

    return {
        name: meta["rows"]
        for name, meta in ClaimsLake.from_settings(Settings.from_env()).masters().items()
    }


@pytest.mark.parametrize(
    "content",
    [b"", b"PK\x03\x04 cut short", "zip"],
    ids=["empty", "truncated", "a zip that is no workbook"],
)
def test_a_generic_list_that_is_no_workbook_is_refused_naming_the_file(
    home: Path, content: bytes | str
) -> None:
    import zipfile

    from kokuho.claims import sample_masters

    path = home / "後発医薬品 list.xlsx"
    if content == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "not a workbook")
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    drugs = str(sample_masters().drugs)
    result = invoke("claims", "masters", "--drugs", drugs, "--generic-list", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}: 後発医薬品 list: not a readable .xlsx workbook" in result.stderr


@pytest.mark.parametrize("which", ["--drugs", "--generic-list", "--diseases"])
def test_an_empty_master_file_is_refused_and_the_loaded_master_kept(home: Path, which: str) -> None:
    from kokuho.claims import sample_masters

    assert invoke("claims", "masters").exit_code == 0
    before = _loaded_masters(home)
    empty = home / "empty.csv"
    empty.write_bytes(b"")
    files = sample_masters()
    given = {"--drugs": str(files.drugs), "--generic-list": str(files.generic_list)}
    if which == "--diseases":
        given = {}
    given[which] = str(empty)
    result = invoke("claims", "masters", *(part for item in given.items() for part in item))
    assert result.exit_code == 1, result.output
    assert str(empty) in result.stderr
    assert _loaded_masters(home) == before


def test_a_bad_disease_master_leaves_the_drug_master_of_the_same_call_unloaded(
    home: Path,
) -> None:
    from kokuho.claims import sample_masters

    files = sample_masters()
    bad = home / "b_bad.csv"
    bad.write_text("1,2,not-a-code\n", encoding="utf-8")
    result = invoke(
        "claims", "masters", "--drugs", str(files.drugs), "--generic-list",
        str(files.generic_list), "--diseases", str(bad),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "the lake is unchanged" in result.stderr
    assert _loaded_masters(home) == {}  # as it says: no drug_master either


SHIPPED = Path(__file__).parent.parent / "src" / "kokuho" / "data"


@pytest.mark.parametrize(
    ("command", "shipped", "key"),
    [
        (("premiums", "rules"), "premiums/municipal/fy2021/372013.yaml", "fiscal_year: 2021"),
        (("incentives", "rules"), "incentives/fy2021.yaml", "fiscal_year: 2021"),
    ],
)
@pytest.mark.parametrize("day", ["2021-02-30", "0000-01-01"])
def test_a_rule_file_with_an_impossible_date_names_file_and_line(
    home: Path, command: tuple[str, ...], shipped: str, key: str, day: str
) -> None:
    text = (SHIPPED / shipped).read_text("utf-8")
    assert key in text
    line = text[: text.index(key)].count("\n") + 1
    path = home / "rules.yaml"
    path.write_text(text.replace(key, f"{key}\nratified_on: {day}", 1), "utf-8")
    result = invoke(*command, "--file", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}:{line + 1}: (yaml): '{day}' is not a date" in result.output


def test_a_local_data_copy_with_an_impossible_date_names_the_copy_and_line(home: Path) -> None:
    assert invoke("data", "copy", "prescribing_rules.yaml").exit_code == 0
    copy = home / "home" / "data" / "prescribing_rules.yaml"
    lines = copy.read_text("utf-8").splitlines()
    copy.write_text("\n".join([lines[0], "checked_on: 2021-02-30", *lines[1:]]) + "\n", "utf-8")
    for command in [("data", "unconfirmed")]:
        result = invoke(*command)
        assert result.exit_code == 1, result.output
        assert "internal error" not in result.output
        assert f"{copy}:2: not valid YAML: '2021-02-30' is not a date" in result.output


@pytest.mark.parametrize("yen", ["9223372036854775808", "1" + "0" * 30, "10000000001", "١٢٣"])
def test_an_institutions_subsidy_beyond_reason_or_not_ascii_is_refused_with_its_line(
    home: Path, yen: str
) -> None:
    path = home / "institutions.csv"
    path.write_text(
        "institution_code,name,status,subsidy_yen\n"
        "3710100011,高松市香西本町クリニック,active,427000\n"
        f"3730100025,高松市屋島西町歯科医院,active,{yen}\n",
        "utf-8",
    )
    result = invoke("institutions", "load", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}:3: subsidy_yen:" in result.output


@pytest.mark.parametrize("key", ["schema_version: 1", "fiscal_year: 2021"])
@pytest.mark.parametrize("value", ["1e999999", "1" + "0" * 5000])
def test_a_levy_rule_file_with_a_number_past_reason_names_file_line_and_key(
    home: Path, key: str, value: str
) -> None:
    text = (SHIPPED / "premiums" / "levy" / "fy2021.yaml").read_text("utf-8")
    line = text[: text.index(key)].count("\n") + 1
    path = home / "levy.yaml"
    path.write_text(text.replace(key, f"{key.split(':')[0]}: {value}", 1), "utf-8")
    result = invoke("premiums", "levy", "--fiscal-year", "2021", "--example", "--rules", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}:{line}: {key.split(':')[0]}: " in result.output
    assert "must be ≤ 999999999999999" in result.output


def test_a_cost_reference_with_an_impossible_date_names_file_and_line(home: Path) -> None:
    text = (SHIPPED / "reference_population.yaml").read_text("utf-8")
    key = "format: kokuho reference population 1"
    line = text[: text.index(key)].count("\n") + 1
    path = home / "reference.yaml"
    path.write_text(text.replace(key, f"{key}\nchecked_on: 2021-02-30", 1), "utf-8")
    result = invoke("claims", "cost", "--fy", "2022", "--reference", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}:{line + 1}: not YAML: '2021-02-30' is not a date" in result.output


@pytest.mark.parametrize("spoil", ["a: [", "checked_on: 2021-02-30"])
def test_a_broken_local_copy_read_by_any_command_is_named_with_its_line(
    home: Path, spoil: str
) -> None:
    assert invoke("data", "copy", "checkup_targets.yaml").exit_code == 0
    copy = home / "home" / "data" / "checkup_targets.yaml"
    lines = copy.read_text("utf-8").splitlines()
    copy.write_text("\n".join([*lines, spoil]) + "\n", "utf-8")
    result = invoke("checkups", "rates", "--fy", "2021")
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    # PyYAML places an unclosed list at the end of the stream, the line after the last
    assert result.output.startswith(f"error: {copy}:")
    assert "not valid YAML: " in result.output
    if "2021-02-30" in spoil:
        assert (
            f"{copy}:{len(lines) + 1}: not valid YAML: '2021-02-30' is not a date" in result.output
        )


EXCLUSIONS = "insurer,symbol,number,branch,reason,started_on,ended_on\n"
GOOD_EXCLUSION = "370015,28,0039424,01,pregnant,2021-06-01,2021-12-01\n"


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (EXCLUSIONS.encode() + b"370015,28,0039424,01,pregnant,2021-02-30,\n", ":2: started_on:"),
        (EXCLUSIONS.encode() + b"370015,28,0039424,01,bogus,2021-06-01,\n", ":2: reason:"),
        (EXCLUSIONS.encode() + b"370015,28,0039424,01,pregnant,2021-06-01,2021-01-01\n",
         ":2: ended_on:"),
        (EXCLUSIONS.encode() + b"370015,28,0039424,01,pregnant,2021-06-01\n", ":2: (row):"),
        (EXCLUSIONS.encode() + b"370015,28,0039\x00424,01,pregnant,2021-06-01,\n", ":2: number:"),
        (EXCLUSIONS.encode() + b"370015,28,\xff\xfe,01,pregnant,2021-06-01,\n", ":2: (file):"),
        (b"a,b\n1,2\n", ":1: (header):"),
        (b"", ": (file):"),
    ],
    ids=["impossible date", "unknown reason", "ends before it starts", "short row", "NUL",
         "not UTF-8", "wrong header", "empty"],
)  # fmt: skip
def test_a_bad_exclusions_file_is_refused_naming_file_line_and_column(
    home: Path, content: bytes, where: str
) -> None:
    path = home / "exclusions.csv"
    path.write_bytes(content)
    result = invoke("checkups", "rates", "--fy", "2021", "--exclusions", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}{where}" in result.output


def test_a_parquet_exclusions_file_that_does_not_read_is_refused(home: Path) -> None:
    path = home / "exclusions.parquet"
    path.write_bytes(b"PAR1 cut short")
    result = invoke("checkups", "rates", "--fy", "2021", "--exclusions", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}: (file): not a readable Parquet file" in result.output


QUESTIONNAIRES = ",".join(
    ["insurer_number", "symbol", "number", "branch", "answered_on"]
    + [f"q{n}" for n in range(1, 16)]
    + ["bmi"]
)


@pytest.mark.parametrize("bmi", ["nan", "-18.5", "0", "inf", "1e400"])
def test_a_questionnaire_bmi_that_is_no_bmi_is_refused_with_its_line(home: Path, bmi: str) -> None:
    path = home / "questionnaires.csv"
    answers = ",".join(["1"] * 15)
    path.write_text(
        f"{QUESTIONNAIRES}\n39370010,,15555877,00,2021-06-01,{answers},{bmi}\n", "utf-8"
    )
    result = invoke("checkups", "targets", "--fy", "2021", "--questionnaires", str(path))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"{path}:2: bmi:" in result.output


def _incentive_inputs(home: Path, file: str, spoil: Callable[[bytes], bytes]) -> Path:
    folder = home / "inputs"
    shutil.copytree(SHIPPED / "incentives" / "example", folder)
    (folder / file).write_bytes(spoil((folder / file).read_bytes()))
    return folder


@pytest.mark.parametrize(
    ("file", "spoil", "where"),
    [
        ("national.csv", lambda b: b.replace(b",106000,", b"," + b"9" * 30 + b",", 1),
         "national.csv:2: insured:"),
        ("national.csv", lambda b: b.replace(b",106000,", b",\xc2\xb2,", 1),
         "national.csv:2: insured:"),
        ("national.csv", lambda b: b.replace(b"2017,", "²,".encode(), 1),
         "national.csv:2: fiscal_year:"),
        ("collection_rates.csv", lambda b: b.replace("高松".encode(), b"\xff\xfe", 1),
         "collection_rates.csv:2: (file): not UTF-8"),
    ],
    ids=["insured past 2**63", "insured '²'", "fiscal_year '²'", "not UTF-8"],
)  # fmt: skip
def test_bad_incentive_inputs_are_refused_naming_file_line_and_column(
    home: Path, file: str, spoil: Callable[[bytes], bytes], where: str
) -> None:
    folder = _incentive_inputs(home, file, spoil)
    result = invoke(
        "incentives", "score", "--fy", "2021", "--inputs", str(folder), "--no-register",
        "--prefecture", "37",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert where in result.output


FOLDER_COMMANDS = [
    ("registry", "import", "--no-reassess"),
    ("claims", "ingest"),
    ("care", "ingest"),
    ("checkups", "ingest"),
]
FOLDER_IDS = ["registry import", "claims ingest", "care ingest", "checkups ingest"]


@pytest.mark.parametrize("command", FOLDER_COMMANDS, ids=FOLDER_IDS)
def test_a_link_to_nothing_in_a_folder_is_refused_naming_it(
    home: Path, command: tuple[str, ...]
) -> None:
    folder = home / "incoming"
    folder.mkdir()
    link = folder / ("broken.zip" if command[0] == "checkups" else "broken.csv")
    link.symlink_to(home / "gone")
    result = invoke(*command, str(folder))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"error: {link}: cannot be read (a link to nothing)" in result.output


@pytest.mark.parametrize("command", FOLDER_COMMANDS, ids=FOLDER_IDS)
def test_a_folder_named_like_a_file_is_searched_not_read(
    home: Path, command: tuple[str, ...]
) -> None:
    folder = home / "incoming"
    (folder / "x.csv").mkdir(parents=True)
    (folder / "y.zip").mkdir()
    (folder / "z.UKE").mkdir()
    result = invoke(*command, str(folder))
    assert "internal error" not in result.output
    assert "IsADirectory" not in result.output


def _ingest_one_bmi(home: Path, value: str) -> tuple[Result, str]:
    """``checkups ingest`` of an archive of one checkup whose BMI is ``value``; the result and
    the observation's code."""
    import datetime as dt

    from kokuho.checkups import Checkup, Items, Observation, write_archive
    from tests.feedfiles import KOKUHO

    bmi = Observation(Items.BMI[0], "PQ", value, "kg/m2")
    checkup = Checkup(
        document="", insurer=KOKUHO, symbol="12", number="1001", branch="01", sex=1,
        birth_date=dt.date(1970, 5, 15), exam_date=dt.date(2020, 9, 1),
        institution="3710000012", observations={bmi.code: bmi},
    )  # fmt: skip
    archive = write_archive(
        home / "out", sender="3710000012", receiver="00" + KOKUHO, checkups=[checkup],
        created=dt.datetime(2020, 9, 30),
    )  # fmt: skip
    return invoke("checkups", "ingest", str(archive)), bmi.code


@pytest.mark.parametrize("value", ["1e400", "9" * 400, "-1e309"])
def test_a_checkup_value_past_any_float_is_refused_naming_the_observation(
    home: Path, value: str
) -> None:
    result, code = _ingest_one_bmi(home, value)
    assert result.exit_code == 1, result.output
    assert f"observation {code}: value '{value[:40]}" in result.output
    assert "is not a number" in result.output


CLAIM_FIXTURES = Path(__file__).parent / "fixtures" / "claims"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_nul_byte_in_a_claims_field_is_refused_with_line_and_field(
    home: Path, workers: str
) -> None:
    name = "香川　太郎".encode("cp932")
    data = (CLAIM_FIXTURES / "medical_outpatient.UKE").read_bytes()
    assert name in data
    bad = home / "nul.UKE"
    bad.write_bytes(data.replace(name, name[:2] + b"\x00" + name[2:], 1))
    result = invoke("claims", "ingest", "--workers", workers, str(bad))
    assert result.exit_code == 1, result.output
    assert f"{bad}:2: (5) 氏名: holds a NUL byte" in result.output
    assert not list((home / "home" / "lake").rglob("*.parquet"))


#: Each command that searches a folder, with the words its refusal names what it looked for by.
SEARCHING = [
    (("checkups", "ingest"), "V08 archives (*.zip)"),
    (("checkups", "stratify"), "V08 archives (*.zip)"),
    (("checkups", "targets", "--fy", "2021"), "V08 archives (*.zip)"),
    (("claims", "ingest"), "レセ電 files (*.UKE, *.csv)"),
    (("care", "ingest"), '介護給付費明細書 files (*.csv beginning "1,")'),
    (("care", "certifications"), "要介護認定 files (*.csv)"),
    (("registry", "import", "--no-reassess"), "change-feed files (*.csv)"),
]
COMMAND_IDS = [" ".join(command[:2]) for command, _ in SEARCHING]


def assert_refused_naming(result: Result, folder: Path, what: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {folder}: no {what} in the folder or its subfolders"
    )
    assert result.stdout == ""  # no summary of nothing done


@pytest.mark.parametrize(("command", "what"), SEARCHING, ids=COMMAND_IDS)
def test_an_empty_folder_is_refused_naming_it_and_what_was_looked_for(
    home: Path, command: tuple[str, ...], what: str
) -> None:
    empty = home / "incoming"
    empty.mkdir()
    assert_refused_naming(invoke(*command, str(empty)), empty, what)


@pytest.mark.parametrize(("command", "what"), SEARCHING, ids=COMMAND_IDS)
def test_a_folder_of_other_files_only_is_refused_as_an_empty_one(
    home: Path, command: tuple[str, ...], what: str
) -> None:
    folder = home / "incoming"
    (folder / "sub").mkdir(parents=True)
    (folder / "README.txt").write_text("nothing to load here\n", "utf-8")
    (folder / "sub" / "notes.txt").write_text("nor here\n", "utf-8")
    assert_refused_naming(invoke(*command, str(folder)), folder, what)


def test_a_care_folder_of_csv_files_that_are_no_claims_is_refused(home: Path) -> None:
    folder = home / "care"
    folder.mkdir()
    (folder / "certifications.csv").write_text("insurer,insured\n", "utf-8")
    what = '介護給付費明細書 files (*.csv beginning "1,")'
    assert_refused_naming(invoke("care", "ingest", str(folder)), folder, what)


def test_an_empty_folder_beside_a_good_feed_file_refuses_the_whole_call(home: Path) -> None:
    feed = write_csv(home / f"{KYOKAI}_2021-04.csv", FEED_COLUMNS, [acquire("E1", "2021-04-01")])
    empty = home / "2021-05"
    empty.mkdir()
    result = invoke("registry", "import", "--no-reassess", str(feed), str(empty))
    assert_refused_naming(result, empty, "change-feed files (*.csv)")
    engine = connect(f"sqlite:///{home / 'home' / 'kokuho.db'}")
    try:
        with engine.connect() as connection:
            assert connection.scalar(sa.select(sa.func.count()).select_from(t.feed_files)) == 0
    finally:
        engine.dispose()


#: Every command that reads the files or folders it is given, as `SEARCHING`, and the masters.
READING = [command for command, _ in SEARCHING] + [("claims", "masters", "--drugs")]
READING_IDS = [*COMMAND_IDS, "claims masters"]


@contextmanager
def fifo_nobody_writes(path: Path) -> Iterator[Path]:
    """A named pipe no program writes to: a command that opens it waits for ever. Should one
    do so (the defect), a thread writes a line to it and closes it, again each time it is
    opened, from 3 s on, so that the test fails instead of hanging."""
    os.mkfifo(path)
    done = threading.Event()

    def release() -> None:
        while not done.wait(0.1):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # nobody is reading
                continue
            os.write(fd, b"released by the test\n")
            os.close(fd)

    timer = threading.Timer(3, release)
    timer.start()
    try:
        yield path
    finally:
        done.set()
        timer.cancel()
        timer.join()


@pytest.mark.parametrize("command", READING, ids=READING_IDS)
def test_a_named_pipe_given_as_a_file_is_refused_not_waited_on(
    home: Path, command: tuple[str, ...]
) -> None:
    """A pipe (or a device: /dev/zero never ends) given where a file goes hung the command
    or read until memory ran out (an internal MemoryError); it is an argument error."""
    with fifo_nobody_writes(home / "incoming.csv") as pipe:
        result = invoke(*command, str(pipe))
    assert result.exit_code == 2, result.output
    assert f"{pipe} is not a regular file (a pipe, socket or device)" in result.output


@pytest.mark.parametrize("command", READING, ids=READING_IDS)
def test_a_device_given_as_a_file_is_refused(home: Path, command: tuple[str, ...]) -> None:
    result = invoke(*command, os.devnull)
    assert result.exit_code == 2, result.output
    assert f"{os.devnull} is not a regular file (a pipe, socket or device)" in result.output


@pytest.mark.parametrize("command", FOLDER_COMMANDS, ids=FOLDER_IDS)
def test_a_named_pipe_in_a_folder_is_refused_naming_it(
    home: Path, command: tuple[str, ...]
) -> None:
    folder = home / "incoming"
    folder.mkdir()
    name = "pipe.zip" if command[0] == "checkups" else "pipe.csv"
    with fifo_nobody_writes(folder / name) as pipe:
        result = invoke(*command, str(folder))
    assert result.exit_code == 1, result.output
    assert f"error: {pipe}: cannot be read (not a regular file: a pipe, socket or device)" in (
        result.output
    )


def test_a_checkup_value_of_thousands_of_digits_is_quoted_cut(home: Path) -> None:
    """A value of 5,000 digits was quoted whole: one line of 5,000 characters per problem."""
    value = "9" * 5000
    result, code = _ingest_one_bmi(home, value)
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.stderr.splitlines() if code in line]
    assert f"value '{value[:40]}'… (5,000 characters) is not a number" in line
    assert len(line) < 300


#: The other commands that read a file they are given (rules, registers, payments, lists).
OTHER_READERS = [
    ("registry", "insurers"),
    ("residents", "load"),
    ("institutions", "load"),
    ("mynumber", "link"),
    ("premiums", "grounds", "import"),
    ("premiums", "incomes", "import"),
    ("premiums", "payments", "import"),
    ("premiums", "rules", "--file"),
    ("incentives", "rules", "--file"),
    ("dependants", "check"),
    ("dependants", "recheck"),
    ("provision", "release-check"),
]


@pytest.mark.parametrize("command", OTHER_READERS, ids=[" ".join(c) for c in OTHER_READERS])
def test_every_other_reader_refuses_a_pipe_or_a_device(
    home: Path, command: tuple[str, ...]
) -> None:
    """The ingest commands refused pipes and devices; these still opened them and waited for
    ever on a pipe (or read /dev/zero until memory ran out)."""
    with fifo_nobody_writes(home / "incoming.csv") as pipe:
        for given in (str(pipe), os.devnull):
            result = invoke(*command, given)
            assert result.exit_code == 2, result.output
            assert f"{given} is not a regular file (a pipe, socket or device)" in result.output
