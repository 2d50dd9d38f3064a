"""Two 更正 runs of one municipality-year at once (`kokuho premiums reassess` beside the 更正 a
`kokuho registry import` makes): the second computed its decisions from the 調定 in force before
the first recorded its own. Whatever the days, it must then report and record what it would have
run after the first: nothing, every household unchanged. (It reported the first run's decisions
as its own, a second 差額 the clerk would add up; a later day recorded 減額賦課 of 0 yen; an
earlier day was refused as "before the decision in force".) SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.premiums import _levying, assess_fiscal_year, reassess
from tests.test_premiums_levying import (  # noqa: F401  (fixture)
    TOWN,
    YEAR,
    decision_count,
    in_force,
    retroactive_changes,
    town,
)


@pytest.mark.parametrize(
    ("first_day", "second_day"),
    [
        (dt.date(2022, 1, 20), dt.date(2022, 1, 20)),
        (dt.date(2022, 1, 20), dt.date(2022, 1, 21)),
        (dt.date(2022, 1, 21), dt.date(2022, 1, 20)),
    ],
    ids=["same-day", "later-day", "earlier-day"],
)
def test_a_reassessment_overtaken_by_another_reports_what_a_serial_run_would(
    town: sa.Engine,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first_day: dt.date,
    second_day: dt.date,
) -> None:
    assess_fiscal_year(town, TOWN, YEAR, dt.date(2021, 6, 15))
    retroactive_changes(town, tmp_path / "changes2.csv")
    record = _levying.record_decisions
    first: list[Any] = []

    def overtaken(*args: Any, **kwargs: Any) -> Any:
        # The second run has read the 調定 in force and the register and decided; before it
        # records, the first run (another process in real life) records its own 更正.
        if not first:
            first.append(None)  # the first run records through here too: once
            first[0] = reassess(town, TOWN, YEAR, first_day)
            first.append((decision_count(town), in_force(town)))
        return record(*args, **kwargs)

    monkeypatch.setattr(_levying, "record_decisions", overtaken)
    second = reassess(town, TOWN, YEAR, second_day)
    assert {c.kind for c in first[0].changes} == {"decrease", "increase", "initial"}
    recorded, charged = first[1]

    assert second.changes == () and second.refused == ()
    assert second.unchanged == second.households == 3
    assert (decision_count(town), in_force(town)) == (recorded, charged)
    # And a third run, plainly after both, agrees.
    monkeypatch.setattr(_levying, "record_decisions", record)
    third = reassess(town, TOWN, YEAR, max(first_day, second_day))
    assert third.changes == () and decision_count(town) == recorded
