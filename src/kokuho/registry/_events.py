"""Rows of the change feed (資格異動) parsed into events. Pure: no database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Final

from kokuho.ids import InsuredId, InvalidIdentifier, iso_date, parse_gyymmdd
from kokuho.store import has_control

KINDS: Final = ("acquire", "lose", "change")
PERSON_FIELDS: Final = ("name_kanji", "name_kana", "address")
#: The longest a person field may be: the register's columns (``_tables``), which PostgreSQL
#: enforces and SQLite does not. The resident register's loader holds its rows to the same.
PERSON_LIMITS: Final = {"name_kanji": 100, "name_kana": 100, "address": 200}
TERM_FIELDS: Final = (
    "copay_percent",
    "elderly_copay_percent",
    "limit_category",
    "specific_disease",
)
#: A dependant's residency (被扶養者の国内居住要件, docs/dependants.md): optional, on a 2 家族
#: acquire only. The import accepts them so one file serves both; it does not judge them
#: (``kokuho dependants check`` does: the boundary room, which the register cannot import).
RESIDENCY_COLUMNS: Final = frozenset(
    {"residence", "visa_status", "residency_exception", "exception_evidence", "exception_until"}
)
COLUMNS: Final = frozenset(
    {
        "event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch",
        "name_kanji", "name_kana", "birth_date", "sex", "address", "relationship",
        "copay_percent", "elderly_copay_percent", "limit_category", "specific_disease",
        "card_class", "loss_reason", "decided_on",
    }
) | RESIDENCY_COLUMNS  # fmt: skip
REQUIRED: Final = frozenset(
    {"event_id", "event", "effective_date", "insurer_number", "symbol", "number", "branch"}
)
LOSS_REASONS: Final = {"01": "死亡", "02": "生活保護", "03": "他保険加入", "99": "その他"}
LIMIT_CATEGORIES: Final = frozenset(
    [f"A0{n}" for n in range(1, 7)] + [f"B{n:02d}" for n in range(1, 11)]
)
CLEAR: Final = "-"


class FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(reason)


@dataclass(slots=True)
class Event:
    """One validated row. ``person`` and ``terms`` hold only the columns the row filled;
    a value of None in ``terms`` means "clear it" (the row said ``-``)."""

    line: int
    event_id: str
    kind: str
    effective: dt.date
    insured: InsuredId
    digest: str
    person: dict[str, str]
    birth_date: dt.date | None
    sex: int | None
    relationship: int | None
    card_class: str
    terms: dict[str, int | str | None]
    loss_reason: str | None
    #: 資格決定日/確認日 of an ``acquire`` (when the insurer or 年金機構 confirmed the 資格取得):
    #: far after ``effective`` for a retroactive enrolment (国保法 §110-2(2), docs/boundary.md).
    decided_on: dt.date | None = None
    #: The match key of an ``acquire``'s five items when the reader computed it (the
    #: read-ahead child does, on its own CPU); None: the apply computes it.
    key: str | None = dataclasses.field(default=None, compare=False)


def parse_date(field: str, raw: str) -> dt.date:
    text = raw.strip()
    try:
        if len(text) == 7 and text.isdigit():
            return parse_gyymmdd(text)
        return iso_date(text)
    except InvalidIdentifier as error:
        raise FieldError(field, error.reason) from None
    except ValueError:
        raise FieldError(field, f"{raw!r} is not a date (YYYY-MM-DD or GYYMMDD)") from None


def _choice(field: str, raw: str, allowed: dict[str, int]) -> int:
    value = allowed.get(raw.strip())
    if value is None:
        raise FieldError(field, f"{raw!r} is not one of {', '.join(allowed)}")
    return value


_PERCENT = {"10": 10, "20": 20, "30": 30}
_ELDERLY = {"20": 20, "30": 30}


def _term(field: str, raw: str) -> int | str | None:
    text = raw.strip()
    if text == CLEAR:
        if field == "copay_percent":
            raise FieldError(field, "一部負担金の割合 cannot be cleared")
        return None
    if field == "copay_percent":
        return _choice(field, text, _PERCENT)
    if field == "elderly_copay_percent":
        return _choice(field, text, _ELDERLY)
    if field == "limit_category":
        if text.upper() not in LIMIT_CATEGORIES:
            raise FieldError(field, f"{raw!r} is not a 限度額 category (A01–A06, B01–B10)")
        return text.upper()
    if text not in ("1", "2", "3"):
        raise FieldError(field, f"{raw!r} is not a 特定疾病 code (1, 2, 3)")
    return text


def _digest(row: dict[str, str]) -> str:
    # Sorted by column so that the same event in a file with another column order matches.
    canonical = "\x1f".join([f"{key}={row[key]}" for key in sorted(row) if row[key]])
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def _check_person_field(name: str, value: str) -> None:
    """A name or address is shown on pages, printed in notices and written into workbooks: a
    control or bidi character (``store.has_control``) is refused, as the resident register
    refuses it, and so is a value longer than its column."""
    if has_control(value):
        raise FieldError(name, "contains a control character (C0, C1 or a bidi control)")
    if len(value) > PERSON_LIMITS[name]:
        raise FieldError(name, f"is longer than {PERSON_LIMITS[name]} characters")


def parse_event(line: int, raw: dict[str, str]) -> Event:
    """Validates one row; raises FieldError naming the column at fault."""
    row = {name: value.strip() for name, value in raw.items()}
    get = row.get

    event_id = get("event_id", "")
    if not event_id or len(event_id) > 64:
        raise FieldError("event_id", "must be 1–64 characters")
    kind = get("event", "")
    if kind not in KINDS:
        raise FieldError("event", f"{kind!r} is not acquire, lose or change")
    effective = parse_date("effective_date", get("effective_date", ""))
    insured_fields = ("insurer_number", "symbol", "number", "branch")
    try:
        insured = InsuredId.parse(*(row.get(name, "") for name in insured_fields))
    except InvalidIdentifier as error:
        field = {
            "insurer number": "insurer_number", "記号": "symbol", "番号": "number", "枝番": "branch"
        }.get(error.kind, "insurer_number")  # fmt: skip
        raise FieldError(field, str(error)) from None

    person = {name: get(name, "") for name in PERSON_FIELDS if get(name, "")}
    for name, value in person.items():
        _check_person_field(name, value)
    terms = {name: _term(name, get(name, "")) for name in TERM_FIELDS if get(name, "")}
    used = {"event_id", "event", "effective_date", *insured_fields}
    birth_date = sex = relationship = None
    loss_reason = None
    card_class = "01"
    decided_on = None
    if kind == "acquire":
        for name in ("name_kanji", "name_kana", "address"):
            if name not in person:
                raise FieldError(name, "required for acquire")
        if "copay_percent" not in terms or terms["copay_percent"] is None:
            raise FieldError("copay_percent", "required for acquire")
        birth_date = parse_date("birth_date", get("birth_date", ""))
        if birth_date > effective:
            raise FieldError("birth_date", "is after the 資格取得日")
        sex = _choice("sex", get("sex", ""), {"1": 1, "2": 2})
        relationship = _choice("relationship", get("relationship", ""), {"1": 1, "2": 2})
        card_class = get("card_class", "") or "01"
        if len(card_class) != 2 or not card_class.isalnum():
            raise FieldError("card_class", f"{card_class!r} is not a 2-character 被保険者証区分")
        if get("decided_on", ""):
            decided_on = parse_date("decided_on", get("decided_on", ""))
            if decided_on < effective:
                raise FieldError("decided_on", "資格決定日 is before the 資格取得日")
        used |= {*PERSON_FIELDS, *TERM_FIELDS, "birth_date", "sex", "relationship", "card_class",
                 "decided_on"}  # fmt: skip
        if relationship == 2:
            used |= RESIDENCY_COLUMNS
    elif kind == "lose":
        loss_reason = get("loss_reason", "")
        if loss_reason not in LOSS_REASONS:
            raise FieldError("loss_reason", f"{loss_reason!r} is not 01, 02, 03 or 99")
        # 転出: the loss may carry the new address, so that the person is found again by all
        # five items when the new municipality's 国保 enrols them.
        person = {name: value for name, value in person.items() if name == "address"}
        used |= {"loss_reason", "address"}
    else:
        if not person and not terms:
            raise FieldError("event", "a change must fill at least one changeable column")
        used |= {*PERSON_FIELDS, *TERM_FIELDS}
    for name, value in row.items():
        if value and name not in used:
            raise FieldError(name, f"is not used by a {kind} event; leave it empty")
    return Event(
        line, event_id, kind, effective, insured, _digest(row), person, birth_date, sex,
        relationship, card_class, terms, loss_reason, decided_on,
    )  # fmt: skip
