"""レセ電 files: the hand-written fixtures (tests/fixtures/claims, written field by field from the
記録条件仕様) read to the expected values; every bad record named by file, line and field; the
writer read back; and the lake's fast path held to the precise reader's verdict."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokuho.claims import (
    Claim,
    ClaimFile,
    ClaimFileRejected,
    ClaimKind,
    Diagnosis,
    Drug,
    Procedure,
    PublicFund,
    read_claim_file,
    read_claim_files,
    write_claim_file,
)
from kokuho.claims._rece_fast import NotClean, fast_columns
from kokuho.claims._rece_read import claim_file_problems, parse_claim_bytes
from kokuho.claims._rece_write import claim_file_bytes
from kokuho.ids import HEALTH_INSURANCE_LAW_CODES, luhn_2_1, with_check_digit

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
D = dt.date


def day_counts(**marks: int) -> tuple[int, ...]:
    """31 day counts from d1=…, d15=… keywords."""
    counts = [0] * 31
    for key, value in marks.items():
        counts[int(key[1:]) - 1] = value
    return tuple(counts)


def without_lines(f: ClaimFile) -> ClaimFile:
    return dataclasses.replace(f, claims=tuple(dataclasses.replace(c, line=0) for c in f.claims))


# -- the fixtures, field by field ----------------------------------------------------------


def test_medical_outpatient_file() -> None:
    f = read_claim_file(FIXTURES / "medical_outpatient.UKE")
    assert (f.kind, f.reviewer, f.prefecture, f.fee_table) == (ClaimKind.MEDICAL, "2", "37", "1")
    assert (f.institution_code, f.institution_name) == ("1234561", "合成内科クリニック")
    assert (f.billing_month, f.volume, f.phone) == (D(2024, 5, 1), "00", "087-000-0000")
    assert [c.line for c in f.claims] == [2, 13]
    taro, hanako = f.claims
    assert taro == Claim(
        receipt_number=1,
        receipt_type="1112",
        service_month=D(2024, 4, 1),
        name="香川　太郎",
        sex=1,
        birth_date=D(1950, 3, 2),  # 昭和25年3月2日
        insurer_number="370015",
        symbol="香川",
        number="1234",
        branch="01",  # from SN (負担者種別 1)
        benefit_ratio="70",
        days=2,
        total_points=463,
        copayment=1390,
        kana_name="ｶｶﾞﾜ ﾀﾛｳ",
        diagnoses=(
            Diagnosis("9900002", D(2020, 1, 5), "1", primary=True),
            Diagnosis("9900010", D(2018, 6, 15), "1"),  # 平成30年
            Diagnosis("0000999", D(2024, 4, 1), "2", "00010002", "咽頭炎", False, "四月に治ゆ"),
        ),
        procedures=(
            Procedure("11", "1", "111000110", None, 288, 1, day_counts(d1=1)),
            Procedure("12", "1", "112007410", Decimal(1), 73, 1, day_counts(d15=1)),
        ),
        drugs=(
            Drug("699000102", Decimal(2), "21", "1", None, 14, day_counts(d1=14)),
            Drug("699000123", Decimal(1), "21", "1", 102, 14, day_counts(d1=14)),
        ),
        line=2,
    )
    assert [d.quantity for d in taro.drugs] == [28, 14]  # 使用量 × Σ算定日
    assert (hanako.receipt_type, hanako.sex, hanako.birth_date) == ("1122", 2, D(1996, 7, 10))
    assert (hanako.symbol, hanako.number, hanako.branch, hanako.copayment) == ("", "5678", "", None)
    assert hanako.public_funds == (PublicFund("54370015", "1234566", 3, 500),)
    assert hanako.procedures[0].days == day_counts(d2=1, d9=1, d16=1)
    assert [(d.code, d.section, d.quantity) for d in hanako.drugs] == [
        ("699000148", "21", 28),
        ("699000173", "23", 7),
    ]


def test_medical_inpatient_file() -> None:
    f = read_claim_file(FIXTURES / "medical_inpatient.UKE")
    (claim,) = f.claims
    assert (claim.receipt_type, claim.admission_date) == ("1111", D(2024, 3, 25))
    assert (claim.insurer_number, claim.symbol, claim.number) == ("370023", "高松", "777")
    assert (claim.days, claim.total_points, claim.copayment) == (10, 25000, 57600)
    assert claim.procedures == (
        Procedure("90", "1", "190000110", None, 1500, 10, (1,) * 10 + (0,) * 21),
    )
    assert claim.drugs == (Drug("699000119", Decimal(1), "33", "1", 147, 1, day_counts(d3=1)),)
    assert [d.code for d in claim.diagnoses] == ["9900037", "9900011"]


def test_pharmacy_file_pairs_each_drug_with_its_dispensing() -> None:
    f = read_claim_file(FIXTURES / "pharmacy.UKE")
    assert (f.kind, f.fee_table, f.institution_code) == (ClaimKind.PHARMACY, "4", "4000013")
    (claim,) = f.claims
    assert (claim.prescriber, claim.prescriber_prefecture) == ("1234561", "37")
    assert (claim.days, claim.total_points, claim.copayment, claim.branch) == (1, 650, 1950, "01")
    rows = [
        (d.rx_number, d.dosage_form, d.code, d.amount, d.dispensed_units, d.prescribed_on,
         d.dispensed_on, d.quantity)
        for d in claim.drugs
    ]  # fmt: skip
    assert rows == [
        # 処方月日 "0329" (MMDD: the month before), 調剤月日 "01" (DD of the 調剤年月)
        (1, "1", "699000102", 2, 28, D(2024, 3, 29), D(2024, 4, 1), 56),
        (1, "1", "699000123", 1, 28, D(2024, 3, 29), D(2024, 4, 1), 28),
        (2, "5", "699000174", 7, 1, D(2024, 4, 1), D(2024, 4, 1), 7),  # a 71-field CZ
        # two CZ in a row, then the IY: the drug was dispensed twice
        (3, "3", "699000158", Decimal("1.0"), 10, D(2024, 4, 1), D(2024, 4, 1), 10),
        (3, "3", "699000158", Decimal("1.0"), 5, D(2024, 4, 1), D(2024, 4, 15), 5),
    ]


def test_two_volume_set_is_joined_and_checked() -> None:
    volumes = [FIXTURES / "set_vol00.UKE", FIXTURES / "set_vol01.UKE"]
    first = read_claim_file(volumes[0])  # a continuing volume reads on its own
    assert (first.volume, len(first.claims)) == ("00", 1)
    (joined,) = read_claim_files(list(reversed(volumes)))
    assert joined.volume == "00"
    assert [(c.receipt_number, c.service_month) for c in joined.claims] == [
        (1, D(2024, 4, 1)),
        (2, D(2024, 3, 1)),  # 月遅れ請求
    ]
    with pytest.raises(ClaimFileRejected) as missing:
        read_claim_files(volumes[:1])
    (problem,) = missing.value.problems
    assert (problem.file, problem.field) == (str(volumes[0]), 4)
    assert "a volume is missing" in problem.reason


def test_lf_line_ends_and_a_dos_eof_mark_are_read() -> None:
    data = (FIXTURES / "medical_inpatient.UKE").read_bytes()
    crlf = parse_claim_bytes(data, "a")
    assert parse_claim_bytes(data.replace(b"\r\n", b"\n"), "b") == crlf
    assert parse_claim_bytes(data + b"\x1a", "c") == crlf
    assert fast_columns(data.replace(b"\r\n", b"\n"), "0" * 64).claims == 1


# -- bad records ---------------------------------------------------------------------------


def _lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().split(b"\r\n")[:-1]


def _edit(name: str, line: int, old: bytes, new: bytes) -> bytes:
    lines = _lines(name)
    assert old in lines[line - 1], (line, lines[line - 1])
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return b"\r\n".join(lines) + b"\r\n"


def _twice(name: str, line: int) -> bytes:
    lines = _lines(name)
    lines.insert(line, lines[line - 1])
    return b"\r\n".join(lines) + b"\r\n"


def _without(name: str, line: int) -> bytes:
    lines = _lines(name)
    del lines[line - 1]
    return b"\r\n".join(lines) + b"\r\n"


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


OUT = "medical_outpatient.UKE"
TARO = "太郎".encode("cp932")
PH = "pharmacy.UKE"
BAD = {
    "unknown record type": (_edit(OUT, 12, b"CO,", b"ZZ,"), 12, 1, "レコード識別情報", "'ZZ'"),
    "era 9": (_edit(OUT, 2, b",3250302,", b",9250302,"), 2, 7, "生年月日", "年号区分 9"),
    "month 13": (_edit(OUT, 2, b",50604,", b",50613,"), 2, 4, "診療年月", "month 13"),
    "no such day": (_edit(OUT, 5, b",5020105,", b",5020230,"), 5, 3, "診療開始日", "no such day"),
    "non-numeric points": (_edit(OUT, 3, b",463,", b",46X,"), 3, 6, "合計点数", "'46X'"),
    "field count": (_edit(OUT, 6, b",,,,", b",,,"), 6, 0, "SY record", "has 7 fields; SY has 8"),
    "GO count": (_edit(OUT, 20, b"GO,2,", b"GO,3,"), 20, 2, "総件数", "holds 2 claims"),
    "GO points": (_edit(OUT, 20, b",963,", b",964,"), 20, 3, "総合計点数", "add up to 963"),
    "GO volume": (_edit(OUT, 20, b",99", b",05"), 20, 4, "マルチボリューム識別情報", "'05'"),
    "cp932": (_edit(OUT, 2, TARO, b"\x81\x20"), 2, 5, "氏名", "bytes 81 are not cp932"),
    "day 31 of April": (
        _edit(OUT, 8, b",1" + b"," * 30, b",1" + b"," * 30 + b"1"),
        8, 44, "31日の情報", "2024-04 does not have",
    ),
    "second HO": (_twice(OUT, 3), 4, 1, "レコード識別情報", "second HO"),
    "receipt twice": (_edit(OUT, 13, b"RE,2,", b"RE,1,"), 13, 2, "レセプト番号", "line 2"),
    "body before RE": (_without(OUT, 2), 2, 1, "レコード識別情報", "before any RE"),
    "after GO": (_edit(OUT, 20, b"GO,2,963,99", b"GO,2,963,99\r\nCO,21,1,810000001,"), 21, 1,
                 "レコード識別情報", "after the GO"),  # fmt: skip
    "no GO": (_without(OUT, 20), 19, 0, "", "no GO record"),
    "empty line": (_edit(OUT, 12, b"CO,", b"\r\nCO,"), 12, 0, "", "empty line"),
    "sex 3": (_edit(OUT, 2, TARO + b",1,", TARO + b",3,"), 2, 6, "男女区分", "'3'"),
    "served after the billing": (_edit(OUT, 13, b",50604,", b",50606,"), 13, 4, "診療年月",
                                 "2024-06 is after the 請求年月 2024-05"),
    "born after the month": (_edit(OUT, 2, b",3250302,", b",5060501,"), 2, 7, "生年月日",
                             "2024-05-01 is after the 診療年月 2024-04"),
    "pharmacy born after": (_edit(PH, 2, b",3250302,", b",5060501,"), 2, 7, "生年月日",
                            "2024-05-01 is after the 診療年月 2024-04"),
    "diagnosis started after the month": (_edit(OUT, 5, b",5020105,", b",5060501,"), 5, 3,
                                          "診療開始日", "2024-05-01 is after the 診療年月 2024-04"),
    "admitted after the month": (_edit("medical_inpatient.UKE", 2, b",5060325,", b",5060501,"),
                                 2, 9, "入院年月日", "2024-05-01 is after the 診療年月 2024-04"),
    "IY before CZ": (_without(PH, 6), 6, 1, "レコード識別情報", "IY before any CZ"),
    "CZ day": (_edit(PH, 6, b",0329,", b",0230,"), 6, 3, "処方月日", "no such day"),
    "not a claim file": (b"XX,1\r\n", 1, 1, "レコード識別情報", "starts with IR"),
    "保険者番号 check digit": (_edit(OUT, 3, b"HO,370015,", b"HO,370016,"), 3, 2, "保険者番号",
                             "'370016': 検証番号 is 6"),
    "医療機関コード check digit": (_edit(OUT, 1, b",1234561,", b",1234567,"), 1, 5,
                               "医療機関コード", "3711234567: 検証番号 is 7"),
    "薬局コード check digit": (_edit(PH, 1, b",4000013,", b",4000011,"), 1, 5, "薬局コード",
                            "3744000011: 検証番号 is 1"),
    "処方医療機関コード check digit": (_edit(PH, 2, b",37,1,1234561,", b",37,1,1234567,"), 2, 12,
                                  "処方医療機関コード", "3711234567: 検証番号 is 7"),
    "処方医療機関 without 都道府県": (_edit(PH, 2, b",37,1,1234561,", b",,1,1234561,"), 2, 12,
                                 "処方医療機関コード", "digits only"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_record_is_named_by_file_line_and_field(case: str) -> None:
    data, line, field, name, reason = BAD[case]
    with pytest.raises(ClaimFileRejected) as rejected:
        parse_claim_bytes(data, "claims/x.UKE")
    problem = rejected.value.problems[0]
    assert (problem.file, problem.line, problem.field, problem.name) == (
        "claims/x.UKE",
        line,
        field,
        name,
    )
    assert reason in problem.reason
    assert str(problem).startswith(f"claims/x.UKE:{line}: ")
    with pytest.raises(NotClean):  # the lake's fast path refuses it too
        fast_columns(data, "0" * 64)


def _with_management_records(name: str, after: tuple[int, ...]) -> bytes:
    """The fixture with an MN (レセプト管理) record after each of the lines ``after``."""
    lines = _lines(name)
    for line in sorted(after, reverse=True):
        lines.insert(line, f"MN,1,{line},00001".encode())
    return b"\r\n".join(lines) + b"\r\n"


@pytest.mark.parametrize(("name", "after"), [(OUT, (1, 2, 12, 19)), (PH, (1, 2, 5, 6))])
def test_insurer_side_management_records_are_accepted_and_not_kept(
    name: str, after: tuple[int, ...]
) -> None:
    """国保連 → 保険者 files carry an MN record with each レセプト: before its RE, after it, or
    between body records; both readers accept it anywhere before GO and keep nothing of it."""
    plain = (FIXTURES / name).read_bytes()
    data = _with_management_records(name, after)
    assert without_lines(parse_claim_bytes(data, name)) == without_lines(
        parse_claim_bytes(plain, name)
    )
    fast, expected = fast_columns(data, "0" * 64), fast_columns(plain, "0" * 64)
    assert fast.lines == expected.lines + len(after)
    for table, rows in expected.tables.items():
        assert (
            fast.tables[table]
            .drop_columns(["line"] if table == "claims" else [])
            .equals(rows.drop_columns(["line"] if table == "claims" else []))
        ), table
    after_go = data + b"MN,1\r\n"  # but nothing after GO
    assert "after the GO" in claim_file_problems(after_go, name)[0].reason
    with pytest.raises(NotClean):
        fast_columns(after_go, "0" * 64)


def test_every_problem_of_a_file_is_reported_and_capped() -> None:
    lines = _lines(OUT)
    bad = [line.replace(b"SY,", b"QQ,") for line in lines] * 80
    with pytest.raises(ClaimFileRejected) as rejected:
        parse_claim_bytes(b"\r\n".join(lines[:1] + bad) + b"\r\n", "x")
    assert rejected.value.total > len(rejected.value.problems) == 200
    assert "problem(s)" in str(rejected.value)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x8e" + b"Z" * 5000 + b"\r\n", "レコード識別情報"),  # a binary file's first "field"
        (_edit(OUT, 3, b",463,", b"," + b"9" * 5000 + b","), "合計点数"),
    ],
)
def test_a_problem_quotes_a_long_bad_value_cut_short(data: bytes, name: str) -> None:
    # A clinic's wrong file (a binary, a garbled line) gets an error a person can read: the
    # value's start and its length, not thousands of characters.
    problem = claim_file_problems(data, "claims/x.UKE")[0]
    assert problem.name == name
    assert "… (5,0" in problem.reason and len(problem.reason) < 150, problem.reason


# -- the writer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["medical_outpatient.UKE", "medical_inpatient.UKE", "pharmacy.UKE"]
)
def test_written_files_read_back_to_the_same_claims(name: str, tmp_path: Path) -> None:
    original = read_claim_file(FIXTURES / name)
    write_claim_file(original, tmp_path / "again.UKE")
    data = (tmp_path / "again.UKE").read_bytes()
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == data.count(b"\n")
    assert without_lines(read_claim_file(tmp_path / "again.UKE")) == without_lines(original)


def test_a_continuing_volume_is_written_with_its_own_number(tmp_path: Path) -> None:
    f = read_claim_file(FIXTURES / "set_vol00.UKE")
    write_claim_file(f, tmp_path / "v.UKE", continues=True)
    assert (tmp_path / "v.UKE").read_bytes().endswith(b"GO,1,300,00\r\n")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "香川,太郎"}, "comma"),
        ({"name": "𠮷田"}, "cp932"),
        ({"drugs": (Drug("699000102", Decimal("123456")),)}, "at most 5"),
        ({"insurer_number": ""}, "first KO"),
    ],
)
def test_values_the_format_cannot_hold_are_refused(change: dict[str, object], message: str) -> None:
    f = read_claim_file(FIXTURES / "medical_inpatient.UKE")
    claim = dataclasses.replace(f.claims[0], **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        claim_file_bytes(dataclasses.replace(f, claims=(claim,)))


# -- round trip of generated files, and the fast path's agreement --------------------------

_TEXT = st.text(alphabet="あいうアイウ香川太郎花子ｱｲｳ ABC123-", max_size=8)
_MONTHS = st.builds(lambda y, m: D(y, m, 1), st.integers(1990, 2030), st.integers(1, 12))


def _decimal(digits: int) -> st.SearchStrategy[Decimal]:
    return st.builds(
        lambda whole, fraction, places: Decimal(whole) + Decimal(fraction).scaleb(-places),
        st.integers(0, 10**5 - 1),
        st.integers(0, 9),
        st.integers(1, digits),
    )


@st.composite
def _days(draw: st.DrawFn, month: dt.date) -> tuple[int, ...]:
    if draw(st.booleans()):
        return ()
    length = ((month + dt.timedelta(days=31)).replace(day=1) - month).days
    counts = draw(st.lists(st.integers(0, 999), min_size=length, max_size=length))
    counts[draw(st.integers(0, length - 1))] = draw(st.integers(1, 999))
    return tuple(counts) + (0,) * (31 - length)


_PREFECTURES = st.integers(1, 47).map(lambda p: f"{p:02d}")
#: Valid 保険者番号: 6-digit 国保 and 8-digit ones of the health-insurance 法別番号.
_INSURERS = st.one_of(
    st.tuples(st.just(""), _PREFECTURES, st.from_regex(r"[0-9]{3}", fullmatch=True)),
    st.tuples(st.sampled_from(sorted(HEALTH_INSURANCE_LAW_CODES)), _PREFECTURES,
              st.from_regex(r"[0-9]{3}", fullmatch=True)),
).map(lambda parts: with_check_digit("".join(parts)))  # fmt: skip


@st.composite
def _claim(draw: st.DrawFn, kind: ClaimKind, number: int) -> Claim:
    month = draw(_MONTHS)
    day = st.integers(1, 28).map(lambda d: month.replace(day=d))
    funds = draw(st.lists(st.builds(
        PublicFund, st.from_regex(r"[0-9]{8}", fullmatch=True),
        st.from_regex(r"[0-9]{7}", fullmatch=True) | st.just(""),
        st.none() | st.integers(0, 31), st.none() | st.integers(0, 10**6),
    ), max_size=2))  # fmt: skip
    common = dict(
        receipt_number=number,
        service_month=month,
        name=draw(_TEXT),
        sex=draw(st.sampled_from([1, 2])),
        birth_date=draw(st.dates(D(1900, 1, 1), min(D(2020, 12, 31), month))),
        insurer_number=draw(_INSURERS),
        symbol=draw(_TEXT),
        number=draw(_TEXT.filter(bool)),
        branch=draw(st.sampled_from(["", "00", "01", "12"])),
        benefit_ratio=draw(st.sampled_from(["", "70", "80", "90", "100"])),
        days=draw(st.integers(0, 31)),
        total_points=draw(st.integers(0, 10**8)),
        copayment=draw(st.none() | st.integers(0, 10**6)),
        kana_name=draw(_TEXT),
        public_funds=tuple(funds),
    )
    burden = st.sampled_from(["1", "2", "5", "A"])
    if kind == ClaimKind.PHARMACY:
        previous = month - dt.timedelta(days=draw(st.integers(1, 300)))
        drugs = draw(st.lists(st.builds(
            Drug, st.from_regex(r"6[0-9]{8}", fullmatch=True), _decimal(5), burden=burden,
            dispensed_units=st.integers(1, 99), prescribed_on=st.sampled_from([month, previous]),
            dispensed_on=day, dosage_form=st.sampled_from(["1", "3", "5"]),
            rx_number=st.integers(1, 3),
        ), min_size=1, max_size=4))  # fmt: skip
        prescriber = draw(st.sampled_from(["", "1234561"]))
        return Claim(receipt_type="4112", prescriber=prescriber,
                     prescriber_prefecture="37" if prescriber else "", drugs=tuple(drugs),
                     **common)  # type: ignore[arg-type]  # fmt: skip
    end = _months_after(month, 1) - dt.timedelta(days=1)  # of the 診療年月
    diagnoses = draw(st.lists(st.builds(
        Diagnosis, st.from_regex(r"[0-9]{7}", fullmatch=True),
        st.dates(D(1990, 1, 1), end),  # started by the end of the month
        st.sampled_from(["1", "2", "3", "4"]), st.sampled_from(["", "1234", "00010002"]), _TEXT,
        st.booleans(), _TEXT,
    ), max_size=3))  # fmt: skip
    procedures = draw(st.lists(st.builds(
        Procedure, st.sampled_from(["", "11", "90"]), burden,
        st.from_regex(r"1[0-9]{8}", fullmatch=True), st.none() | _decimal(3),
        st.none() | st.integers(0, 10**8), st.integers(0, 9999), _days(month),
    ), max_size=3))  # fmt: skip
    drugs = draw(st.lists(st.builds(
        Drug, st.from_regex(r"6[0-9]{8}", fullmatch=True), _decimal(5),
        section=st.sampled_from(["", "21", "23", "33"]), burden=burden,
        points=st.none() | st.integers(0, 10**6), times=st.integers(0, 99), days=_days(month),
    ), max_size=3))  # fmt: skip
    return Claim(receipt_type=draw(st.sampled_from(["1111", "1112", "1122"])),
                 admission_date=draw(st.none() | st.dates(min(D(2000, 1, 1), end), end)),
                 diagnoses=tuple(diagnoses), procedures=tuple(procedures), drugs=tuple(drugs),
                 **common)  # type: ignore[arg-type]  # fmt: skip


def _with_check(prefecture: str, table: str, body: str) -> str:
    """A 7-digit 医療機関コード whose 10-digit form has a valid 検証番号."""
    return body + str(luhn_2_1(prefecture + table + body))


@st.composite
def claim_files(draw: st.DrawFn) -> ClaimFile:
    kind = draw(st.sampled_from(list(ClaimKind)))
    count = draw(st.integers(0, 3))
    claims = tuple(draw(_claim(kind, n)) for n in range(1, count + 1))
    latest = max((c.service_month for c in claims), default=D(1990, 1, 1))
    later = st.integers(0, 24).map(lambda k: _months_after(latest, k))  # billed after
    return ClaimFile(
        kind=kind,
        reviewer=draw(st.sampled_from(["1", "2"])),
        prefecture="37",
        fee_table="1" if kind == ClaimKind.MEDICAL else "4",
        institution_code=_with_check(
            "37",
            "1" if kind == ClaimKind.MEDICAL else "4",
            draw(st.from_regex(r"[0-9]{6}", fullmatch=True)),
        ),  # fmt: skip
        institution_name=draw(_TEXT),
        billing_month=draw(later),
        phone=draw(st.sampled_from(["", "087-000-0000"])),
        claims=claims,
    )


def _months_after(month: dt.date, count: int) -> dt.date:
    months = month.year * 12 + month.month - 1 + count
    return D(months // 12, months % 12 + 1, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim_files())
def test_writer_and_readers_agree_on_generated_files(f: ClaimFile) -> None:
    data = claim_file_bytes(f)
    read = parse_claim_bytes(data, "generated")
    assert without_lines(read) == f
    fast = fast_columns(data, "f" * 64)
    assert (fast.claims, fast.lines) == (len(f.claims), data.count(b"\n"))
    if f.claims:
        claims = fast.tables["claims"].to_pydict()
        assert claims["points"] == [c.total_points for c in f.claims]
        assert claims["branch"] == [c.branch for c in f.claims]
    quantities = [float(d.quantity) for c in f.claims for d in c.drugs]
    drugs = fast.tables.get("claim_drugs")
    assert (drugs.column("quantity").to_pylist() if drugs else []) == pytest.approx(quantities)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.UKE")))
def test_fast_path_and_reader_agree_on_damaged_files(name: str) -> None:
    """Single-byte damage anywhere: the fast path accepts exactly what the reader accepts."""
    _agree_on_damage((FIXTURES / name).read_bytes(), name)


def test_fast_path_and_reader_agree_on_damaged_insurer_side_files() -> None:
    _agree_on_damage(_with_management_records(OUT, (1, 2, 12, 19)), "mn-" + OUT)
    _agree_on_damage(_with_management_records(PH, (1, 2, 5, 6)), "mn-" + PH)


def _agree_on_damage(data: bytes, name: str) -> None:
    rng = random.Random(name)
    replacements = [b"", b",", b"0", b"9", b"A", b".", b"\x81", b"\r\n", b"-", b"00", b"N"]
    for _ in range(120):
        at = rng.randrange(len(data))
        damaged = data[:at] + rng.choice(replacements) + data[at + 1 :]
        good = not claim_file_problems(damaged, name)
        try:
            fast_columns(damaged, "0" * 64)
            fast_ok = True
        except NotClean:
            fast_ok = False
        assert fast_ok == good, (at, damaged.splitlines()[damaged[:at].count(b"\n")])


def test_every_checked_field_is_within_the_minimum_field_count() -> None:
    # The readers rely on it: a record long enough to be accepted has every checked field.
    from kokuho.claims._rece_layout import LAYOUTS

    for layouts in LAYOUTS.values():
        for layout in layouts.values():
            assert not layout.checked or max(layout.checked) <= layout.min_fields, layout.tag
            assert layout.min_fields <= layout.max_fields == len(layout.names)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 99), st.integers(0, 9), st.integers(0, 9_999_999)),
        min_size=1, max_size=50,
    )
)  # fmt: skip
def test_the_columnar_institution_check_is_kokuho_ids(triples: list[tuple[int, int, int]]) -> None:
    """The fast path's whole-column 医療機関コード check agrees with InstitutionCode."""
    import numpy as np

    from kokuho.claims._rece_cells import institution_codes_valid
    from kokuho.ids import InstitutionCode, InvalidIdentifier

    def valid(prefecture: int, table: int, code: int) -> bool:
        try:
            InstitutionCode.from_claim(f"{prefecture:02d}", str(table), f"{code:07d}")
        except InvalidIdentifier:
            return False
        return True

    # Half of them made valid: random triples are mostly wrong.
    triples += [(p, t, c // 10 * 10 + luhn_2_1(f"{p:02d}{t}{c:07d}"[:9])) for p, t, c in triples]
    columns = [np.array(column, dtype=np.int64) for column in zip(*triples, strict=True)]
    assert institution_codes_valid(*columns).tolist() == [valid(*t) for t in triples]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_bytes(OUT).decode("cp932").encode("utf-8"), "is UTF-8, not cp932"),
        (b"\xef\xbb\xbf" + _bytes(OUT).decode("cp932").encode("utf-8"), "is UTF-8, not cp932"),
        (b"\xef\xbb\xbf" + _bytes(OUT), "begins with a UTF-8 byte order mark"),
        (_bytes(OUT).replace(b"\r\n", b"\r"), "ends its records with CR only"),
    ],
    ids=["utf-8", "utf-8 with a BOM", "cp932 with a BOM", "CR only"],
)
def test_a_file_in_another_encoding_or_line_end_is_refused_with_one_clear_reason(
    data: bytes, reason: str
) -> None:
    """A sender's tool that wrote UTF-8, put a BOM first or ended records with CR alone: one
    problem saying so for the whole file, not one 'not cp932' per field or a field count."""
    with pytest.raises(ClaimFileRejected) as rejected:
        parse_claim_bytes(data, "claims/x.UKE")
    (problem,) = rejected.value.problems
    assert str(problem).startswith(f"claims/x.UKE: file: {reason}"), str(problem)
    with pytest.raises(NotClean):
        fast_columns(data, "0" * 64)


def _cr_at(lines: list[bytes], *numbers: int) -> bytes:
    """The lines with CR LF after each, but CR alone after the lines ``numbers``."""
    return b"".join(line + (b"\r" if n in numbers else b"\r\n") for n, line in enumerate(lines, 1))


LONE_CR = {
    # A transfer that rewrote some line ends: the records joined read as a field count.
    "one line": (_cr_at(_lines(OUT), 6), [6]),
    "two lines": (_cr_at(_lines(OUT), 6, 12), [6, 11]),  # line 6 takes 7: the next is 11
    "all but the last": (_cr_at(_lines(OUT), *range(1, 20)), [1]),
    "the last, without LF": (_bytes(OUT)[:-1], [20]),
    "before a DOS EOF mark": (_bytes(OUT)[:-1] + b"\x1a", [20]),
    # A CR inside a field (a name) was read as part of the value, by both readers.
    "inside a name": (_bytes(OUT).replace(TARO, TARO + b"\r", 1), [2]),
}


@pytest.mark.parametrize("case", sorted(LONE_CR))
def test_a_line_ending_in_cr_alone_is_named_not_read_as_a_field_count(case: str) -> None:
    data, lines = LONE_CR[case]
    problems = claim_file_problems(data, "claims/x.UKE")
    assert [(p.line, p.field, p.name) for p in problems] == [(n, 0, "") for n in lines]
    for problem, line in zip(problems, lines, strict=True):
        assert str(problem) == (
            f"claims/x.UKE:{line}: a CR alone (without LF) ends a record or is inside one; "
            "レセ電 records end in CR LF"
        )
    with pytest.raises(NotClean):  # the fast path refuses it too
        fast_columns(data, "0" * 64)


def test_a_utf8_file_whose_bytes_also_read_as_cp932_is_refused_not_loaded_garbled() -> None:
    """The UTF-8 bytes of many names (ゴウダ, 高松市…) happen to be cp932 too: such a file was
    loaded with every name garbled (ゴウダ as '繧ｴ繧ｦ繝") instead of refused as UTF-8."""
    text = re.sub(r"[^\x00-\x7f]+", "ゴウダ", _bytes(OUT).decode("cp932"))
    assert parse_claim_bytes(text.encode("cp932"), "claims/x.UKE").claims  # a good file
    data = text.encode("utf-8")
    assert data.decode("cp932") != text  # it reads as cp932, garbled
    with pytest.raises(ClaimFileRejected) as rejected:
        parse_claim_bytes(data, "claims/x.UKE")
    (problem,) = rejected.value.problems
    assert str(problem).startswith("claims/x.UKE: file: is UTF-8, not cp932"), str(problem)
    with pytest.raises(NotClean):
        fast_columns(data, "0" * 64)
