"""The fast path of the change-feed parser (資格異動の検証): the common, well-formed row.

:func:`fast_event` gives exactly the :class:`Event` that :func:`parse_event` gives, for the
rows it recognises, and None for every other row: the caller then parses that row with
:func:`parse_event`, so an error names the same line, field and reason as before. It is
faster because what :func:`parse_event` recomputes per row is computed once per file or per
value here: the sorted column order of the digest, the set of columns each kind uses, the
insurer numbers and dates (a feed repeats a few hundred of each), and the insured-number
parts already in normal form, which need no Unicode normalisation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections.abc import Sequence
from typing import Final

from kokuho.ids import MAX_SYMBOL_LENGTH, InsuredId, InsurerNumber, InvalidIdentifier
from kokuho.registry._events import (
    KINDS,
    LIMIT_CATEGORIES,
    LOSS_REASONS,
    PERSON_FIELDS,
    RESIDENCY_COLUMNS,
    TERM_FIELDS,
    Event,
)

_INSURED: Final = ("insurer_number", "symbol", "number", "branch")
_BASE: Final = frozenset({"event_id", "event", "effective_date", *_INSURED})
_ACQUIRE: Final = _BASE | {*PERSON_FIELDS, *TERM_FIELDS, "birth_date", "sex", "relationship",
                           "card_class", "decided_on"}  # fmt: skip
_USED: Final = {
    ("acquire", 1): _ACQUIRE,
    ("acquire", 2): _ACQUIRE | RESIDENCY_COLUMNS,
    ("lose", None): _BASE | {"loss_reason", "address"},
    ("change", None): _BASE | {*PERSON_FIELDS, *TERM_FIELDS},
}
_SEX: Final = {"1": 1, "2": 2}
_RELATIONSHIP: Final = {"1": 1, "2": 2}
_MISSING: Final = object()
#: The terms a row may write, by column and text, as parse_event's ``_term`` reads them; a
#: text not here (``-`` for 一部負担金の割合, a bad code, a lower-case 限度額 category) goes
#: the slow way.
_TERM_VALUES: Final[dict[str, dict[str, int | str | None]]] = {
    "copay_percent": {"10": 10, "20": 20, "30": 30},
    "elderly_copay_percent": {"20": 20, "30": 30, "-": None},
    "limit_category": {**{code: code for code in LIMIT_CATEGORIES}, "-": None},
    "specific_disease": {"1": "1", "2": "2", "3": "3", "-": None},
}
# Bounded: a feed of a million persons has tens of thousands of distinct birth dates.
_DATES_KEPT: Final = 200_000
_dates: dict[str, dt.date] = {}
_insurers: dict[str, str | None] = {}


def _date(text: str) -> dt.date | None:
    """An ISO date as parse_date reads it (``GYYMMDD`` and bad dates go the slow way)."""
    day = _dates.get(text)
    if day is None:
        if len(text) != 10:
            return None
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None
        if len(_dates) >= _DATES_KEPT:
            _dates.clear()
        _dates[text] = day
    return day


def _insurer_number(text: str) -> str | None:
    value = _insurers.get(text, _MISSING)
    if value is _MISSING:
        try:
            value = InsurerNumber.parse(text).value
        except InvalidIdentifier:
            value = None
        if len(_insurers) < 4096:
            _insurers[text] = value
    return value  # type: ignore[return-value]


def _plain(text: str, required: bool) -> bool:
    """The 記号/番号 is already what parse_symbol/parse_number make of it (``香警01``,
    ``0000307``): NFKC leaves it as it is, and it has no space (a printable text has no
    other whitespace) and no control character."""
    if not text:
        return not required
    return (
        len(text) <= MAX_SYMBOL_LENGTH
        and text.isprintable()
        and " " not in text
        and (text.isascii() or unicodedata.is_normalized("NFKC", text))
    )


def fast_event(line: int, raw: dict[str, str], order: Sequence[str]) -> Event | None:
    """The Event of a well-formed row, or None: parse the row with parse_event then.
    ``order`` is ``sorted(raw)``, the same for every row of a file."""
    row = {name: value.strip() for name, value in raw.items()}
    event_id = row.get("event_id", "")
    kind = row.get("event", "")
    effective = _date(row.get("effective_date", ""))
    if not event_id or len(event_id) > 64 or kind not in KINDS or effective is None:
        return None
    insurer = _insurer_number(row.get("insurer_number", ""))
    symbol = row.get("symbol", "")
    number = row.get("number", "")
    branch = row.get("branch", "")
    if (
        insurer is None
        or not _plain(symbol, False)
        or not _plain(number, True)
        or len(branch) != 2
        or not (branch.isascii() and branch.isdigit())
    ):
        return None
    person = {name: row[name] for name in PERSON_FIELDS if row.get(name)}
    terms: dict[str, int | str | None] = {}
    for name in TERM_FIELDS:
        text = row.get(name)
        if text:
            value = _TERM_VALUES[name].get(text, _MISSING)
            if value is _MISSING:
                return None
            terms[name] = value  # type: ignore[assignment]
    birth_date = sex = relationship = decided_on = None
    loss_reason = None
    card_class = "01"
    if kind == "acquire":
        if len(person) != 3 or terms.get("copay_percent") is None:
            return None
        birth_date = _date(row.get("birth_date", ""))
        sex = _SEX.get(row.get("sex", ""))
        relationship = _RELATIONSHIP.get(row.get("relationship", ""))
        if birth_date is None or birth_date > effective or sex is None or relationship is None:
            return None
        card_class = row.get("card_class", "") or "01"
        if len(card_class) != 2 or not card_class.isalnum():
            return None
        if row.get("decided_on", ""):
            decided_on = _date(row["decided_on"])
            if decided_on is None or decided_on < effective:
                return None
        used = _USED[kind, relationship]
    elif kind == "lose":
        loss_reason = row.get("loss_reason", "")
        if loss_reason not in LOSS_REASONS:
            return None
        person = {name: value for name, value in person.items() if name == "address"}
        used = _USED[kind, None]
    else:
        if not person and not terms:
            return None
        used = _USED[kind, None]
    for name, value in row.items():
        if value and name not in used:
            return None
    canonical = "\x1f".join([f"{name}={value}" for name in order if (value := row[name])])
    digest = hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()
    return Event(
        line, event_id, kind, effective, InsuredId(insurer, symbol, number, branch), digest,
        person, birth_date, sex, relationship, card_class, terms, loss_reason, decided_on,
    )  # fmt: skip
