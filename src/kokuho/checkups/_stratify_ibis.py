"""階層化 and メタボリックシンドローム判定 over whole tables, as Ibis expressions.

The same rules as ``stratify`` and ``metabolic`` (see their modules for the rule text and
kokuho's choices), written only with Ibis expressions so that the query runs on DuckDB here
and on Spark at national scale: no SQL strings, no backend-specific functions. The input is a
table with the columns of ``MEASURE_COLUMNS`` (extra columns pass through).

SQL's three-valued logic is not the rules' logic: ``NULL OR FALSE`` is NULL, while a risk
with one value measured and below its cut-off is *not met*. So every criterion is written
with explicit ``notnull``/``fill_null`` and never relies on NULL propagation by accident.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

import ibis

from kokuho.checkups._measures import IDENTIFIER_COLUMNS
from kokuho.checkups._model import GuidanceLevel, Metabolic
from kokuho.checkups._rules import CheckupRules, load_rules

# Ibis ships no type information; its expressions are typed ``Any`` here.
Table = Any
Expr = Any

_NULL_BOOL: Any = ibis.null("boolean")


def _any_met(*checks: Expr) -> Expr:
    """Met if any check is met, not met if at least one was evaluated, else NULL."""
    met = reduce(or_, (check.fill_null(False) for check in checks))
    evaluated = reduce(or_, (check.notnull() for check in checks))
    return ibis.cases((met, True), (evaluated, False), else_=_NULL_BOOL)


def _false_if_null(*checks: Expr) -> Expr:
    return reduce(or_, (check.fill_null(False) for check in checks))


def _term(t: Table, term: int | None, rules: CheckupRules) -> tuple[Expr, Expr, Expr]:
    """(known, random TG allowed, random glucose allowed) for each row, as expressions."""
    if term is not None:
        the = rules.term(term)  # fails early on an unknown term
        return ibis.literal(True), ibis.literal(the.random_tg), ibis.literal(the.random_glucose)
    fiscal_year = t["fiscal_year"]
    known = fiscal_year >= rules.terms[0].first_fiscal_year

    def allows(attribute: str) -> Expr:
        branches = [
            (fiscal_year >= the.first_fiscal_year, getattr(the, attribute))
            for the in reversed(rules.terms)
        ]
        return ibis.cases(*branches, else_=False)

    return known, allows("random_tg"), allows("random_glucose")


def stratify_table(
    t: Table, *, term: int | None = None, rules: CheckupRules | None = None
) -> Table:
    """Adds the 階層化 of every row: ``level`` (the 9N506 code: 1 積極的支援, 2 動機付け支援,
    3 なし(情報提供), 4 判定不能), ``group`` (1, 2 or NULL), and the risks ``risk_bp``,
    ``risk_lipid``, ``risk_glucose`` (NULL when not evaluable) and ``risk_smoking``.

    ``term`` applies one term's rules to every row; without it each row gets the term of its
    ``fiscal_year`` (3 for FY2018–2023, 4 from FY2024) and rows before FY2018 get a NULL
    ``level`` (no rules are configured for them).
    """
    rules = rules or load_rules()
    r = rules.stratification
    known, random_tg_term, random_glucose_term = _term(t, term, rules)
    timing_allows = t["blood_draw_timing"].isin(list(r.random_allowed_timing)).fill_null(False)

    # The steps build on each other, so they are computed in stages, each reading the columns
    # of the one before: written as one expression the later steps would repeat the earlier
    # ones many times over (a 40 KB query that takes longer to plan than to run).
    fasting = t["glucose_fasting"] >= r.glucose_fasting
    hba1c = t["hba1c"] >= r.hba1c
    if r.fasting_glucose_over_hba1c:
        hba1c = ibis.cases((t["glucose_fasting"].isnull(), hba1c), else_=_NULL_BOOL)
    sex_cut = ibis.cases((t["sex"] == 1, r.waist_male), (t["sex"] == 2, r.waist_female))
    a = t.mutate(
        _k_known=known,
        _k_random_glucose=t["glucose_random"].notnull() & random_glucose_term & timing_allows,
        risk_bp=_any_met(t["sbp"] >= r.sbp, t["dbp"] >= r.dbp),
        _k_tg=ibis.cases(
            (t["tg_fasting"].notnull(), t["tg_fasting"] >= r.tg_fasting),
            (
                t["tg_random"].notnull() & random_tg_term & timing_allows,
                t["tg_random"] >= r.tg_random,
            ),
            else_=_NULL_BOOL,
        ),
        _k_fasting_or_hba1c=_any_met(fasting, hba1c),
        _k_central=ibis.cases(
            (t["visceral_fat_area"].notnull(), t["visceral_fat_area"] >= r.visceral_fat_area),
            (t["waist"].notnull() & sex_cut.notnull(), t["waist"] >= sex_cut),
            else_=_NULL_BOOL,
        ),
    )

    obese = a["_k_central"].fill_null(False)
    not_obese = (~a["_k_central"]).fill_null(False)
    b = a.mutate(
        risk_lipid=_any_met(a["_k_tg"], a["hdl"] < r.hdl_below),
        risk_glucose=ibis.cases(
            (a["_k_fasting_or_hba1c"].notnull(), a["_k_fasting_or_hba1c"]),
            (a["_k_random_glucose"], a["glucose_random"] >= r.glucose_random),
            else_=_NULL_BOOL,
        ),
        group=ibis.cases(
            (obese, 1),
            (not_obese & (a["bmi"] >= r.bmi).fill_null(False), 2),
            else_=ibis.null("int8"),
        ).cast("int8"),
        _k_decided=(
            obese
            | (not_obese & a["bmi"].notnull())
            | (a["_k_central"].isnull() & (a["bmi"] < r.waist_omitted_below_bmi).fill_null(False))
        ),
    )

    risks = (b["risk_bp"], b["risk_lipid"], b["risk_glucose"])
    smoking = (b["smoking"] == "1").fill_null(False) & _false_if_null(*risks)
    c = b.mutate(
        risk_smoking=smoking,
        _k_count=sum(flag.fill_null(False).cast("int8") for flag in (*risks, smoking)),
        _k_evaluable=reduce(or_, (flag.notnull() for flag in risks)),
    )

    count, group = c["_k_count"], c["group"]
    intensive = ((group == 1) & (count >= 2)) | ((group == 2) & (count >= 3))
    level = ibis.cases(
        ((~c["_k_known"]).fill_null(True), ibis.null("int8")),
        (~c["age"].between(r.min_age, r.max_age).fill_null(False), int(GuidanceLevel.UNDETERMINED)),
        (_false_if_null(c["med_bp"], c["med_glucose"], c["med_lipid"]), int(GuidanceLevel.NONE)),
        (~c["_k_decided"], int(GuidanceLevel.UNDETERMINED)),
        (group.isnull(), int(GuidanceLevel.NONE)),
        (~c["_k_evaluable"], int(GuidanceLevel.UNDETERMINED)),
        # ステップ4: 65歳以上 never gets 積極的支援; the capped ones fall to the next branch.
        (intensive.fill_null(False) & (c["age"] < r.capped_from_age), int(GuidanceLevel.INTENSIVE)),
        (count >= 1, int(GuidanceLevel.MOTIVATIONAL)),
        else_=int(GuidanceLevel.NONE),
    ).cast("int8")
    helpers = [name for name in c.columns if name.startswith("_k_")]
    return c.mutate(level=level).drop(*helpers)


def metabolic_table(t: Table, *, rules: CheckupRules | None = None) -> Table:
    """Adds ``metabolic``, the メタボリックシンドローム判定 of every row as the 9N501 code
    (1 基準該当, 2 予備群該当, 3 非該当, 4 判定不能)."""
    rules = rules or load_rules()
    r = rules.metabolic
    random_ok = ibis.literal(r.random_glucose) & (
        t["blood_draw_timing"].isin(list(rules.stratification.random_allowed_timing))
    ).fill_null(False)
    glucose = ibis.cases(
        (t["med_glucose"].fill_null(False), True),
        (t["glucose_fasting"].notnull(), t["glucose_fasting"] >= r.glucose_fasting),
        (t["glucose_random"].notnull() & random_ok, t["glucose_random"] >= r.glucose_random),
        (t["hba1c"].notnull(), t["hba1c"] >= r.hba1c),
        else_=False,
    )
    lipid = _false_if_null(t["med_lipid"], t["tg_fasting"] >= r.tg, t["hdl"] < r.hdl_below)
    bp = _false_if_null(t["med_bp"], t["sbp"] >= r.sbp, t["dbp"] >= r.dbp)
    count = sum(flag.cast("int8") for flag in (glucose, lipid, bp))
    cut = ibis.cases((t["sex"] == 1, r.waist_male), (t["sex"] == 2, r.waist_female))
    result = ibis.cases(
        (t["waist"].isnull() | cut.isnull(), int(Metabolic.UNDETERMINED)),
        (t["waist"] < cut, int(Metabolic.NO)),
        (count >= 2, int(Metabolic.MEETS)),
        (count == 1, int(Metabolic.PRE)),
        else_=int(Metabolic.NO),
    ).cast("int8")
    return t.mutate(metabolic=result)


def disagreements(t: Table, *, term: int | None = None, rules: CheckupRules | None = None) -> Table:
    """The rows where the checkup institution's own 9N506 (``reported_level``) or 9N501
    (``reported_metabolic``) differs from kokuho's, with both values side by side.

    A value the institution did not report is not a disagreement. Without ``term`` each row
    is judged under the term of its fiscal year.
    """
    judged = metabolic_table(stratify_table(t, term=term, rules=rules), rules=rules)
    level_differs = judged["reported_level"].notnull() & (
        judged["reported_level"] != judged["level"]
    )
    metabolic_differs = judged["reported_metabolic"].notnull() & (
        judged["reported_metabolic"] != judged["metabolic"]
    )
    keep = [name for name in IDENTIFIER_COLUMNS if name in judged.columns]
    return judged.filter(_false_if_null(level_differs, metabolic_differs)).select(
        *keep, "reported_level", "level", "reported_metabolic", "metabolic"
    )
