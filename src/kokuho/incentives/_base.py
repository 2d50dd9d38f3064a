"""Pieces shared by the rule-file models (評価指標 and 調整交付金)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """A rule-file model: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(Strict):
    """An amount in yen with where it was seen."""

    yen: int = Field(ge=0)
    source: str
    confirmed: bool
