"""保険者努力支援制度 and 調整交付金: rule files per fiscal year, indicators, scoring,
allocation and what-if (docs/incentives.md).

The dashboard calls two functions: ``prefecture_scoreboard`` (everything per home unit:
indicator values, points with reasons, totals, grants, the prefecture's parts, 調整交付金)
and ``what_if`` (points and yen before and after a change, for every unit).
"""

from typing import TYPE_CHECKING, Any

from kokuho.incentives._adjust import AdjustmentResult, AdjustmentRow, OrdinaryGrant, SpecialGrant
from kokuho.incentives._allocate import (
    DENOMINATOR_UNIT,
    Allocation,
    NegativeTotalError,
    allocate,
    split_by_count,
)
from kokuho.incentives._base import MAX_BUDGET_YEN
from kokuho.incentives._board import Scoreboard, build_scoreboard, prefecture_scoreboard
from kokuho.incentives._derive import (
    ClaimFiguresLike,
    Derived,
    HomeUnit,
    InsurerFigures,
    values_from_claim_figures,
)
from kokuho.incentives._export import (
    adjustment_json,
    adjustment_rows,
    allocation_rows,
    improvement_rows,
    score_rows,
    scoreboard_json,
    what_if_json,
    what_if_rows,
    write_csv,
)
from kokuho.incentives._improve import Improvement, improvements
from kokuho.incentives._inputs import (
    InputFileError,
    InputProblem,
    Inputs,
    example_inputs,
    read_inputs,
)
from kokuho.incentives._model import FieldValue, IndicatorScore, PartScore, TierResult, UnitScore
from kokuho.incentives._numbers import read_number, read_whole
from kokuho.incentives._rules import (
    RuleFileError,
    RuleProblem,
    RuleSet,
    load_rules,
    parse_rules,
    shipped_years,
)
from kokuho.incentives._schema import RuleFile
from kokuho.incentives._whatif import Change, OthersChange, WhatIf, WhatIfRow, what_if

if TYPE_CHECKING:
    from kokuho.incentives._excel import write_workbook


def __getattr__(name: str) -> Any:
    """The Excel writer loads openpyxl: import it only when asked for."""
    if name == "write_workbook":
        from kokuho.incentives._excel import write_workbook

        return write_workbook
    raise AttributeError(f"module 'kokuho.incentives' has no attribute {name!r}")


__all__ = [
    "MAX_BUDGET_YEN",
    "DENOMINATOR_UNIT",
    "Allocation",
    "AdjustmentResult",
    "AdjustmentRow",
    "Change",
    "ClaimFiguresLike",
    "Derived",
    "FieldValue",
    "HomeUnit",
    "Improvement",
    "IndicatorScore",
    "InputFileError",
    "InputProblem",
    "Inputs",
    "InsurerFigures",
    "NegativeTotalError",
    "OrdinaryGrant",
    "OthersChange",
    "PartScore",
    "RuleFile",
    "RuleFileError",
    "RuleProblem",
    "RuleSet",
    "Scoreboard",
    "SpecialGrant",
    "TierResult",
    "UnitScore",
    "WhatIf",
    "WhatIfRow",
    "adjustment_json",
    "adjustment_rows",
    "allocate",
    "allocation_rows",
    "build_scoreboard",
    "example_inputs",
    "improvement_rows",
    "improvements",
    "load_rules",
    "parse_rules",
    "prefecture_scoreboard",
    "read_inputs",
    "score_rows",
    "scoreboard_json",
    "shipped_years",
    "split_by_count",
    "values_from_claim_figures",
    "what_if",
    "what_if_json",
    "what_if_rows",
    "write_csv",
    "write_workbook",
    "read_number",
    "read_whole",
]
