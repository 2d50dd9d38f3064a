"""実施率 of 特定健康診査 and 特定保健指導, and the 減少率 of 特定保健指導対象者, as Ibis
expressions (no backend SQL strings: the same expressions run on DuckDB and on Spark).

Denominator (特定健診の対象者, checkups-claims.md §1.4; 省令第157号 第1条):

- enrolled on 1 April of the fiscal year and for the whole year: 資格取得日 ≤ 4/1 and
  (no 資格喪失日, or 資格喪失日 > 3/31). ``lost_on`` is the first day not covered, so
  ``lost_on = 3/31`` ends cover on 3/30 (not whole year) and ``lost_on = 4/1`` of the next year
  is whole year;
- "reaching 40–75 during the year, only those under 75": the 年度末年齢 (age on 31 March, by
  the 年齢計算ニ関スル法律, so someone born on 1 April is a year older on 31 March) is 40–74.
  People whose 年度末年齢 is 75 reach 75 during the year, leave for 後期高齢者医療 on their
  birthday and are never whole-year members: they are out;
- minus the 告示 exclusions (data/exclusions.yaml), supplied per person because the register
  does not hold them; a period that shares any day with the year removes the person.

受診者: denominator members with a checkup dated in the year (健診実施日 in 4/1–3/31), matched
on 保険者番号 + 記号 + 番号 and 枝番 when both sides have it, else 生年月日 (国保 記号・番号 were
per household before 枝番, so 記号・番号 alone would count a whole household as examined).
Each member counts once however many checkups they had.

特定保健指導: 対象者 are the 受診者 whose 保健指導レベル is 1 積極的支援 or 2 動機付け支援 on their
first checkup of the year with a known level (1–3); 終了者 are those with a guidance record
that started on or after that checkup and whose 実績評価 is dated on or before the reporting
cut-off (default ``reporting_cutoff``: 31 October of the next calendar year, the day before
the 法定報告 is due; UNCONFIRMED, pass ``completed_by`` to change it).

Every figure is per fiscal year and can be split by insurer (保険者), municipality (市町村国保
via the insurer's 全国地方公共団体コード), sex and 5-year band (40–44 … 70–74).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.checkups._exclusions import EXCLUSION_COLUMNS as EXCLUSION_COLUMNS
from kokuho.checkups._exclusions import ExclusionReason as ExclusionReason
from kokuho.checkups._exclusions import active_exclusions
from kokuho.checkups._exclusions import exclusion_reasons as exclusion_reasons
from kokuho.checkups._exclusions import read_exclusions as read_exclusions
from kokuho.checkups._lake import INSURED_ID
from kokuho.checkups._rates_common import BANDS as BANDS
from kokuho.checkups._rates_common import GROUPS as GROUPS
from kokuho.checkups._rates_common import INTENSIVE as INTENSIVE
from kokuho.checkups._rates_common import KNOWN_LEVELS as KNOWN_LEVELS
from kokuho.checkups._rates_common import MAX_AGE as MAX_AGE
from kokuho.checkups._rates_common import MIN_AGE as MIN_AGE
from kokuho.checkups._rates_common import MOTIVATIONAL as MOTIVATIONAL
from kokuho.checkups._rates_common import SEXES as SEXES
from kokuho.checkups._rates_common import Cell as Cell
from kokuho.checkups._rates_common import Group as Group
from kokuho.checkups._rates_common import age_band as age_band
from kokuho.checkups._rates_common import as_fiscal_year as as_fiscal_year
from kokuho.checkups._rates_common import birth_dates as birth_dates
from kokuho.checkups._rates_common import check_by as check_by
from kokuho.checkups._rates_common import count_if as count_if
from kokuho.checkups._rates_common import fiscal_year_end_age as fiscal_year_end_age
from kokuho.checkups._rates_common import group_keys as group_keys
from kokuho.checkups._rates_common import ratio as ratio
from kokuho.checkups._rates_common import same_person as same_person
from kokuho.ids import FiscalYear

# -- the denominator -----------------------------------------------------------------------


def eligible_members(
    eligibility: ir.Table,
    fiscal_year: FiscalYear | int,
    *,
    exclusions: ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
) -> ir.Table:
    """特定健診の対象者: one row per member in the 実施率 denominator of ``fiscal_year``.

    ``eligibility`` has the columns of the register's snapshot (``SNAPSHOT_COLUMNS``).
    Returns insurer, insurer_kind, municipality, person_id, symbol, number, branch ("" when
    none), sex, birth_date, age (年度末年齢) and band, and ``insured_id`` when the snapshot has
    it (kokuho.checkups._snapshot).
    """
    fy = as_fiscal_year(fiscal_year)
    e = eligibility
    if "fiscal_year" in e.columns:
        e = e.filter(e.fiscal_year == fy.year)
    e = e.filter(
        e.acquired_on <= ibis.literal(fy.first_day),
        e.lost_on.isnull() | (e.lost_on > ibis.literal(fy.last_day)),
    )
    # 年度末年齢 40–74 as a range of birth dates (the same people as filtering the age: see
    # ``birth_dates``), which the engine checks without computing an age per row and can push
    # into the Parquet scan.
    oldest, youngest = birth_dates(fy)
    e = e.filter(e.birth_date.between(ibis.literal(oldest), ibis.literal(youngest)))
    e = e.mutate(age=fiscal_year_end_age(e.birth_date, fy))
    members = e.select(
        insurer=e.insurer_number,
        insurer_kind=e.insurer_kind,
        municipality=e.municipality_code,
        person_id=e.person_id,
        symbol=e.symbol,
        number=e.number,
        branch=e.branch.fill_null(""),
        sex=e.sex,
        birth_date=e.birth_date,
        age=e.age,
        band=age_band(e.age),
        **({INSURED_ID: e[INSURED_ID]} if INSURED_ID in e.columns else {}),
    )
    # No distinct(): one tuple's periods never overlap, so at most one of them spans the
    # whole year, and a person is one member per insurer (dedup over 11 columns would cost
    # more than the rest of the query).
    if exclusions is not None:
        x = active_exclusions(exclusions, fy, reasons)
        members = members.anti_join(
            x,
            [
                x.insurer == members.insurer,
                x.symbol == members.symbol,
                x.number == members.number,
                x.branch.isnull() | (x.branch == members.branch),
            ],
        )
    return members


def checkups_in(checkups: ir.Table, fy: FiscalYear) -> ir.Table:
    c = checkups
    if "fiscal_year" in c.columns:  # prunes the lake's partitions
        c = c.filter(c.fiscal_year == fy.year)
    return c.filter(c.exam_date.between(ibis.literal(fy.first_day), ibis.literal(fy.last_day)))


MEMBER_KEY: Final = ("insurer", "symbol", "number", "branch", "birth_date")


def counts_by(table: ir.Table, keys: list[str], **metrics: ir.Scalar) -> ir.Table:
    return table.group_by(keys).aggregate(**metrics) if keys else table.aggregate(**metrics)


def _with_counts(whole: ir.Table, part: ir.Table, keys: list[str]) -> ir.Table:
    """``whole``'s groups with ``part``'s counts beside them (0 where ``part`` has none).

    Counting both sides by group and joining the small results is far cheaper than flagging
    every member row (a second join over millions of rows).
    """
    if not keys:
        return whole.cross_join(part)
    counts = [c for c in part.columns if c not in keys]
    right = part.select(**{f"r_{k}": part[k] for k in keys}, **{c: part[c] for c in counts})
    joined = whole.left_join(right, [whole[k] == right[f"r_{k}"] for k in keys])
    return joined.select(
        *[whole[c] for c in whole.columns], **{c: right[c].fill_null(0) for c in counts}
    )


def _finish(table: ir.Table, keys: list[str], fy: FiscalYear) -> ir.Table:
    metrics = [c for c in table.columns if c not in keys]
    result = table.mutate(fiscal_year=ibis.literal(fy.year, "int64"))
    result = result.select("fiscal_year", *keys, *metrics)
    return result.order_by(keys) if keys else result


def scope(members: ir.Table, by: tuple[Group, ...]) -> ir.Table:
    # Municipalities report for their 市町村国保; other insurers' municipality codes (if any)
    # do not make them a municipality's figure.
    if "municipality" in by:
        return members.filter(
            members.insurer_kind == "kokuho_municipal", members.municipality.notnull()
        )
    return members


def checkup_rate_table(
    eligibility: ir.Table,
    checkups: ir.Table,
    fiscal_year: FiscalYear | int,
    *,
    by: Sequence[str] = ("insurer",),
    exclusions: ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
) -> ir.Table:
    """特定健康診査実施率 = 受診者 ÷ 対象者, from an eligibility snapshot and checkup rows.

    Columns: fiscal_year, the ``by`` keys (``insurer`` brings ``insurer_kind``), eligible
    (対象者), examined (受診者), rate (a fraction).
    """
    fy, groups = as_fiscal_year(fiscal_year), check_by(by)
    members = scope(
        eligible_members(eligibility, fy, exclusions=exclusions, reasons=reasons), groups
    )
    c = checkups_in(checkups, fy)
    examined = members.semi_join(c, same_person(members, "insurer", c, "insurer"))
    keys = group_keys(groups)
    return checkup_result(
        counts_by(members, keys, eligible=members.count()),
        counts_by(examined, keys, examined=examined.count()),
        keys,
        fy,
    )


def checkup_result(
    eligible: ir.Table, examined: ir.Table, keys: list[str], fy: FiscalYear
) -> ir.Table:
    """The 特定健診実施率 table from the counts by ``keys`` of 対象者 (``eligible``) and of
    受診者 (``examined``); shared by ``checkup_rate_table`` and ``rate_tables``."""
    t = _with_counts(eligible, examined, keys)
    return _finish(t.mutate(rate=ratio(t.examined, t.eligible)), keys, fy)


def levels(checkups: ir.Table, fy: FiscalYear) -> ir.Table:
    """``checkups`` with a ``level`` column: as stored, else from the stratification."""
    if "level" in checkups.columns:
        return checkups
    # Imported here: the rates of a lake whose rows already carry a level (tests, other
    # producers) need not load the stratification rules.
    from kokuho.checkups._rules import term_for
    from kokuho.checkups._stratify_ibis import stratify_table

    stratified: ir.Table = stratify_table(checkups, term=term_for(fy.year))
    return stratified


def stratified_takers(
    eligibility: ir.Table,
    checkups: ir.Table,
    fiscal_year: FiscalYear | int,
    *,
    exclusions: ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    members_only: bool = True,
) -> ir.Table:
    """One row per 受診者 of ``fiscal_year``: their first checkup of the year with a known
    保健指導レベル (1–3), with insurer, insurer_kind, municipality, person key, sex, band,
    exam_date, document and level.

    ``members_only`` (default): only 受診者 in the 実施率 denominator, with sex and band from
    the register, so that 特定保健指導対象者 ⊂ 受診者 ⊂ 対象者 as in the 法定報告. Otherwise every
    checkup of someone aged 40–74 at year end counts, with sex and band from the checkup.
    """
    fy = as_fiscal_year(fiscal_year)
    c = levels(checkups_in(checkups, fy), fy)
    c = c.filter(c.level.isin(KNOWN_LEVELS))
    if members_only:
        m = eligible_members(eligibility, fy, exclusions=exclusions, reasons=reasons)
        joined = c.join(m, same_person(c, "insurer", m, "insurer"))
        rows = joined.select(
            insurer=m.insurer,
            insurer_kind=m.insurer_kind,
            municipality=m.municipality,
            symbol=m.symbol,
            number=m.number,
            branch=m.branch,
            birth_date=m.birth_date,
            sex=m.sex,
            band=m.band,
            exam_date=c.exam_date,
            document=c.document,
            level=c.level,
        )
    else:
        c = c.mutate(age=fiscal_year_end_age(c.birth_date, fy))
        c = c.filter(c.age.between(MIN_AGE, MAX_AGE))
        e = eligibility
        if "fiscal_year" in e.columns:
            e = e.filter(e.fiscal_year == fy.year)
        kinds = e.select(
            k_insurer=e.insurer_number,
            k_kind=e.insurer_kind,
            k_municipality=e.municipality_code,
        ).distinct()
        joined = c.left_join(kinds, c.insurer == kinds.k_insurer)
        rows = joined.select(
            insurer=c.insurer,
            insurer_kind=kinds.k_kind,
            municipality=kinds.k_municipality,
            symbol=c.symbol,
            number=c.number,
            branch=c.branch.fill_null(""),
            birth_date=c.birth_date,
            sex=c.sex,
            band=age_band(c.age),
            exam_date=c.exam_date,
            document=c.document,
            level=c.level,
        )
    # The first checkup decides: guidance starts from it (a second checkup later in the
    # year does not make a new 対象者). UNCONFIRMED against the 法定報告 rules.
    ranked = rows.mutate(
        _rank=ibis.row_number().over(
            group_by=[rows[k] for k in MEMBER_KEY], order_by=[rows.exam_date, rows.document]
        )
    )
    return ranked.filter(ranked._rank == 0).drop("_rank")


def reporting_cutoff(fiscal_year: FiscalYear | int) -> dt.date:
    """The default last 実績評価 date counted for ``fiscal_year``: 31 October of the next
    calendar year, the day before the 法定報告 is due (1 November). UNCONFIRMED."""
    return dt.date(as_fiscal_year(fiscal_year).year + 1, 10, 31)


def guidance_rate_table(
    eligibility: ir.Table,
    checkups: ir.Table,
    guidance: ir.Table,
    fiscal_year: FiscalYear | int,
    *,
    by: Sequence[str] = ("insurer",),
    exclusions: ir.Table | None = None,
    reasons: Sequence[ExclusionReason] | None = None,
    completed_by: dt.date | None = None,
    members_only: bool = True,
) -> ir.Table:
    """特定保健指導実施率 = 終了者 ÷ 特定保健指導対象者, in total and by level.

    Columns: fiscal_year, the ``by`` keys, targets, targets_intensive (積極的支援),
    targets_motivational (動機付け支援), completed, completed_intensive, completed_motivational,
    rate, rate_intensive, rate_motivational (fractions; null where the 対象者 count is 0).
    The level of a 終了者 is the level of their checkup (the stratification), whatever
    support the guidance record names.
    """
    fy, groups = as_fiscal_year(fiscal_year), check_by(by)
    cutoff = completed_by or reporting_cutoff(fy)
    takers = stratified_takers(
        eligibility,
        checkups,
        fy,
        exclusions=exclusions,
        reasons=reasons,
        members_only=members_only,
    )
    targets = scope(takers.filter(takers.level.isin((INTENSIVE, MOTIVATIONAL))), groups)
    g = completed_guidance(guidance, fy, cutoff)
    done = targets.semi_join(
        g, [*same_person(targets, "insurer", g, "insurer"), g.started_on >= targets.exam_date]
    )
    return guidance_result(targets, done, group_keys(groups), fy)


def completed_guidance(guidance: ir.Table, fy: FiscalYear, cutoff: dt.date) -> ir.Table:
    """The guidance records that can make a 終了者 of ``fy``: evaluated by ``cutoff``."""
    g = guidance
    if "fiscal_year" in g.columns:  # started after a checkup of the year, before the cut-off
        g = g.filter(g.fiscal_year.between(fy.year, FiscalYear.of(cutoff).year))
    return g.filter(g.evaluated_on.notnull(), g.evaluated_on <= ibis.literal(cutoff))


def guidance_result(targets: ir.Table, done: ir.Table, keys: list[str], fy: FiscalYear) -> ir.Table:
    """The 特定保健指導実施率 table from the 対象者 rows (``targets``) and the 終了者 among them
    (``done``)."""
    t = _with_counts(
        counts_by(
            targets,
            keys,
            targets=targets.count(),
            targets_intensive=count_if(targets.level == INTENSIVE),
            targets_motivational=count_if(targets.level == MOTIVATIONAL),
        ),
        counts_by(
            done,
            keys,
            completed=done.count(),
            completed_intensive=count_if(done.level == INTENSIVE),
            completed_motivational=count_if(done.level == MOTIVATIONAL),
        ),
        keys,
    )
    return guidance_table(t, keys, fy)


def guidance_table(counts: ir.Table, keys: list[str], fy: FiscalYear) -> ir.Table:
    """The 特定保健指導実施率 table from the counts by ``keys`` of 対象者 and 終了者 (targets,
    targets_intensive, targets_motivational, completed, completed_intensive,
    completed_motivational); shared by ``guidance_rate_table`` and ``rate_tables``."""
    t = counts
    return _finish(
        t.mutate(
            rate=ratio(t.completed, t.targets),
            rate_intensive=ratio(t.completed_intensive, t.targets_intensive),
            rate_motivational=ratio(t.completed_motivational, t.targets_motivational),
        ),
        keys,
        fy,
    )


# The 減少率 live in kokuho.checkups._reduction (which imports this module); their names stay
# importable from here, loaded on first use so that neither module imports the other at load.
_REDUCTION: Final = frozenset(
    {
        "target_share_table",
        "shares_of",
        "target_shares",
        "ReductionInputs",
        "load_reduction_inputs",
        "estimated_targets",
        "Reduction",
        "reduction_rate",
    }
)


# Reading the inputs from the lake lives in kokuho.checkups._rates_lake (which imports this
# module); its names stay importable from here the same way.
_LAKE: Final = frozenset(
    ("_empty", "exclusions_table", "lake_eligibility", "lake_checkups", "lake_guidance_inputs")
    + ("lake_guidance", "checkup_rates", "guidance_rates")
)


def __getattr__(name: str) -> Any:
    if name in _LAKE:
        from kokuho.checkups import _rates_lake

        return getattr(_rates_lake, name)
    if name in _REDUCTION:
        from kokuho.checkups import _reduction

        return getattr(_reduction, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
