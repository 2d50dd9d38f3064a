"""What claims tell the checkup programmes about a person: 糖尿病 treatment (治療中・治療中断・
未治療), 歯科受診, 処方薬剤数, 睡眠薬 and whether there were claims at all.

:class:`ClaimsTreatment` fills in the interfaces ``kokuho.checkups`` declares
(``TreatmentStatus``, ``DentalVisits``, ``Prescriptions``, ``ClaimsHistory``) structurally:
claims may not import checkups. Persons are named by the checkups' person key
``保険者番号:記号:番号:枝番`` (the 保険者番号 without the ``00`` of an 8-digit 国保 number);
a claim without 枝番 matches only a key without 枝番, never a household member's.

**糖尿病 treatment** (糖尿病性腎症重症化予防プログラム 令和6年度版 ②・③, checkups-claims.md
§4.3). A 糖尿病 claim-month is a month with a claim carrying a 糖尿病 傷病名コード (the
rules' list, and the codes of the lake's 傷病名マスター whose ICD-10 is E10–E14) or a drug
of the rules' 薬効 (396x 糖尿病用剤, 2492 インスリン) or 医薬品コード (GLP-1). The state is
judged at the fiscal year's last month, or the lake's last 診療年月 when that is
earlier (claims arrive about two months late):

- ``treated`` (治療中): a 糖尿病 claim-month within the last ``interruption_months``;
- ``interrupted`` (治療中断): none there, but one in the ``history_months`` before;
- ``untreated`` (未治療): none;
- ``unknown``: the lake holds no claims of the window at all (claims not connected).

The 中断 window of the 手引き was not seen: both lengths are UNCONFIRMED rules of
``data/prescribing_rules.yaml``.

**処方薬剤数** (服薬-多剤) is the largest monthly count of the fiscal year, counted as the 多剤
rule counts (distinct 薬効 supplied for at least ``min_days_supply`` days). **睡眠薬**: a drug
of the rules' 睡眠薬 薬効 in the year. **歯科受診**: a claim whose レセプト種別 is 歯科; when
the lake holds no 歯科 claim at all the answer is None (not connected), never "no visit".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Literal

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._indicator_rules import PrescribingRules, load_prescribing_rules
from kokuho.claims._prescribing import prescribed
from kokuho.claims._sources import (
    TableSource,
    add_months,
    fiscal_months,
    month_end,
    person_columns,
    read,
)
from kokuho.ids import FiscalYear

TreatmentState = Literal["treated", "interrupted", "untreated", "unknown"]
#: ICD-10 of 糖尿病 (E10 1型 … E14 詳細不明).
DIABETES_ICD10 = ("E10", "E11", "E12", "E13", "E14")


def person_key_of(table: ir.Table) -> ir.StringValue:
    """The checkups' person key of a claims-table row, as an expression."""
    insurer, symbol, number, branch = person_columns(table)
    return insurer.concat(":", symbol, ":", number, ":", branch)


def _months(first: dt.date, last: dt.date) -> list[str]:
    out, month = [], dt.date(first.year, first.month, 1)
    while month <= last:
        out.append(f"{month:%Y-%m}")
        month = add_months(month, 1)
    return out


class ClaimsTreatment:
    """Answers the checkup programmes from the claims lake (see the module docstring).

    ``diagnoses`` replaces the 糖尿病 傷病名コード (by default the rules' list and the lake's
    傷病名マスター codes with ICD-10 E10–E14).
    Each answer reads the lake once per fiscal year (or range) asked and keeps the result.
    """

    def __init__(
        self,
        lake: TableSource,
        *,
        rules: PrescribingRules | None = None,
        diagnoses: Collection[str] | None = None,
    ) -> None:
        self._lake = lake
        self._rules = rules or load_prescribing_rules()
        self._diagnoses = None if diagnoses is None else sorted(diagnoses)
        self._last_month: dt.date | None | Literal[False] = False
        self._diabetes: dict[int, tuple[dt.date, dt.date, dict[str, dt.date]] | None] = {}
        self._counts: dict[int, dict[str, int]] = {}
        self._sleeping: dict[int, set[str]] = {}
        self._claimed: dict[int, set[str]] = {}
        self._dental: dict[str, list[tuple[dt.date, dt.date]]] | None = None

    # -- the lake ---------------------------------------------------------------------------
    def _has(self, name: str) -> bool:
        return self._lake.has_table(name)

    def diagnosis_codes(self) -> list[str]:
        """The 糖尿病 傷病名コード: those given, else the rules' list and every code of the
        lake's 傷病名マスター whose ICD-10 is E10–E14."""
        if self._diagnoses is None:
            codes = set(self._rules.diabetes_diagnoses)
            if self._has("disease_master"):
                master = self._lake.table("disease_master")
                icd = master.icd10.fill_null("").strip().upper()
                diabetic = ibis.literal(False)
                for prefix in DIABETES_ICD10:
                    diabetic |= icd.startswith(prefix)
                found = master.filter(diabetic).select("code").to_pyarrow().column(0)
                codes.update(found.to_pylist())
            self._diagnoses = sorted(codes)
        return self._diagnoses

    def last_month(self) -> dt.date | None:
        """The lake's latest 診療年月 (first day), None when it holds no claims."""
        if self._last_month is False:
            value = None
            if self._has("claims"):
                claims = self._lake.table("claims")
                value = claims.service_month.max().to_pyarrow().as_py()
            self._last_month = value
        return self._last_month

    # -- TreatmentStatus --------------------------------------------------------------------
    def window(self, fiscal_year: int) -> tuple[dt.date, dt.date, dt.date] | None:
        """(history start, treatment-window start, as-of month) for ``fiscal_year``; None
        when the lake has no claims up to the as-of month."""
        last = self.last_month()
        if last is None:
            return None
        as_of = min(FiscalYear(fiscal_year).last_day.replace(day=1), last)
        start = add_months(as_of, 1 - self._rules.interruption_months)
        history = add_months(start, -self._rules.history_months)
        return history, start, as_of

    def _diabetes_months(self, fiscal_year: int) -> tuple[dt.date, dict[str, dt.date]] | None:
        if fiscal_year not in self._diabetes:
            bounds = self.window(fiscal_year)
            if bounds is None:
                self._diabetes[fiscal_year] = None
            else:
                history, start, as_of = bounds
                months = _months(history, as_of)
                parts: list[ir.Table] = []
                codes = self.diagnosis_codes()
                if self._has("claim_diagnoses") and codes:
                    d = read(self._lake, "claim_diagnoses", months=months)
                    d = d.filter(d.code.strip().isin(codes))
                    parts.append(d.select(person=person_key_of(d), month=d.service_month))
                if self._has("claim_drugs") and self._has("drug_master"):
                    g = read(self._lake, "claim_drugs", months=months)
                    master = self._lake.table("drug_master")
                    wanted = master.filter(
                        master.efficacy.strip().isin(sorted(self._rules.diabetes_efficacies))
                        | master.code.isin(sorted(self._rules.diabetes_drug_codes))
                    ).select("code")
                    g = g.join(wanted, "code", how="semi")
                    parts.append(g.select(person=person_key_of(g), month=g.service_month))
                last: dict[str, dt.date] = {}
                if parts:
                    union = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
                    latest = union.group_by("person").aggregate(month=union.month.max())
                    for row in latest.to_pyarrow().to_pylist():
                        last[row["person"]] = row["month"]
                self._diabetes[fiscal_year] = (history, start, last)
        held = self._diabetes[fiscal_year]
        return None if held is None else (held[1], held[2])

    def status(self, person_key: str, fiscal_year: int) -> TreatmentState:
        """治療中 / 治療中断 / 未治療 of the person's 糖尿病 (``unknown`` without claims)."""
        found = self._diabetes_months(fiscal_year)
        if found is None:
            return "unknown"
        start, last = found
        month = last.get(person_key)
        if month is None:
            return "untreated"
        return "treated" if month >= start else "interrupted"

    # -- Prescriptions ----------------------------------------------------------------------
    def _prescriptions(self, fiscal_year: int) -> bool:
        """Reads the year's prescriptions once; False when the lake has none to read."""
        if not all(self._has(n) for n in ("claims", "claim_drugs", "drug_master")):
            return False
        last = self.last_month()
        if last is None or last < FiscalYear(fiscal_year).first_day:
            return False
        if fiscal_year not in self._counts:
            months = fiscal_months(fiscal_year)
            rows = prescribed(
                read(self._lake, "claim_drugs", months=months),
                read(self._lake, "claims", months=months),
                self._lake.table("drug_master"),
            )
            rows = rows.mutate(person=person_key_of(rows))
            long = rows.filter(rows.days_supply >= self._rules.multi_min_days_supply)
            unit = {
                "efficacy": long.efficacy,
                "ingredient": (long.ingredient == "").ifelse(long.code, long.ingredient),
                "code": long.code,
            }[self._rules.multi_count]
            monthly = long.group_by(["person", "service_month"]).aggregate(n=unit.nunique())
            yearly = monthly.group_by("person").aggregate(n=monthly.n.max())
            self._counts[fiscal_year] = {
                r["person"]: r["n"] for r in yearly.to_pyarrow().to_pylist()
            }
            pills = rows.filter(
                rows.efficacy.isin(sorted(self._rules.sleeping_pill_efficacies))
                | rows.code.isin(sorted(self._rules.sleeping_pill_codes))
            )
            people = pills.select("person").distinct().to_pyarrow().column(0).to_pylist()
            self._sleeping[fiscal_year] = set(people)
        return True

    def drug_count(self, person_key: str, fiscal_year: int) -> int | None:
        """The largest number of drugs (as the 多剤 rule counts) in a month of the year."""
        if not self._prescriptions(fiscal_year):
            return None
        return self._counts[fiscal_year].get(person_key, 0)

    def sleeping_pills(self, person_key: str, fiscal_year: int) -> bool | None:
        """Whether a 睡眠薬 was prescribed in the year."""
        if not self._prescriptions(fiscal_year):
            return None
        return person_key in self._sleeping[fiscal_year]

    # -- ClaimsHistory ----------------------------------------------------------------------
    def has_claims(self, person_key: str, first: int, last: int) -> bool | None:
        """Whether the person has any claim in the fiscal years ``first`` … ``last``."""
        if self.last_month() is None:
            return None
        for year in range(first, last + 1):
            if year not in self._claimed:
                claims = read(self._lake, "claims", fiscal_year=year)
                keys = claims.select(person=person_key_of(claims)).distinct().to_pyarrow()
                self._claimed[year] = set(keys.column(0).to_pylist())
            if person_key in self._claimed[year]:
                return True
        return False

    # -- DentalVisits -----------------------------------------------------------------------
    def visited_dentist(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        """Whether a 歯科 claim's days of service meet ``first`` … ``last``; None when the
        lake holds no 歯科 claim at all."""
        if self._dental is None:
            self._dental = {}
            if self._has("claims"):
                claims = self._lake.table("claims")
                dental = ibis.literal(False)
                for prefix in self._rules.dental_receipt_prefixes:
                    dental |= claims.receipt_type.strip().startswith(prefix)
                rows = claims.filter(dental).select(
                    person=person_key_of(claims),
                    first=claims.first_day.fill_null(claims.service_month),
                    month=claims.service_month,
                    last=claims.last_day,
                )
                for row in rows.to_pyarrow().to_pylist():
                    end = row["last"] or month_end(row["month"])
                    self._dental.setdefault(row["person"], []).append((row["first"], end))
        if not self._dental:
            return None
        visits = self._dental.get(person_key, [])
        return any(begin <= last and end >= first for begin, end in visits)
