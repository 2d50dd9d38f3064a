"""介護給付費明細書 files: the hand-written fixture read value by value, the writer giving its
bytes back, round trips of generated files, and bad records named by file:line:field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokuho.care import (
    CARE_LEVELS,
    CareClaim,
    CareClaimFile,
    CareDetail,
    CareFileRejected,
    CareTotal,
    care_file_bytes,
    read_care_bytes,
    read_care_file,
    read_care_files,
    write_care_file,
)

FIXTURE = Path(__file__).parent / "fixtures" / "care" / "claims_202005.csv"
D = dt.date


def test_the_fixture_reads_as_written_by_hand() -> None:
    file = read_care_file(FIXTURE)
    assert (file.provider, file.prefecture, file.billing_month) == (
        "3712345678",
        "37",
        D(2020, 5, 1),
    )
    first, second = file.claims
    assert first == CareClaim(
        service_month=D(2020, 4, 1), provider="3712345678", insurer="372011",
        insured="0000123456", name_kana="ｶｶﾞﾜ ﾀﾛｳ", birth_date=D(1940, 1, 5), sex=1,
        care_level="22", valid_from=D(2020, 1, 1), valid_to=D(2020, 12, 31), benefit_rate=90,
        details=(
            CareDetail("11", "1121", 250, 8, 2000, ""),
            CareDetail("15", "1511", 700, 4, 2800, "入浴あり"),
        ),
        totals=(
            CareTotal("11", 2, 2000, Decimal("10.70"), 19260, 2140),
            CareTotal("15", 4, 2800, Decimal("10.70"), 26964, 2996),
        ),
    )  # fmt: skip
    assert CARE_LEVELS[first.care_level] == "要介護2"
    assert CARE_LEVELS[second.care_level] == "要支援2"
    assert second.name_kana == "ヤマダ　ハナコ"
    assert second.totals == (CareTotal("17", 0, 1000, Decimal("10.00"), 8000, 2000),)


def test_writing_what_was_read_gives_the_same_bytes(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    assert care_file_bytes(read_care_file(FIXTURE)) == data
    out = tmp_path / "out.csv"
    assert write_care_file(out, read_care_file(FIXTURE)) == len(data)
    assert out.read_bytes() == data
    assert data.count(b"\r\n") == 10 and b"\n" not in data.replace(b"\r\n", b"")


# -- round trips of generated files ----------------------------------------------------------

_KANA = st.text(
    alphabet="アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨ"
    "ラリルレロワヲンー　ｱｲｳｴｵｶﾞﾊﾟ ",
    min_size=1,
    max_size=40,
).filter(lambda t: t.strip() != "")


@st.composite
def _claim(draw: st.DrawFn, provider: str, month: dt.date) -> CareClaim:
    details = []
    for _ in range(draw(st.integers(1, 4))):
        units, count = draw(st.integers(0, 9999)), draw(st.integers(0, 31))
        note = draw(st.sampled_from(["", "入浴", "夜間"]))
        kind = draw(st.sampled_from(["11", "13", "15", "17"]))
        item = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
        details.append(CareDetail(kind, item, units, count, units * count, note))
    totals = []
    for kind in dict.fromkeys(d.service_type for d in details):
        units = sum(d.service_units for d in details if d.service_type == kind)
        price = Decimal(draw(st.integers(1000, 1140))) / 100
        cost = int(units * price)
        totals.append(CareTotal(kind, draw(st.integers(0, 31)), units, price, cost * 9 // 10,
                                cost - cost * 9 // 10))  # fmt: skip
    start = draw(st.dates(D(2015, 1, 1), month))
    return CareClaim(
        service_month=month,
        provider=provider,
        insurer=draw(st.from_regex(r"[0-9]{6}", fullmatch=True)),
        insured=draw(st.from_regex(r"[0-9]{10}", fullmatch=True)),
        name_kana=draw(_KANA),
        birth_date=draw(st.dates(D(1900, 1, 1), D(1960, 12, 31))),
        sex=draw(st.sampled_from([1, 2])),
        care_level=draw(st.sampled_from(sorted(CARE_LEVELS))),
        valid_from=start,
        valid_to=draw(st.dates(month, D(2030, 12, 31))),
        benefit_rate=draw(st.sampled_from([70, 80, 90])),
        details=tuple(details),
        totals=tuple(totals),
    )


@st.composite
def _files(draw: st.DrawFn) -> CareClaimFile:
    provider = draw(st.from_regex(r"[0-9]{10}", fullmatch=True))
    month = D(draw(st.integers(2018, 2026)), draw(st.integers(1, 12)), 1)
    claims = draw(st.lists(_claim(provider, month), max_size=4))
    return CareClaimFile(provider, draw(st.from_regex(r"[0-9]{2}", fullmatch=True)),
                         D(2027, 1, 1), tuple(claims), draw(st.integers(0, 99)))  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_files())
def test_write_read_write_is_byte_identical(file: CareClaimFile) -> None:
    data = care_file_bytes(file)
    back = read_care_bytes(data, "generated.csv")
    assert back == file
    assert care_file_bytes(back) == data


def test_the_writer_refuses_what_the_layout_cannot_hold() -> None:
    good = read_care_file(FIXTURE)
    claim = good.claims[0]
    with pytest.raises(ValueError, match="被保険者氏名"):
        care_file_bytes(
            CareClaimFile(
                good.provider, "37", good.billing_month, (_replace(claim, name_kana="香川"),)
            )
        )
    with pytest.raises(ValueError, match="単位数単価"):
        total = CareTotal("11", 2, 2000, Decimal("10.705"), 19260, 2140)
        care_file_bytes(
            CareClaimFile(
                good.provider,
                "37",
                good.billing_month,
                (_replace(claim, totals=(total, claim.totals[1])),),
            )
        )
    # A claim the reader would refuse: サービス単位数 is not 単位数 × 回数.
    wrong = CareDetail("11", "1121", 250, 8, 2001, "")
    with pytest.raises(CareFileRejected, match=r"<written>:3: \(13\) サービス単位数"):
        care_file_bytes(
            CareClaimFile(
                good.provider,
                "37",
                good.billing_month,
                (_replace(claim, details=(wrong, claim.details[1])),),
            )
        )


def _replace(claim: CareClaim, **changes: object) -> CareClaim:
    import dataclasses

    return dataclasses.replace(claim, **changes)  # type: ignore[arg-type]


# -- bad records --------------------------------------------------------------------------

LINES = FIXTURE.read_bytes().decode("cp932").split("\r\n")[:-1]


def _with(line: int, field: int, value: str) -> list[str]:
    lines = list(LINES)
    parts = lines[line - 1].split(",")
    parts[field - 1] = value
    lines[line - 1] = ",".join(parts)
    return lines


BAD = [
    # (lines, line, field label, words of the reason)
    (_with(1, 1, "9"), 1, "(1) レコード種別", "コントロールレコード"),
    (_with(1, 4, "7"), 1, "(4) レコード件数", "the file has 8 data records"),
    (_with(1, 8, "202013"), 1, "(8) 処理対象年月", "no such month"),
    (_with(2, 2, "3"), 2, "(2) レコード番号", "the line is 2"),
    (_with(2, 3, "713"), 2, "(3) 交換情報識別番号", "4 digits"),
    (_with(2, 4, "05"), 2, "(4) レコード種別コード", "expected 01"),
    (_with(2, 6, "3799999999"), 2, "(6) 事業所番号", "コントロールレコード"),
    (_with(2, 7, "37201"), 2, "(7) 証記載保険者番号", "6 digits"),
    (_with(2, 8, "000012345X"), 2, "(8) 被保険者番号", "10 digits"),
    (_with(2, 9, "香川太郎"), 2, "(9) 被保険者氏名(カナ)", "katakana"),
    (_with(2, 10, "19400230"), 2, "(10) 生年月日", "no such date"),
    (_with(2, 11, "3"), 2, "(11) 性別コード", "1 (男) or 2 (女)"),
    (_with(2, 12, "26"), 2, "(12) 要介護状態区分コード", "not a 要介護状態区分コード"),
    (_with(2, 14, "20191231"), 2, "(14) 認定有効期間 終了年月日", "before the 開始年月日"),
    (_with(2, 13, "20200501"), 2, "(5) サービス提供年月", "outside the 認定有効期間"),
    (_with(2, 15, "120"), 2, "(15) 保険給付率", "1–100"),
    (_with(3, 8, "0000123457"), 3, "(8) 被保険者番号", "differs from the 基本情報 on line 2"),
    (_with(3, 9, "1A"), 3, "(9) サービス種類コード", "2 digits"),
    (_with(3, 11, "0250"), 3, "(11) 単位数", "leading zeros"),
    (_with(3, 13, "2100"), 3, "(13) サービス単位数", "単位数 × 日数・回数 is 2000"),
    (_with(4, 14, "a,b"), 4, "record", "has 15 fields"),
    (_with(5, 11, "2001"), 5, "(11) 給付単位数", "add up to 2000"),
    (_with(5, 12, "10.7"), 5, "(12) 単位数単価", "two decimals"),
    (_with(5, 12, "１０.７０"), 5, "(12) 単位数単価", "two decimals"),  # \d took full-width
    (_with(6, 9, "11"), 6, "(9) サービス種類コード", "a second 集計情報"),
    (_with(9, 13, ""), 9, "(13) 保険請求額", "is required"),
    (_with(10, 1, "4"), 10, "(1) レコード種別", "expected 1, 2 or 3"),
    ([*LINES[:2], *LINES[4:]], 3, "(2) レコード番号", "is 5, the line is 3"),  # a lost record
]


@pytest.mark.parametrize(("lines", "line", "where", "words"), BAD)
def test_a_bad_record_is_named_by_file_line_and_field(
    tmp_path: Path, lines: list[str], line: int, where: str, words: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes("".join(f"{text}\r\n" for text in lines).encode("cp932"))
    with pytest.raises(CareFileRejected) as rejected:
        read_care_file(path)
    found = [(p.file, p.line, p.field) for p in rejected.value.problems]
    assert (str(path), line, where) in found, rejected.value.problems
    hit = next(p for p in rejected.value.problems if (p.line, p.field) == (line, where))
    assert words in hit.reason
    assert str(hit).startswith(f"{path}:{line}: ")


def test_structure_problems(tmp_path: Path) -> None:
    def problems(lines: list[str]) -> list[tuple[int, str, str]]:
        path = tmp_path / "s.csv"
        path.write_bytes("".join(f"{t}\r\n" for t in lines).encode("cp932"))
        with pytest.raises(CareFileRejected) as rejected:
            read_care_file(path)
        return [(p.line, p.field, p.reason) for p in rejected.value.problems]

    renumber = lambda rows: [",".join([r.split(",")[0], str(n), *r.split(",")[2:]])  # noqa: E731
                             for n, r in enumerate(rows, 1)]  # fmt: skip
    # A 明細情報 before any 基本情報 (line 2), a claim without 集計情報 for a サービス種類.
    no_basic = renumber([LINES[0].replace(",8,", ",1,", 1), LINES[2], "3,0"])
    assert problems(no_basic)[0][:2] == (2, "(4) レコード種別コード")
    no_total = renumber([LINES[0].replace(",8,", ",4,", 1), *LINES[1:5], "3,0"])
    assert (2, "record", "サービス種類 15 has 明細情報 but no 集計情報") in problems(no_total)
    no_detail = renumber([LINES[0].replace(",8,", ",1,", 1), LINES[1], "3,0"])
    assert (2, "record", "a 基本情報 without 明細情報") in problems(no_detail)
    assert problems(LINES[:-1])[-1][1:] == ("file", "the file ends without its エンドレコード (3)")
    assert (11, "record", "a record after the エンドレコード (line 10)") in problems(
        [*LINES, "3,11"]
    )


def test_bytes_problems(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    cases = {
        "lf.csv": (data.replace(b"\r\n", b"\n", 3), 1, "lone CR or LF"),
        "tail.csv": (data[:-2], 10, "does not end with CR LF"),
        "sjis.csv": (data.replace("ﾀﾛｳ".encode("cp932"), b"\x82\xff\xff"), 2, "not cp932"),
        "empty.csv": (b"", 0, "empty"),
    }
    paths = []
    for name, (body, _, _) in cases.items():
        (tmp_path / name).write_bytes(body)
        paths.append(tmp_path / name)
    with pytest.raises(CareFileRejected) as rejected:
        read_care_files(paths)  # every file's problems at once
    got = {Path(p.file).name: (p.line, p.reason) for p in rejected.value.problems}
    for name, (_, line, words) in cases.items():
        assert got[name][0] == line and words in got[name][1], (name, got[name])


def _utf8_readable_as_cp932(data: bytes) -> bytes:
    """The file in UTF-8, its text chosen so that the UTF-8 bytes read as cp932 too."""
    text = re.sub(r"[^\x00-\x7f]+", "ゴウダ", data.decode("cp932"))
    read_care_bytes(text.encode("cp932"), "care/x.csv")  # a good file in cp932
    assert text.encode("utf-8").decode("cp932") != text
    return text.encode("utf-8")


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda data: data.decode("cp932").encode("utf-8"), "is UTF-8, not cp932"),
        (_utf8_readable_as_cp932, "is UTF-8, not cp932"),
        (lambda data: b"\xef\xbb\xbf" + data, "begins with a UTF-8 byte order mark"),
    ],
    ids=["utf-8", "utf-8 that reads as cp932", "cp932 with a BOM"],
)
def test_a_file_in_another_encoding_is_refused_with_one_clear_reason(
    spoil: Callable[[bytes], bytes], reason: str
) -> None:
    """A sender's tool that wrote UTF-8 or put a byte order mark first: one problem saying so
    for the whole file, not 'not cp932 (byte 1 of the record)' or a カナ 氏名 quoted garbled
    ('繧ｴ繧ｦ繝…') as no katakana."""
    with pytest.raises(CareFileRejected) as rejected:
        read_care_bytes(spoil(FIXTURE.read_bytes()), "care/x.csv")
    (problem,) = rejected.value.problems
    assert str(problem).startswith(f"care/x.csv: file: {reason}"), str(problem)


def test_a_value_of_thousands_of_characters_is_quoted_cut(tmp_path: Path) -> None:
    """A field of 5,000 digits was quoted whole in its problem, one line of 5,000 characters."""
    data = FIXTURE.read_bytes().decode("cp932").split("\r\n")
    fields = data[2].split(",")
    fields[10] = "9" * 5000  # (11) 単位数 of the first 明細情報
    data[2] = ",".join(fields)
    with pytest.raises(CareFileRejected) as rejected:
        read_care_bytes("\r\n".join(data).encode("cp932"), "care/x.csv")
    reasons = [p.reason for p in rejected.value.problems if p.line == 3]
    assert f"got '{'9' * 40}'… (5,000 characters)" in reasons[0], reasons
    assert all(len(reason) < 200 for reason in reasons), reasons
