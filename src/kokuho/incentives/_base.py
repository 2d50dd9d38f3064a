"""Pieces shared by the rule-file models (評価指標 and 調整交付金)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """A rule-file model: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: The largest budget a part may have: 100兆円, past the whole national budget (the parts are
#: hundreds of 億円). More is a typo, and printed grants of 10**99 yen.
MAX_BUDGET_YEN = 10**14


class Budget(Strict):
    """An amount in yen with where it was seen."""

    yen: int = Field(ge=0, le=MAX_BUDGET_YEN)
    source: str
    confirmed: bool
