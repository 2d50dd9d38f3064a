"""The fast path of the change-feed parser (資格異動の検証): the common, well-formed row.

:func:`fast_event` gives exactly the :class:`Event` that :func:`parse_event` gives, for the
rows it recognises, and None for every other row: the caller then parses that row with
:func:`parse_event`, so an error names the same line, field and reason as before. It is
faster because what :func:`parse_event` recomputes per row is computed once per file or per
value here: each column's place in the header and the sorted column order of the digest
(:class:`Layout`, per header: a row is its list of fields, no dict), the columns each kind
leaves empty, the insurer numbers and dates (a feed repeats a few hundred of each), and the
insured-number parts already in normal form, which need no Unicode normalisation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import unicodedata
from collections.abc import Callable, Sequence
from typing import Final

from kokuho.ids import MAX_SYMBOL_LENGTH, InsuredId, InsurerNumber, InvalidIdentifier, iso_date
from kokuho.registry._events import (
    KINDS,
    LIMIT_CATEGORIES,
    LOSS_REASONS,
    PERSON_FIELDS,
    PERSON_LIMITS,
    RESIDENCY_COLUMNS,
    TERM_FIELDS,
    Event,
)
from kokuho.store import has_control

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
# The values a feed repeats on every row, one object each: an event that crosses to another
# process (``_feed_ahead``) pickles each of them once per file, not once per row.
_KINDS: Final = {kind: kind for kind in KINDS}
_BRANCHES: Final = {f"{n:02d}": f"{n:02d}" for n in range(100)}
_card_classes: dict[str, str] = {}
_insurers: dict[str, str | None] = {}


def _date(text: str) -> dt.date | None:
    """An ISO date as parse_date reads it (``GYYMMDD`` and bad dates go the slow way)."""
    day = _dates.get(text)
    if day is None:
        if len(text) != 10:
            return None
        try:
            day = iso_date(text)
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


def _card_class(text: str) -> str | None:
    value = _card_classes.get(text)
    if value is None:
        value = text or "01"
        if len(value) != 2 or not value.isalnum():
            return None
        if len(_card_classes) < 4096:
            _card_classes[text] = value
    return value


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
    ``order`` is ``sorted(raw)`` (the layout of the row's columns computes it)."""
    return layout(tuple(raw)).event(line, list(raw.values()))


def layout(header: Sequence[str]) -> Layout:
    """The :class:`Layout` of a file's header (a feed has a few kinds of header)."""
    key = tuple(header)
    found = _layouts.get(key)
    if found is None:
        if len(_layouts) >= 64:
            _layouts.clear()
        found = _layouts[key] = Layout(key)
    return found


class Layout:
    """The fast path for the rows of one header: what parse_event looks up by column name
    per row (the column's place, the digest's sorted order, the columns an event of each kind
    must leave empty) is looked up here once. A row is its fields, in the header's order."""

    def __init__(self, header: tuple[str, ...]) -> None:
        width = len(header)
        # A column the header lacks reads as the empty text after the row's fields.
        at = {name: index for index, name in enumerate(header)}

        def place(name: str) -> int:
            return at.get(name, width)

        self.width = width
        (self.event_id, self.kind, self.effective, self.insurer, self.symbol, self.number,
         self.branch, self.birth_date, self.sex, self.relationship, self.card_class,
         self.decided_on, self.loss_reason, self.address) = map(place, (
            "event_id", "event", "effective_date", *_INSURED, "birth_date", "sex",
            "relationship", "card_class", "decided_on", "loss_reason", "address",
        ))  # fmt: skip
        self.person = tuple((name, at[name]) for name in PERSON_FIELDS if name in at)
        self.terms = tuple((name, at[name], _TERM_VALUES[name]) for name in TERM_FIELDS
                           if name in at)  # fmt: skip
        # Every filled column is used by the event's kind: the columns each kind leaves empty.
        self.unused = {
            kind: tuple(index for index, name in enumerate(header) if name not in used)
            for kind, used in _USED.items()
        }
        order = sorted(range(width), key=header.__getitem__)
        self.prefixes = tuple(f"{header[index]}=" for index in order)
        # The row's fields in the digest's order (a tuple even for a single column).
        self.sorted: Callable[[list[str]], Sequence[str]] = (
            operator.itemgetter(*order) if width > 1 else lambda row: tuple(row[:width])
        )

    def event(self, line: int, fields: list[str]) -> Event | None:
        """The Event of a well-formed row (its fields), or None: parse_event answers then."""
        row = [*map(str.strip, fields), ""]  # "": the columns the header lacks
        event_id = row[self.event_id]
        kind = _KINDS.get(row[self.kind])
        effective = _date(row[self.effective])
        if not event_id or len(event_id) > 64 or kind is None or effective is None:
            return None
        insurer = _insurer_number(row[self.insurer])
        symbol = row[self.symbol]
        number = row[self.number]
        branch = _BRANCHES.get(row[self.branch])
        if (
            insurer is None
            or branch is None
            or not _plain(symbol, False)
            or not _plain(number, True)
        ):
            return None
        person: dict[str, str] = {
            name: value for name, index in self.person if (value := row[index])
        }
        for name, value in person.items():
            # isprintable() first, in C: it is true of nearly every name once the full-width
            # space between family and given name (not printable to Python) is left out, so
            # has_control's loop runs only for the rare rest.
            printable = value.replace("\u3000", "").isprintable()
            if len(value) > PERSON_LIMITS[name] or (not printable and has_control(value)):
                return None
        terms: dict[str, int | str | None] = {}
        for name, index, values in self.terms:
            text = row[index]
            if text:
                term = values.get(text, _MISSING)
                if term is _MISSING:
                    return None
                terms[name] = term  # type: ignore[assignment]
        birth_date = sex = relationship = decided_on = None
        loss_reason = None
        card_class = "01"
        if kind == "acquire":
            if len(person) != 3 or terms.get("copay_percent") is None:
                return None
            birth_date = _date(row[self.birth_date])
            sex = _SEX.get(row[self.sex])
            relationship = _RELATIONSHIP.get(row[self.relationship])
            if birth_date is None or birth_date > effective or sex is None or relationship is None:
                return None
            given = _card_class(row[self.card_class])
            if given is None:
                return None
            card_class = given
            if row[self.decided_on]:
                decided_on = _date(row[self.decided_on])
                if decided_on is None or decided_on < effective:
                    return None
            unused = self.unused[kind, relationship]
        elif kind == "lose":
            loss_reason = row[self.loss_reason]
            if loss_reason not in LOSS_REASONS:
                return None
            address = row[self.address]
            person = {"address": address} if address else {}
            unused = self.unused[kind, None]
        else:
            if not person and not terms:
                return None
            unused = self.unused[kind, None]
        for index in unused:
            if row[index]:
                return None
        fields_sorted = zip(self.prefixes, self.sorted(row), strict=True)
        canonical = "\x1f".join([prefix + value for prefix, value in fields_sorted if value])
        digest = hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()
        return Event(
            line, event_id, kind, effective, InsuredId(insurer, symbol, number, branch), digest,
            person, birth_date, sex, relationship, card_class, terms, loss_reason, decided_on,
        )  # fmt: skip


_layouts: dict[tuple[str, ...], Layout] = {}
