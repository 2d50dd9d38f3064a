"""The dashboard's request parameters (クエリ・フォームの入力値), each checked against its
allowed values before any page uses it. A value outside them is a 400 that names the
parameter and the reason (:class:`BadParameter`); nothing raw reaches the database, a page or
the audit log."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Final, Literal

import jinja2
from fastapi import Request
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import HTMLResponse, JSONResponse, Response

from kokuho.web.dashboard._render import environment, render
from kokuho.web.dashboard._security import secure_headers

Format = Literal["csv", "xlsx"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "xlsx")
#: The longest value any parameter may have (a `next` path is the longest legitimate one).
MAX_VALUE: Final = 2000
#: 年度: the fiscal years a page may be asked for (the data hold far fewer).
YEARS: Final = range(2000, 2100)
#: `on` (基準日): the first day a page may be asked to show (the first of :data:`YEARS`); the
#: last is today (what happens after it is not known yet).
FIRST_DAY: Final = dt.date(YEARS.start, 1, 1)
#: `before`: an audit-log sequence number (a 64-bit integer in both databases).
SEQUENCES: Final = range(1, 2**63)
#: A double-payment case number (事案番号: a database serial).
CASES: Final = range(1, 2**31)
_INSURER = re.compile(r"[0-9]{6}|[0-9]{8}")  # 保険者番号: 6 digits (国保) or 8
_TABLE = re.compile(r"[a-z0-9-]{1,60}")
_JOB = re.compile(r"[0-9a-f]{20}")
_LEVER = re.compile(r"[a-z][a-z0-9_]{0,59}")
_CSRF = re.compile(r"[A-Za-z0-9_-]{1,100}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # as <input type="date"> sends it
#: A number as a slider sends it: decimal, no spaces, no "_" (float() reads " 1" and "0_0.5").
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class BadParameter(ValueError):
    """A request parameter outside its allowed values: answered 400 with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _clean(name: str, value: str) -> str:
    if len(value) > MAX_VALUE:
        raise BadParameter(name, f"{MAX_VALUE} 文字までです")
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value):
        raise BadParameter(name, "制御文字 (NUL など) は使えません")
    return value


def _matching(name: str, value: str, pattern: re.Pattern[str], reason: str) -> str:
    if not pattern.fullmatch(value):
        raise BadParameter(name, reason)
    return value


def check_all(params: Mapping[str, str]) -> None:
    """Every value of the query or form, known parameter or not: bounded, no control
    characters (they are shown back in forms and links); and each name once: of a name given
    twice a page reads one value, and the other would pass every check unseen."""
    pairs = params.multi_items() if isinstance(params, ImmutableMultiDict) else params.items()
    seen: set[str] = set()
    for name, value in pairs:
        _clean(name[:40], name)
        _clean(name[:40], value)
        if name in seen:
            raise BadParameter(name[:40], "1回だけ指定してください")
        seen.add(name)


def fiscal_year(params: Mapping[str, str]) -> int | None:
    """``fy``: absent or empty for the newest year; else a year 2000–2099."""
    raw = _clean("fy", params.get("fy", ""))
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4 and int(raw) in YEARS):
        raise BadParameter("fy", f"年度は {YEARS.start}〜{YEARS.stop - 1} の4桁の数字です")
    return int(raw)


def as_of_day(params: Mapping[str, str], today: dt.date | None = None) -> dt.date | None:
    """``on`` (基準日): absent or empty for today; else a day ``YYYY-MM-DD`` (ASCII digits)
    from :data:`FIRST_DAY` up to today: a day to come is refused, its cases are not known."""
    raw = _clean("on", params.get("on", ""))
    if not raw:
        return None
    last = today or dt.date.today()
    _matching("on", raw, _DAY, "基準日は YYYY-MM-DD (半角数字) で指定してください")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadParameter("on", f"基準日 {raw} という日はありません") from None
    if not FIRST_DAY <= day <= last:
        raise BadParameter(
            "on", f"基準日は {FIRST_DAY.isoformat()} から本日 ({last.isoformat()}) までの日です"
        )
    return day


def insurer_number(value: str, name: str = "保険者番号") -> str:
    return _matching(name, _clean(name, value), _INSURER, "保険者番号は6桁または8桁の数字です")


def download(params: Mapping[str, str]) -> tuple[str, Format] | None:
    """``download`` (a table id of the page) and ``format`` (csv or xlsx, csv when absent)."""
    table = params.get("download")
    if table is None:
        return None
    _matching(
        "download", _clean("download", table), _TABLE, "表の名前は英小文字・数字・ハイフンです"
    )
    kind = _clean("format", params.get("format", "csv"))
    for allowed in FORMATS:
        if kind == allowed:
            return table, allowed
    raise BadParameter("format", "csv か xlsx を指定してください")


#: The range of every what-if lever (a rate): the slider's bounds and the check of ``value``.
RATE_MIN: Final = 0
RATE_MAX: Final = 1
RATE_RANGE: Final = "率は 0〜1 で指定してください"


def before(params: Mapping[str, str]) -> int | None:
    """``before``: the audit-log page cursor (a sequence number), absent for the newest."""
    raw = _clean("before", params.get("before", ""))
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) in SEQUENCES):
        raise BadParameter("before", f"1〜{SEQUENCES.stop - 1} の番号を指定してください")
    return int(raw)


def case_id(value: str) -> int:
    """A case number in a path (二重払い 事案番号)."""
    raw = _clean("case", value)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) in CASES):
        raise BadParameter("case", f"事案番号 (1〜{CASES.stop - 1}) を指定してください")
    return int(raw)


def rate(params: Mapping[str, str], name: str = "value") -> float:
    """A what-if lever's value: a finite number within every lever's range (they are all
    rates, :data:`RATE_MIN`–:data:`RATE_MAX`), checked before any figures are waited for."""
    raw = _clean(name, params.get(name, ""))
    value = float(raw) if len(raw) <= 30 and _NUMBER.fullmatch(raw) else math.nan
    if not math.isfinite(value):
        raise BadParameter(name, "数値で指定してください")
    if not RATE_MIN <= value <= RATE_MAX:
        raise BadParameter(name, RATE_RANGE)
    return value


def lever(params: Mapping[str, str]) -> str:
    """``lever``: the key of a what-if lever (the page then checks it is one it offers)."""
    return _matching("lever", params.get("lever", ""), _LEVER, "指標の名前は英小文字・数字・_ です")


def job_id(value: str) -> str:
    return _matching("job", value, _JOB, "集計の番号は20桁の16進数です")


def csrf_token(fields: Mapping[str, str]) -> str:
    """A form's ``csrf_token``: the tokens kokuho issues are URL-safe base64."""
    token = fields.get("csrf_token", "")
    return _matching("csrf_token", token, _CSRF, "フォームの確認用の値が正しくありません")


def bad_parameter_response(request: Request, error: Exception) -> Response:
    """The 400 of a :class:`BadParameter`: JSON on the JSON endpoints, a short page else."""
    assert isinstance(error, BadParameter)
    path = request.url.path
    if path.startswith(("/jobs/", "/grants/what-if")):
        response: Response = JSONResponse(
            {"error": str(error), "parameter": error.name}, status_code=400
        )
    else:
        # The page of the 404 and the 405 (the dashboard's style), the reason escaped.
        body = render(
            _templates(), "http_error.html", title="入力が正しくありません", reason=str(error)
        )
        response = HTMLResponse(body, status_code=400)
    return secure_headers(response)


@functools.cache
def _templates() -> jinja2.Environment:
    return environment()
