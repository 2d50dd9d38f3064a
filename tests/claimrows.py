"""Builders of claims-lake rows (columns of ``kokuho.claims._schema``) for the indicator tests,
and a table source holding them in memory, shaped like ``ClaimsLake``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kokuho.claims import _schema

SCHEMAS: dict[str, dict[str, pa.DataType]] = {
    "claims": _schema.CLAIMS,
    "claim_drugs": _schema.CLAIM_DRUGS,
    "claim_diagnoses": _schema.CLAIM_DIAGNOSES,
    "claim_procedures": _schema.CLAIM_PROCEDURES,
    "drug_master": _schema.DRUG_MASTER,
}

INSURER = "370015"
OTHER_INSURER = "370023"
PREFECTURE = "37"


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def month(text: str) -> dt.date:
    return dt.date.fromisoformat(f"{text}-01")


def arrow(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = SCHEMAS[name]
    return pa.table(
        {column: pa.array([row.get(column) for row in rows], type=kind)
         for column, kind in schema.items()}
    )  # fmt: skip


class MemoryLake:
    """Lake tables held in memory (Ibis memtables), with ``ClaimsLake``'s table() signature."""

    def __init__(self, **tables: list[dict[str, Any]]) -> None:
        self.tables = {name: arrow(name, rows) for name, rows in tables.items()}
        self.asked: list[tuple[str, list[str] | None]] = []

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def table(self, name: str, months: Collection[str] | None = None) -> ir.Table:
        self.asked.append((name, None if months is None else sorted(months)))
        if name not in self.tables:
            raise LookupError(name)
        return ibis.memtable(self.tables[name])


def claim(
    claim_id: str,
    service_month: str,
    *,
    number: str = "1001",
    branch: str = "01",
    insurer: str = INSURER,
    symbol: str = "12",
    kind: str = "medical",
    setting: str = "outpatient",
    institution: str = "0112345",
    points: int = 100,
    birth_date: str = "1960-05-15",
    first_day: str | None = None,
    last_day: str | None = None,
    prescriber: str = "",
    receipt_type: str = "1112",
    line: int = 1,
) -> dict[str, Any]:
    return {
        "claim_id": claim_id, "file": claim_id.split(":")[0], "line": line, "kind": kind,
        "institution": institution, "prefecture": PREFECTURE,
        "billing_month": month(service_month), "service_month": month(service_month),
        "receipt_number": 1, "receipt_type": receipt_type, "setting": setting,
        "insurer": insurer, "symbol": symbol, "number": number, "branch": branch, "sex": 1,
        "birth_date": day(birth_date), "days": 1, "points": points,
        "first_day": day(first_day) if first_day else None,
        "last_day": day(last_day) if last_day else None, "prescriber": prescriber,
    }  # fmt: skip


def drug(
    claim_row: dict[str, Any],
    code: str,
    quantity: float = 1.0,
    *,
    institution: str | None = None,
    days_supply: int = 14,
    first_day: str | None = None,
) -> dict[str, Any]:
    """A drug row of ``claim_row``: the prescribing institution is the claim's (医科) or the
    claim's 処方医療機関 (調剤) unless given."""
    if institution is None:
        institution = (
            claim_row["prescriber"] if claim_row["kind"] == "pharmacy"
            else claim_row["institution"]
        )  # fmt: skip
    return {
        "claim_id": claim_row["claim_id"], "service_month": claim_row["service_month"],
        "kind": claim_row["kind"], "institution": institution,
        **{k: claim_row[k] for k in ("insurer", "symbol", "number", "branch")},
        "code": code, "section": "21" if claim_row["kind"] == "medical" else "",
        "amount": quantity, "units": 1.0, "quantity": quantity, "days_supply": days_supply,
        "points": 10, "first_day": day(first_day) if first_day else claim_row["first_day"],
    }  # fmt: skip


def diagnosis(claim_row: dict[str, Any], code: str, start: str | None = None) -> dict[str, Any]:
    return {
        "claim_id": claim_row["claim_id"], "service_month": claim_row["service_month"],
        **{k: claim_row[k] for k in ("insurer", "symbol", "number", "branch")},
        "code": code, "start": day(start) if start else None, "outcome": "1", "primary": True,
    }  # fmt: skip


def master(
    code: str, efficacy: str, generic_class: str = "", name: str = "", ingredient: str = ""
) -> dict[str, Any]:
    return {
        "code": code, "name": name or f"薬{code}", "unit": "錠", "price": 10.0,
        "generic_flag": "1" if generic_class in ("3", "★") else "0",
        "yakka_code": f"{efficacy}000F1000", "efficacy": efficacy,
        "generic_class": generic_class, "ingredient": ingredient,
    }  # fmt: skip
