"""重複・多剤投与: the people the municipality guides about their prescriptions
(保険者努力支援制度 共通指標⑤, checkups-claims.md §4.2).

**重複投与 (KDB definition).** In a month, a 薬効 (4-digit 薬効分類, ``drug_master.efficacy``)
is *duplicated* when more than one institution prescribes it to the person. The person-month
is a duplicate when 3 or more institutions prescribed a duplicated 薬効 and there is 1 or more
duplicated 薬効, or 2 or more institutions and 2 or more duplicated 薬効 (KDB footnote,
https://www.wic-net.com/material/document/916/112). The prescribing institution is
``claim_drugs.institution``, the 処方医療機関 for 調剤, so a clinic's 院内処方 and the pharmacy
claims of its 院外処方 are one institution; institutions are compared as 10-character codes
(都道府県 + 点数表 + 医療機関コード), a 7-digit code being completed with its claim's
都道府県 and 点数表 1 (医科). A 調剤 drug whose 処方医療機関 is not recorded is left out of
the duplicate count (it cannot be told apart from the others).

**多剤投与** has no national definition (UNCONFIRMED): a person-month with at least
``min_count`` distinct drugs (薬効 by default) supplied for at least ``min_days_supply`` days.

Both thresholds live in ``data/prescribing_rules.yaml``. Persons are their claims'
保険者番号・記号・番号・枝番; counts per 10,000 insured divide by the register's average insured
(``kokuho.claims.insured_by_band``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._indicator_rules import PrescribingRules, load_prescribing_rules
from kokuho.claims._sources import PERSON, TableSource, person_columns, read

#: A person-month: the person's insured number and the 診療年月.
PERSON_MONTH: Final = (*PERSON, "service_month")
MEDICAL_TABLE: Final = "1"  # 点数表 医科


def _institution(code: ir.StringValue, prefecture: ir.StringValue) -> ir.StringValue:
    code = code.fill_null("").strip()
    return (code.length() == 7).ifelse(prefecture.fill_null("").concat(MEDICAL_TABLE, code), code)


def prescribed(drugs: ir.Table, claims: ir.Table, master: ir.Table) -> ir.Table:
    """The drug rows with the person, the prescribing institution and the drug's 薬効, 成分
    and name: ``insurer, symbol, number, branch, service_month, institution, code, efficacy,
    ingredient, name, days_supply``. Drugs the master does not know have no 薬効 and are
    left out."""
    heads = claims.select(
        "claim_id",
        claim_prefecture=claims.prefecture,
        claim_prescriber=claims.prescriber.fill_null("").strip(),
    )
    rows = drugs.join(heads, "claim_id", how="left")
    own = rows.institution.fill_null("").strip()
    # 調剤: the 処方医療機関 (the drug row's, else the claim's RE 処方医療機関).
    source = ((own == "") & (rows.kind == "pharmacy")).ifelse(rows.claim_prescriber, own)
    rows = rows.select(
        *person_columns(rows),
        service_month=rows.service_month,
        institution=_institution(source, rows.claim_prefecture),
        code=rows.code,
        days_supply=rows.days_supply.fill_null(0),
    )
    drugs_known = master.select(
        code=master.code,
        efficacy=master.efficacy.strip(),
        ingredient=master.ingredient.fill_null("").strip(),
        name=master.name,
    )
    joined = rows.join(drugs_known, "code", how="inner")
    return joined.filter(joined.efficacy.notnull() & (joined.efficacy != ""))


def duplicate_prescribing_table(
    drugs: ir.Table,
    claims: ir.Table,
    master: ir.Table,
    *,
    rules: PrescribingRules | None = None,
) -> ir.Table:
    """重複投与者 by person-month: ``insurer, symbol, number, branch, service_month,
    institution_count, efficacy_count, institutions, efficacies, drugs`` (``drugs``: the
    prescriptions of the duplicated 薬効 as ``{efficacy, institution, code, name}``), ordered
    by person and month."""
    rules = rules or load_prescribing_rules()
    rows = prescribed(drugs, claims, master)
    # A 調剤 claim that does not name its 処方医療機関 cannot be told apart from any other.
    rows = rows.filter(rows.institution != "")
    keys = list(PERSON_MONTH)
    pairs = rows.select(*keys, "efficacy", "institution").distinct()
    spread = pairs.group_by([*keys, "efficacy"]).aggregate(prescribers=pairs.institution.nunique())
    duplicated = spread.filter(spread.prescribers >= 2).select(*keys, "efficacy")
    involved = pairs.join(duplicated, [*keys, "efficacy"], how="semi")
    counts = involved.group_by(keys).aggregate(
        efficacy_count=involved.efficacy.nunique(),
        institution_count=involved.institution.nunique(),
        institutions=_sorted_set(involved.institution),
        efficacies=_sorted_set(involved.efficacy),
    )
    if rules.count_all_institutions:
        everyone = pairs.group_by(keys).aggregate(all_institutions=pairs.institution.nunique())
        counts = counts.join(everyone, keys).mutate(institution_count=ibis._.all_institutions)
        counts = counts.drop("all_institutions")
    hit = ibis.literal(False)
    for rule in rules.duplicate:
        hit |= (counts.institution_count >= rule.institutions) & (
            counts.efficacy_count >= rule.efficacies
        )
    flagged = counts.filter(hit)
    detail = (
        rows.join(duplicated, [*keys, "efficacy"], how="semi")
        .select(*keys, "efficacy", "institution", "code", "name")
        .distinct()
    )
    listed = detail.group_by(keys).aggregate(
        drugs=ibis.struct(
            {
                "efficacy": detail.efficacy,
                "institution": detail.institution,
                "code": detail.code,
                "name": detail.name,
            }
        )
        .collect()
        # Structs sort field by field, so by efficacy, institution and code: the rows are
        # distinct and a code has one name.
        .sort()
    )
    result = flagged.join(listed, keys, how="left").select(
        *keys, "institution_count", "efficacy_count", "institutions", "efficacies", "drugs"
    )
    return result.order_by(keys)


def multi_drug_table(
    drugs: ir.Table,
    claims: ir.Table,
    master: ir.Table,
    *,
    rules: PrescribingRules | None = None,
) -> ir.Table:
    """多剤投与者 by person-month: ``insurer, symbol, number, branch, service_month,
    drug_count, drugs, institutions`` (``drugs``: the counted 薬効, 成分 or codes)."""
    rules = rules or load_prescribing_rules()
    rows = prescribed(drugs, claims, master)
    rows = rows.filter(rows.days_supply >= rules.multi_min_days_supply)
    unit = {
        "efficacy": rows.efficacy,
        # A drug the MHLW list does not name has no 成分名: it counts by its own code.
        "ingredient": (rows.ingredient == "").ifelse(rows.code, rows.ingredient),
        "code": rows.code,
    }[rules.multi_count]
    keys = list(PERSON_MONTH)
    counted = rows.select(*keys, "institution", unit=unit)
    counts = counted.group_by(keys).aggregate(
        drug_count=counted.unit.nunique(),
        drugs=_sorted_set(counted.unit),
        institutions=_sorted_set(counted.institution),
    )
    return counts.filter(counts.drug_count >= rules.multi_min_count).order_by(keys)


def _sorted_set(column: ir.Column) -> ir.ArrayValue:
    """The distinct values of ``column`` in a group, in order. Sorted after collecting because
    Spark cannot order inside an aggregate (Ibis's ``collect(order_by=...)``)."""
    return column.collect(distinct=True).sort()


def person_counts(listing: ir.Table, by: Sequence[str] = ("insurer",)) -> ir.Table:
    """Distinct persons of a person-month list, grouped by ``by`` (``insurer`` and/or
    ``service_month``): a person listed in several months of a year counts once in it."""
    persons = listing.select(*by, *(c for c in PERSON if c not in by)).distinct()
    grouped = persons.group_by(list(by)) if by else persons
    counted = grouped.aggregate(persons=ibis._.count())
    return counted.order_by(list(by)) if by else counted


def _inputs(
    lake: TableSource, fiscal_year: int | None, months: Collection[str] | None
) -> tuple[ir.Table, ir.Table, ir.Table]:
    return (
        read(lake, "claim_drugs", fiscal_year=fiscal_year, months=months),
        read(lake, "claims", fiscal_year=fiscal_year, months=months),
        lake.table("drug_master"),
    )


def duplicate_prescribing(
    lake: TableSource,
    *,
    fiscal_year: int | None = None,
    months: Collection[str] | None = None,
    rules: PrescribingRules | None = None,
) -> ir.Table:
    """重複投与者 of the lake's claims (see :func:`duplicate_prescribing_table`)."""
    return duplicate_prescribing_table(*_inputs(lake, fiscal_year, months), rules=rules)


def multi_drug(
    lake: TableSource,
    *,
    fiscal_year: int | None = None,
    months: Collection[str] | None = None,
    rules: PrescribingRules | None = None,
) -> ir.Table:
    """多剤投与者 of the lake's claims (see :func:`multi_drug_table`)."""
    return multi_drug_table(*_inputs(lake, fiscal_year, months), rules=rules)
