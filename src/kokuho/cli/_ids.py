"""``kokuho ids``: check identifiers and convert 和暦 dates at the counter or in scripts."""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from typing import Any, NoReturn

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, json_option
from kokuho.ids import (
    ERAS,
    HEALTH_INSURANCE_LAW_CODES,
    InstitutionCode,
    InsurerNumber,
    InvalidIdentifier,
    MyNumber,
    parse_gyymm,
    parse_gyymmdd,
    to_gyymm,
    to_gyymmdd,
    wareki_label,
)

KINDS = ("insurer", "institution", "mynumber")


@click.group(cls=SingleValueGroup, name="ids")
def ids() -> None:
    """Check identifiers and convert dates.

    保険者番号 (insurer number), 医療機関コード (institution code), 個人番号 (My Number, never
    printed in full) and 和暦 dates in the レセ電 forms GYYMMDD and GYYMM.
    """


def _read_value(value: str) -> str:
    # "-" keeps a My Number out of the shell history and the process list.
    if value == "-":
        return sys.stdin.readline().rstrip("\r\n")
    return value


def _invalid(kind: str, reason: str, as_json: bool, **extra: Any) -> NoReturn:
    if as_json:
        emit_json({"kind": kind, "valid": False, "value": None, "reason": reason, **extra})
    else:
        click.echo(f"invalid: {reason}", err=True)
    sys.exit(1)


def _valid(kind: str, value: str, message: str, as_json: bool, **details: Any) -> None:
    if as_json:
        emit_json({"kind": kind, "valid": True, "value": value, "reason": None, **details})
    else:
        click.echo(message)


def _check_insurer(raw: str, as_json: bool) -> None:
    try:
        number = InsurerNumber.parse(raw)
    except InvalidIdentifier as error:
        _invalid("insurer", error.reason, as_json)
    law = number.law_code
    scheme = "国民健康保険" if law is None else HEALTH_INSURANCE_LAW_CODES[law]
    described = scheme if law is None else f"法別 {law} {scheme}"
    _valid(
        "insurer",
        number.value,
        f"valid insurer number {number.value} ({described}, 都道府県 {number.prefecture})",
        as_json,
        law_code=law,
        scheme=scheme,
        prefecture=number.prefecture,
        kokuho=number.is_kokuho,
    )


def _check_institution(raw: str, prefecture: str | None, table: str | None, as_json: bool) -> None:
    try:
        if prefecture is not None and table is not None:
            code = InstitutionCode.from_claim(prefecture, table, raw)
        else:
            code = InstitutionCode.parse(raw)
    except InvalidIdentifier as error:
        reason = error.reason
        if "7-digit" in reason:
            reason += " (give --prefecture PP --table T)"
        _invalid("institution", reason, as_json)
    _valid(
        "institution",
        code.value,
        f"valid institution code {code.value} (都道府県 {code.prefecture}, "
        f"点数表 {code.value[2]} {code.kind}, 医療機関コード {code.short})",
        as_json,
        prefecture=code.prefecture,
        score_table=code.value[2],
        institution_kind=code.kind,
        short=code.short,
    )


def _check_mynumber(raw: str, as_json: bool) -> None:
    try:
        number = MyNumber.parse(raw)
    except InvalidIdentifier as error:
        # The reason never contains the digits; error.value (masked) is not needed either.
        _invalid("mynumber", error.reason, as_json)
    masked = f"********{number.last4()}"
    _valid(
        "mynumber",
        masked,
        f"valid My Number {masked} (個人番号, 検査用数字 OK)",
        as_json,
        masked=True,
        last4=number.last4(),
    )


@ids.command("check")
# Not a click.Choice: its error repeats the rejected word, which may be a My Number typed
# in the wrong place.
@click.argument("kind", metavar="{insurer|institution|mynumber}")
@click.argument("value")
@click.option(
    "--prefecture",
    metavar="PP",
    help="都道府県番号 of a 7-digit 医療機関コード from a claim (institution only).",
)
@click.option(
    "--table",
    metavar="T",
    help="点数表番号 of a 7-digit 医療機関コード: 1 医科, 3 歯科, 4 調剤 (institution only).",
)
@json_option
def check(kind: str, value: str, prefecture: str | None, table: str | None, as_json: bool) -> None:
    """Check a 保険者番号, 医療機関コード or 個人番号 (My Number).

    KIND is insurer, institution or mynumber. VALUE may be full-width; give "-" to read it
    from standard input (do so for My Numbers). Exit status 0 when valid, 1 when not, 2 on a
    usage error.

    \b
      kokuho ids check insurer 01130012
      kokuho ids check institution 0110113719
      kokuho ids check institution 0113719 --prefecture 01 --table 1
      kokuho ids check mynumber - < file
    """
    if kind not in KINDS:
        raise click.UsageError("KIND must be insurer, institution or mynumber")
    if kind != "institution" and (prefecture is not None or table is not None):
        raise click.UsageError("--prefecture and --table apply to institution codes only")
    if (prefecture is None) != (table is None):
        raise click.UsageError("--prefecture and --table go together")
    raw = _read_value(value)
    if kind == "insurer":
        _check_insurer(raw, as_json)
    elif kind == "institution":
        _check_institution(raw, prefecture, table, as_json)
    else:
        _check_mynumber(raw, as_json)


_GYYMMDD = re.compile(r"[0-9]{7}")
_GYYMM = re.compile(r"[0-9]{5}")
_ISO_DAY = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")
_ISO_MONTH = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})")
_ERA_BY_CODE = {str(era.code): era for era in ERAS}
# Japan kept the lunar calendar until 明治5年12月2日; 明治6年1月1日 was 1873-01-01. Earlier
# 和暦 days do not map onto Gregorian days by adding a year offset.
_GREGORIAN_FROM = dt.date(1873, 1, 1)
_LAST_YEAR = ERAS[-1].base_year + 99  # YY has two digits


def _month_label(gyymm: str) -> str:
    era = _ERA_BY_CODE[gyymm[0]]
    year = int(gyymm[1:3])
    return f"{era.name}{'元' if year == 1 else year}年{int(gyymm[3:5])}月"


def _in_range(first: dt.date, what: str) -> None:
    if first < _GREGORIAN_FROM:
        raise ValueError(f"{what} is before 1873-01-01 (明治6年), when 和暦 dates were lunar")


def _day(day: dt.date, gyymmdd: str, form: str, line: str) -> tuple[str, dict[str, Any]]:
    _in_range(day, day.isoformat())
    if len(gyymmdd) != 7:
        raise ValueError(f"{day} is after 令和99年")
    label = wareki_label(day)
    document = {"form": form, "iso": day.isoformat(), "gyymmdd": gyymmdd, "label": label}
    return f"{line} ({label})", document


def _month(year: int, month: int, gyymm: str, form: str, line: str) -> tuple[str, dict[str, Any]]:
    iso = f"{year:04d}-{month:02d}"
    _in_range(dt.date(year, month, 1), iso)
    if len(gyymm) != 5:
        raise ValueError(f"{iso} is after 令和99年")
    label = _month_label(gyymm)
    return f"{line} ({label})", {"form": form, "iso": iso, "gyymm": gyymm, "label": label}


def _convert(text: str) -> tuple[str, dict[str, Any]]:
    """(the line for people, the JSON fields) for a value in any of the four forms."""
    if _GYYMMDD.fullmatch(text):
        day = parse_gyymmdd(text)
        return _day(day, text, "GYYMMDD", f"{text} = {day.isoformat()}")
    if match := _ISO_DAY.fullmatch(text):
        try:
            day = dt.date(*(int(part) for part in match.groups()))
        except ValueError as error:
            raise ValueError(f"no such day ({error})") from None
        gyymmdd = to_gyymmdd(day) if day >= ERAS[0].first_day else ""
        return _day(day, gyymmdd, "ISO date", f"{day.isoformat()} = {gyymmdd}")
    if _GYYMM.fullmatch(text):
        # As typed, 36401 stays 昭和64年1月 although to_gyymm names that month 40101.
        year, month = parse_gyymm(text)
        return _month(year, month, text, "GYYMM", f"{text} = {year:04d}-{month:02d}")
    if match := _ISO_MONTH.fullmatch(text):
        year, month = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            raise ValueError(f"month {month:02d} is not 01–12")
        in_eras = ERAS[0].first_day.year <= year <= _LAST_YEAR
        gyymm = to_gyymm(year, month) if in_eras else ""
        return _month(year, month, gyymm, "ISO month", f"{year:04d}-{month:02d} = {gyymm}")
    raise ValueError("expected GYYMMDD, GYYMM, YYYY-MM-DD or YYYY-MM")


@ids.command("wareki")
@click.argument("value")
@json_option
def wareki(value: str, as_json: bool) -> None:
    """Convert between 和暦 (レセ電 GYYMMDD / GYYMM) and ISO dates.

    G is the 年号区分: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和. Exit status 1 when VALUE is not
    a real day or month of the era it names (平成31年5月1日 does not exist).

    \b
      kokuho ids wareki 5010501      → 2019-05-01 (令和元年5月1日)
      kokuho ids wareki 50604        → 2024-04 (令和6年4月)
      kokuho ids wareki 1989-01-07   → 3640107 (昭和64年1月7日)
      kokuho ids wareki 2019-05      → 50105 (令和元年5月)
    """
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        line, document = _convert(text)
    except (InvalidIdentifier, ValueError) as error:
        reason = error.reason if isinstance(error, InvalidIdentifier) else str(error)
        if as_json:
            emit_json({"input": value, "valid": False, "reason": reason})
        else:
            click.echo(f"invalid: {reason}", err=True)
        sys.exit(1)
    if as_json:
        emit_json({"input": value, "valid": True, "reason": None, **document})
    else:
        click.echo(line)
