"""What a run wrote and which cases it planted, so that tests and the demo can check that
the register finds them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kokuho.synth._boundary import PlantedDependant, PlantedRetroactive


@dataclass(frozen=True, slots=True)
class PlantedOverlap:
    """A 資格重複 planted on purpose: an employee-scheme 資格取得 filed months after its
    資格取得日 while the member's 市町村国保 coverage stayed open.

    ``overlap_until`` is the first day the two coverages no longer overlap (the 国保
    資格喪失日, or the day both ended by death or the 75th birthday); None while both are
    still open at the end. ``ended_by`` is ``open``, ``kokuho_lose``, ``death`` or ``age_75``.
    """

    kokuho_insurer: str
    kokuho_symbol: str
    kokuho_number: str
    kokuho_branch: str
    employee_insurer: str
    employee_symbol: str
    employee_number: str
    employee_branch: str
    overlap_from: dt.date
    overlap_until: dt.date | None
    employee_filed: dt.date
    ended_by: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """The run: its parameters, the files written (relative to the output folder) and the
    counts of every event and planted case."""

    seed: int
    persons: int
    start: dt.date
    end: dt.date  # the last simulated day
    years: int
    files: tuple[str, ...]
    counts: dict[str, int]
    overlaps: tuple[PlantedOverlap, ...]
    retroactive: tuple[PlantedRetroactive, ...] = ()
    """Employee enrolments confirmed long after their 資格取得日 over an open 国保 (§110-2)."""
    dependants: tuple[PlantedDependant, ...] = ()
    """Dependants' applications the residency check must flag, or pass by an exception."""

    def to_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dt.date):
                return value.isoformat()
            if isinstance(value, dict):
                return {key: plain(item) for key, item in value.items()}
            if isinstance(value, list | tuple):
                return [plain(item) for item in value]
            return value

        return {
            "format": "kokuho synth manifest 1 (files as in docs/formats.md)",
            **plain(dataclasses.asdict(self)),
        }

    def write(self, path: Path) -> None:
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
