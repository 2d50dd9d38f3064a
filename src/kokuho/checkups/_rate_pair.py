"""Both 実施率 in one query plan: 特定健康診査実施率 and 特定保健指導実施率 from one match of
the members (特定健診の対象者) with their checkups (受診者), on an integer key.

``checkup_rate_table`` and ``guidance_rate_table`` (kokuho.checkups._rates) each match the
register snapshot with the year's checkups on the insured number's strings (保険者番号, 記号,
番号), and the guidance rate then ranks every 受診者's checkups by the five member-key columns.
At 25 M members and 10 M checkups those string hash joins and that string-keyed window are
nearly all of the time. ``rate_tables`` gives the same two tables with:

- one match instead of two, on ``insured_key``: a 64-bit integer derived from (保険者番号,
  記号, 番号). The exact string comparison and the 枝番-or-生年月日 rule stay as a residual
  predicate of the join, so two insured numbers sharing a key (a hash collision) can never
  match each other: the key only makes the hash table integer-keyed;
- one window over the matched rows, one partition per member key as the reference's, ordered
  by person and then so that the first checkup with a known 保健指導レベル comes first: the
  partition's first row is the stratified 受診者 (特定保健指導), and each change of person in
  it one member examined (特定健診; members sharing a member key share its checkups, so every
  one of them is in the partition once per checkup);
- the guidance match (終了者) made on the matched rows before the window, as a flag, by a
  left join while the rows still carry the insured number's strings: the window then sorts
  and carries integers, dates and the group keys only, and one aggregate of its rows gives
  both tables' counts, so the windowed rows stream into it instead of being materialised for
  several uses. A row with several guidance records started on or after its checkup is
  repeated, each copy flagged: a change of person still marks each member once, and the
  partition's first row is flagged as the reference's semi join would find it;
- on DuckDB, the window as one order over every matched row (member key first) instead of
  window partitions: each member key's first row is found by comparing a row's key with the
  previous row's. DuckDB evaluates window partitions one at a time, and millions of one- or
  two-row partitions cost more than the sort. Other engines (Spark: a window without
  partitions runs in one task) keep the partitions;
- in that one order, a person's checkups of one day ordered by the level instead of the
  document (the reference's tie-break): no string is sorted, and none is read from the
  checkups' file or carried through the joins. Only the first row's level counts (its
  guidance flag is the same for every checkup of that member and day), so the level's order
  gives the document's result wherever the day's known levels are equal; a row whose level
  differs from the one before it on the same person's day is marked, and the marked member
  keys (rare: two checkups of one day stratified differently) are matched again on their own
  and counted in both orders, the difference corrected in the counts;
- also on DuckDB, the 対象者 counted first: where each insurer in them has one kind (always,
  for an exported snapshot: the kind is the insurer's), the window carries the insurer
  without its kind, which is put back beside the counts.

The partition is the snapshot's ``insured_id`` (a dense integer per 保険者番号・記号・番号・枝番
of the file, kokuho.checkups._snapshot) with the 生年月日: two integers that are equal exactly
when the member keys are, so no collision can merge two members' checkups. Snapshots without
the column (exported before it, or built by hand with nulls) are partitioned by ``insured_key``
and the five member-key columns, as before. On 2 M matched rows the window takes about 40 % of
its CPU time with the string partition.

The hash key is computed on read with the engine's own hash function over a struct of the
three strings (DuckDB's ``hash``, Spark's ``hash``), on both sides of the query at once, so the
lake's checkup files need no new column. Hashing a struct rather than a concatenation skips
building a string per row, which at 25 M members cost more than the hashing.

The 対象者 are counted from a scan of the snapshot of their own: shared with the match, the
members would be one common table expression that DuckDB materialises before either use.

The matched rows, their window and their count are in ``_rate_pair_rows``, the recount of the
unsure member keys in ``_rate_pair_recount``; this module puts them together.

Measured on DuckDB (2 M checkups, 5 M members; CPU seconds of the whole query, the previous
and the new path alternated in one process, on a busy machine): the struct hash with the
change-of-person count (instead of ``first_value`` and a distinct of the other members) 0.88–
0.92 of the previous path's, with the integer partition 0.80, with the separate count scan
0.76. Then at 10 M checkups and 25 M members (DuckDB 2.0, two cores, load average 5–7 from
other jobs; CPU seconds of ``rate_tables`` with the stratification in the query, as the
benchmark calls it): the guidance flag, integer window and one aggregate 0.91 of the previous
path's (median of 3 rounds); the one-order window, measured on the generated SQL alone, 17.0
against 20.1 CPU s with partitions; both, alternated with the previous path over 5 rounds,
median 18.5 against 23.4 CPU s (0.79), wall time 25.0 against 33.5 s (0.75). Then the
level instead of the document in the order, alternated with the previous path in fresh
processes (3 rounds, load average 6–9 from other jobs): median 14.95 against 17.93 CPU s
(0.83); with the insurer's kind put back after the window, 12.4 (0.69); with the recount's
scan filters, again over 3 rounds, 11.7 against 16.4 CPU s (0.72), wall 15.2 against 21.4 s.
The recount costs about 1.2–1.4 CPU s for 10 unsure member keys and 4.5 for 5 000 (one scan
of each file, the IN filters growing); with 10 000 same-day duplicate checkups added, some
stratified differently, the whole stays about even with the previous path (13.1 and 15.5
against 15.2 and 14.3 CPU s). Tried, not kept:

- a stored hash key (one engine-independent 64-bit function written by every producer of
  snapshots and checkups, hashed on read for older files): about 4 % less, since the join is
  integer-keyed either way and only the hashing on read goes;
- two hash aggregates (per member and person: the minimum of (unknown level, exam date,
  document, level); then per member key) instead of the window: about 40 % more;
- the guidance flag as an EXISTS (``any()`` of the predicates) instead of the left join:
  DuckDB decorrelates it by materialising the matched rows and a distinct of every
  correlated column (at 1 M checkups, about 1.7 s more operator time than the left join);
- ``preserve_insertion_order = false`` while the query runs: no difference beyond the noise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._lake import INSURED_ID, Lake
from kokuho.checkups._rate_pair_recount import recounted
from kokuho.checkups._rate_pair_rows import KEY as KEY  # re-exported: callers import it here
from kokuho.checkups._rate_pair_rows import UNSURE, matched_rows, ranked_rows, tally_counts
from kokuho.checkups._rates import (
    MEMBER_KEY,
    ExclusionReason,
    as_fiscal_year,
    check_by,
    checkup_result,
    checkups_in,
    completed_guidance,
    counts_by,
    eligible_members,
    group_keys,
    guidance_table,
    levels,
    reporting_cutoff,
    scope,
)
from kokuho.checkups._rates_lake import exclusions_table, lake_guidance_inputs
from kokuho.ids import FiscalYear


def insured_key(
    insurer: ir.StringValue, symbol: ir.StringValue, number: ir.StringValue
) -> ir.IntegerValue:
    """被保険者等記号・番号 (with the 保険者番号) as one integer, by the engine's hash function.

    Equal tuples give equal keys within one engine; unequal tuples almost always differ (the
    match keeps the string comparison, so a collision costs a residual check, not a result).
    The hash of a struct of the three fields combines the engine's hashes of each field
    (DuckDB's ``hash({...})``, Spark's ``hash(struct(...))``), so ("1", "23") and ("12", "3")
    differ without building a concatenated string per row: at 25 M members, building it cost
    more than hashing it.
    """
    key: ir.IntegerValue = ibis.struct({"i": insurer, "s": symbol, "n": number}).hash()
    return key


def _keyed(table: ir.Table, insurer: str) -> ir.Table:
    return table.mutate(**{KEY: insured_key(table[insurer], table.symbol, table.number)})


def _apart(table: ir.Table) -> ir.Table:
    """``table``, as an expression unequal to ``table`` itself (a filter that keeps every row),
    so that Ibis does not merge two uses of it into one common table expression."""
    return table.filter(ibis.literal(True))


def _numbered(eligibility: ir.Table) -> bool:
    """Whether every row of ``eligibility`` carries the snapshot's ``insured_id``.

    Snapshots exported before the column existed have none, and tables built from
    ``SNAPSHOT_COLUMNS`` by hand may leave it null; those group by the member key's strings.
    One scan of one integer column, against a window over every checkup grouped by strings.
    The ids are numbered per file, which is one fiscal year's snapshot: ``eligible_members``
    keeps the rows of one year.
    """
    if INSURED_ID not in eligibility.columns:
        return False
    missing = eligibility.filter(eligibility[INSURED_ID].isnull()).count()
    return bool(missing.to_pyarrow().as_py() == 0)


def rate_tables(
    eligibility: ir.Table,
    checkups: ir.Table,
    guidance: ir.Table,
    fiscal_year: FiscalYear | int,
    *,
    by: Sequence[str] = ("insurer",),
    exclusions: ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    completed_by: dt.date | None = None,
) -> tuple[ir.Table, ir.Table]:
    """(``checkup_rate_table``, ``guidance_rate_table``) of the same arguments, the latter
    with ``members_only=True``, the same rows, from one member ↔ checkup match.

    ``checkups`` without a ``level`` column are stratified (as ``guidance_rate_table`` does).
    """
    fy, groups = as_fiscal_year(fiscal_year), check_by(by)
    cutoff = completed_by or reporting_cutoff(fy)
    keys = group_keys(groups)
    # Scoping before the match is the same as scoping the matched rows: the scope reads the
    # insurer's kind and municipality, and members of one insurer share them.
    members = scope(
        eligible_members(eligibility, fy, exclusions=exclusions, reasons=reasons), groups
    )
    # Only the columns the match and the window use.
    ids = [INSURED_ID] if _numbered(eligibility) else []
    carried = list(dict.fromkeys([*MEMBER_KEY, *keys, "person_id", *ids]))
    members = _keyed(members, "insurer").select(KEY, *carried)
    # One partition per member key, as the reference's window. With the snapshot's
    # insured_id the member key is two integers (insured_id stands for four of its columns),
    # else its five columns.
    partition = [INSURED_ID, "birth_date"] if ids else [KEY, *MEMBER_KEY]
    c = _keyed(levels(checkups_in(checkups, fy), fy), "insurer")
    g = _keyed(completed_guidance(guidance, fy, cutoff), "insurer")
    # The 対象者 are counted from a scan of their own: shared with the match, the members are
    # one table expression used twice, which DuckDB materialises (25 M rows, strings and all)
    # before either use; scanned twice, the match streams from the file. ``_apart`` keeps the
    # two expressions from being recognised as one.
    everyone = scope(
        eligible_members(_apart(eligibility), fy, exclusions=exclusions, reasons=reasons), groups
    )
    eligible = counts_by(everyone, keys, eligible=everyone.count())
    if not _one_order(members):
        rows = matched_rows(members, c, g, [*partition, *keys, "person_id"])
        return _results(eligible, tally_counts(ranked_rows(rows, partition), keys), keys, fy)
    # The 対象者 first: where each insurer has one kind (as every exported snapshot, whose
    # kind is the insurer's), the window carries the insurer alone and the kind is put back
    # beside its counts, one string column less through the sort and the aggregate.
    eligible_table = eligible.to_pyarrow()
    kinds = _kinds(eligible_table, keys)
    light = keys if kinds is None else [k for k in keys if k != "insurer_kind"]
    rows = matched_rows(members, c, g, [*partition, *light, "person_id"])
    # One order over every row, its ties on a day broken by the level (see ``ranked_rows``); the
    # member keys where that may not be the document's order are counted again both ways.
    counts = tally_counts(ranked_rows(rows, partition, one_order=True), light, unsure=partition)
    table = counts.to_pyarrow()
    unsure = pc.list_flatten(table[UNSURE]).combine_chunks()
    table = table.drop_columns([UNSURE])
    if len(unsure):
        table = recounted(table, light, unsure, members, c, g, partition)
    if kinds is not None:
        kind = pa.array(
            [kinds[i] for i in table["insurer"].to_pylist()],
            eligible_table.schema.field("insurer_kind").type,
        )
        table = table.add_column(table.column_names.index("insurer") + 1, "insurer_kind", kind)
    return _results(ibis.memtable(eligible_table), ibis.memtable(table), keys, fy)


def _kinds(eligible: pa.Table, keys: list[str]) -> dict[str | None, str | None] | None:
    """The insurer's kind by insurer, from the 対象者 counts by ``keys``, when the counts are
    by insurer and each insurer there has one kind; else None.

    Every matched member is one of the 対象者 (the same rows, the same scope), so its kind is
    the one found here.
    """
    if "insurer" not in keys:
        return None
    pairs = set(
        zip(eligible["insurer"].to_pylist(), eligible["insurer_kind"].to_pylist(), strict=True)
    )
    kinds = dict(pairs)
    return kinds if len(kinds) == len(pairs) else None


def _results(
    eligible: ir.Table, counts: ir.Table, keys: list[str], fy: FiscalYear
) -> tuple[ir.Table, ir.Table]:
    """Both tables from the 対象者 counts and ``tally_counts``'s counts."""
    checkup = checkup_result(eligible, counts.select(*keys, "examined"), keys, fy)
    # The reference lists the groups that have 特定保健指導対象者 (all of them without groups).
    guidance_counts = counts.drop("examined")
    if keys:
        guidance_counts = guidance_counts.filter(guidance_counts.targets > 0)
    return _together(checkup, guidance_table(guidance_counts, keys, fy), keys)


#: Engines on which ``rate_tables`` sorts the matched rows in one order rather than window
#: partitions (see ``ranked_rows``).
ONE_ORDER_BACKENDS: Final = frozenset({"duckdb"})


def _one_order(table: ir.Table) -> bool:
    try:
        name = table._find_backend(use_default=True).name
    except Exception:  # no single backend (nothing to run on yet): the portable shape
        return False
    return name in ONE_ORDER_BACKENDS


def _together(first: ir.Table, second: ir.Table, keys: list[str]) -> tuple[ir.Table, ir.Table]:
    """Runs two result tables as one query and gives them back as in-memory tables.

    Run one at a time, each would repeat the match and the window that they share; as the two
    halves of one UNION ALL they are one plan, in which the engine computes the shared parts
    once (DuckDB materialises a common table expression used twice).
    """
    a_schema, b_schema = first.schema(), second.schema()
    columns = {**dict(a_schema.items()), **dict(b_schema.items())}

    def widened(table: ir.Table, part: int) -> ir.Table:
        return table.select(
            _part=ibis.literal(part, "int8"),
            **{
                name: table[name] if name in table.columns else ibis.null(kind)
                for name, kind in columns.items()
            },
        )

    both = widened(first, 0).union(widened(second, 1), distinct=False).to_pyarrow()
    parts = []
    for part, schema in ((0, a_schema), (1, b_schema)):
        rows = both.filter(pc.equal(both["_part"], part)).select(list(schema.names))
        if keys:  # UNION ALL keeps no order: the reference orders by the keys
            rows = rows.sort_by([(k, "ascending") for k in keys])
        parts.append(ibis.memtable(rows.cast(schema.to_pyarrow())))
    return parts[0], parts[1]


def lake_rate_tables(
    lake: Lake,
    fiscal_year: FiscalYear | int,
    by: Sequence[str] = ("insurer",),
    *,
    exclusions: Path | ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    completed_by: dt.date | None = None,
) -> tuple[ir.Table, ir.Table]:
    """``rate_tables`` of one lake year: (``checkup_rates``, ``guidance_rates``) at once."""
    fy = as_fiscal_year(fiscal_year)
    cutoff = completed_by or reporting_cutoff(fy)
    return rate_tables(
        *lake_guidance_inputs(lake, fy, cutoff),
        fy,
        by=by,
        exclusions=exclusions_table(exclusions),
        reasons=reasons,
        completed_by=cutoff,
    )
