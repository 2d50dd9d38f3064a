"""The change-feed import: atomic per file, idempotent, retroactive events, precise errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.registry import FileRejected, find_overlaps, import_changes, load_insurers, show
from kokuho.registry import tables as t
from tests.feedfiles import (
    KOKUHO,
    KYOKAI,
    TARO,
    acquire,
    change,
    lose,
    write_changes,
    write_csv,
    write_insurers,
)

D = dt.date.fromisoformat


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    return engine


def counts(engine: sa.Engine) -> dict[str, int]:
    tables = [t.persons, t.coverages, t.coverage_terms, t.feed_events, t.feed_files]
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in tables
        }


def taro(number: str = "1001", insurer: str = KOKUHO) -> InsuredId:
    return InsuredId(insurer, "12", number, "01")


def test_acquire_then_show(register: sa.Engine, tmp_path: Path) -> None:
    path = write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01", limit_category="A03")])
    report = import_changes(register, path)
    assert (report.applied, report.acquired, report.persons_created) == (1, 1, 1)
    record = show(register, taro())
    assert record is not None
    assert record.birth_date == D("1970-05-15") and record.sex == 1
    assert not record.mynumber_linked
    [coverage] = record.coverages
    assert coverage.acquired_on == D("2020-04-01") and coverage.lost_on is None
    assert coverage.insurer_kind == "kokuho_municipal"
    assert [(x.copay_percent, x.limit_category) for x in coverage.terms] == [(30, "A03")]


def test_same_file_twice_changes_nothing(register: sa.Engine, tmp_path: Path) -> None:
    path = write_changes(
        tmp_path / "a.csv",
        [acquire("E1", "2020-04-01"), change("E2", "2020-08-01", copay_percent="20")],
    )
    import_changes(register, path)
    before = counts(register)
    again = import_changes(register, path)
    assert (again.applied, again.duplicates) == (0, 2)
    after = counts(register)
    assert after["coverage_terms"] == before["coverage_terms"] == 2
    # Not even an empty row of the file list: a file loaded again leaves no trace.
    assert after == before and after["feed_files"] == 1


def test_bad_row_rejects_the_whole_file(register: sa.Engine, tmp_path: Path) -> None:
    path = write_changes(
        tmp_path / "bad.csv",
        [acquire("E1", "2020-04-01"), acquire("E2", "2020-04-01", number="1002", branch="1")],
    )
    with pytest.raises(FileRejected) as caught:
        import_changes(register, path)
    [error] = caught.value.errors
    assert (error.line, error.field) == (3, "branch")
    assert str(error).startswith(f"{path}:3: branch:") and "two digits" in str(error)
    assert counts(register) == dict.fromkeys(counts(register), 0)


def test_load_good_rows_keeps_good_and_reports_dependants(
    register: sa.Engine, tmp_path: Path
) -> None:
    path = write_changes(
        tmp_path / "mixed.csv",
        [
            acquire("E1", "2020-04-01"),
            acquire("E2", "2020-04-01", number="1002", sex="3"),
            change("E3", "2020-05-01", number="1002", address="高松市番町1-1-1"),
        ],
    )
    report = import_changes(register, path, load_good_rows=True)
    assert report.applied == 1 and report.rejected == 2
    assert [(e.line, e.field) for e in report.errors] == [(3, "sex"), (4, "effective_date")]
    assert show(register, taro("1002")) is None
    assert show(register, taro()) is not None


def test_retroactive_loss_and_correction(register: sa.Engine, tmp_path: Path) -> None:
    import_changes(register, write_changes(tmp_path / "1.csv", [acquire("E1", "2020-04-01")]))
    import_changes(
        register,
        write_changes(tmp_path / "2.csv", [change("E2", "2021-01-01", copay_percent="20")]),
    )
    # Filed in 2021-03, effective months back: the coverage ends on 2020-10-01.
    import_changes(register, write_changes(tmp_path / "3.csv", [lose("E3", "2020-10-01")]))
    [coverage] = show(register, taro()).coverages  # type: ignore[union-attr]
    assert coverage.lost_on == D("2020-10-01") and coverage.loss_reason == "03"
    assert coverage.covers(D("2020-09-30")) and not coverage.covers(D("2020-10-01"))
    # A later correction of the date and reason.
    import_changes(
        register, write_changes(tmp_path / "4.csv", [lose("E4", "2020-11-01", reason="01")])
    )
    [coverage] = show(register, taro()).coverages  # type: ignore[union-attr]
    assert (coverage.lost_on, coverage.loss_reason) == (D("2020-11-01"), "01")


def test_reacquire_same_tuple_opens_new_period_for_same_person(
    register: sa.Engine, tmp_path: Path
) -> None:
    rows = [acquire("E1", "2020-04-01"), lose("E2", "2020-06-01"), acquire("E3", "2021-01-01")]
    import_changes(register, write_changes(tmp_path / "a.csv", rows))
    record = show(register, taro())
    assert record is not None
    assert [(c.acquired_on, c.lost_on) for c in record.coverages] == [
        (D("2020-04-01"), D("2020-06-01")),
        (D("2021-01-01"), None),
    ]
    assert counts(register)["persons"] == 1


@pytest.mark.parametrize(
    ("rows", "line", "column", "words"),
    [
        ([acquire("E1", "2020-04-01"), acquire("E2", "2020-05-01")], 3, "effective_date",
         "still open"),
        ([lose("E1", "2020-04-01")], 2, "number", "no coverage"),
        ([acquire("E1", "2020-04-01"), lose("E2", "2020-03-01")], 3, "effective_date",
         "before the 資格取得日"),
        ([acquire("E1", "2020-04-01"), change("E2", "2019-01-01", copay_percent="20")], 3,
         "effective_date", "no coverage"),
        ([acquire("E1", "2020-04-01", insurer="01130012")], 2, "insurer_number", "not registered"),
        ([acquire("E1", "2020-04-01"), acquire("E1", "2020-04-01", number="9")], 3, "event_id",
         "already used on line 2"),
        ([acquire("E1", "2020-04-01", insurer="01370017")], 2, "insurer_number", "検証番号"),
        ([acquire("E1", "4310501")], 2, "effective_date", "outside 平成"),
        ([acquire("E1", "2020-04-01", birth_date="2021-01-01")], 2, "birth_date", "after"),
        ([lose("E1", "2020-04-01", reason="07")], 2, "loss_reason", "not 01, 02, 03 or 99"),
        ([acquire("E1", "2020-04-01", loss_reason="01")], 2, "loss_reason", "not used"),
        ([change("E1", "2020-04-01")], 2, "event", "at least one"),
    ],
)  # fmt: skip
def test_rejections_name_line_column_and_reason(
    register: sa.Engine, tmp_path: Path, rows: list[dict[str, str]], line: int, column: str,
    words: str,
) -> None:  # fmt: skip
    with pytest.raises(FileRejected) as caught:
        import_changes(register, write_changes(tmp_path / "x.csv", rows))
    error = caught.value.errors[-1]
    assert (error.line, error.field) == (line, column), str(error)
    assert words in error.reason
    assert counts(register)["coverages"] == 0


def test_event_id_reused_with_other_content(register: sa.Engine, tmp_path: Path) -> None:
    import_changes(register, write_changes(tmp_path / "1.csv", [acquire("E1", "2020-04-01")]))
    with pytest.raises(FileRejected) as caught:
        import_changes(
            register, write_changes(tmp_path / "2.csv", [acquire("E1", "2020-05-01", number="7")])
        )
    assert "applied before with other content" in caught.value.errors[0].reason


def test_unknown_column_and_non_utf8_are_file_errors(register: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ["event_id", "evnt"], [{"event_id": "1", "evnt": "x"}])
    with pytest.raises(FileRejected) as caught:
        import_changes(register, path)
    fields = {(e.line, e.field, e.reason) for e in caught.value.errors}
    assert (1, "evnt", "unknown column") in fields
    assert (1, "event", "required column is missing") in fields
    sjis = tmp_path / "sjis.csv"
    sjis.write_bytes("event_id,event\r\n讃岐,acquire\r\n".encode("cp932"))
    with pytest.raises(FileRejected, match="not UTF-8"):
        import_changes(register, sjis)


def test_crash_while_writing_leaves_nothing(
    register: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kokuho.registry import _feed

    original = _feed.write

    def write_then_die(*args: object) -> None:
        original(*args)  # type: ignore[arg-type]
        raise RuntimeError("power cut")

    monkeypatch.setattr(_feed, "write", write_then_die)
    path = write_changes(tmp_path / "a.csv", [acquire("E1", "2020-04-01")])
    with pytest.raises(RuntimeError):
        import_changes(register, path)
    assert counts(register) == dict.fromkeys(counts(register), 0)
    monkeypatch.undo()
    assert import_changes(register, path).applied == 1


def test_full_width_and_wareki_input(register: sa.Engine, tmp_path: Path) -> None:
    row = acquire("E1", "5020401", number="１００１", branch="０１", birth_date="3450515")
    import_changes(register, write_changes(tmp_path / "a.csv", [row]))
    record = show(register, taro())
    assert record is not None and record.birth_date == D("1970-05-15")
    assert record.coverages[0].acquired_on == D("2020-04-01")


def test_overlap_after_retroactive_enrolment(register: sa.Engine, tmp_path: Path) -> None:
    import_changes(register, write_changes(tmp_path / "1.csv", [acquire("K1", "2020-04-01")]))
    # The employer enrols Taro from 2020-06-01, filed in August; his 国保 is still open.
    # The employer writes his name in another notation (異体字, half-width kana).
    employee = dict(TARO, name_kana="ｻﾇｷ ﾀﾛｳ", address="高松市番町4-1-10")
    import_changes(
        register,
        write_changes(
            tmp_path / "2.csv",
            [acquire("S1", "2020-06-01", insurer=KYOKAI, number="77", person=employee)],
        ),
    )
    assert counts(register)["persons"] == 1
    [overlap] = find_overlaps(register)
    assert {overlap.first.insured.insurer, overlap.second.insured.insurer} == {KOKUHO, KYOKAI}
    assert (overlap.overlap_from, overlap.overlap_until, overlap.days) == (
        D("2020-06-01"),
        None,
        None,
    )
    assert find_overlaps(register, insurer=KYOKAI) and not find_overlaps(register, insurer="370023")
    assert find_overlaps(register, on=D("2020-06-01")) and not find_overlaps(
        register, on=D("2020-05-31")
    )
    # The 国保 loss arrives later still, dated 2020-07-15: 44 days were covered twice.
    import_changes(register, write_changes(tmp_path / "3.csv", [lose("K2", "2020-07-15")]))
    [overlap] = find_overlaps(register)
    assert (overlap.overlap_until, overlap.days) == (D("2020-07-14"), 44)
    # Dated back to the enrolment day, there is no overlap left.
    import_changes(register, write_changes(tmp_path / "4.csv", [lose("K3", "2020-06-01")]))
    assert find_overlaps(register) == []


def test_different_person_is_not_joined(register: sa.Engine, tmp_path: Path) -> None:
    other = dict(TARO, birth_date="1970-05-16")
    rows = [acquire("K1", "2020-04-01"), acquire("S1", "2020-06-01", insurer=KYOKAI, person=other)]
    import_changes(register, write_changes(tmp_path / "1.csv", rows[:1]))
    import_changes(register, write_changes(tmp_path / "2.csv", rows[1:]))
    assert counts(register)["persons"] == 2
    assert find_overlaps(register) == []


def test_change_updates_person_and_terms_history(register: sa.Engine, tmp_path: Path) -> None:
    rows = [
        acquire("E1", "2020-04-01", limit_category="A03"),
        change("E2", "2020-09-01", address="高松市丸の内1-8", copay_percent="20"),
        change("E3", "2021-01-01", limit_category="-"),
    ]
    report = import_changes(register, write_changes(tmp_path / "a.csv", rows))
    assert (report.acquired, report.changed) == (1, 2)
    record = show(register, taro())
    assert record is not None and record.address == "高松市丸の内1-8"
    terms = [
        (x.effective_from, x.copay_percent, x.limit_category) for x in record.coverages[0].terms
    ]
    assert terms == [
        (D("2020-04-01"), 30, "A03"),
        (D("2020-09-01"), 20, "A03"),
        (D("2021-01-01"), 20, None),
    ]


def test_insurer_file_errors(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "ins.csv",
        ["insurer_number", "name", "kind"],
        [
            {"insurer_number": "01370014", "name": "協会", "kind": "kyokai"},
            {"insurer_number": "01370014", "name": "協会", "kind": "bank"},
            {"insurer_number": "370015", "name": "国保", "kind": "kokuho_municipal"},
        ],
    )
    with pytest.raises(FileRejected) as caught:
        load_insurers(engine, path)
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (3, "kind"),
        (4, "municipality_code"),
    ]
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(t.insurers)) == 0


def _municipal_insurer(tmp_path: Path, code: str) -> Path:
    """An insurers file of one 市町村国保 with ``code`` as its municipality_code."""
    row = {"insurer_number": "370015", "name": "国保", "kind": "kokuho_municipal",
           "municipality_code": code}  # fmt: skip
    return write_csv(tmp_path / "ins.csv", list(row), [row])


@pytest.mark.parametrize("code", ["٣٧٢٠١٣", "37201²"])
def test_a_municipality_code_is_ascii_digits(engine: sa.Engine, tmp_path: Path, code: str) -> None:
    """str.isdigit says yes to other scripts' digits: such a code was stored and matched no
    municipality's rules, premiums or dashboard scope."""
    path = _municipal_insurer(tmp_path, code)
    with pytest.raises(FileRejected) as caught:
        load_insurers(engine, path)
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "municipality_code")]


def test_a_full_width_municipality_code_is_made_half_width(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """As every identifier of the files (docs/formats.md): it was stored as typed, '３７２０１３',
    and matched no municipality."""
    path = _municipal_insurer(tmp_path, "３７２０１３")
    load_insurers(engine, path)
    with engine.connect() as connection:
        stored = connection.scalar(sa.select(t.insurers.c.municipality_code))
    assert stored == "372013"


def test_move_between_municipalities_keeps_one_person(register: sa.Engine, tmp_path: Path) -> None:
    import_changes(register, write_changes(tmp_path / "1.csv", [acquire("K1", "2020-04-01")]))
    moved = dict(TARO, address="香川県丸亀市大手町二丁目4番21号")
    out = lose("K2", "2020-08-01", reason="99") | {"address": moved["address"]}
    import_changes(register, write_changes(tmp_path / "2.csv", [out]))
    # The new municipality's 国保 (here the same test insurer with another number) enrols him.
    import_changes(
        register,
        write_changes(
            tmp_path / "3.csv", [acquire("K3", "2020-08-01", number="5005", person=moved)]
        ),
    )
    assert counts(register)["persons"] == 1
    record = show(register, taro("5005"))
    assert record is not None and len(record.coverages) == 2
    assert record.address == moved["address"]


@pytest.mark.parametrize("column", ["event_id", "name_kanji", "address", "number", "sex"])
def test_a_nul_byte_rejects_the_file_naming_line_and_column(
    register: sa.Engine, tmp_path: Path, column: str
) -> None:
    rows = [acquire("E1", "2020-04-01"), acquire("E2", "2020-04-01", number="1002")]
    rows[1][column] = rows[1][column][:1] + "\x00" + rows[1][column][1:]
    path = write_changes(tmp_path / "nul.csv", rows)
    for good_rows in (False, True):
        with pytest.raises(FileRejected) as caught:
            import_changes(register, path, load_good_rows=good_rows)
        [error] = caught.value.errors
        assert (error.file, error.line, error.field) == (str(path), 3, column)
        assert "NUL byte (character 2 of the field)" in error.reason
    assert counts(register) == dict.fromkeys(counts(register), 0)


def test_a_nul_byte_in_the_header_rejects_the_file(register: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"event_id,ev\x00ent\r\nE1,acquire\r\n")
    with pytest.raises(FileRejected) as caught:
        import_changes(register, path)
    [error] = caught.value.errors
    assert (error.line, error.field) == (1, "ev\x00ent")


@pytest.mark.parametrize("ending", ["\r\n", "\n"])
def test_non_utf8_names_the_exact_line_far_into_the_file(
    register: sa.Engine, tmp_path: Path, ending: str
) -> None:
    # Well past the decoder's 8 KiB read-ahead, so the chunk's first line is not the answer.
    rows = [acquire(f"E{n}", "2020-04-01", number=str(1000 + n)) for n in range(300)]
    path = write_changes(tmp_path / "feed.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    assert sum(len(line) + 2 for line in lines[:250]) > 3 * 8192
    lines[250] = lines[250].replace("讃岐".encode(), "讃岐".encode("cp932"))
    path.write_bytes(ending.encode().join(lines))
    with pytest.raises(FileRejected) as caught:
        import_changes(register, path)
    [error] = caught.value.errors
    assert error.line == 251
    prefix = lines[250].split("讃岐".encode("cp932"))[0].decode()
    assert f"at character {len(prefix) + 1})" in error.reason and "not UTF-8" in error.reason


def test_non_utf8_in_the_header_after_a_bom(register: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfevent_id,ev\xffent\r\nE1,acquire\r\n")
    with pytest.raises(FileRejected) as caught:
        import_changes(register, path)
    [error] = caught.value.errors
    assert (error.line, error.reason) == (1, "not UTF-8 (byte 0xff at character 12)")


@pytest.mark.parametrize(
    ("column", "bad", "words"),
    [
        ("name_kanji", "国保\x0b太郎", "control character"),
        ("name_kana", "コクホ\u202eタロウ", "control character"),
        ("address", "香川県\x1b[2J高松市", "control character"),
        ("name_kanji", "国" * 101, "longer than 100 characters"),
        ("address", "高" * 201, "longer than 200 characters"),
    ],
)  # fmt: skip
def test_person_fields_are_refused_as_the_resident_register_refuses_them(
    register: sa.Engine, tmp_path: Path, column: str, bad: str, words: str
) -> None:
    """A name or address with a control or bidi character, or longer than its column, rejects
    the file naming line and column, on the acquire and on a later change, as the resident
    register's loader does (it reached the register and broke the dashboard's Excel download)."""
    acquired = acquire("E1", "2020-04-01")
    acquired[column] = bad
    for rows, line in (
        ([acquired], 2),
        ([acquire("E1", "2020-04-01"), change("E2", "2020-05-01", **{column: bad})], 3),
    ):
        with pytest.raises(FileRejected) as caught:
            import_changes(register, write_changes(tmp_path / "x.csv", rows))
        error = caught.value.errors[-1]
        assert (error.line, error.field) == (line, column), str(error)
        assert words in error.reason
        assert counts(register) == dict.fromkeys(counts(register), 0)


def test_a_full_width_space_in_a_name_is_kept(register: sa.Engine, tmp_path: Path) -> None:
    """U+3000 between family and given name is ordinary Japanese, not a control character."""
    row = acquire("E1", "2020-04-01")
    row["name_kanji"] = "国保\u3000太郎"
    import_changes(register, write_changes(tmp_path / "a.csv", [row]))
    with register.connect() as connection:
        assert connection.scalar(sa.select(t.persons.c.name_kanji)) == "国保\u3000太郎"
