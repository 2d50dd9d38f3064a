"""Which stored claim rows do not count: the earlier versions of a claim sent again (再請求,
月遅れ請求), read from the claims lake (``_lake``'s docstring, docs/formats.md §7, "A claim sent
again")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

#: The columns of ``claims`` that say which claim a row is a version of (the module docstring).
CLAIM_IDENTITY: Final = (
    "kind", "prefecture", "institution", "service_month", "receipt_type", "insurer", "symbol",
    "number", "branch", "birth_date", "sex", "prescriber",
)  # fmt: skip


def superseded_versions(claims: ir.Table) -> ir.Table:
    """The ``claim_id`` and ``service_month`` of the rows of ``claims`` (columns of
    ``_schema.CLAIMS``) that do not count: of each claim (``CLAIM_IDENTITY``, as written), the
    versions of a 請求年月 before its latest. A claim without a 保険者番号 (公費単独) is a
    claim of its own."""
    insured = claims.filter(claims.insurer != "")
    keys = list(CLAIM_IDENTITY)
    claim = insured.group_by(keys).aggregate(
        latest_billing=insured.billing_month.max(), first_billing=insured.billing_month.min()
    )
    resent = claim.filter(claim.latest_billing > claim.first_billing)
    versions = insured.join(resent, keys)
    earlier: ir.Table = versions.filter(versions.billing_month < versions.latest_billing)
    return earlier.select("claim_id", "service_month")


class SupersededIds:
    """The ``claim_id`` of the superseded claims, found once per 診療年月 and kept while the
    lake holds the same ingested files (a lake object reads its tables many times)."""

    def __init__(self) -> None:
        self._held: frozenset[str] = frozenset()
        self._by_month: dict[str, pa.Table] = {}

    def ids(
        self,
        sources: frozenset[str],
        months: Sequence[str] | None,
        stored_claims: Callable[[list[str] | None], ir.Table],
    ) -> pa.Table | None:
        """Of the claims of ``months`` (every month when None: a file whose manifest entry
        does not say its months, and then nothing is kept), those a later version replaces;
        None when there are none. ``sources`` names the ingested files; ``stored_claims``
        reads every stored ``claims`` row of the months it is given."""
        if months is None:
            found = superseded_versions(stored_claims(None)).to_pyarrow()
            return found.select(["claim_id"]) if found.num_rows else None
        if self._held != sources:
            self._held, self._by_month = sources, {}
        missing = [m for m in months if m not in self._by_month]
        if missing:
            found = superseded_versions(stored_claims(missing)).to_pyarrow()
            labels = pa.array([f"{d:%Y-%m}" for d in found.column("service_month").to_pylist()])
            for month in missing:
                self._by_month[month] = found.filter(pc.equal(labels, month)).select(["claim_id"])
        ids = pa.concat_tables([self._by_month[m] for m in months])
        return ids if ids.num_rows else None
