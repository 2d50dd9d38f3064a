"""The precise レセ電 reader: a file into ``ClaimFile`` values, or every problem it has.

This is the reader people call and the one that writes error reports; the lake ingests through
the columnar fast path (``_rece_fast``), which applies the same checks and falls back to this
module to say what is wrong. A file with any bad record is rejected whole.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from kokuho.claims._errors import ClaimFileRejected, ClaimProblem
from kokuho.claims._model import Claim, ClaimFile, ClaimKind, Diagnosis, Drug, Procedure, PublicFund
from kokuho.claims._rece_check import check_field, institution_problem, shown
from kokuho.claims._rece_layout import (
    DAY_FIELDS,
    ENCODING,
    HEADER,
    INSTITUTION_FIELDS,
    INSURER_SIDE,
    LAST_VOLUME,
    LAYOUTS,
    PRESCRIBER_FIELDS,
    RecordLayout,
)
from kokuho.store import utf8_not_cp932

_BODY_DAYS = range(14, 45)  # SI / IY 1日…31日


def read_claim_file(path: Path) -> ClaimFile:
    """Reads one レセ電 file (one volume); raises ``ClaimFileRejected`` with every problem."""
    path = Path(path)
    return parse_claim_bytes(path.read_bytes(), str(path))


def parse_claim_bytes(data: bytes, name: str) -> ClaimFile:
    """``read_claim_file`` of bytes already read; ``name`` is the file named in problems."""
    reader = _Reader(name)
    result = reader.read(data)
    if reader.problems or result is None:
        raise ClaimFileRejected(reader.problems)
    return result


def claim_file_problems(data: bytes, name: str) -> list[ClaimProblem]:
    """Every problem of a file (empty when it is good)."""
    reader = _Reader(name)
    reader.read(data)
    return reader.problems


def read_claim_files(paths: Sequence[Path]) -> list[ClaimFile]:
    """Reads several files; the volumes of a マルチボリューム set (same kind, institution and
    請求年月) are checked for completeness and joined into one ``ClaimFile`` (volume "00").

    Volumes are numbered "00", "01", … in IR/YK; the GO of a volume that continues repeats its
    number and the last volume's GO says "99" (UNCONFIRMED). Raises ``ClaimFileRejected`` with
    the problems of every file.
    """
    problems: list[ClaimProblem] = []
    read: list[tuple[str, ClaimFile, str]] = []
    for path in paths:
        reader = _Reader(str(path))
        result = reader.read(Path(path).read_bytes())
        problems += reader.problems
        if result is not None and not reader.problems:
            read.append((str(path), result, reader.go_volume))
    sets: dict[tuple[Any, ...], list[tuple[str, ClaimFile, str]]] = {}
    for entry in read:
        f = entry[1]
        key = (f.kind, f.reviewer, f.prefecture, f.fee_table, f.institution_code, f.billing_month)
        sets.setdefault(key, []).append(entry)
    joined: list[ClaimFile] = []
    for volumes in sets.values():
        volumes.sort(key=lambda entry: entry[1].volume)
        problems += _check_set(volumes)
        first = volumes[0][1]
        claims = tuple(c for _, f, _ in volumes for c in f.claims)
        joined.append(replace(first, volume="00", claims=claims))
    if problems:
        raise ClaimFileRejected(problems)
    return joined


def _check_set(volumes: list[tuple[str, ClaimFile, str]]) -> list[ClaimProblem]:
    problems: list[ClaimProblem] = []
    numbers = [f.volume for _, f, _ in volumes]
    expected = [f"{n:02d}" for n in range(len(volumes))]
    name = " + ".join(path for path, _, _ in volumes)
    if numbers != expected:
        reason = f"マルチボリューム volumes {numbers} are not {expected}"
        problems.append(ClaimProblem(name, 0, 0, "マルチボリューム識別情報", reason))
    for index, (path, f, go_volume) in enumerate(volumes):
        last = index == len(volumes) - 1
        if last and go_volume != LAST_VOLUME:
            reason = (
                f"the last volume {f.volume} continues (GO says {go_volume}): a volume is missing"
            )
            problems.append(ClaimProblem(path, 0, 4, "マルチボリューム識別情報", reason))
        elif not last and go_volume == LAST_VOLUME:
            reason = (
                f"volume {f.volume} ends the set (GO 99) but volume {numbers[index + 1]} follows"
            )
            problems.append(ClaimProblem(path, 0, 4, "マルチボリューム識別情報", reason))
    receipts = [c.receipt_number for _, f, _ in volumes for c in f.claims]
    if len(set(receipts)) != len(receipts):
        reason = "a レセプト番号 appears in two volumes of the set"
        problems.append(ClaimProblem(name, 0, 2, "レセプト番号", reason))
    return problems


@dataclass
class _Draft:
    """A claim while its records are read."""

    line: int
    values: dict[int, Any]
    kind: ClaimKind
    service_month: dt.date | None
    ho: dict[int, Any] | None = None
    branch: str = ""
    funds: list[PublicFund] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    procedures: list[Procedure] = field(default_factory=list)
    drugs: list[Drug] = field(default_factory=list)
    rx: tuple[int, str] | None = None  # SH 処方No, 剤形コード
    dispensing: list[tuple[int, dt.date | None, dt.date | None]] = field(default_factory=list)
    last_tag: str = ""

    @property
    def points(self) -> int:
        if self.ho is not None:
            return int(self.ho[6] or 0)
        return (self.funds[0].points or 0) if self.funds else 0

    def build(self) -> Claim:
        v, ho = self.values, self.ho or {}
        days = ho.get(5) if self.ho is not None else (self.funds[0].days if self.funds else 0)
        prescriber = (v.get(12) or "") if self.kind == ClaimKind.PHARMACY else ""
        return Claim(
            receipt_number=v[2], receipt_type=v[3], service_month=v[4], name=v.get(5) or "",
            sex=v[6], birth_date=v[7], insurer_number=ho.get(2) or "", symbol=ho.get(3) or "",
            number=ho.get(4) or "", branch=self.branch,
            benefit_ratio="" if v.get(8) is None else str(v[8]),
            admission_date=v.get(9) if self.kind == ClaimKind.MEDICAL else None,
            days=days or 0, total_points=self.points,
            copayment=ho.get(12 if self.kind == ClaimKind.MEDICAL else 10),
            kana_name=v.get(37 if self.kind == ClaimKind.MEDICAL else 42) or "",
            prescriber=prescriber,
            prescriber_prefecture=(v.get(10) or "") if prescriber else "",
            public_funds=tuple(self.funds), diagnoses=tuple(self.diagnoses),
            procedures=tuple(self.procedures), drugs=tuple(self.drugs), line=self.line,
        )  # fmt: skip


def _whole_file_problem(data: bytes) -> str | None:
    """What a sender's tool did to the whole file: wrote UTF-8, put a byte order mark first or
    ended the records with CR alone."""
    if data.count(b"\r") > 1 and b"\n" not in data:
        return "ends its records with CR only; a レセ電 file ends them with CR LF"
    if utf8_not_cp932(data):  # decoding as cp932 is no test: much UTF-8 reads as cp932 too
        return "is UTF-8, not cp932 (the encoding of レセ電 files)"
    if data.startswith(b"\xef\xbb\xbf"):
        return "begins with a UTF-8 byte order mark; a レセ電 file starts with IR or YK"
    return None


LONE_CR: Final = (
    "a CR alone (without LF) ends a record or is inside one; レセ電 records end in CR LF"
)


def _lone_cr_lines(data: bytes) -> list[int]:
    """The lines (as the reader counts them, by LF) holding a CR that no LF follows: a record
    ended by CR alone (a transfer that rewrote some line ends), or a CR inside a field."""
    if b"\r" not in data or data.count(b"\r") == data.count(b"\r\n"):
        return []
    raw = data.split(b"\n")
    ended = raw[-1] in (b"", b"\x1a")  # as ``_lines``: the last line's end, or a DOS EOF mark
    if ended:
        raw.pop()
    return [
        index
        for index, line in enumerate(raw, start=1)
        if b"\r" in (line[:-1] if index < len(raw) or ended else line)
    ]


def _month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _days(values: dict[int, Any], numbers: range) -> tuple[int, ...]:
    days = tuple(values.get(n) or 0 for n in numbers)
    return days if any(days) else ()


class _Reader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[ClaimProblem] = []
        self.go_volume = ""

    def problem(self, line: int, number: int, name: str, reason: str) -> None:
        self.problems.append(ClaimProblem(self.name, line, number, name, reason))

    def read(self, data: bytes) -> ClaimFile | None:
        refusal = _whole_file_problem(data)
        if refusal is not None:  # said once, not as a problem in every field
            self.problem(0, 0, "file", refusal)
            return None
        lone = _lone_cr_lines(data)
        if lone:  # said instead of the field counts of records run together
            for number in lone:
                self.problem(number, 0, "", LONE_CR)
            return None
        lines = self._lines(data)
        if not lines:
            self.problem(
                0, 0, "", "empty file: a レセ電 file starts with IR or YK and ends with GO"
            )
            return None
        tag = lines[0].split(",", 1)[0]
        kind = HEADER.get(tag)
        if kind is None:
            self.problem(
                1, 1, "レコード識別情報", f"{shown(tag)}: a file starts with IR (医科) or YK (調剤)"
            )
            return None
        layouts = LAYOUTS[kind]
        header: dict[int, Any] = {}
        claims: list[Claim] = []
        draft: _Draft | None = None
        receipts: dict[int, int] = {}
        go: tuple[int, dict[int, Any]] | None = None
        for index, text in enumerate(lines):
            number = index + 1
            if not text:
                self.problem(number, 0, "", "empty line")
                continue
            fields = text.split(",")
            tag = fields[0]
            layout = layouts.get(tag)
            if layout is None:
                what = "医科" if kind == ClaimKind.MEDICAL else "調剤"
                reason = f"unknown record type {shown(tag)} in a {what} file"
                self.problem(number, 1, "レコード識別情報", reason)
                continue
            if go is not None:
                self.problem(number, 1, "レコード識別情報", f"{tag} after the GO record")
            if "\x00" in text:  # cp932 text has none: a broken file (the lake would keep it)
                for position, field in enumerate(fields, start=1):
                    if "\x00" in field:
                        self.problem(number, position, layout.name(position), "holds a NUL byte")
            if not layout.min_fields <= len(fields) <= layout.max_fields:
                self.problem(number, 0, f"{tag} record", _count_reason(layout, len(fields)))
                if tag == "RE":  # still a claim boundary: keep later records out of the last one
                    self._finish(draft, claims)
                    draft = _Draft(number, {}, kind, None)
                continue
            month = draft.service_month if draft is not None else None
            values = self._values(number, layout, fields, month)
            if tag in DAY_FIELDS[kind] and month is not None:
                self._check_days(number, layout, values, DAY_FIELDS[kind][tag], month)
            if tag in HEADER:
                if index:
                    self.problem(number, 1, "レコード識別情報", f"{tag} only as the first record")
                header = values
                self._check_institution(number, layout, values, INSTITUTION_FIELDS)
            elif tag in INSURER_SIDE:  # accepted anywhere in the body, not kept
                if draft is not None:
                    draft.last_tag = tag
            elif tag == "GO":
                go = (number, values)
            elif tag == "RE":
                if kind == ClaimKind.PHARMACY and values.get(PRESCRIBER_FIELDS[-1]):
                    self._check_institution(number, layout, values, PRESCRIBER_FIELDS)
                self._finish(draft, claims)
                draft = _Draft(number, values, kind, values.get(4))
                billing = header.get(8 if kind == ClaimKind.MEDICAL else 7)
                self._check_months(number, layout, values, billing)
                receipt = values.get(2)
                if receipt is not None and receipt in receipts:
                    reason = f"{receipt} already used by the claim on line {receipts[receipt]}"
                    self.problem(number, 2, "レセプト番号", reason)
                elif receipt is not None:
                    receipts[receipt] = number
            elif draft is None:
                self.problem(number, 1, "レコード識別情報", f"{tag} before any RE record")
            else:
                self._body(number, tag, values, draft)
                draft.last_tag = tag
        self._finish(draft, claims)
        if go is None:
            self.problem(len(lines), 0, "", "no GO record at the end (file cut short?)")
        else:
            self._check_go(go, claims, header, kind)
        if self.problems:
            return None
        volume = header[9 if kind == ClaimKind.MEDICAL else 8]
        name = header.get(7 if kind == ClaimKind.MEDICAL else 6) or ""
        return ClaimFile(
            kind=kind, reviewer=header[2], prefecture=header[3], fee_table=header[4],
            institution_code=header[5], institution_name=name,
            billing_month=header[8 if kind == ClaimKind.MEDICAL else 7], volume=volume,
            phone=header.get(10 if kind == ClaimKind.MEDICAL else 9) or "", claims=tuple(claims),
        )  # fmt: skip

    def _check_institution(
        self, number: int, layout: RecordLayout, values: dict[int, Any], fields: tuple[int, ...]
    ) -> None:
        """The 10-digit 医療機関コード of ``fields`` (都道府県, 点数表, コード), reported on the
        コード; not judged when the コード itself is bad (already reported)."""
        parts = [values.get(n) for n in fields]
        if isinstance(parts[-1], str):
            reason = institution_problem(*(str(part or "") for part in parts))
            if reason is not None:
                self.problem(number, fields[-1], layout.name(fields[-1]), reason)

    def _lines(self, data: bytes) -> list[str]:
        raw = data.split(b"\n")
        if raw and raw[-1] in (b"", b"\x1a"):  # the last line's end, or a DOS EOF mark
            raw.pop()
        lines: list[str] = []
        for index, line in enumerate(raw):
            line = line.removesuffix(b"\r")
            try:
                text = line.decode(ENCODING)
            except UnicodeDecodeError:
                self._bad_bytes(index + 1, line, HEADER.get(data[:2].decode("ascii", "replace")))
                text = line.decode(ENCODING, errors="replace")
            lines.append(text)
        return lines

    def _bad_bytes(self, number: int, line: bytes, kind: ClaimKind | None) -> None:
        tag = line[:2].decode("ascii", "replace")
        layout = LAYOUTS[kind].get(tag) if kind is not None else None
        for position, part in enumerate(line.split(b","), start=1):
            try:
                part.decode(ENCODING)
            except UnicodeDecodeError as error:
                bad = part[error.start : error.end].hex(" ")
                name = layout.name(position) if layout else f"項目{position}"
                self.problem(number, position, name, f"bytes {bad} are not cp932")

    def _values(
        self, number: int, layout: RecordLayout, fields: list[str], month: dt.date | None
    ) -> dict[int, Any]:
        values: dict[int, Any] = {}
        for position in range(2, len(fields) + 1):
            raw = fields[position - 1]
            spec = layout.checked.get(position)
            if spec is None:
                values[position] = raw
                continue
            try:
                values[position] = check_field(spec, raw, month)
            except ValueError as error:
                self.problem(number, position, layout.name(position), str(error))
                values[position] = None
        for position in range(len(fields) + 1, layout.max_fields + 1):
            spec = layout.checked.get(position)
            if spec is not None and spec.required:
                self.problem(number, position, layout.name(position), "required, but missing")
        return values

    def _check_months(
        self, number: int, layout: RecordLayout, values: dict[int, Any], billing: Any
    ) -> None:
        """A claim is billed after its 診療年月, for a person born (and, 医科, admitted) by its
        end."""
        month = values.get(4)
        if not isinstance(month, dt.date):
            return
        if isinstance(billing, dt.date) and month > billing:
            reason = f"{month:%Y-%m} is after the 請求年月 {billing:%Y-%m}"
            self.problem(number, 4, layout.name(4), reason)
        days = (7, 9) if layout is LAYOUTS[ClaimKind.MEDICAL]["RE"] else (7,)
        for position in days:  # 生年月日, 入院年月日
            self._check_by_month_end(number, layout, values, position, month)

    def _check_by_month_end(
        self, number: int, layout: RecordLayout, values: dict[int, Any], position: int, month: Any
    ) -> None:
        day = values.get(position)
        if isinstance(day, dt.date) and isinstance(month, dt.date) and day > _month_end(month):
            reason = f"{day} is after the 診療年月 {month:%Y-%m}"
            self.problem(number, position, layout.name(position), reason)

    def _check_days(
        self,
        number: int,
        layout: RecordLayout,
        values: dict[int, Any],
        days: tuple[int, int],
        month: dt.date,
    ) -> None:
        last = calendar.monthrange(month.year, month.month)[1]
        for position in range(days[0] + last, days[1] + 1):
            if values.get(position) not in (None, 0, "0"):
                day = position - days[0] + 1
                reason = f"{values[position]} on day {day}, which {month:%Y-%m} does not have"
                self.problem(number, position, layout.name(position), reason)

    def _body(self, number: int, tag: str, v: dict[int, Any], draft: _Draft) -> None:
        medical = draft.kind == ClaimKind.MEDICAL
        if tag == "HO":
            if draft.ho is not None:
                self.problem(number, 1, "レコード識別情報", "a second HO record in one claim")
            draft.ho = v
        elif tag == "KO":
            draft.funds.append(PublicFund(v[2] or "", v.get(3) or "", v.get(5), v.get(6)))
        elif tag == "SN":
            if v.get(2) == "1" and v.get(7) and not draft.branch:
                draft.branch = v[7]
        elif tag == "SY":
            self._check_by_month_end(number, LAYOUTS[draft.kind]["SY"], v, 3, draft.service_month)
            draft.diagnoses.append(
                Diagnosis(v[2] or "", v[3], v[4] or "", v.get(5) or "", v.get(6) or "",
                          bool(v.get(7)), v.get(8) or "")
            )  # fmt: skip
        elif tag == "SI":
            draft.procedures.append(
                Procedure(v[2] or "", v[3] or "", v[4] or "", v[5], v[6], v[7] or 0,
                          _days(v, _BODY_DAYS))
            )  # fmt: skip
        elif tag == "IY" and medical:
            draft.drugs.append(
                Drug(v[4] or "", v[5] or Decimal(0), section=v[2] or "", burden=v[3] or "",
                     points=v[6], times=v[7] or 0, days=_days(v, _BODY_DAYS))
            )  # fmt: skip
        elif tag == "SH":
            draft.rx = (v[2] or 0, v[3] or "")
            draft.dispensing = []
        elif tag == "CZ":
            if draft.rx is None:
                self.problem(number, 1, "レコード識別情報", "CZ before any SH of its claim")
            if draft.last_tag != "CZ":
                draft.dispensing = []
            draft.dispensing.append((v[6] or 0, v[3], v[4]))
        elif tag == "IY":
            if not draft.dispensing or draft.rx is None:
                self.problem(number, 1, "レコード識別情報", "IY before any CZ of its 処方 (SH)")
                return
            for units, prescribed, dispensed in draft.dispensing:
                draft.drugs.append(
                    Drug(v[3] or "", v[4] or Decimal(0), burden=v[2] or "",
                         dispensed_units=units, prescribed_on=prescribed,
                         dispensed_on=dispensed, dosage_form=draft.rx[1],
                         rx_number=draft.rx[0])
                )  # fmt: skip

    def _finish(self, draft: _Draft | None, claims: list[Claim]) -> None:
        if draft is None or not draft.values:
            return
        if draft.ho is None and not draft.funds:
            self.problem(draft.line, 0, "RE", "the claim has neither an HO nor a KO record")
        if not self.problems:
            claims.append(draft.build())

    def _check_go(
        self,
        go: tuple[int, dict[int, Any]],
        claims: list[Claim],
        header: dict[int, Any],
        kind: ClaimKind,
    ) -> None:
        number, v = go
        if self.problems:
            return  # the totals mean nothing over a file already wrong
        count, points = len(claims), sum(c.total_points for c in claims)
        if v[2] != count:
            self.problem(number, 2, "総件数", f"{v[2]}, but the file holds {count} claims")
        if v[3] != points:
            reason = f"{v[3]}, but the claims' 合計点数 add up to {points}"
            self.problem(number, 3, "総合計点数", reason)
        volume = header.get(9 if kind == ClaimKind.MEDICAL else 8)
        self.go_volume = v[4] or ""
        if v[4] not in (LAST_VOLUME, volume):
            reason = f"{v[4]!r}: '99' (last volume) or this volume's {volume!r}"
            self.problem(number, 4, "マルチボリューム識別情報", reason)


def _count_reason(layout: RecordLayout, count: int) -> str:
    wanted = (
        str(layout.max_fields)
        if layout.min_fields == layout.max_fields
        else f"{layout.min_fields} to {layout.max_fields}"
    )
    return f"has {count} fields; {layout.tag} has {wanted}"
