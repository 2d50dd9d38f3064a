"""The synthetic payments: written in the payments format from given 調定, the same for a seed,
and paying what the habits say (on time, late, in part, nothing, twice)."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pytest

from kokuho.premiums import Arrear
from kokuho.synth import write_payments
from kokuho.synth._payments import arrears_recovery


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
    # 出納閉鎖 of FY2021 (31 May 2022) and the end of FY2022, when its 滞納繰越分 is counted.
    closed, next_year_end = dt.date(2022, 5, 31), dt.date(2023, 3, 31)
    by_close: dict[tuple[str, int], int] = defaultdict(int)
    by_next_year: dict[tuple[str, int], int] = defaultdict(int)
    for row in rows:
        charge = due[(row["household"], int(row["instalment"]))]
        assert charge.charged > 0  # nothing is paid where nothing is charged
        assert int(row["amount"]) > 0
        assert row["channel"] in {"account_transfer", "convenience_store", "counter"}
        # On the 納期限 or at most 10 days before it; late ones after it.
        day = dt.date.fromisoformat(row["paid_on"])
        assert day >= charge.due - dt.timedelta(days=10)
        key = (row["household"], charge.instalment)
        paid[key] += int(row["amount"])
        by_close[key] += int(row["amount"]) if day <= closed else 0
        by_next_year[key] += int(row["amount"]) if day <= next_year_end else 0
    charged = sum(c.charged for c in charges)
    current = sum(min(by_close[k], c.charged) for k, c in due.items())
    assert 0.91 < current / charged < 0.96  # 現年分, around the 93.22 % target
    assert sum(1 for k, c in due.items() if paid[k] > c.charged) > 10  # 重複納付
    assert sum(1 for k, c in due.items() if c.charged and by_close[k] == 0) > 100  # 滞納
    assert {r["channel"] for r in rows} == {"account_transfer", "convenience_store", "counter"}
    # 滞納繰越分 of FY2022: what FY2021 still owed on 31 May 2022, and how much of it was paid
    # by 31 March 2023 (分納 and lump sums of the recovery, late payers after 出納閉鎖).
    carried = sum(c.charged - min(by_close[k], c.charged) for k, c in due.items())
    recovered = sum(
        min(by_next_year[k], c.charged) - min(by_close[k], c.charged) for k, c in due.items()
    )
    recovery = arrears_recovery()
    assert recovery.target_low <= recovered / carried <= recovery.target_high
    assert written.counts["payments_recovered_yen"] > 0


def test_arrears_are_recovered_in_instalments_and_lump_sums(tmp_path: Path) -> None:
    """Recovery payments fall in the fiscal years after the 納期's: from 1 June of the next
    year (after 出納閉鎖) and never beyond the second; some 納期 are paid in several parts."""
    charges = _charges(2_000)
    write_payments(tmp_path, 1, charges)
    after: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    for row in _rows(tmp_path):
        day = dt.date.fromisoformat(row["paid_on"])
        if day > dt.date(2022, 5, 31) and row["channel"] == "counter":
            after[(row["household"], row["instalment"])].append(day)
    days = [d for found in after.values() for d in found]
    assert days and max(days) <= dt.date(2024, 3, 31)
    assert any(len(found) >= 2 for found in after.values())  # 分納
    assert any(len(found) == 1 for found in after.values())  # one sum


def test_a_bad_recovery_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "synth_payments.yaml").write_text(
        "arrears_recovery:\n  source: x\n  confirmed: false\n  target_low: 0.2\n"
        "  target_high: 0.35\n  yearly_share: 1.5\n  years: 2\n  instalment_plan_share: 0.6\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    with pytest.raises(ValueError, match="yearly_share"):
        arrears_recovery()
