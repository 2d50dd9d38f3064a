"""`kokuho boundary …` as staff use it, on the scenario of tests/boundarycases.py: --json
documents, one-line reasons with exit 1, and every person-level step in the service's
hash-chained audit log."""

from __future__ import annotations

import csv
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from kokuho.registry import tables
from kokuho.store import connect
from tests.boundarycases import TOWN, build_town, enrol_employee
from tests.clihome import assert_audit_chain_intact, audit_rows, invoke, ok_json, sqlite_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mynumber_key: bytes) -> Path:
    home, engine = sqlite_home(tmp_path, monkeypatch)
    build_town(engine, tmp_path, mynumber_key)
    enrol_employee(engine, tmp_path)
    engine.dispose()
    return home


def run(*args: str) -> Result:
    return invoke("boundary", *args)


def ok(*args: str) -> dict[str, object]:
    return ok_json("boundary", *args)


def test_the_whole_workflow_from_the_command_line(home: Path, tmp_path: Path) -> None:
    listed = ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01", "--by", "田中")
    [case] = listed["cases"]  # type: ignore[misc]
    assert (case["months"], case["premium_of_months"], case["barred_years"]) == (
        36, 351_100 + 345_400 + 350_800, [2020]
    )  # fmt: skip
    ok("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(tmp_path / "feed"))
    assert (tmp_path / "feed" / "boundary-case-1-loss.csv").exists()
    refused = run("decide", "1", "judge", "--no-fault", "--on", "2023-05-10")
    assert refused.exit_code == 1 and "needs its evidence" in refused.output
    judged = ok("decide", "1", "judge", "--no-fault", "--on", "2023-05-10",
                "--document", "資格決定通知書", "--acquired-on", "2020-04-01",
                "--decided-on", "2023-04-20", "--decided-by", "日本年金機構")  # fmt: skip
    assert judged["status"] == "judged"
    decided = ok("decide", "1", "reduce", "--on", "2023-05-15")
    steps = decided["steps"]  # type: ignore[index]
    assert steps[-1]["detail"]["reduction"] == 1_047_300  # type: ignore[index]
    refunds = ok("refunds", "--municipality", TOWN, "--as-of", "2025-05-16")["refunds"]
    assert {(r["amount"], r["status"]) for r in refunds} == {  # type: ignore[union-attr]
        (351_100, "lapsed"), (345_400, "lapsed"), (350_800, "lapsed")
    }  # fmt: skip
    late = run("decide", "1", "claim", "--on", "2025-05-16")
    assert late.exit_code == 1 and "prescribed after 2025-05-15" in late.output
    written = ok("notices", "--case", "1", "--out", str(tmp_path / "notices"))["written"]
    assert [Path(str(p)).name for p in written] == [  # type: ignore[union-attr]
        "case-1-genkaku.html", "case-1-kanpu.html"
    ]  # fmt: skip
    ok("notices", "--list", "--municipality", TOWN, "--out", str(tmp_path / "list.csv"))
    with (tmp_path / "list.csv").open(encoding="utf-8-sig") as handle:
        [row] = csv.DictReader(handle)
    assert row["減額"] == "1047300"
    missing = run("notices", "--case", "99", "--out", str(tmp_path / "x"))
    assert missing.exit_code == 1 and "no double-payment case 99" in missing.output
    assert not (tmp_path / "x").exists()
    reports = ok("reports", "--municipality", TOWN, "--on", "2023-06-01")
    assert reports["candidates"] == [] and reports["requests"] == []  # P's 国保 is lost
    actions = [tuple(row) for row in audit_rows(home, "boundary", ("action", "person_id"))]
    assert ("boundary_reduction", 1) in actions and ("boundary_notice", 1) in actions
    assert_audit_chain_intact()


def _decided_case(tmp_path: Path) -> None:
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01", "--by", "田中")
    ok("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(tmp_path / "feed"))
    ok("decide", "1", "judge", "--no-fault", "--on", "2023-05-10",
       "--document", "資格決定通知書", "--acquired-on", "2020-04-01",
       "--decided-on", "2023-04-20", "--decided-by", "日本年金機構")  # fmt: skip
    ok("decide", "1", "reduce", "--on", "2023-05-15")


def test_notices_and_the_list_are_written_for_the_owner_only(home: Path, tmp_path: Path) -> None:
    """The notices and the clerk's list name persons (氏名, 住所, 記号番号): written owner-only
    (0600) whatever the umask, and a symbolic link at the target is replaced, not written
    through (another user's link cannot send them elsewhere)."""
    _decided_case(tmp_path)
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("untouched", encoding="utf-8")
    listing = tmp_path / "list.csv"
    listing.symlink_to(elsewhere)
    previous = os.umask(0o022)
    try:
        written = ok("notices", "--case", "1", "--out", str(tmp_path / "notices"))["written"]
        ok("notices", "--list", "--municipality", TOWN, "--out", str(listing))
    finally:
        os.umask(previous)
    assert elsewhere.read_text(encoding="utf-8") == "untouched"
    assert not listing.is_symlink() and "減額" in listing.read_text(encoding="utf-8-sig")
    for path in [listing, *(Path(str(p)) for p in written)]:  # type: ignore[union-attr]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_clerks_list_does_not_carry_a_formula(home: Path, tmp_path: Path) -> None:
    """The names come from the insurers' change feeds; the list is opened in Excel. A name
    that starts like a formula is written as text, as the dashboard's downloads write it."""
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(tables.persons).values(name_kanji='=HYPERLINK("x")'))
    finally:
        engine.dispose()
    _decided_case(tmp_path)
    ok("notices", "--list", "--municipality", TOWN, "--out", str(tmp_path / "list.csv"))
    with (tmp_path / "list.csv").open(encoding="utf-8-sig") as handle:
        [row] = csv.DictReader(handle)
    assert row["氏名"] == '\'=HYPERLINK("x")'
    assert row["減額"] == "1047300"


#: What a judgement that names its evidence gives besides its day.
EVIDENCE = {"--document": "資格決定通知書", "--acquired-on": "2020-04-01",
            "--decided-on": "2023-04-20", "--decided-by": "日本年金機構"}  # fmt: skip


def _judge(**changed: str) -> Result:
    given = {**EVIDENCE, **changed}
    return run("decide", "1", "judge", "--no-fault", "--on", "2023-05-10",
               *(part for item in given.items() for part in item))  # fmt: skip


@pytest.mark.parametrize("spoil", ["\u202e", "\u2067", "\u200f", "\n"], ids=repr)
def test_free_text_with_a_bidi_or_control_character_is_refused_naming_its_field(
    home: Path, tmp_path: Path, spoil: str
) -> None:
    """A reason, the evidence, an addressee or an answer with an RLO would read otherwise on
    the notice, the page or the log than what was recorded: refused, nothing recorded."""
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01", "--by", "田中")
    ok("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(tmp_path / "feed"))
    text = f"本人の{spoil}脱退届の遅延"
    refused = {
        "reason": run("decide", "1", "judge", "--fault", "--on", "2023-05-10", "--reason", text),
        "document": _judge(**{"--document": text}),
        "decided_by": _judge(**{"--decided-by": text}),
        "addressee": run("reports", "--municipality", TOWN, "--on", "2023-06-01",
                         "--request", "1", "--other", "2", "--to", text),
        "answer": run("reports", "--municipality", TOWN, "--on", "2023-06-01",
                      "--answer", "1", "--denied", "--text", text),
    }  # fmt: skip
    refused["reason (close)"] = run("decide", "1", "close", "--on", "2023-05-10", "--reason", text)
    for field, result in refused.items():
        assert result.exit_code == 1, (field, result.output)
        assert result.stderr.startswith(
            f"error: {field.split()[0]}: no control characters or bidi controls"
        ), (field, result.stderr)
    steps = ok("decide", "1", "show")["steps"]
    assert [s["step"] for s in steps] == ["loss"]  # type: ignore[union-attr,index]
    assert ok("reports", "--municipality", TOWN, "--on", "2023-06-01")["requests"] == []
    assert _judge().exit_code == 0  # the same judgement in plain text is taken


def test_a_reduction_dated_before_the_municipality_s_refund_decision_is_refused(
    home: Path, tmp_path: Path
) -> None:
    """① reassesses FY2021–22 at once (within the limit) and the municipality's refund run of
    2023-05-20 refunds what P paid for them; ③ dated 2023-05-15 read the ledgers of that day,
    without those refunds, and refunded the same money again."""
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01", "--by", "田中")
    ok("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(tmp_path / "feed"))
    ok("decide", "1", "judge", "--no-fault", "--on", "2023-05-10",
       "--document", "資格決定通知書", "--acquired-on", "2020-04-01",
       "--decided-on", "2023-04-20", "--decided-by", "日本年金機構")  # fmt: skip
    settled = invoke("premiums", "refunds", "decide", "--municipality", TOWN,
                     "--on", "2023-05-20")  # fmt: skip
    assert settled.exit_code == 0, settled.output
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    query = sa.text("select count(*), coalesce(sum(amount), 0) from premium_refunds")
    with engine.connect() as connection:
        before = tuple(connection.execute(query).one())
    assert before == (2, 345_400 + 350_800)  # FY2021 and FY2022, reduced at ①
    refused = run("decide", "1", "reduce", "--on", "2023-05-15")
    assert refused.exit_code == 1, refused.output
    assert "settled on 2023-05-20" in refused.output and "2023-05-15" in refused.output
    with engine.connect() as connection:
        assert tuple(connection.execute(query).one()) == before
        steps = connection.scalar(sa.text("select count(*) from boundary_case_steps"))
    assert steps == 2  # loss and judgement: no reduction recorded
    # On the day of the refund run or later, ③ reduces FY2020 and refunds that year only.
    decided = ok("decide", "1", "reduce", "--on", "2023-05-20")
    detail = decided["steps"][-1]["detail"]  # type: ignore[index]
    assert detail["refund"] == 351_100  # type: ignore[index]
    with engine.connect() as connection:
        assert tuple(connection.execute(query).one()) == (3, 351_100 + 345_400 + 350_800)
    engine.dispose()


def test_a_dead_run_s_reservation_is_released_and_audited(home: Path) -> None:
    """`boundary release` frees a case a killed run left reserved (its busy_* columns, as the
    kill leaves them); the release is in the audit chain; a second one is refused."""
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01", "--by", "田中")
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    cases = sa.Table("boundary_cases", sa.MetaData(), autoload_with=engine)
    since = dt.datetime(2023, 5, 15, 10, 10, 2, tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(sa.update(cases).values(
            busy_step="reduction", busy_by="減額係", busy_since=since, busy_token="f" * 32
        ))  # fmt: skip
    engine.dispose()
    done = ok("release", "--case", "1", "--reason", "端末の強制終了", "--by", "係長")
    assert done == {
        "released": "case 1", "step": "reduction", "held_by": "減額係",
        "since": "2023-05-15T10:10:02+00:00", "lease_ends": "2023-05-15T10:40:02+00:00",
    }  # fmt: skip
    again = run("release", "--case", "1", "--reason", "再実行")
    assert again.exit_code == 1 and "case 1 is not reserved by any run" in again.output
    both = run("release", "--case", "1", "--request", "1", "--reason", "x")
    assert both.exit_code != 0 and "exactly one of --case and --request" in both.output
    actions = [tuple(row) for row in audit_rows(home, "boundary", ("action", "person_id"))]
    assert actions.count(("boundary_release", 1)) == 1
    assert_audit_chain_intact()
    ok("decide", "1", "loss", "--on", "2023-05-16")  # free: no 30-minute wait


@pytest.mark.parametrize(
    ("given", "hint"),
    [("370015", "370015 is the 保険者番号 of 高松市国民健康保険: its code is 372013"),
     ("999999", "not the 全国地方公共団体コード of a 市町村国保 of the register")],
)  # fmt: skip
@pytest.mark.parametrize(
    "command",
    [["double-payments"], ["double-payments", "--no-scan"], ["refunds"], ["reports"],
     ["notices", "--list", "--out", "{tmp}/list.csv"]],
)  # fmt: skip
def test_a_municipality_the_register_does_not_have_is_refused_not_listed_empty(
    home: Path, tmp_path: Path, command: list[str], given: str, hint: str
) -> None:
    # The 保険者番号 (370015) given for the 団体コード (372013), or a typo, answered "0 cases"
    # (exit 0) and wrote an empty clerk's list: a clerk read that the town has no case.
    args = [a.format(tmp=tmp_path) for a in command]
    result = run(*args, "--municipality", given)
    assert result.exit_code == 1, result.output
    assert f"error: --municipality: {given}" in result.output and hint in result.output
    assert not (tmp_path / "list.csv").exists()


@pytest.mark.parametrize("kind", ["folder", "pipe"])
def test_a_folder_or_pipe_named_as_a_notice_is_refused_before_any_read(
    home: Path, tmp_path: Path, kind: str
) -> None:
    # notices --out DIR writes DIR/case-N-genkaku.html: a folder of that name ended in an
    # internal error (IsADirectoryError) after the case had been read and audited; a named
    # pipe of that name was replaced by the notice.
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01")
    ok("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(tmp_path / "feed"))
    ok("decide", "1", "judge", "--no-fault", "--on", "2023-05-10",
       "--document", "資格決定通知書", "--acquired-on", "2020-04-01",
       "--decided-on", "2023-04-20", "--decided-by", "日本年金機構")  # fmt: skip
    ok("decide", "1", "reduce", "--on", "2023-05-15")
    out = tmp_path / "notices"
    out.mkdir()
    target = out / "case-1-genkaku.html"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    before = len(audit_rows(home, "boundary", ("action",)))
    result = run("notices", "--case", "1", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--out'" in result.output and "case-1-genkaku.html" in result.output
    assert target.is_dir() if kind == "folder" else target.is_fifo()
    assert len(audit_rows(home, "boundary", ("action",))) == before  # nothing was read


@pytest.mark.parametrize("kind", ["folder", "link", "pipe"])
def test_a_loss_feed_file_that_is_a_folder_link_or_pipe_is_refused_before_the_step(
    home: Path, tmp_path: Path, kind: str
) -> None:
    # ① writes DIR/boundary-case-N-loss.csv with write_text: a folder of that name ended in
    # 'internal error (IsADirectoryError)', a symbolic link was written through (its target
    # overwritten with the feed rows) and a named pipe would block the run for good.
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01")
    feed = tmp_path / "feed"
    feed.mkdir()
    target, elsewhere = feed / "boundary-case-1-loss.csv", tmp_path / "precious.txt"
    elsewhere.write_text("kept\n")
    if kind == "folder":
        target.mkdir()
    elif kind == "link":
        target.symlink_to(elsewhere)
    else:
        os.mkfifo(target)
    before = len(audit_rows(home, "boundary_loss", ("action",)))
    result = run("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(feed))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: case 1: the loss's feed file") and str(target) in (
        result.output
    )
    assert elsewhere.read_text() == "kept\n"
    assert len(audit_rows(home, "boundary_loss", ("action",))) == before
    assert ok("decide", "1", "show")["status"] == "open"


def test_a_step_on_a_day_to_come_is_refused(home: Path, tmp_path: Path) -> None:
    """A step records what was done that day: ``decide 1 loss --on 2033-05-01`` (2023 mistyped)
    was recorded, and a ③ or a claim dated ahead settles or pays the refunds of a day that has
    not come. A usage error naming ``--on``; nothing is recorded."""
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01")
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    for step in ("loss", "reduce", "claim"):
        ahead = run("decide", "1", step, "--on", tomorrow, "--feed-dir", str(tmp_path / "feed"))
        assert ahead.exit_code == 2, ahead.output
        assert "--on" in ahead.output and "after today" in ahead.output
    assert ok("decide", "1", "show")["steps"] == []
    assert not (tmp_path / "feed").exists()
    shown = ok("decide", "1", "show", "--on", tomorrow)  # a view may look ahead
    assert shown["status"] == "open"


def test_a_scan_request_or_answer_on_a_day_to_come_is_refused(home: Path) -> None:
    """A scan opens its cases as found that day, a 報告徴収 request or answer is recorded on
    its day: dated ahead, they were recorded. A usage error naming --on; the lists may look
    ahead (--no-scan, the 報告徴収 list)."""
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    scan = run("double-payments", "--municipality", TOWN, "--on", tomorrow)
    assert scan.exit_code == 2 and "after today" in scan.output, scan.output
    listed = ok("double-payments", "--municipality", TOWN, "--on", tomorrow, "--no-scan")
    assert listed["cases"] == []
    asked = run("reports", "--municipality", TOWN, "--on", tomorrow, "--request", "1",
                "--other", "2", "--to", "株式会社 讃岐")  # fmt: skip
    assert asked.exit_code == 2 and "after today" in asked.output, asked.output
    answered = run("reports", "--municipality", TOWN, "--on", tomorrow, "--answer", "1",
                   "--denied", "--text", "x")  # fmt: skip
    assert answered.exit_code == 2 and "after today" in answered.output, answered.output
    assert ok("reports", "--municipality", TOWN, "--on", tomorrow)["requests"] == []


def test_refunds_as_of_a_day_before_the_reduction_list_none(home: Path, tmp_path: Path) -> None:
    """The refunds of a ③ decided on 2023-05-15 were listed as open on any earlier --as-of."""
    ok("double-payments", "--municipality", TOWN, "--on", "2023-05-01")
    ok("decide", "1", "loss", "--on", "2023-05-01", "--feed-dir", str(tmp_path / "feed"))
    ok("decide", "1", "judge", "--no-fault", "--on", "2023-05-10",
       "--document", "資格決定通知書", "--acquired-on", "2020-04-01",
       "--decided-on", "2023-04-20", "--decided-by", "日本年金機構")  # fmt: skip
    ok("decide", "1", "reduce", "--on", "2023-05-15")
    assert ok("refunds", "--municipality", TOWN, "--as-of", "2023-05-14")["refunds"] == []
    refunds = ok("refunds", "--municipality", TOWN, "--as-of", "2023-05-15")["refunds"]
    assert {(r["amount"], r["status"]) for r in refunds} == {  # type: ignore[union-attr]
        (351_100, "open"), (345_400, "open"), (350_800, "open")
    }  # fmt: skip


def test_the_views_on_a_day_show_what_was_known_that_day(home: Path, tmp_path: Path) -> None:
    """``double-payments --no-scan --on DAY`` and ``decide N show --on DAY`` are as of DAY: a
    case opened later is not there, and a step decided later is not (the case opened on
    2023-05-01, ① that day, ② on 05-10, ③ on 05-15). Both showed every case and step."""
    _decided_case(tmp_path)

    def listed(day: str) -> list[dict[str, object]]:
        document = ok("double-payments", "--municipality", TOWN, "--no-scan", "--on", day)
        return document["cases"]  # type: ignore[return-value]

    assert listed("2023-04-30") == []
    [case] = listed("2023-05-12")
    assert case["status"] == "judged"
    [case] = listed("2023-05-15")
    assert case["status"] == "decided"
    shown = ok("decide", "1", "show", "--on", "2023-05-12")
    assert shown["status"] == "judged"
    assert [s["step"] for s in shown["steps"]] == ["loss", "judgement"]  # type: ignore[union-attr,index]
    shown = ok("decide", "1", "show", "--on", "2023-05-01")
    assert [s["step"] for s in shown["steps"]] == ["loss"]  # type: ignore[union-attr,index]
    early = run("decide", "1", "show", "--on", "2023-04-30")
    assert early.exit_code == 1 and "opened on 2023-05-01, after 2023-04-30" in early.output
    everything = ok("decide", "1", "show")
    assert [s["step"] for s in everything["steps"]] == ["loss", "judgement", "reduction"]  # type: ignore[union-attr,index]
