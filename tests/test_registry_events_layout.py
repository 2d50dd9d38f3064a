"""The fast path by column position (``_events_fast.Layout``) answers as ``parse_event`` on
headers of any order and any subset of the optional columns: a column the header lacks
reads as empty, and the digest does not depend on the order."""

from __future__ import annotations

import random

from kokuho.registry._events import COLUMNS, REQUIRED, FieldError, parse_event
from kokuho.registry._events_fast import layout
from tests.test_registry_import_fast import ODD, _Feed


def test_a_layout_of_any_header_is_parse_event_or_declines() -> None:
    rng = random.Random(11)
    feed = _Feed(rng)
    optional = sorted(COLUMNS - REQUIRED)
    answered = declined = 0
    for line in range(2, 4000):
        header = [*REQUIRED, *rng.sample(optional, rng.randint(0, len(optional)))]
        rng.shuffle(header)
        event = feed.event("2021-06-15")
        row = {name: event.get(name, "") for name in header}
        if rng.random() < 0.5:
            for column in rng.sample(sorted(ODD), rng.randint(1, 3)):
                if column in row:
                    row[column] = rng.choice(ODD[column])
        fast = layout(header).event(line, list(row.values()))
        try:
            expected = parse_event(line, row)
        except FieldError:
            assert fast is None, row
            declined += 1
            continue
        if fast is None:
            declined += 1
        else:
            assert fast == expected, row
            # The same row under another order of the same columns: the same event.
            shuffled = sorted(header, key=lambda _: rng.random())
            again = layout(shuffled).event(line, [row[name] for name in shuffled])
            assert again == expected
            answered += 1
    assert answered > 1000 and declined > 500
