"""The tables of the columnar 本算定 (``_assess_columnar``): their schemas, reading them into
numpy at the edge (a missing column, a null where none is allowed, an unknown household are
``ColumnarInputError``), the result table, and the per-household fallback."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kokuho.premiums._assess import AssessmentInputError, assess, instalments
from kokuho.premiums._model import (
    PARTS,
    Assessment,
    HouseholdInput,
    Income,
    Member,
    PartAssessment,
    ReductionClass,
)
from kokuho.premiums._rules import PremiumRules

Ints = npt.NDArray[np.int64]

MEMBERS_SCHEMA: Final = pa.schema(
    [
        ("household_id", pa.string()),
        ("person_id", pa.int64()),
        ("birth_date", pa.date32()),
        ("acquired", pa.date32()),
        ("lost", pa.date32()),
        ("salary", pa.int64()),
        ("pension", pa.int64()),
        ("other", pa.int64()),
        ("declared", pa.bool_()),
        ("wage_earner", pa.bool_()),
        ("specified_same_household", pa.bool_()),
        ("involuntary_unemployment_from", pa.date32()),
        ("former_dependant", pa.bool_()),
        ("delivery_due", pa.date32()),
        ("gap_from", pa.date32()),
        ("gap_to", pa.date32()),
    ]
)
"""One row per person of a household (the fields of ``Member``; dates may be null where the
model allows None). ``gap_from``/``gap_to`` hold the member's one gap (``Member.gaps``), and
may be left out of a table (no gaps)."""

HOUSEHOLDS_SCHEMA: Final = pa.schema(
    [
        ("household_id", pa.string()),
        ("head_person_id", pa.int64()),
        ("fixed_asset_tax", pa.int64()),
        ("specified_household_since", pa.date32()),
    ]
)
"""One row per household (the fields of ``HouseholdInput`` but municipality and year, which
are the rules')."""

_NULLABLE: Final = {
    "acquired",
    "lost",
    "involuntary_unemployment_from",
    "delivery_due",
    "specified_household_since",
    "gap_from",
    "gap_to",
}
_OPTIONAL: Final = {"gap_from", "gap_to"}
CLASSES: Final[tuple[ReductionClass | None, ...]] = (None, "2", "5", "7")

NEVER_DAY: Final = 2_000_000_000
"""A day number after every real date (a null date)."""

OUT_KEYS: Final = (
    "reduction",
    *(
        f"{p}_{k}"
        for p in PARTS
        for k in ("income_levy", "asset_levy", "per_capita", "per_household", "capped", "amount")
    ),
    "total",
    "instalment",
    "instalment_adjusted",
    "refused",
)


class ColumnarInputError(AssessmentInputError):
    """A members or households table that does not have the columns the assessment reads."""


def household_tables(households: Iterable[HouseholdInput]) -> tuple[pa.Table, pa.Table]:
    """(members, households) tables of ``HouseholdInput`` values, the shape ``assess_table``
    reads (for tests and for callers holding households in memory)."""
    member_rows: list[dict[str, Any]] = []
    household_rows: list[dict[str, Any]] = []
    for h in households:
        household_rows.append(
            {
                "household_id": h.household_id,
                "head_person_id": h.head_person_id,
                "fixed_asset_tax": h.fixed_asset_tax,
                "specified_household_since": h.specified_household_since,
            }
        )
        for m in h.members:
            if len(m.gaps) > 1:
                raise ColumnarInputError(
                    f"household {h.household_id}: person {m.person_id} has {len(m.gaps)} gaps; "
                    "the columnar tables hold one (assess this household with assess)"
                )
            gap = m.gaps[0] if m.gaps else (None, None)
            member_rows.append(
                {
                    "household_id": h.household_id,
                    "person_id": m.person_id,
                    "birth_date": m.birth_date,
                    "acquired": m.acquired,
                    "lost": m.lost,
                    "salary": m.income.salary,
                    "pension": m.income.pension,
                    "other": m.income.other,
                    "declared": m.income.declared,
                    "wage_earner": m.income.wage_earner,
                    "specified_same_household": m.specified_same_household,
                    "involuntary_unemployment_from": m.involuntary_unemployment_from,
                    "former_dependant": m.former_dependant,
                    "delivery_due": m.delivery_due,
                    "gap_from": gap[0],
                    "gap_to": gap[1],
                }
            )
    return (
        pa.Table.from_pylist(member_rows, schema=MEMBERS_SCHEMA),
        pa.Table.from_pylist(household_rows, schema=HOUSEHOLDS_SCHEMA),
    )


def columns(table: pa.Table, schema: pa.Schema, name: str) -> dict[str, npt.NDArray[Any]]:
    """The schema's columns as numpy arrays (dates as day numbers, null dates ``_NEVER``)."""
    out: dict[str, npt.NDArray[Any]] = {}
    for field in schema:
        if field.name == "household_id":
            continue
        if field.name not in table.column_names:
            if field.name in _OPTIONAL:
                out[field.name] = np.full(table.num_rows, NEVER_DAY, dtype=np.int64)
                continue
            raise ColumnarInputError(f"{name} table: column {field.name} is missing")
        try:
            column = table.column(field.name).cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise ColumnarInputError(f"{name} table: column {field.name}: {error}") from None
        if column.null_count and field.name not in _NULLABLE:
            raise ColumnarInputError(f"{name} table: column {field.name} has a null")
        if pa.types.is_date32(field.type):
            column = column.cast(pa.int32()).fill_null(NEVER_DAY)
            out[field.name] = column.to_numpy().astype(np.int64)
        else:
            out[field.name] = column.to_numpy()
    return out


def household_index(member_ids: pa.ChunkedArray, household_ids: pa.ChunkedArray) -> Ints:
    if household_ids.null_count or member_ids.null_count:
        raise ColumnarInputError("a household_id is null")
    # Integer ids (a database key) are matched as they are; anything else as text.
    same = pa.types.is_integer(household_ids.type) and pa.types.is_integer(member_ids.type)
    kind = pa.int64() if same else pa.string()
    keys = household_ids.cast(kind)
    if len(pa.compute.unique(keys)) != len(keys):
        raise ColumnarInputError("households table: a household_id is listed twice")
    index = pa.compute.index_in(member_ids.cast(kind), value_set=keys.combine_chunks())
    if index.null_count:
        unknown = member_ids.filter(pa.compute.is_null(index))[0].as_py()
        raise ColumnarInputError(f"members table: household_id {unknown} is not a household")
    return np.asarray(index.to_numpy(), dtype=np.int64)


# -- output and fallback -----------------------------------------------------------------------


def result_table(ids: pa.ChunkedArray, columns: dict[str, Any]) -> pa.Table:
    names = np.array(CLASSES, dtype=object)
    arrays: dict[str, Any] = {"household_id": ids}
    arrays["reduction"] = pa.array(
        names[np.asarray(columns["reduction"], dtype=np.int64)], type=pa.string()
    )
    for key in OUT_KEYS[1:-1]:
        arrays[key] = pa.array(columns[key])
    refused = np.asarray(columns["refused"], dtype=bool)
    arrays["engine"] = pa.array(np.where(refused, "per-household", "columnar"), type=pa.string())
    return pa.table(arrays)


def with_fallback(
    result: pa.Table, members: pa.Table, households: pa.Table, starts: Ints, rules: PremiumRules
) -> pa.Table:
    refused = np.flatnonzero(result.column("engine").to_numpy(zero_copy_only=False) != "columnar")
    if not len(refused):
        return result
    rows = []
    for k in refused:
        lo, hi = int(starts[k]), int(starts[k + 1])
        household = household_input(
            households.slice(int(k), 1).to_pylist()[0],
            members.slice(lo, hi - lo).to_pylist(),
            rules,
        )
        row = _row(assess(household, rules, with_reasons=False), rules)
        rows.append(row | {"household_id": households.column("household_id")[int(k)].as_py()})
    kept = np.flatnonzero(result.column("engine").to_numpy(zero_copy_only=False) == "columnar")
    joined = pa.concat_tables(
        [result.take(pa.array(kept)), pa.Table.from_pylist(rows, schema=result.schema)]
    )
    return joined.take(pa.array(np.argsort(np.concatenate([kept, refused]), kind="stable")))


def household_input(
    row: dict[str, Any], member_rows: Sequence[dict[str, Any]], rules: PremiumRules
) -> HouseholdInput:
    return HouseholdInput(
        household_id=str(row["household_id"]),
        municipality=rules.municipal.municipality,
        fiscal_year=rules.fiscal_year,
        head_person_id=row["head_person_id"],
        members=tuple(
            Member(
                person_id=r["person_id"],
                birth_date=r["birth_date"],
                acquired=r["acquired"],
                lost=r["lost"],
                income=Income(
                    r["salary"], r["pension"], r["other"], r["declared"], r["wage_earner"]
                ),
                specified_same_household=r["specified_same_household"],
                involuntary_unemployment_from=r["involuntary_unemployment_from"],
                former_dependant=r["former_dependant"],
                delivery_due=r["delivery_due"],
                gaps=((r["gap_from"], r["gap_to"]),) if r.get("gap_from") is not None else (),
            )
            for r in member_rows
        ),
        fixed_asset_tax=row["fixed_asset_tax"],
        specified_household_since=row["specified_household_since"],
    )


def _row(a: Assessment, rules: PremiumRules) -> dict[str, Any]:
    row: dict[str, Any] = {"household_id": a.household_id, "reduction": a.reduction}
    for p in a.parts:
        for key in ("income_levy", "asset_levy", "per_capita", "per_household", "capped", "amount"):
            row[f"{p.part}_{key}"] = getattr(p, key)
    amounts = [i.amount for i in a.instalments]
    plan = rules.municipal.rounding.instalment
    row["total"] = a.total
    row["instalment"] = a.total // len(amounts) // plan.unit * plan.unit
    row["instalment_adjusted"] = amounts[0] if plan.remainder == "first" else amounts[-1]
    row["engine"] = "per-household"
    return row


def assessments_of(result: pa.Table, rules: PremiumRules) -> list[Assessment]:
    """The ``assess_table`` result as ``Assessment`` values without reasons (as
    ``assess(..., with_reasons=False)`` gives them): what the 調定 ledger records."""
    municipality, year = rules.municipal.municipality, rules.fiscal_year
    ids = result.column("household_id").cast(pa.string()).to_pylist()
    reductions = result.column("reduction").to_pylist()
    figures = {
        part: [
            result.column(f"{part}_{key}").to_pylist()
            for key in (
                "income_levy",
                "asset_levy",
                "per_capita",
                "per_household",
                "capped",
                "amount",
            )
        ]  # fmt: skip
        for part in PARTS
    }
    rows = {part: list(zip(*columns, strict=True)) for part, columns in figures.items()}
    out: list[Assessment] = []
    for k, household_id in enumerate(ids):
        parts = tuple(PartAssessment(part, *rows[part][k]) for part in PARTS)
        total = sum(p.amount for p in parts)
        out.append(
            Assessment(household_id, municipality, year, parts, reductions[k],
                       instalments(total, rules))
        )  # fmt: skip
    return out
