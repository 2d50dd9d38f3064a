"""The レセ電 writer: ``ClaimFile`` values into a file the reader reads back to the same values
(cp932, CRLF, 和暦, every record with all the fields of its layout)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from kokuho.claims._model import Claim, ClaimFile, ClaimKind, Drug
from kokuho.claims._rece_layout import (
    ENCODING,
    HEADER_TAG,
    LAST_VOLUME,
    LAYOUTS,
    format_month_day,
)
from kokuho.ids import to_gyymm, to_gyymmdd


def write_claim_file(claim_file: ClaimFile, path: Path, *, continues: bool = False) -> None:
    """Writes one volume. Its GO says "99" (the last or only volume) unless ``continues``,
    when it repeats the volume's number (another volume follows). Raises ValueError when a
    value cannot be written (a comma in a text field, a character outside cp932, a quantity
    beyond 整数部5桁・小数部5桁 …)."""
    Path(path).write_bytes(claim_file_bytes(claim_file, continues=continues))


def claim_file_bytes(claim_file: ClaimFile, *, continues: bool = False) -> bytes:
    """The bytes ``write_claim_file`` writes."""
    lines = list(_records(claim_file, continues))
    text = "\r\n".join(lines) + "\r\n"
    try:
        return text.encode(ENCODING)
    except UnicodeEncodeError as error:
        number = text.count("\r\n", 0, error.start) + 1
        bad = text[error.start : error.end]
        raise ValueError(f"record {number}: {bad!r} cannot be written in cp932") from None


def _records(f: ClaimFile, continues: bool) -> Iterator[str]:
    medical = f.kind == ClaimKind.MEDICAL
    header = _record(f.kind, HEADER_TAG[f.kind])
    first = [f.reviewer, f.prefecture, f.fee_table, f.institution_code]
    month = to_gyymm(f.billing_month.year, f.billing_month.month)
    if medical:
        header.set(2, *first, "", _text(f.institution_name), month, f.volume, _text(f.phone))
    else:
        header.set(2, *first, _text(f.institution_name), month, f.volume, _text(f.phone))
    yield header.line()
    for claim in f.claims:
        try:
            yield from _claim(f.kind, claim)
        except ValueError as error:
            raise ValueError(f"claim {claim.receipt_number}: {error}") from None
    go = _record(f.kind, "GO")
    total = sum(c.total_points for c in f.claims)
    go.set(2, str(len(f.claims)), str(total), f.volume if continues else LAST_VOLUME)
    yield go.line()


class _Fields:
    def __init__(self, tag: str, count: int) -> None:
        self.values = [tag] + [""] * (count - 1)

    def set(self, number: int, *values: str) -> None:
        self.values[number - 1 : number - 1 + len(values)] = values

    def line(self) -> str:
        return ",".join(self.values)


def _record(kind: ClaimKind, tag: str) -> _Fields:
    return _Fields(tag, LAYOUTS[kind][tag].max_fields)


def _text(value: str) -> str:
    if any(c in value for c in ",\r\n"):
        raise ValueError(f"{value!r}: a text field cannot hold a comma or a line break")
    return value


def _number(value: int | None) -> str:
    if value is None:
        return ""
    if value < 0:
        raise ValueError(f"{value}: negative numbers cannot be written")
    return str(value)


def _date(value: dt.date | None) -> str:
    return "" if value is None else to_gyymmdd(value)


def _amount(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = f"{value.normalize():f}" if value else "0"
    whole, _, fraction = text.partition(".")
    if value < 0 or len(whole) > 5 or len(fraction) > 5:
        raise ValueError(f"{value}: a quantity has at most 5 + 5 digits (整数部5桁・小数部5桁)")
    return text


def _days(days: tuple[int, ...]) -> list[str]:
    if days and len(days) != 31:
        raise ValueError(f"算定日 needs 31 day counts, got {len(days)}")
    return [_number(d) if d else "" for d in days] if days else [""] * 31


def _claim(kind: ClaimKind, c: Claim) -> Iterator[str]:
    medical = kind == ClaimKind.MEDICAL
    re = _record(kind, "RE")
    month = to_gyymm(c.service_month.year, c.service_month.month)
    re.set(2, _number(c.receipt_number), c.receipt_type, month, _text(c.name), str(c.sex))
    re.set(7, _date(c.birth_date), _text(c.benefit_ratio))
    if medical:
        re.set(9, _date(c.admission_date))
        re.set(37, _text(c.kana_name))
    else:
        if c.prescriber:
            re.set(10, c.prescriber_prefecture, "1", c.prescriber)
        re.set(42, _text(c.kana_name))
    yield re.line()
    if not c.insurer_number:
        # 公費単独: no HO, the reader takes 実日数 and 合計点数 from the first KO.
        first = c.public_funds[0] if c.public_funds else None
        if first is None or (first.days or 0, first.points or 0) != (c.days, c.total_points):
            raise ValueError("a claim without 保険者番号 needs a first KO with its days and points")
    if c.insurer_number:
        ho = _record(kind, "HO")
        ho.set(2, c.insurer_number, _text(c.symbol), _text(c.number), _number(c.days))
        ho.set(6, _number(c.total_points))
        ho.set(12 if medical else 10, _number(c.copayment))
        yield ho.line()
    for fund in c.public_funds:
        ko = _record(kind, "KO")
        ko.set(2, fund.payer, fund.recipient, "", _number(fund.days), _number(fund.points))
        yield ko.line()
    if c.branch:
        sn = _record(kind, "SN")
        sn.set(2, "1", "01", c.insurer_number, _text(c.symbol), _text(c.number), c.branch)
        yield sn.line()
    if medical:
        yield from _medical_body(c)
    else:
        yield from _pharmacy_body(c)


def _medical_body(c: Claim) -> Iterator[str]:
    for d in c.diagnoses:
        sy = _record(ClaimKind.MEDICAL, "SY")
        sy.set(2, d.code, _date(d.start), d.outcome, d.modifiers, _text(d.name))
        sy.set(7, "01" if d.primary else "", _text(d.comment))
        yield sy.line()
    for p in c.procedures:
        si = _record(ClaimKind.MEDICAL, "SI")
        si.set(2, p.section, p.burden, p.code, _amount(p.quantity), _number(p.points))
        si.set(7, _number(p.times))
        si.set(14, *_days(p.days))
        yield si.line()
    for drug in c.drugs:
        if drug.dispensed_units is not None:
            raise ValueError(f"drug {drug.code}: a 医科 drug has no 調剤数量")
        iy = _record(ClaimKind.MEDICAL, "IY")
        iy.set(2, drug.section, drug.burden, drug.code, _amount(drug.amount))
        iy.set(6, _number(drug.points), _number(drug.times))
        iy.set(14, *_days(drug.days))
        yield iy.line()


def _pharmacy_body(c: Claim) -> Iterator[str]:
    """SH (処方) when the 処方 changes, CZ (調剤) when the dispensing changes, then the IY of
    each drug: the reader pairs every IY with the CZ records just before it."""
    if c.diagnoses or c.procedures:
        raise ValueError("a 調剤 claim has no SY or SI records")
    rx: tuple[int, str] | None = None
    dispensing: tuple[int, dt.date, dt.date] | None = None
    for drug in c.drugs:
        this_rx, this_dispensing = _pharmacy_keys(drug)
        if this_rx != rx:
            sh = _record(ClaimKind.PHARMACY, "SH")
            sh.set(2, _number(this_rx[0]), this_rx[1])
            yield sh.line()
            rx, dispensing = this_rx, None
        if this_dispensing != dispensing:
            units, prescribed, dispensed = this_dispensing
            cz = _record(ClaimKind.PHARMACY, "CZ")
            cz.set(3, format_month_day(prescribed, c.service_month))
            cz.set(4, format_month_day(dispensed, c.service_month), "", _number(units))
            yield cz.line()
            dispensing = this_dispensing
        iy = _record(ClaimKind.PHARMACY, "IY")
        iy.set(2, drug.burden, drug.code, _amount(drug.amount))
        yield iy.line()


def _pharmacy_keys(drug: Drug) -> tuple[tuple[int, str], tuple[int, dt.date, dt.date]]:
    if (
        drug.rx_number is None
        or drug.dispensed_units is None
        or drug.prescribed_on is None
        or drug.dispensed_on is None
        or not drug.dosage_form
        or not drug.burden
    ):
        raise ValueError(
            f"drug {drug.code}: a 調剤 drug needs rx_number, dosage_form, burden, "
            "dispensed_units, prescribed_on and dispensed_on"
        )
    return (drug.rx_number, drug.dosage_form), (
        drug.dispensed_units,
        drug.prescribed_on,
        drug.dispensed_on,
    )
