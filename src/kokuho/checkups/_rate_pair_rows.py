"""The matched rows of ``rate_tables`` (kokuho.checkups._rate_pair), their window and their
count: the member ↔ checkup match on the integer key with the guidance flag
(``matched_rows``), the first row of each member key and the change of person (``ranked_rows``,
in window partitions or one order) and both tables' counts from one aggregate of them
(``tally_counts``). The module docstring of ``_rate_pair`` gives the reasons and the
measurements; split from it to keep both readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import and_
from typing import Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._rates import (
    INTENSIVE,
    KNOWN_LEVELS,
    MOTIVATIONAL,
    count_if,
    counts_by,
    same_person,
)

#: The integer match key's column (computed on read; see the docstring of ``_rate_pair``).
KEY: Final = "insured_key"


def _match(a: ir.Table, a_insurer: str, b: ir.Table, b_insurer: str) -> list[ir.BooleanValue]:
    """Join predicates: equal keys, then the reference's predicates as one residual.

    The residual is wrapped in a CASE so that the engine cannot lift its string equalities
    into the hash join's keys (it would then hash and store the strings again).
    """
    residual = reduce(and_, same_person(a, a_insurer, b, b_insurer))
    return [a[KEY] == b[KEY], ibis.cases((residual, True), else_=False)]


#: The column of ``tally_counts`` that lists the member keys whose first checkup is unsure.
UNSURE: Final = "_unsure_keys"


def matched_rows(members: ir.Table, c: ir.Table, g: ir.Table, columns: list[str]) -> ir.Table:
    """The matched rows of ``members`` and checkups ``c``: the member's ``columns``, the
    checkup's date, document and level, whether the level is known, and whether the member has
    a guidance record of ``g`` (終了者) started on or after the checkup.

    The guidance is decided here while the row still carries the insured number's strings,
    so that the window sorts and carries integers only. A left join rather than EXISTS (which
    DuckDB decorrelates by materialising the matched rows and a distinct of them): a row with
    several such records is repeated, each copy flagged, and the window keeps one.
    """
    joined = c.join(members, _match(c, "insurer", members, "insurer"))
    matched = joined.select(
        members[KEY],
        *[members[k] for k in members.columns if k != KEY],
        exam_date=c.exam_date,
        document=c.document,
        level=c.level,
    )
    flagged = matched.left_join(
        g, [*_match(matched, "insurer", g, "insurer"), g.started_on >= matched.exam_date]
    )
    return flagged.select(
        *[matched[k] for k in dict.fromkeys(columns)],
        exam_date=matched.exam_date,
        document=matched.document,
        level=matched.level,
        _known=matched.level.isin(KNOWN_LEVELS).fill_null(False),
        _guided=g.started_on.notnull(),
    )


def tally_counts(ranked: ir.Table, keys: list[str], *, unsure: list[str] | None = None) -> ir.Table:
    """Both tables' counts by ``keys`` from one aggregate of the windowed rows: used once, the
    windowed rows stream into it instead of being materialised for several uses.

    ``unsure``: also list, in ``UNSURE``, those columns of the rows marked ``_unsure``.
    """
    examined = ranked._previous.isnull() | (ranked._previous != ranked.person_id)
    target = ranked._first & ranked._known & ranked.level.isin((INTENSIVE, MOTIVATIONAL))
    done = target & ranked._guided
    listed = {}
    if unsure is not None:
        key = ibis.struct({k: ranked[k] for k in unsure})
        listed[UNSURE] = key.collect(where=ranked._unsure)
    return counts_by(
        ranked,
        keys,
        examined=count_if(examined),
        targets=count_if(target),
        targets_intensive=count_if(target & (ranked.level == INTENSIVE)),
        targets_motivational=count_if(target & (ranked.level == MOTIVATIONAL)),
        completed=count_if(done),
        completed_intensive=count_if(done & (ranked.level == INTENSIVE)),
        completed_motivational=count_if(done & (ranked.level == MOTIVATIONAL)),
        **listed,
    )


def ranked_rows(
    rows: ir.Table, partition: list[str], *, one_order: bool = False, by_document: bool = False
) -> ir.Table:
    """``rows`` with ``_first`` (the first row of its member key's partition, in the order
    below) and ``_previous`` (the person of the row before it in the partition, null on the
    first).

    Members sharing a member key (one insured number held twice without 枝番, same 生年月日;
    rare) match the same checkups, so the partition holds each of its members' rows with
    every checkup (repeated per guidance record). The order within a partition: by person,
    then the first checkup with a known level first, then by 健診実施日 and document, as the
    reference's window breaks ties (the reference filters the known levels first, then takes
    the earliest). The first row is then the first person's first checkup, the same checkup
    for every member of the partition; each member's rows are consecutive, so a change of
    person marks each member once: the 受診者 of the 特定健診実施率, member rows as the
    reference's semi join counts them, without a distinct over the member key.

    ``one_order``: one window over every row, ordered by the partition's columns first, the
    partition's start found by comparing each row's columns with the row before (null-safe,
    as PARTITION BY groups nulls; the first row of all has a null before it, and one partition
    column, insured_id or the hash key, is never null). DuckDB evaluates window partitions
    one by one, which for millions of one- or two-row partitions costs more than the sort
    itself. Otherwise one window partition per member key, which engines that spread
    partitions over workers (Spark) need: a window without partitions runs in one task.

    The one order breaks a person's ties of one day by the level rather than the document
    (unless ``by_document``; see ``_rate_pair``'s docstring) and marks ``_unsure`` a known level
    after a different one on the same day, whose member key ``rate_tables`` counts again.
    """
    tie = rows.document if by_document or not one_order else rows.level
    order = [rows.person_id, ibis.desc(rows._known), rows.exam_date, tie]
    if not one_order:
        window = ibis.window(group_by=[rows[k] for k in partition], order_by=order)
        ranked = rows.mutate(
            _first=ibis.row_number().over(window) == 0,
            _previous=rows.person_id.lag().over(window),
        )
        return ranked
    window = ibis.window(order_by=[*[rows[k] for k in partition], *order])
    compared = [*partition, "person_id", "_known", "exam_date", "level"]
    before = rows.mutate(**{f"_before_{k}": rows[k].lag().over(window) for k in compared})

    def same(columns: Sequence[str]) -> ir.BooleanValue:
        return reduce(and_, [before[f"_before_{k}"].identical_to(before[k]) for k in columns])

    in_partition = same(partition)
    ranked = before.mutate(
        _first=~in_partition,
        _previous=ibis.ifelse(in_partition, before._before_person_id, None),
        # A known level after another on the person's same day: the tie is the document's.
        _unsure=in_partition
        & same(["person_id", "_known", "exam_date"])
        & before._known
        & ~before._before_level.identical_to(before.level),
    )
    return ranked.drop(*[c for c in ranked.columns if c.startswith("_before_")])
