"""不納欠損 in the 収納率 (docs/premiums-collection.md, "時効 and 不納欠損"), by hand, and the
set-based household-year states equal to the allocation once 督促, prescription and
不納欠損 are in the ledgers; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.bench_collection import build_ledgers
from kokuho.premiums import (
    collection_rates,
    import_payments,
    import_reminders,
    record_charges,
    run_write_offs,
)
from kokuho.store import shipped_folder
from tests.premiumrows import CITY, assessment, payment, reminder, write_payments, write_reminders
from tests.test_premiums_collection_states import assert_both_paths_agree

D = dt.date.fromisoformat


@pytest.fixture
def written_off(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    """FY2023, one 期 of 10,000 due 2023-07-31 for R and S, unpaid in FY2023 and FY2024. S pays
    10,000 on 2025-06-10 (before prescription); R's 期 prescribes from 2025-08-01 and is
    written off that day (FY2025)."""
    for household in ("R", "S"):
        record_charges(engine, assessment(household, 2023, [10_000]), D("2023-06-15"), "initial")
    rows = [payment("S1", "S", 2023, "2025-06-10", 10_000, 1)]
    import_payments(engine, write_payments(tmp_path / "p.csv", rows))
    run_write_offs(engine, CITY, D("2025-08-01"))
    return engine


def test_a_write_off_stays_in_the_carried_over_charge_and_is_not_carried_further(
    written_off: sa.Engine,
) -> None:
    # FY2025 滞納繰越分: FY2023 (older than last year) enters on 2025-03-31 with 20,000 owed;
    # during FY2025 S pays 10,000 and R's 10,000 is written off: 調定 20,000 (kept, the rule
    # file's default), 収納 10,000, 不納欠損 10,000 → 50.00 %.
    [fy2025] = collection_rates(written_off, 2025)
    assert (fy2025.carried_charged, fy2025.carried_collected) == (20_000, 10_000)
    assert fy2025.carried_written_off == 10_000 and fy2025.current_written_off == 0
    assert fy2025.carried_rate == Fraction(1, 2)
    assert fy2025.as_json()["carried_over"]["written_off"] == 10_000
    # FY2024: nothing written off yet, nothing paid.
    [fy2024] = collection_rates(written_off, 2024)
    assert (fy2024.carried_charged, fy2024.carried_collected, fy2024.carried_written_off) == (
        20_000,
        0,
        0,
    )
    # FY2026: nothing is owed any more, so nothing is carried in (no 調定 of FY2026 either).
    [fy2026] = collection_rates(written_off, 2026)
    assert (fy2026.carried_charged, fy2026.carried_written_off, fy2026.total_rate) == (0, 0, None)


def test_the_rule_file_can_deduct_write_offs_from_the_charge(
    written_off: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    copy = home / "data" / "premiums" / "prescription.yaml"
    copy.parent.mkdir(parents=True)
    text = (shipped_folder() / "premiums" / "prescription.yaml").read_text("utf-8")
    assert "  value: kept\n" in text
    copy.write_text(text.replace("  value: kept\n", "  value: deducted\n"), encoding="utf-8")
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    [fy2025] = collection_rates(written_off, 2025)
    # 調定 20,000 − 不納欠損 10,000: 10,000 of 10,000.
    assert (fy2025.carried_charged, fy2025.carried_collected) == (10_000, 10_000)
    assert fy2025.carried_rate == 1


DAYS = [dt.date(y, m, d) for y in range(2021, 2027) for m, d in ((3, 31), (5, 31))]


def test_the_set_based_states_equal_the_allocation_with_prescription(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The varied ledgers of the collection benchmark (payments up to 800 days late, so some
    after prescription), a 督促 for a third of the 期 of the first municipality, and 不納欠損
    runs after the last 充当 and 還付 (2024-07-01)."""
    build_ledgers(engine, tmp_path, households=150, municipalities=3, seed=7)
    with engine.connect() as connection:
        due = connection.execute(
            sa.text(
                "select distinct household_id, fiscal_year, instalment, due_on from "
                "premium_charges where municipality = '372001' order by 1, 2, 3"
            )
        ).all()
    rows = []
    for k, (household, year, number, due_on) in enumerate(due):
        if k % 3 == 0:
            issued = D(str(due_on)) + dt.timedelta(days=20)
            deadline = issued + dt.timedelta(days=10)
            rows.append(
                reminder(
                    household, year, number, issued.isoformat(), deadline.isoformat(), "372001"
                )  # fmt: skip
            )
    import_reminders(engine, write_reminders(tmp_path / "r.csv", rows))
    written = 0
    for day in (D("2024-07-01"), D("2025-06-01")):
        for code in ("372001", "372002", "372003"):
            written += len(run_write_offs(engine, code, day))
    assert written > 0
    assert_both_paths_agree(engine, DAYS, tuple(range(2020, 2026)))
