"""後発医薬品使用割合 (数量ベース): the generic share by quantity (checkups-claims.md §4.1).

    share = 後発医薬品の数量 ÷ (後発医薬品のある先発医薬品の数量 + 後発医薬品の数量)

- **Quantity** is counted in 薬価基準 units (``claim_drugs.quantity``: 使用量 × Σ算定日 for 医科,
  使用量 × 調剤数量 for 調剤).
- **Classification** is MHLW's 「各先発医薬品の後発医薬品の有無に関する情報」 as loaded into
  ``drug_master.generic_class``; which category counts on which side is read from
  ``data/generic_classes.yaml`` ({3, ★} generic, {2, ☆} originator with a generic). Category 1
  (originators without a generic), drugs the list does not name and drugs missing from the
  master count on neither side.
- **Receipts**: every drug row of 医科 (入院, 入院外) and 調剤 claims; split them with ``by``.
- A group with no drug on either side has a null share (not 0): there is nothing to divide.

Source: MHLW 「保険者別の後発医薬品の使用割合」 (https://www.mhlw.go.jp/stf/newpage_25028.html).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._sources import TableSource, insurer_number, read
from kokuho.store import data_text, load_yaml

#: What ``by`` may name: the 保険者番号, the 診療年月, the claim kind (medical, pharmacy) and
#: the setting (inpatient 医科入院, outpatient 医科入院外, pharmacy 調剤).
GENERIC_GROUPS: Final = ("insurer", "service_month", "kind", "setting")


@dataclass(frozen=True, slots=True)
class GenericClasses:
    """The MHLW list's categories on each side of the share."""

    generic: frozenset[str]  # 後発医薬品
    originator: frozenset[str]  # 後発医薬品のある先発医薬品


def parse_generic_classes(text: str, name: str = "generic_classes.yaml") -> GenericClasses:
    """Reads ``generic_classes.yaml``: each category of the MHLW list ("1", "2", "☆", "3",
    "★") under ``classes`` with the side it ``counts_as`` (generic, originator, excluded)."""
    raw = load_yaml(text, name)
    if not isinstance(raw, Mapping) or raw.get("format") != "kokuho generic classes 1":
        raise ValueError("generic classes: unknown format")
    classes = raw.get("classes")
    if not isinstance(classes, Mapping) or not classes:
        raise ValueError("generic classes: no classes")
    sides: dict[str, set[str]] = {"generic": set(), "originator": set(), "excluded": set()}
    for category, entry in classes.items():
        side = entry.get("counts_as") if isinstance(entry, Mapping) else None
        if side not in sides:
            raise ValueError(f"generic classes: {category} counts_as {side!r}")
        sides[side].add(str(category))
    if not sides["generic"] or not sides["originator"]:
        raise ValueError("generic classes: need a generic and an originator category")
    return GenericClasses(frozenset(sides["generic"]), frozenset(sides["originator"]))


@lru_cache(maxsize=1)
def _packaged() -> GenericClasses:
    text = data_text("generic_classes.yaml")
    return parse_generic_classes(text)


def load_generic_classes(path: Path | None = None) -> GenericClasses:
    """The categories of ``path``, or of the packaged ``data/generic_classes.yaml``."""
    return (
        parse_generic_classes(path.read_text("utf-8"), str(path))
        if path is not None
        else _packaged()
    )


def generic_share_table(
    drugs: ir.Table,
    master: ir.Table,
    *,
    claims: ir.Table | None = None,
    by: Sequence[str] = ("insurer", "service_month"),
    classes: GenericClasses | None = None,
) -> ir.Table:
    """The generic share of the ``claim_drugs`` rows, grouped by ``by`` (names of
    :data:`GENERIC_GROUPS`; ``setting`` needs the ``claims`` table).

    Columns: ``by``…, ``generic_quantity``, ``originator_quantity``, ``share`` (null when both
    quantities are 0), ordered by ``by``.
    """
    unknown = [name for name in by if name not in GENERIC_GROUPS]
    if unknown:
        raise ValueError(f"cannot group the generic share by {', '.join(unknown)}")
    if len(set(by)) != len(by):
        raise ValueError("a grouping column is named twice")
    sides = classes or load_generic_classes()
    rows = drugs.select(
        "claim_id", "service_month", "kind", "code",
        insurer=insurer_number(drugs.insurer),
        quantity=drugs.quantity.fill_null(0.0),
    )  # fmt: skip
    if "setting" in by:
        if claims is None:
            raise ValueError("grouping by setting needs the claims table")
        rows = rows.join(claims.select("claim_id", "setting"), "claim_id", how="left")
    classed = master.select(code=master.code, generic_class=master.generic_class.strip())
    joined = rows.join(classed, "code", how="left")
    generic = joined.generic_class.isin(sorted(sides.generic)).fill_null(False)
    originator = joined.generic_class.isin(sorted(sides.originator)).fill_null(False)
    grouped = joined.group_by(list(by)) if by else joined
    sums = grouped.aggregate(
        generic_quantity=generic.ifelse(joined.quantity, 0.0).sum().fill_null(0.0),
        originator_quantity=originator.ifelse(joined.quantity, 0.0).sum().fill_null(0.0),
    )
    total = sums.generic_quantity + sums.originator_quantity
    result = sums.mutate(
        share=(total > 0).ifelse(sums.generic_quantity / total, ibis.null("float64"))
    )
    return result.order_by(list(by)) if by else result


def generic_share(
    lake: TableSource,
    *,
    fiscal_year: int | None = None,
    months: Collection[str] | None = None,
    by: Sequence[str] = ("insurer", "service_month"),
    classes: GenericClasses | None = None,
) -> ir.Table:
    """後発医薬品使用割合 of the lake's claims of ``fiscal_year`` and/or ``months`` (all when
    neither is given), grouped by ``by``: see :func:`generic_share_table`."""
    drugs = read(lake, "claim_drugs", fiscal_year=fiscal_year, months=months)
    claims = (
        read(lake, "claims", fiscal_year=fiscal_year, months=months) if "setting" in by else None
    )
    return generic_share_table(
        drugs, lake.table("drug_master"), claims=claims, by=by, classes=classes
    )
