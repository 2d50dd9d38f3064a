"""The synthetic payments: written in the payments format from given 調定, the same for a seed,
and paying what the habits say (on time, late, in part, nothing, twice)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

from kokuho.premiums import Arrear
from kokuho.synth import write_payments


def _charge(household: str, instalment: int, due: dt.date, charged: int) -> Arrear:
    """One 納期 as the demo reads it: the arrears report before any payment."""
    days = (dt.date(2023, 4, 1) - due).days
    return Arrear("372013", household, 2021, instalment, due, charged, charged, days, "current")


def _charges(households: int) -> list[Arrear]:
    return [
        _charge(f"{h:010d}", n, dt.date(2021, 6 + n, 28), 10_000 + h)
        for h in range(households)
        for n in range(1, 7)
    ] + [_charge("free", 1, dt.date(2021, 7, 31), 0)]


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "payments" / "payments_FY2021.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_same_seed_writes_the_same_file_and_another_seed_another(tmp_path: Path) -> None:
    charges = _charges(300)
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_payments(tmp_path / name, seed, charges)
    text = {n: (tmp_path / n / "payments" / "payments_FY2021.csv").read_bytes() for n in "abc"}
    assert text["a"] == text["b"] != text["c"]


def test_payments_follow_the_charges_and_leave_some_unpaid_and_some_overpaid(
    tmp_path: Path,
) -> None:
    charges = _charges(2_000)
    written = write_payments(tmp_path, 1, charges)
    rows = _rows(tmp_path)
    assert written.files == ["payments/payments_FY2021.csv"]
    assert written.counts["payments_rows"] == len(rows)
    assert len({r["payment_id"] for r in rows}) == len(rows)
    due = {(c.household_id, c.instalment): c for c in charges}
    paid: dict[tuple[str, int], int] = defaultdict(int)
    for row in rows:
        charge = due[(row["household"], int(row["instalment"]))]
        assert charge.charged > 0  # nothing is paid where nothing is charged
        assert int(row["amount"]) > 0
        assert row["channel"] in {"account_transfer", "convenience_store", "counter"}
        # On the 納期限 or at most 10 days before it; late ones after it.
        assert dt.date.fromisoformat(row["paid_on"]) >= charge.due - dt.timedelta(days=10)
        paid[(row["household"], charge.instalment)] += int(row["amount"])
    charged = sum(c.charged for c in charges)
    collected = sum(min(paid[k], c.charged) for k, c in due.items())
    assert 0.91 < collected / charged < 0.96  # around the 93.22 % target
    assert sum(1 for k, c in due.items() if paid[k] > c.charged) > 10  # 重複納付
    assert sum(1 for k, c in due.items() if c.charged and paid[k] == 0) > 100  # 滞納
    assert {r["channel"] for r in rows} == {"account_transfer", "convenience_store", "counter"}
