"""Payments (収納) of the synthetic households' premiums, in the format users load
(docs/formats.md §9): ``payments/payments_FY{year}.csv``.

Payments answer the 調定 (charges), which exist only after the premiums room has assessed the
loaded households; so the demo assesses first, reads the recorded 調定 back through the
premiums room's public API and calls :func:`write_payments` (one engine, real files).

Each household gets one habit: shuffled by a seeded stream, the households fill bands of the
whole 調定 (in yen, so the shares hold for a small prefecture too). Most pay every 納期 on its
納期限 (口座振替 on the day, コンビニ or 窓口 a few days before); some pay late, some pay part of
their 納期 and leave the rest, some pay nothing (滞納); a few pay one 納期 twice (重複納付: the
納付書 at a コンビニ although the account was debited too), which becomes 過誤納金. The
shares aim the 現年分 収納率 near Kagawa's published 93.22 % for FY2022
(市町村国保; https://limo.media/articles/-/66298?page=3): a calibration target, not a
per-municipality fact.

What a 納期 still owes is recovered in the years after (滞納繰越分): during each of the next
fiscal years a share of it is paid, by 分納 in monthly parts or in one sum (差押, 完納), from
``data/synth_payments.yaml`` (``arrears_recovery``, unconfirmed: a calibration aiming the
滞納繰越分 収納率 at 20–35 %). Recoveries draw from a stream of their own, so the payments of
the year itself are the same as without them.

A 納期 still not paid in full some days after its 納期限 gets a 督促 (``reminders`` of the
same file): ``reminders/reminders_FY{year}.csv`` in the reminders format (docs/formats.md §9a),
drawing no random numbers, so the payments are the same as without them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from kokuho.store import data_text, load_yaml
from kokuho.synth._outputs import Written
from kokuho.synth._writers import write_table

FOLDER: Final = "payments"
REMINDERS_FOLDER: Final = "reminders"
RECOVERY_FILE: Final = "synth_payments.yaml"
REMINDER_COLUMNS: Final = ("municipality", "household", "fiscal_year", "instalment",
                           "issued_on", "deadline")  # fmt: skip
COLUMNS: Final = ("payment_id", "municipality", "household", "fiscal_year", "instalment",
                  "paid_on", "amount", "channel")  # fmt: skip

#: Habits of a household and their shares of the 調定 (yen, not households), so that the
#: 収納率 lands near the target even for a small prefecture (a local calibration, see the
#: module docstring). The shuffled households fill the bands in this order.
HABITS: Final[tuple[tuple[str, float], ...]] = (
    ("none", 0.035),  # nothing paid: 滞納 throughout
    ("partial", 0.040),  # about half the 納期 paid in part, the others left unpaid
    ("late", 0.055),  # every 納期 paid 10–150 days after its 納期限
    ("twice", 0.020),  # on time, and one 納期 paid a second time (過誤納)
    ("on_time", 0.850),
)
#: How an on-time household pays: 口座振替, コンビニ収納, 窓口.
CHANNELS: Final[tuple[tuple[str, float], ...]] = (
    ("account_transfer", 0.55),
    ("convenience_store", 0.33),
    ("counter", 0.12),
)


class Charge(Protocol):
    """One 納期 of a household's 調定 as the premiums room reports it (its ``Arrear``)."""

    @property
    def municipality(self) -> str: ...
    @property
    def household_id(self) -> str: ...
    @property
    def fiscal_year(self) -> int: ...
    @property
    def instalment(self) -> int: ...
    @property
    def due(self) -> dt.date: ...
    @property
    def charged(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Recovery:
    """How arrears are paid in later years (``arrears_recovery`` of the data file)."""

    yearly_share: float
    years: int
    instalment_plan_share: float
    target_low: float
    target_high: float


@dataclass(frozen=True, slots=True)
class ReminderTiming:
    """When the synthetic municipality issues a 督促 (``reminders`` of the data file): this
    many days after the 納期限, with its 指定期限 this many days after the issue."""

    days_after_due: int
    days_to_deadline: int


def reminder_timing() -> ReminderTiming:
    """The 督促 timing from ``data/synth_payments.yaml`` (a local copy wins)."""
    node = load_yaml(data_text(RECOVERY_FILE), RECOVERY_FILE)["reminders"]
    timing = ReminderTiming(int(node["days_after_due"]), int(node["days_to_deadline"]))
    if not 1 <= timing.days_after_due <= 60 or not 0 <= timing.days_to_deadline <= 60:
        raise ValueError(f"{RECOVERY_FILE}: reminders: days must be within 1..60 and 0..60")
    return timing


def arrears_recovery() -> Recovery:
    """The recovery calibration from ``data/synth_payments.yaml`` (a local copy wins)."""
    node = load_yaml(data_text(RECOVERY_FILE), RECOVERY_FILE)["arrears_recovery"]
    recovery = Recovery(
        float(node["yearly_share"]),
        int(node["years"]),
        float(node["instalment_plan_share"]),
        float(node["target_low"]),
        float(node["target_high"]),
    )
    for name in ("yearly_share", "instalment_plan_share", "target_low", "target_high"):
        if not 0 <= getattr(recovery, name) <= 1:
            raise ValueError(f"{RECOVERY_FILE}: arrears_recovery.{name} must be within 0..1")
    if not 0 <= recovery.years <= 5:
        raise ValueError(f"{RECOVERY_FILE}: arrears_recovery.years must be within 0..5")
    return recovery


def _pick(rng: random.Random, shares: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in shares], [share for _, share in shares])[0]


def _habits(
    rng: random.Random, households: dict[tuple[str, str], list[Charge]]
) -> dict[tuple[str, str], str]:
    """Each household's habit: the households in a seeded random order take the bands of
    HABITS by their share of the whole 調定 (a household takes the band its start falls in)."""
    order = sorted(households)
    rng.shuffle(order)
    total = sum(c.charged for charges in households.values() for c in charges)
    found: dict[tuple[str, str], str] = {}
    start = 0
    for key in order:
        bound = 0.0
        for habit, share in HABITS:
            bound += share
            if start < bound * total or habit == HABITS[-1][0]:
                found[key] = habit
                break
        start += sum(c.charged for c in households[key])
    return found


def write_payments(out_dir: Path, seed: int, charges: Iterable[Charge]) -> Written:
    """Writes one payments file per fiscal year of ``charges`` under ``out_dir/payments``
    (``files``), and the 督促 of the 納期 not paid in time under ``out_dir/reminders``."""
    rng = random.Random(hashlib.sha256(f"payments-{seed}".encode()).digest())
    later = random.Random(hashlib.sha256(f"arrears-{seed}".encode()).digest())
    recovery = arrears_recovery()
    timing = reminder_timing()
    households: dict[tuple[str, str], list[Charge]] = defaultdict(list)
    for charge in charges:
        if charge.charged > 0:
            households[(charge.municipality, charge.household_id)].append(charge)
    rows: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    reminders: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    counts: Counter[str] = Counter()
    habits = _habits(rng, households)
    for key in sorted(households):
        habit = habits[key]
        channel = _pick(rng, CHANNELS)
        counts[f"payments_households_{habit}"] += 1
        schedule = sorted(households[key], key=lambda c: (c.fiscal_year, c.instalment))
        twice = rng.choice(schedule) if habit == "twice" else None
        for charge in schedule:
            paid = _payments(rng, habit, channel, charge)
            owed = charge.charged - sum(amount for _, amount, _ in paid)
            if owed > 0:
                recovered = _recovered(later, recovery, charge, owed)
                counts["payments_recovered_yen"] += sum(amount for _, amount, _ in recovered)
                paid += recovered
            for paid_on, amount, how in paid:
                rows[charge.fiscal_year].append(_row(charge, paid_on, amount, how, rows))
            issued = charge.due + dt.timedelta(days=timing.days_after_due)
            if sum(amount for day, amount, _ in paid if day <= issued) < charge.charged:
                deadline = issued + dt.timedelta(days=timing.days_to_deadline)
                reminders[charge.fiscal_year].append(
                    (charge.municipality, charge.household_id, str(charge.fiscal_year),
                     str(charge.instalment), issued.isoformat(), deadline.isoformat())
                )  # fmt: skip
            if charge is twice:
                day = charge.due + dt.timedelta(days=rng.randint(1, 20))
                rows[charge.fiscal_year].append(
                    _row(charge, day, charge.charged, "convenience_store", rows)
                )
    (out_dir / FOLDER).mkdir(parents=True, exist_ok=True)
    files = []
    for year in sorted(rows):
        name = f"{FOLDER}/payments_FY{year}.csv"
        counts["payments_rows"] += write_table(out_dir / name, COLUMNS, rows[year])
        files.append(name)
    if reminders:
        (out_dir / REMINDERS_FOLDER).mkdir(parents=True, exist_ok=True)
    for year in sorted(reminders):
        path = out_dir / REMINDERS_FOLDER / f"reminders_FY{year}.csv"
        counts["reminders_rows"] += write_table(path, REMINDER_COLUMNS, reminders[year])
    return Written(files, dict(counts))


def _payments(
    rng: random.Random, habit: str, channel: str, charge: Charge
) -> list[tuple[dt.date, int, str]]:
    """(paid_on, amount, channel) of what the household pays for one 納期."""
    if habit == "none":
        return []
    if habit == "late":
        return [(charge.due + dt.timedelta(days=rng.randint(10, 150)), charge.charged, "counter")]
    if habit == "partial":
        if rng.random() < 0.5:
            return []
        part = max(1, charge.charged * rng.randint(3, 9) // 10)
        return [(charge.due + dt.timedelta(days=rng.randint(0, 60)), part, "counter")]
    early = 0 if channel == "account_transfer" else rng.randint(0, 10)
    return [(charge.due - dt.timedelta(days=early), charge.charged, channel)]


def _recovered(
    rng: random.Random, recovery: Recovery, charge: Charge, owed: int
) -> list[tuple[dt.date, int, str]]:
    """The later payments of the ``owed`` yen of a 納期: in each of the fiscal years after its
    year, with ``yearly_share`` chance, all of it, by 分納 (2–6 monthly parts) or in one sum.
    A year's arrears enter the next year's accounts on 1 June (after 出納閉鎖), older ones on
    1 April, so that is where each window starts."""
    for k in range(1, recovery.years + 1):
        if rng.random() >= recovery.yearly_share:
            continue
        year = charge.fiscal_year + k
        start = dt.date(year, 6 if k == 1 else 4, 1)
        months = 10 if k == 1 else 12  # whole months until 31 March of the year
        if rng.random() < recovery.instalment_plan_share:
            parts = min(rng.randint(2, 6), owed)
            first = rng.randint(0, months - parts)
            share, rest = divmod(owed, parts)
            return [
                (_month_day(start, first + n, rng), share + (rest if n == 0 else 0), "counter")
                for n in range(parts)
            ]
        return [(_month_day(start, rng.randint(0, months - 1), rng), owed, "counter")]
    return []


def _month_day(start: dt.date, months: int, rng: random.Random) -> dt.date:
    """A day (1st–28th) of the month ``months`` after ``start``'s."""
    index = start.month - 1 + months
    return dt.date(start.year + index // 12, index % 12 + 1, rng.randint(1, 28))


def _row(
    charge: Charge,
    paid_on: dt.date,
    amount: int,
    channel: str,
    rows: dict[int, list[tuple[str, ...]]],
) -> tuple[str, ...]:
    # Sequential per fiscal year: unique across the files, stable for a seed.
    number = len(rows[charge.fiscal_year]) + 1
    return (
        f"P{charge.fiscal_year}-{number:08d}",
        charge.municipality,
        charge.household_id,
        str(charge.fiscal_year),
        str(charge.instalment),
        paid_on.isoformat(),
        str(amount),
        channel,
    )
