"""The boundary's rule file (data/boundary/rules.yaml): the unconfirmed points of §110-2(2),
read through kokuho.store so that a local copy replaces the shipped file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from kokuho.store import data_text, load_yaml

RULES_FILE: Final = "boundary/rules.yaml"


class BoundaryRuleError(ValueError):
    """The rule file cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class BoundaryRules:
    exception_in_force_from: dt.date
    evidence_decided_after_acquired: bool


def _value(raw: dict[str, Any], key: str, kind: type) -> Any:
    entry = raw.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), kind):
        raise BoundaryRuleError(f"{RULES_FILE}: {key}: needs a value ({kind.__name__})")
    if not str(entry.get("source", "")).strip():
        raise BoundaryRuleError(f"{RULES_FILE}: {key}: needs its source")
    return entry["value"]


def load_boundary_rules() -> BoundaryRules:
    """The rules in force (the local copy when there is one)."""
    raw = load_yaml(data_text(RULES_FILE), RULES_FILE)
    if not isinstance(raw, dict) or raw.get("schema_version") != 1:
        raise BoundaryRuleError(f"{RULES_FILE}: schema_version: must be 1")
    return BoundaryRules(
        _value(raw, "exception_in_force_from", dt.date),
        _value(raw, "evidence_decided_after_acquired", bool),
    )
