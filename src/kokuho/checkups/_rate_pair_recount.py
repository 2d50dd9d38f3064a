"""The recount of the unsure member keys of ``rate_tables`` (kokuho.checkups._rate_pair): in
its one order a person's checkups of one day are ordered by the level, not the document; the
member keys where the two orders may differ (two checkups of one day stratified differently)
are matched again on their own and counted both ways, the difference corrected in the counts.
"""

from __future__ import annotations

from typing import Any

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._lake import INSURED_ID
from kokuho.checkups._rate_pair_rows import matched_rows, ranked_rows, tally_counts


def recounted(
    counts: pa.Table,
    keys: list[str],
    unsure: pa.StructArray,
    members: ir.Table,
    c: ir.Table,
    g: ir.Table,
    partition: list[str],
) -> pa.Table:
    """``counts`` with the member keys ``unsure`` (their partition columns) counted as the
    reference orders them.

    Their members, then those members' rows are matched again, from the checkups of their
    insured numbers only (small queries, each one scan), and counted in both orders, the
    document's and the level's; the difference goes to ``counts``. A member key's rows are the
    same here as in the whole query, so the level's order gives the same first row in both.
    """
    table = pa.Table.from_struct_array(unsure).group_by(partition).aggregate([])
    listed = ibis.memtable(table)
    # One column's values as a filter first (the insured_id, else the 番号), and the checkups
    # filtered by their 番号 as read: the engine applies such a filter in the scan, before it
    # hashes or stratifies a row; the joins then match exactly.
    first = INSURED_ID if INSURED_ID in partition else "number"
    near = members.filter(members[first].isin(sorted(set(table[first].to_pylist()))))
    mine = near.semi_join(listed, [near[k] == listed[k] for k in partition]).to_pyarrow()
    some = c.filter(c.number.isin(sorted(set(mine["number"].to_pylist()))))
    width = list(dict.fromkeys([*partition, *keys, "person_id"]))
    rows = ibis.memtable(matched_rows(ibis.memtable(mine), some, g, width).to_pyarrow())
    exact = tally_counts(ranked_rows(rows, partition, one_order=True, by_document=True), keys)
    fast = tally_counts(ranked_rows(rows, partition, one_order=True), keys)
    metrics = [m for m in counts.column_names if m not in keys]

    def by_key(tally: pa.Table) -> dict[tuple[Any, ...], dict[str, int]]:
        return {tuple(r[k] for k in keys): {m: r[m] for m in metrics} for r in tally.to_pylist()}

    plus, minus = by_key(exact.to_pyarrow()), by_key(fast.to_pyarrow())
    corrected = []
    for row in counts.to_pylist():
        key = tuple(row[k] for k in keys)
        for m in metrics:
            row[m] += plus.get(key, {}).get(m, 0) - minus.get(key, {}).get(m, 0)
        corrected.append(row)
    return pa.Table.from_pylist(corrected, schema=counts.schema)
