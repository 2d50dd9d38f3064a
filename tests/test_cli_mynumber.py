"""`kokuho residents …` and `kokuho mynumber …` as staff use them: counts, review listing,
exit codes, --json, and never a My Number or its hash on screen or on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from kokuho.cli import main
from kokuho.ids import MyNumber
from kokuho.registry import tables
from kokuho.store import connect
from tests.test_linkage import KOKUHO, KYOKAI, OTHER, TARO, add_member, submit, update_person
from tests.test_residents import resident
from tests.test_residents import write as write_residents

NUMBER = resident(1)["mynumber"]
ELSE = resident(2)["mynumber"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    monkeypatch.setenv("KOKUHO_DATABASE_URL", f"sqlite:///{home / 'kokuho.db'}")
    monkeypatch.delenv("KOKUHO_MYNUMBER_KEY_FILE", raising=False)
    return home


@pytest.fixture
def engine(home: Path) -> Iterator[sa.Engine]:
    """The CLI's own database, with two insurers, as the registry commands would leave it."""
    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    with engine.begin() as connection:
        connection.execute(
            tables.insurers.insert(),
            [
                {"insurer_number": KOKUHO, "name": "高松市国民健康保険",
                 "kind": "kokuho_municipal", "prefecture": "37", "municipality_code": "372013"},
                {"insurer_number": KYOKAI, "name": "協会けんぽ 香川支部", "kind": "kyokai",
                 "prefecture": "37", "municipality_code": None},
            ],
        )  # fmt: skip
    yield engine
    engine.dispose()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def secrets_of(home: Path) -> list[str]:
    """What must never be shown: the numbers and their hashes under the configured key."""
    key = (home / "secrets" / "mynumber.key").read_text().strip().encode()
    return [NUMBER, ELSE] + [MyNumber.parse(n).keyed_hash(key) for n in (NUMBER, ELSE)]


def assert_nothing_secret(home: Path, *results: Result) -> None:
    hidden = secrets_of(home)
    for result in results:
        for secret in hidden:
            assert secret not in result.output
    for path in home.rglob("*"):
        if path.is_file() and path.parent.name != "secrets":
            data = path.read_bytes()
            assert NUMBER.encode() not in data and ELSE.encode() not in data, path


def load(tmp_path: Path) -> Result:
    hanako = {**OTHER, "name_kanji": "丸亀 花子"}
    rows = [resident(1, **TARO), resident(2, **hanako)]
    return run("residents", "load", str(write_residents(tmp_path / "residents.csv", rows)))


def test_load_residents(engine: sa.Engine, home: Path, tmp_path: Path) -> None:
    first = load(tmp_path)
    assert first.exit_code == 0, first.output
    assert "2 rows, 2 added, 0 updated, 0 unchanged" in first.output
    again = run("residents", "load", str(tmp_path / "residents.csv"), "--json")
    assert again.exit_code == 0, again.output
    document = json.loads(again.stdout)
    assert (document["inserted"], document["updated"], document["unchanged"]) == (0, 0, 2)
    assert_nothing_secret(home, first, again)


def test_rejected_residents_file(engine: sa.Engine, home: Path, tmp_path: Path) -> None:
    typo = NUMBER[:11] + str((int(NUMBER[11]) + 1) % 10)
    rows = [resident(1, mynumber=typo), resident(2, sex="3")]
    path = write_residents(tmp_path / "residents.csv", rows)
    result = run("residents", "load", str(path))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: rejected, nothing changed: {path}:2: mynumber: ")
    assert line.endswith("(and 1 more)") and typo not in line
    as_json = run("residents", "load", str(path), "--json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert document["rejected"] and document["count"] == 2
    assert [(e["line"], e["field"]) for e in document["errors"]] == [(2, "mynumber"), (3, "sex")]
    assert typo not in as_json.output


def test_link_review_recheck_and_reject(engine: sa.Engine, home: Path, tmp_path: Path) -> None:
    assert load(tmp_path).exit_code == 0
    add_member(engine, "1001")  # 讃岐 太郎: matches resident 1
    moved = add_member(engine, "1002", {**TARO, "address": "香川県高松市丸の内1-1"})
    add_member(engine, "77", OTHER, insurer=KYOKAI)
    path = submit(tmp_path, [("1001", NUMBER), ("1002", NUMBER)])
    linked = run("mynumber", "link", str(path))
    assert linked.exit_code == 0, linked.output
    assert "2 rows: 1 linked, 1 sent to review" in linked.output
    kyokai = submit(tmp_path, [("77", ELSE)], insurer=KYOKAI, name="kyokai.csv")
    as_json = run("mynumber", "link", str(kyokai), "--json")
    assert json.loads(as_json.stdout)["review"] == 1

    listing = run("mynumber", "review")
    assert listing.exit_code == 0, listing.output
    assert "2 request(s) in review" in listing.output
    assert f"{KOKUHO} 12 1002 01" in listing.output
    assert "個人番号は別の人に紐付け済み (number_linked_to_other_person)" in listing.output
    assert "住所: 住民基本台帳と不一致 (被保険者の記録 香川県高松市丸の内1-1)" in (listing.output)
    assert "漢字氏名: 住民基本台帳と不一致 (被保険者の記録 讃岐 次郎)" in listing.output
    # Another person's data from the resident register is never shown to the insurer.
    assert "丸亀 花子" not in listing.output and "番町四丁目1番10号" not in listing.output

    only = json.loads(run("mynumber", "review", "--insurer", KYOKAI, "--json").stdout)
    assert only["count"] == 1
    (request,) = only["requests"]
    assert request["insurer_number"] == KYOKAI and request["source"] == "kyokai.csv:2"
    assert {d["item"] for d in request["differences"]} == {"name_kanji"}

    # Corrected, 1002's five items match the resident whose number 1001 holds: one human
    # under two insured numbers, so the records are merged (registry merges lists it).
    update_person(engine, moved, address="香川県高松市番町四丁目1番10号")
    rechecked = run("mynumber", "review", "--recheck")
    assert "checked 2: 1 linked (1 person record merged), 1 still in review" in rechecked.output
    merges = json.loads(run("registry", "merges", "--json").stdout)
    assert [m["absorbed_person_id"] for m in merges["merges"]] == [moved]
    shown = run("registry", "show", KOKUHO, "12", "1002", "01")
    assert "名寄せ" in shown.stdout and f"person {moved} → " in shown.stdout
    assert "マイナンバー紐付け 済" in shown.stdout

    rejected = run("mynumber", "review", "--reject", str(request["request_id"]), "--by", "山田")
    assert rejected.exit_code == 0 and "rejected by 山田" in rejected.output
    left = json.loads(run("mynumber", "review", "--json").stdout)
    assert left["count"] == 0
    assert_nothing_secret(home, linked, as_json, listing, rechecked, rejected)


def test_recheck_links_after_a_correction(engine: sa.Engine, home: Path, tmp_path: Path) -> None:
    assert load(tmp_path).exit_code == 0
    person = add_member(engine, "1001", {**TARO, "name_kana": "サヌキ タロ"})
    run("mynumber", "link", str(submit(tmp_path, [("1001", NUMBER)])))
    update_person(engine, person, name_kana="ｻﾇｷ ﾀﾛｳ")
    result = run("mynumber", "review", "--recheck", "--json")
    document = json.loads(result.stdout)
    assert document["recheck"] == {"checked": 1, "linked": 1, "review": 0, "merged": 0}
    assert document["count"] == 0


def test_rejected_submissions_and_good_rows(engine: sa.Engine, home: Path, tmp_path: Path) -> None:
    assert load(tmp_path).exit_code == 0
    add_member(engine, "1001")
    typo = ELSE[:11] + str((int(ELSE[11]) + 1) % 10)
    path = submit(tmp_path, [("1001", NUMBER), ("1002", typo)])
    refused = run("mynumber", "link", str(path))
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: rejected, nothing changed: {path}:3: mynumber: ")
    assert typo not in refused.stderr
    document = json.loads(run("mynumber", "link", str(path), "--json").stdout)
    assert document["rejected"] and document["errors"][0]["field"] == "mynumber"
    good = run("mynumber", "link", str(path), "--load-good-rows")
    assert good.exit_code == 0
    assert "1 linked" in good.stdout and "1 rows rejected" in good.stdout
    assert f"{path}:3: mynumber:" in good.stderr


def test_an_unknown_member_goes_to_review_as_documented(
    engine: sa.Engine, home: Path, tmp_path: Path
) -> None:
    assert load(tmp_path).exit_code == 0
    add_member(engine, "1001")
    path = submit(tmp_path, [("1001", NUMBER), ("9999", ELSE)])
    linked = run("mynumber", "link", str(path))
    assert linked.exit_code == 0 and "1 linked, 1 sent to review" in linked.stdout
    listing = run("mynumber", "review")
    assert "被保険者が見つからない (no_member)" in listing.stdout
    document = json.loads(run("mynumber", "review", "--json").stdout)
    assert [r["reasons"] for r in document["requests"]] == [["no_member"]]


def test_review_help_promises_no_resident_data() -> None:
    text = " ".join(run("mynumber", "review", "--help").stdout.split())
    assert "residents' personal data" not in text
    assert "never the resident register's" in text


def test_review_options(engine: sa.Engine, home: Path) -> None:
    assert run("mynumber", "review", "--reject", "1").exit_code == 1
    assert run("mynumber", "review", "--by", "山田").exit_code == 1
    both = run("mynumber", "review", "--reject", "1", "--by", "山田", "--recheck")
    assert both.exit_code == 1
    missing = run("mynumber", "review", "--reject", "42", "--by", "山田")
    assert missing.exit_code == 1 and "request 42 does not exist" in missing.stderr
    bad = run("mynumber", "review", "--insurer", "370016")
    assert bad.exit_code == 1 and "検証番号" in bad.stderr
    empty = run("mynumber", "review")
    assert empty.exit_code == 0 and "0 request(s) in review" in empty.output


def test_a_file_without_its_header_does_not_print_the_numbers(
    engine: sa.Engine, home: Path, tmp_path: Path
) -> None:
    """A file whose header line was lost: its first row is read as the header, and each of its
    values named as an unknown column. The My Number among them is masked like any other."""
    submissions = tmp_path / "submissions.csv"
    submissions.write_text(f"370015,12,1001,01,{NUMBER}\n", encoding="utf-8")
    residents = tmp_path / "residents.csv"
    row = resident(1, **TARO)
    residents.write_text(",".join(str(v) for v in row.values()) + "\n", encoding="utf-8")
    results = []
    for command, path in (("mynumber", "link"), submissions), (("residents", "load"), residents):
        for extra in ((), ("--json",)):
            result = run(*command, str(path), *extra)
            assert result.exit_code == 1, result.output
            assert "unknown column" in result.output
            results.append(result)
    document = json.loads(results[1].stdout)
    assert "********" + NUMBER[-4:] in [error["field"] for error in document["errors"]]
    assert_nothing_secret(home, *results)


def test_review_is_audited_listing_recheck_and_reject(
    engine: sa.Engine, home: Path, tmp_path: Path
) -> None:
    """The review listing shows members' own items: a read of each member listed, on the
    audit log (read_member, shown, cli:<login>) like `registry show`; --recheck and --reject
    are staff decisions and are recorded too."""
    from tests.clihome import assert_audit_chain_intact, audit_rows

    assert load(tmp_path).exit_code == 0
    add_member(engine, "1001")
    moved = add_member(engine, "1002", {**TARO, "address": "香川県高松市丸の内1-1"})
    other = add_member(engine, "77", OTHER, insurer=KYOKAI)
    run("mynumber", "link", str(submit(tmp_path, [("1001", NUMBER), ("1002", NUMBER)])))
    run("mynumber", "link", str(submit(tmp_path, [("77", ELSE)], insurer=KYOKAI, name="k.csv")))
    columns = ("actor", "action", "person_id", "purpose", "outcome", "detail")

    assert run("mynumber", "review").exit_code == 0
    rows = audit_rows(home, "read_member", columns)
    assert sorted(r.person_id for r in rows) == sorted([moved, other])
    assert {(r.purpose, r.outcome) for r in rows} == {("insurer", "shown")}
    assert all(r.actor.startswith("cli:") for r in rows)
    detail = json.loads(rows[0].detail) if isinstance(rows[0].detail, str) else rows[0].detail
    assert detail == {"list": "mynumber review", "insurer": "*", "requests": 2,
                      "by": "mynumber review"}  # fmt: skip

    only = json.loads(run("mynumber", "review", "--insurer", KYOKAI, "--json").stdout)
    (request,) = only["requests"]
    assert [r.person_id for r in audit_rows(home, "read_member", columns)[2:]] == [other]

    rechecked = run("mynumber", "review", "--recheck")
    assert rechecked.exit_code == 0, rechecked.output
    [recheck] = audit_rows(home, "mynumber_recheck", columns)
    assert (recheck.person_id, recheck.outcome) == (None, "ok")
    assert recheck.actor.startswith("cli:")

    rejected = run("mynumber", "review", "--reject", str(request["request_id"]), "--by", "山田")
    assert rejected.exit_code == 0, rejected.output
    [decision] = audit_rows(home, "mynumber_reject", columns)
    assert (decision.person_id, decision.outcome) == (other, "ok")
    shown = json.loads(decision.detail) if isinstance(decision.detail, str) else decision.detail
    assert shown == {"request": request["request_id"], "by": "山田"}
    assert_audit_chain_intact()


def test_a_rejection_by_a_name_too_long_for_the_audit_record_is_refused_before_it_is_made(
    engine: sa.Engine, home: Path, tmp_path: Path
) -> None:
    assert load(tmp_path).exit_code == 0
    add_member(engine, "1002", {**TARO, "address": "香川県高松市丸の内1-1"})
    assert run("mynumber", "link", str(submit(tmp_path, [("1002", NUMBER)]))).exit_code == 0
    (request,) = json.loads(run("mynumber", "review", "--json").stdout)["requests"]
    rejected = run("mynumber", "review", "--reject", str(request["request_id"]), "--by", "x" * 5000)
    assert rejected.exit_code == 1, rejected.output
    assert (
        "--by: the staff member recording this (1–100 characters without control characters "
        "or bidi controls)"
    ) in rejected.output
    assert "internal error" not in rejected.output
    # Still in review: no decision was made without its audit record.
    assert json.loads(run("mynumber", "review", "--json").stdout)["count"] == 1


@pytest.mark.parametrize("column", ["symbol", "number"])
def test_a_my_number_in_the_insured_number_columns_is_not_kept_in_clear(
    engine: sa.Engine, home: Path, tmp_path: Path, column: str
) -> None:
    """A row whose 記号 or 番号 holds a My Number (an export with a column out of place) named
    no member and went to the review queue as it was: the number stood in clear in
    mynumber_requests and `mynumber review` printed it (text and JSON). It is a row error now,
    masked, and nothing of the row is kept."""
    assert load(tmp_path).exit_code == 0
    add_member(engine, "1001")
    path = tmp_path / "submissions.csv"
    misplaced = {"symbol": "12", "number": "1002", column: ELSE}
    path.write_text(
        "insurer_number,symbol,number,branch,mynumber\n"
        f"{KOKUHO},12,1001,01,{NUMBER}\n"
        f"{KOKUHO},{misplaced['symbol']},{misplaced['number']},01,{ELSE}\n",
        encoding="utf-8",
    )
    refused = run("mynumber", "link", str(path))
    assert refused.exit_code == 1, refused.output
    assert f"{path}:3: {column}: " in refused.stderr and "My Number" in refused.stderr
    good = run("mynumber", "link", str(path), "--load-good-rows")
    assert good.exit_code == 0, good.output
    assert "1 linked" in good.stdout and "1 rows rejected" in good.stdout
    listing = run("mynumber", "review")
    as_json = run("mynumber", "review", "--json")
    assert json.loads(as_json.stdout)["count"] == 0
    assert_nothing_secret(home, refused, good, listing, as_json)


def test_a_member_whose_number_reads_like_a_my_number_is_still_linked(
    engine: sa.Engine, home: Path, tmp_path: Path
) -> None:
    # The refusal above is for numbers that name no member: a 番号 of the register that
    # happens to be twelve digits with a valid check digit is the member's own.
    assert load(tmp_path).exit_code == 0
    card = "123456789018"  # 12 digits whose last one is a valid 検査用数字
    MyNumber.parse(card)
    add_member(engine, card)
    linked = run("mynumber", "link", str(submit(tmp_path, [(card, NUMBER)])))
    assert linked.exit_code == 0 and "1 linked" in linked.stdout, linked.output
