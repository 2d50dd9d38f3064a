"""Reads a 介護給付費明細書 file (国保連 交換情報 CSV: cp932, CR LF) with every problem named
by file, line and field. The layout is ``_layout``'s; what is checked beyond the form of each
field is listed in docs/care.md ("What the reader checks")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from kokuho.care._errors import CareFileRejected, field_label
from kokuho.care._layout import (
    CONTROL,
    DATA,
    DATA_KINDS,
    END,
    KEY_ATTRS,
    LAYOUTS,
    BadValue,
    Layout,
    parse,
)
from kokuho.care._model import CareClaim, CareClaimFile, CareDetail, CareTotal
from kokuho.store import FileProblem, FileTooLarge, read_capped, utf8_not_cp932

#: At most this many problems are kept per file.
MAX_PROBLEMS: Final = 200
#: A 介護 file (介護給付費明細書 or 要介護認定) larger than this is refused unread. A
#: 介護給付費明細書 file is one 事業所's month: a large 事業所 bills some thousand 明細書 of about
#: 400 bytes, well under 1 MB; a prefecture's 要介護認定 (60,000 rows of 150 bytes) some 10 MB.
#: 32 MiB leaves a wide margin and bounds what the precise reader holds (a 32 MB file of
#: 80,000 明細書 peaked at 665 MB resident). A module attribute, as the V08 archive limits: an
#: operator (or a test) may change it.
MAX_FILE_BYTES = 32 * 1024 * 1024
_DERIVED: Final = {"レコード番号": "#", "レコード件数": "count"}
_NAMES: Final = {"basic": "基本情報", "detail": "明細情報", "total": "集計情報"}


@dataclass
class _Claim:
    line: int
    values: dict[str, Any]
    details: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    totals: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[FileProblem] = []
        self.claims: list[_Claim] = []
        self.control: dict[str, Any] | None = None
        self.data_records = 0
        self.ended = 0  # the line of the エンドレコード
        self.unread = False  # a record could not be decoded: counts would mislead

    def problem(self, line: int, where: str, reason: str) -> None:
        self.problems.append(FileProblem(self.name, line, where, reason))

    def fields(self, layout: Layout, line: int, parts: list[str]) -> dict[str, Any] | None:
        """The record's values by attribute (``#`` for the レコード番号, ``count`` for the
        レコード件数), or None when a field is bad (each is reported)."""
        if len(parts) != len(layout.fields):
            self.problem(
                line,
                "record",
                f"has {len(parts)} fields, a {_kind(layout)} has {len(layout.fields)}",
            )
            return None
        values: dict[str, Any] = {}
        good = True
        for number, (spec, text) in enumerate(zip(layout.fields, parts, strict=True), 1):
            try:
                value = parse(spec, text)
            except BadValue as bad:
                self.problem(line, field_label(number, spec.name), str(bad))
                good = False
                continue
            values[spec.attr or _DERIVED.get(spec.name, "")] = value
        if good and values["#"] != line:
            self.problem(
                line, field_label(2, "レコード番号"), f"is {values['#']}, the line is {line}"
            )
            good = False
        return values if good else None

    def record(self, line: int, parts: list[str], last: bool) -> None:
        kind = parts[0]
        if self.ended:
            self.problem(line, "record", f"a record after the エンドレコード (line {self.ended})")
            return
        if line == 1 and kind != CONTROL:
            self.problem(
                line,
                field_label(1, "レコード種別"),
                f"the first record is the コントロールレコード (1), got {kind!r}",
            )
            return
        if kind == CONTROL:
            if line != 1:
                self.problem(line, field_label(1, "レコード種別"), "a second コントロールレコード")
                return
            self.control = self.fields(LAYOUTS["control"], line, parts)
        elif kind == DATA:
            self.data_records += 1
            code = parts[3] if len(parts) > 3 else ""
            if code not in DATA_KINDS:
                self.problem(
                    line,
                    field_label(4, "レコード種別コード"),
                    f"expected 01 (基本情報), 02 (明細情報) or 10 (集計情報), got {code!r}",
                )
                return
            self.data(DATA_KINDS[code], line, parts)
        elif kind == END:
            self.ended = line
            self.fields(LAYOUTS["end"], line, parts)
        else:
            self.problem(line, field_label(1, "レコード種別"), f"expected 1, 2 or 3, got {kind!r}")
        if last and not self.ended:
            self.problem(line, "file", "the file ends without its エンドレコード (3)")

    def data(self, kind: str, line: int, parts: list[str]) -> None:
        layout = LAYOUTS[kind]
        values = self.fields(layout, line, parts)
        if kind == "basic":
            self.close()
            self.claims.append(_Claim(line, values or {}))
            if values is not None:
                self.basic(line, values)
            return
        claim = self.claims[-1] if self.claims else None
        if claim is None:
            self.problem(
                line, field_label(4, "レコード種別コード"), f"a {_NAMES[kind]} before any 基本情報"
            )
            return
        if values is None or not claim.values:
            claim.values = {}  # the claim is bad already: no further checks of it
            return
        for number, attr in enumerate(KEY_ATTRS, 5):
            if values[attr] != claim.values[attr]:
                self.problem(
                    line,
                    field_label(number, layout.label(number)),
                    f"differs from the 基本情報 on line {claim.line}",
                )
                claim.values = {}
                return
        if values["exchange_id"] != claim.values["exchange_id"]:
            self.problem(
                line,
                field_label(3, "交換情報識別番号"),
                f"differs from the 基本情報 on line {claim.line}",
            )
        if kind == "detail":
            if claim.totals:
                self.problem(line, field_label(4, "レコード種別コード"),
                             "a 明細情報 after the 集計情報 of its claim")  # fmt: skip
            product = values["units"] * values["count"]
            if values["service_units"] != product:
                self.problem(
                    line,
                    field_label(13, "サービス単位数"),
                    f"is {values['service_units']}, 単位数 × 日数・回数 is {product}",
                )
            claim.details.append((line, values))
        else:
            kind_code = values["service_type"]
            if any(v["service_type"] == kind_code for _, v in claim.totals):
                self.problem(
                    line,
                    field_label(9, "サービス種類コード"),
                    f"a second 集計情報 of サービス種類 {kind_code}",
                )
            units = sum(
                v["service_units"] for _, v in claim.details if v["service_type"] == kind_code
            )
            if values["units"] != units:
                self.problem(
                    line,
                    field_label(11, "給付単位数"),
                    f"is {values['units']}, the 明細情報 of サービス種類 {kind_code} "
                    f"add up to {units}",
                )
            claim.totals.append((line, values))

    def basic(self, line: int, values: dict[str, Any]) -> None:
        if values["valid_from"] > values["valid_to"]:
            self.problem(line, field_label(14, "認定有効期間 終了年月日"),
                         "is before the 開始年月日")  # fmt: skip
        month = values["service_month"]
        following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
        if values["valid_to"] < month or values["valid_from"] >= following:
            self.problem(line, field_label(5, "サービス提供年月"), "is outside the 認定有効期間")
        if not 1 <= values["benefit_rate"] <= 100:
            self.problem(
                line,
                field_label(15, "保険給付率"),
                f"expected 1–100 (%), got {values['benefit_rate']}",
            )
        if self.control is not None and values["provider"] != self.control["provider"]:
            self.problem(line, field_label(6, "事業所番号"),
                         "differs from the コントロールレコード's")  # fmt: skip

    def close(self) -> None:
        """Checks that the last claim read is whole."""
        if not self.claims or not self.claims[-1].values:
            return
        claim = self.claims[-1]
        if not claim.details:
            self.problem(claim.line, "record", "a 基本情報 without 明細情報")
            return
        totalled = {v["service_type"] for _, v in claim.totals}
        for kind in sorted({v["service_type"] for _, v in claim.details} - totalled):
            self.problem(claim.line, "record", f"サービス種類 {kind} has 明細情報 but no 集計情報")

    def finish(self) -> None:
        self.close()
        if self.control and not self.unread and self.control["count"] != self.data_records:
            self.problem(
                1,
                field_label(4, "レコード件数"),
                f"is {self.control['count']}, the file has {self.data_records} data records",
            )


def _kind(layout: Layout) -> str:
    return {"control": "コントロールレコード", "end": "エンドレコード"}.get(
        layout.kind, _NAMES.get(layout.kind, layout.kind)
    )


def _encoding_problem(data: bytes) -> str | None:
    """What a sender's tool did to the whole file: wrote UTF-8 (whose bytes may read as cp932,
    garbled: ゴウダ as 繧ｴ繧ｦ繝…), or put a byte order mark first."""
    if utf8_not_cp932(data):
        return "is UTF-8, not cp932 (the encoding of 介護給付費明細書 files)"
    if data.startswith(b"\xef\xbb\xbf"):
        return (
            "begins with a UTF-8 byte order mark; a 介護給付費明細書 file starts with its "
            "コントロールレコード (1,)"
        )
    return None


def _lines(name: str, data: bytes) -> tuple[list[bytes], FileProblem | None]:
    """The records of ``data`` (CR LF after each), or the problem with its line ends."""
    if not data:
        return [], FileProblem(name, 0, "file", "the file is empty")
    lines = data.split(b"\r\n")
    tail = lines.pop()
    for number, raw in enumerate(lines, 1):
        if b"\r" in raw or b"\n" in raw:
            return [], FileProblem(
                name, number, "record", "records end with CR LF, found a lone CR or LF"
            )
    if tail:
        return [], FileProblem(
            name, len(lines) + 1, "record", "the last record does not end with CR LF"
        )
    return lines, None


def read_care_bytes(data: bytes, name: str) -> CareClaimFile:
    """The claims of ``data`` (the file named ``name`` in problems); raises
    ``CareFileRejected`` with every problem found (at most ``MAX_PROBLEMS``)."""
    encoding = _encoding_problem(data)
    if encoding is not None:  # said once, not as a problem of every record or カナ 氏名
        raise CareFileRejected([FileProblem(name, 0, "file", encoding)])
    lines, broken = _lines(name, data)
    if broken is not None:
        raise CareFileRejected([broken])
    reader = _Reader(name)
    for number, raw in enumerate(lines, 1):
        try:
            text = raw.decode("cp932")
        except UnicodeDecodeError as error:
            reader.problem(number, "record", f"not cp932 (byte {error.start + 1} of the record)")
            reader.unread = True
            reader.claims.append(_Claim(number, {}))  # what follows is not checked against it
            continue
        reader.record(number, text.split(","), number == len(lines))
        if len(reader.problems) >= MAX_PROBLEMS:
            break
    else:
        reader.finish()
    if reader.problems:
        raise CareFileRejected(reader.problems[:MAX_PROBLEMS])
    assert reader.control is not None
    control = reader.control
    return CareClaimFile(
        provider=control["provider"],
        prefecture=control["prefecture"],
        billing_month=control["billing_month"],
        volume=control["volume"],
        data_kind=control["data_kind"],
        claims=tuple(_claim(c) for c in reader.claims),
    )


def _claim(claim: _Claim) -> CareClaim:
    v = claim.values
    return CareClaim(
        service_month=v["service_month"],
        provider=v["provider"],
        insurer=v["insurer"],
        insured=v["insured"],
        name_kana=v["name_kana"],
        birth_date=v["birth_date"],
        sex=v["sex"],
        care_level=v["care_level"],
        valid_from=v["valid_from"],
        valid_to=v["valid_to"],
        benefit_rate=v["benefit_rate"],
        exchange_id=v["exchange_id"],
        details=tuple(
            CareDetail(
                d["service_type"],
                d["item_code"],
                d["units"],
                d["count"],
                d["service_units"],
                d["note"],
            )
            for _, d in claim.details
        ),
        totals=tuple(
            CareTotal(
                t["service_type"], t["days"], t["units"], t["unit_price"], t["claimed"], t["copay"]
            )
            for _, t in claim.totals
        ),
    )


def read_capped_care_file(path: Path) -> bytes:
    """The bytes of a 介護 file of at most ``MAX_FILE_BYTES``; raises ``CareFileRejected``
    naming the file and the cap, or why it cannot be read."""
    try:
        return read_capped(Path(path), MAX_FILE_BYTES)
    except FileTooLarge as large:
        reason = f"{large}, the cap of a 介護 file"
    except OSError as error:
        reason = f"cannot read: {error.strerror}"
    raise CareFileRejected([FileProblem(str(path), 0, "file", reason)])


def read_care_file(path: Path) -> CareClaimFile:
    """Reads one 介護給付費明細書 file; raises ``CareFileRejected`` naming file:line:field."""
    return read_care_bytes(read_capped_care_file(path), str(path))


def read_care_files(paths: Sequence[Path]) -> list[CareClaimFile]:
    """Reads every file; raises one ``CareFileRejected`` with the problems of all of them."""
    found: list[CareClaimFile] = []
    problems: list[FileProblem] = []
    for path in paths:
        try:
            found.append(read_care_file(path))
        except CareFileRejected as rejected:
            problems += rejected.problems
    if problems:
        raise CareFileRejected(problems)
    return found
