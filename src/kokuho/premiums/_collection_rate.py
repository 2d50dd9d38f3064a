"""保険料収納率: 収納額 ÷ 調定額 per municipality and fiscal year, 現年分 and 過年度分を含む.

The accounts of fiscal year Y close on 31 May Y+1 (出納閉鎖, 地方自治法 §235-5), and a receipt
belongs to a year as 地方自治法施行令 §142 sorts it (docs/premiums-collection.md):

- 現年分: 調定額 = the year's 調定 in force on 31 May Y+1; 収納額 = what was received for it
  by then (出納整理期間 included; allocated to its instalments, so 過誤納金 is never 収納).
- 滞納繰越分: 調定額 = what earlier years still owed when they entered Y's accounts (Y−1 on
  31 May Y, after its 出納整理期間; older years on 31 March Y), changed by their 更正 decided
  until 31 March Y+1, never below zero per household and year; 収納額 = that 調定額 less
  what is still owed on 31 March Y+1 (a 過年度 receipt of April–May belongs to the new year).
- 過年度分を含む (the 固有① indicator of 保険者努力支援制度): both together.

An optional 居所不明者分 is deducted from the 現年分 調定額 [UNCONFIRMED: the deduction is in the
domain notes as recalled, not read]. Rates are exact fractions; percentages are rounded half
up to two decimals for display (a local choice).

不納欠損 (write-offs): what a part's households had written off during the year (現年分: by
31 May Y+1; 滞納繰越分: from entering Y's accounts to 31 March Y+1) is its 不納欠損額. It is
not 収納, and it is never carried into a later year's 滞納繰越分; whether it stays in the
year's 調定額 (調定額 = 収納額 + 不納欠損額 + 未納額) or is deducted from it is the rule file's
``write_offs_in_charged`` (data/premiums/prescription.yaml, unconfirmed; kept by default).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa

from kokuho.premiums._collection import accounts_close, ledgers
from kokuho.premiums._collection_states import ledger_states, year_states
from kokuho.premiums._prescription_rules import load_prescription_rules

_Key = tuple[str, str, int]  # municipality, household, fiscal year
Years = tuple[int | None, int | None]
StatesOf = Callable[[sa.Connection, dt.date, str | None, Years], dict[_Key, tuple[int, int, int]]]
"""(調定額 in force, 未納額, 不納欠損額) per household-year on a day, of one municipality or
all, for the fiscal years from the first to the last (inclusive; None: unbounded)."""


@dataclass(frozen=True, slots=True)
class CollectionRate:
    """収納率 of one municipality for one fiscal year (yen and exact rates)."""

    municipality: str
    fiscal_year: int
    current_charged: int
    """現年分 調定額 (after the 居所不明者分 deduction)."""
    current_collected: int
    carried_charged: int
    """滞納繰越分 調定額."""
    carried_collected: int
    unknown_whereabouts: int
    """居所不明者分 deducted from the 現年分 調定額 [UNCONFIRMED]."""
    current_written_off: int = 0
    """現年分 不納欠損額 (in ``current_charged`` unless the rule file deducts it)."""
    carried_written_off: int = 0
    """滞納繰越分 不納欠損額 (likewise)."""

    @property
    def current_rate(self) -> Fraction | None:
        """現年分 収納率 (None without 調定)."""
        return _ratio(self.current_collected, self.current_charged)

    @property
    def carried_rate(self) -> Fraction | None:
        return _ratio(self.carried_collected, self.carried_charged)

    @property
    def total_rate(self) -> Fraction | None:
        """収納率 ※過年度分を含む: (現年 + 滞繰 収納額) ÷ (現年 + 滞繰 調定額)."""
        return _ratio(
            self.current_collected + self.carried_collected,
            self.current_charged + self.carried_charged,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "municipality": self.municipality,
            "fiscal_year": self.fiscal_year,
            "current": {
                "charged": self.current_charged,
                "collected": self.current_collected,
                "percent": percent(self.current_rate),
                "written_off": self.current_written_off,
            },
            "carried_over": {
                "charged": self.carried_charged,
                "collected": self.carried_collected,
                "percent": percent(self.carried_rate),
                "written_off": self.carried_written_off,
            },
            "total_percent": percent(self.total_rate),
            "unknown_whereabouts_deducted": self.unknown_whereabouts,
        }


def _ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator > 0 else None


def percent(rate: Fraction | None, places: int = 2) -> str | None:
    """``rate`` as a percentage rounded half up to ``places`` decimals, e.g. "93.22"."""
    if rate is None:
        return None
    exact = Decimal(rate.numerator * 100) / Decimal(rate.denominator)
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def decimal_fraction(rate: Fraction, places: int = 6) -> Decimal:
    """``rate`` as a decimal fraction (0.932212), rounded half up to ``places`` decimals."""
    exact = Decimal(rate.numerator) / Decimal(rate.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def collection_rates(
    engine: sa.Engine,
    fiscal_year: int,
    municipality: str | None = None,
    unknown_whereabouts: Mapping[str, int] | None = None,
) -> list[CollectionRate]:
    """収納率 of ``fiscal_year`` for each municipality with 調定 (or only ``municipality``).

    ``unknown_whereabouts`` maps a municipality code to its 居所不明者分 調定額 (yen)."""
    return rates_from(engine, fiscal_year, municipality, unknown_whereabouts, year_states)


def allocated_states(
    connection: sa.Connection,
    as_of: dt.date,
    municipality: str | None,
    years: Years = (None, None),
) -> dict[_Key, tuple[int, int, int]]:
    """The household-year states of the credit-by-credit allocation (``ledgers``): the
    reference the set-based ``year_states`` is tested and measured against."""
    first, last = years
    return {
        key: state
        for key, state in ledger_states(ledgers(connection, as_of, municipality)).items()
        if (first is None or key[2] >= first) and (last is None or key[2] <= last)
    }


def rates_from(
    engine: sa.Engine,
    fiscal_year: int,
    municipality: str | None,
    unknown_whereabouts: Mapping[str, int] | None,
    states: StatesOf,
) -> list[CollectionRate]:
    """:func:`collection_rates` from the household-year ``states`` on a day."""
    with engine.connect() as connection:
        # Last year enters the accounts after its 出納整理期間, older years at the year's start.
        # Each day is asked only for the years it is used for (less to read and sum).
        y = fiscal_year
        last_year_in = states(connection, accounts_close(y - 1), municipality, (y - 1, y - 1))
        older_in = states(connection, dt.date(y, 3, 31), municipality, (None, y - 2))
        closed = states(connection, accounts_close(y), municipality, (y, y))
        year_end = states(connection, dt.date(y + 1, 3, 31), municipality, (None, y - 1))
    # Per municipality: 調定額, 収納額, 不納欠損額.
    current: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    carried: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for key, (charged, owed, written) in closed.items():
        if key[2] == fiscal_year:
            current[key[0]][0] += charged
            current[key[0]][1] += charged - owed - written
            current[key[0]][2] += written
    for key, (charged, owed, written) in year_end.items():
        m, _, year = key
        if year < fiscal_year:
            entered = last_year_in if year == fiscal_year - 1 else older_in
            charged_before, owed_before, written_before = entered.get(key, (0, 0, 0))
            carried_in = max(0, owed_before + charged - charged_before)
            written_during = max(0, written - written_before)
            collected = min(carried_in, max(0, carried_in - owed - written_during))
            carried[m][0] += carried_in
            carried[m][1] += collected
            carried[m][2] += min(written_during, carried_in - collected)
    charged_with_written = load_prescription_rules().write_offs_in_charged == "kept"
    if not charged_with_written:
        for part in (*current.values(), *carried.values()):
            part[0] -= part[2]
    deductions = unknown_whereabouts or {}
    for code, amount in deductions.items():
        if amount < 0:
            raise ValueError(f"居所不明者分 of {code} must be ≥ 0 yen, not {amount}")
    reported = set(current) | set(carried)
    for code in sorted(set(deductions) - reported):
        # A typo, or a municipality the report leaves out: ignoring it showed a 収納率 the
        # clerk took to be net of the 居所不明者分.
        raise ValueError(
            f"居所不明者分 of {code}: no 調定 of FY{fiscal_year} in this report"
            + (f" (of {municipality} only)" if municipality is not None else "")
        )
    result = []
    for m in sorted(reported):
        deducted = deductions.get(m, 0)
        charged, collected, written = current[m]
        unpaid = charged - collected - (written if charged_with_written else 0)
        if deducted > unpaid:
            raise ValueError(
                f"居所不明者分 of {m} ({deducted} yen) exceeds its unpaid 現年分 ({unpaid} yen)"
            )
        carried_charged, carried_collected, carried_written = carried[m]
        result.append(
            CollectionRate(
                m,
                fiscal_year,
                charged - deducted,
                collected,
                carried_charged,
                carried_collected,
                deducted,
                written,
                carried_written,
            )
        )
    return result


def collection_rates_for_incentives(
    engine: sa.Engine, fiscal_year: int, *, include_past_years: bool = True
) -> dict[str, Decimal]:
    """The 固有① input for the incentives room: municipality code → 収納率 of
    ``fiscal_year`` as a decimal fraction (0.9322), 過年度分を含む by default (the FY2020
    indicator text), or 現年分 only (the template of FY2021–22 and ``collection_rates.csv``).
    Municipalities without 調定 are left out."""
    found: dict[str, Decimal] = {}
    for rate in collection_rates(engine, fiscal_year):
        value = rate.total_rate if include_past_years else rate.current_rate
        if value is not None:
            found[rate.municipality] = decimal_fraction(value)
    return found
