"""資格過誤: claims whose insured number was not valid on the day of service (返戻 candidates).

Every claim's 保険者番号・記号・番号・枝番 and its days of service are checked against the
register's coverages (資格取得日 ≤ day < 資格喪失日). The days of service are
``first_day``…``last_day`` of the claim, or its whole 診療年月 where the claim does not say.
A claim whose 枝番 is empty matches the coverages of its 記号・番号 with the claim's 生年月日
(before 枝番, 国保 記号・番号 named a household).

Reasons, in the order they are decided:

- ``not_found``: no coverage in the register has the claim's insured number;
- ``superseded``: the number's coverage ended (資格喪失日 ≤ a day of service) and another
  coverage of the person is in force on that day: another insurer, or a newer number of the
  same insurer. ``responsible_insurer`` is that coverage's insurer;
- ``lost_before_service``: the number's coverage ended (資格喪失日 ≤ a day of service) and the
  register knows no coverage of the person on that day;
- ``not_yet_acquired``: the number's coverage starts after the first day of service
  (資格取得日 > day); ``responsible_insurer`` is set when another coverage was in force.

Each error names what a clerk needs to find the レセプト and send it back (返戻): the file's
name (from the lake's manifest) and sha256, the line of its RE record, the レセプト番号 and
the 10-digit 医療機関コード (都道府県 + 点数表 + the 7 digits of the IR/YK record).

The check is in bulk: the claims' numbers go to the database in a temporary key table
(``kokuho.store.key_table``) to fetch the coverages of the persons they name, and the dates are
compared as one Ibis expression over the claims and those coverages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, cast, runtime_checkable

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa

from kokuho.claims._sources import TableSource, person_columns, read
from kokuho.registry import tables
from kokuho.store import key_table

ErrorReason = Literal["not_found", "lost_before_service", "superseded", "not_yet_acquired"]

#: Columns of the coverages :func:`eligibility_errors_table` compares with.
COVERAGE_COLUMNS: Final[dict[str, pa.DataType]] = {
    "coverage_id": pa.int64(),
    "person_id": pa.int64(),
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "acquired_on": pa.date32(),
    "lost_on": pa.date32(),
    "birth_date": pa.date32(),
}


@dataclass(frozen=True, slots=True)
class EligibilityError:
    """A claim the register says was not covered on a day of its service (返戻 candidate)."""

    claim_id: str
    file: str  # sha256 of the レセ電 file
    line: int  # line of the RE record
    institution: str  # the 7 digits of the IR/YK record
    insurer: str
    symbol: str
    number: str
    branch: str
    service_month: dt.date
    first_day: dt.date | None
    reason: ErrorReason
    lost_on: dt.date | None  # 資格喪失日 of the claim's number (lost_before_service, superseded)
    responsible_insurer: str | None  # the insurer covering the person on that day, if known
    receipt_number: int = 0  # レセプト番号 (RE)
    file_name: str = ""  # the レセ電 file's name as ingested ("" when the lake does not say)
    institution_code: str = ""  # 10-digit 医療機関コード: 都道府県 + 点数表 + the 7 digits


#: 点数表 of a file whose manifest entry does not say (ingested before kokuho kept it).
_FEE_TABLE: Final = {"medical": "1", "pharmacy": "4"}


@runtime_checkable
class _Manifested(Protocol):
    """A lake that knows the files it ingested (``ClaimsLake.sources``)."""

    def sources(self) -> dict[str, dict[str, Any]]: ...


def eligibility_errors_table(claims: ir.Table, coverages: ir.Table) -> ir.Table:
    """The claims with an eligibility error: the columns of :class:`EligibilityError`,
    ordered by 診療年月, insured number and claim. ``coverages`` has
    :data:`COVERAGE_COLUMNS` (the register's coverages of the persons concerned)."""
    rows = claims.select(
        "claim_id", "file", "line", "receipt_number", "prefecture", "institution",
        *person_columns(claims),
        "birth_date", "service_month", "first_day",
        claim_kind=claims.kind,
        start=claims.first_day.fill_null(claims.service_month),
        end=claims.last_day.fill_null(
            claims.service_month + ibis.interval(months=1) - ibis.interval(days=1)
        ),
    )  # fmt: skip
    cov = coverages.select(
        cov_id=coverages.coverage_id,
        person_id=coverages.person_id,
        cov_insurer=coverages.insurer,
        cov_symbol=coverages.symbol,
        cov_number=coverages.number,
        cov_branch=coverages.branch,
        acquired=coverages.acquired_on,
        lost=coverages.lost_on,
        cov_birth=coverages.birth_date,
    )
    same_number = (
        (rows.insurer == cov.cov_insurer)
        & (rows.symbol == cov.cov_symbol)
        & (rows.number == cov.cov_number)
        & (
            (rows.branch == cov.cov_branch)
            | ((rows.branch == "") & (rows.birth_date == cov.cov_birth))
        )
    )
    m = rows.join(cov, same_number, how="left")
    began = m.acquired <= m.start
    summary = m.group_by("claim_id").aggregate(
        matched=m.cov_id.count(),
        whole=(began & (m.lost.isnull() | (m.lost > m.end))).any(),
        covers_start=(began & (m.lost.isnull() | (m.lost > m.start))).any(),
        lost_mid=m.lost.min(where=began & (m.lost > m.start) & (m.lost <= m.end)),
        lost_before=m.lost.max(where=m.lost <= m.start),
        person_id=m.person_id.min(),
    )
    bad = summary.filter((summary.matched == 0) | ~summary.whole.fill_null(False))
    found = bad.matched > 0
    lost_on = found.ifelse(
        bad.covers_start.fill_null(False).ifelse(bad.lost_mid, bad.lost_before),
        ibis.null("date"),
    )
    bad = bad.mutate(
        lost_on=lost_on,
        kind=found.ifelse(lost_on.isnull().ifelse("not_yet_acquired", "lost"), "not_found"),
    )
    errors = rows.join(bad.select("claim_id", "person_id", "lost_on", "kind"), "claim_id")
    errors = errors.mutate(day=errors.lost_on.fill_null(errors.start))
    # Who covered the person on that day, other than the claim's own number.
    other = cov.filter(cov.person_id.notnull())
    responsible = errors.join(
        other,
        (errors.person_id == other.person_id)
        & (other.acquired <= errors.day)
        & (other.lost.isnull() | (other.lost > errors.day))
        & ~(
            (other.cov_insurer == errors.insurer)
            & (other.cov_symbol == errors.symbol)
            & (other.cov_number == errors.number)
            & ((other.cov_branch == errors.branch) | (errors.branch == ""))
        ),
    )
    responsible = responsible.group_by("claim_id").aggregate(
        responsible_insurer=responsible.cov_insurer.argmax(responsible.acquired)
    )
    out = errors.join(responsible, "claim_id", how="left")
    reason = out.kind.cases(
        ("lost", out.responsible_insurer.isnull().ifelse("lost_before_service", "superseded")),
        else_=out.kind,
    )
    return out.select(
        "claim_id", "file", "line", "receipt_number", "claim_kind", "prefecture", "institution",
        "insurer", "symbol", "number", "branch",
        "service_month", "first_day", reason=reason, lost_on=out.lost_on,
        responsible_insurer=out.responsible_insurer,
    ).order_by(["service_month", "insurer", "symbol", "number", "branch", "claim_id"])  # fmt: skip


def register_coverages(engine: sa.Engine, numbers: Sequence[tuple[str, str, str]]) -> pa.Table:
    """The coverages of every person holding one of ``numbers`` (保険者番号, 記号, 番号), with
    their 生年月日: :data:`COVERAGE_COLUMNS`. Two joins through temporary key tables."""
    c, p = tables.coverages, tables.persons
    text = sa.String(20)
    persons: list[int] = []
    rows: list[sa.Row[tuple[object, ...]]] = []
    with engine.connect() as connection:
        if numbers:
            kinds: dict[str, sa.types.TypeEngine[Any]] = {
                "insurer_number": sa.String(8), "symbol": text, "number": text,
            }  # fmt: skip
            with key_table(connection, kinds, list(numbers)) as wanted:
                persons = list(
                    connection.scalars(
                        sa.select(c.c.person_id)
                        .join(
                            wanted,
                            (wanted.c.insurer_number == c.c.insurer_number)
                            & (wanted.c.symbol == c.c.symbol)
                            & (wanted.c.number == c.c.number),
                        )
                        .distinct()
                    )
                )
        if persons:
            with key_table(connection, {"person_id": sa.Integer()}, [(i,) for i in persons]) as w:
                rows = list(
                    connection.execute(
                        sa.select(
                            c.c.coverage_id, c.c.person_id, c.c.insurer_number, c.c.symbol,
                            c.c.number, c.c.branch, c.c.acquired_on, c.c.lost_on,
                            p.c.birth_date,
                        )
                        .join(p, p.c.person_id == c.c.person_id)
                        .join(w, w.c.person_id == c.c.person_id)
                    )
                )  # fmt: skip
    columns: list[Sequence[Any]] = (
        list(zip(*rows, strict=True)) if rows else [[] for _ in COVERAGE_COLUMNS]
    )
    return pa.table(
        {
            name: pa.array(list(values), type=kind)
            for (name, kind), values in zip(COVERAGE_COLUMNS.items(), columns, strict=True)
        }
    )


def eligibility_errors(
    lake: TableSource, engine: sa.Engine, months: Collection[str] | None = None
) -> list[EligibilityError]:
    """資格過誤 of the lake's claims (of ``months``, or all) against the register."""
    claims = read(lake, "claims", months=months)
    numbers = claims.select(*person_columns(claims)[:3]).distinct().to_pyarrow().to_pylist()
    keys = [(n["insurer"], n["symbol"], n["number"]) for n in numbers]
    coverages = ibis.memtable(register_coverages(engine, keys))
    found = eligibility_errors_table(claims, coverages).to_pyarrow().to_pylist()
    files = lake.sources() if isinstance(lake, _Manifested) else {}
    errors = []
    for row in found:
        entry = files.get(row["file"], {})
        kind, prefecture = row.pop("claim_kind"), row.pop("prefecture")
        table = entry.get("fee_table") or _FEE_TABLE.get(kind, "")
        reason = cast(ErrorReason, row.pop("reason"))
        errors.append(
            EligibilityError(
                **row,
                reason=reason,
                file_name=entry.get("name", ""),
                institution_code=f"{prefecture}{table}{row['institution']}",
            )
        )
    return errors
