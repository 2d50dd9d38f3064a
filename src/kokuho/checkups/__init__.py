"""Specific health checkups (特定健診) and guidance (特定保健指導): V08 archives, the lake,
stratification (階層化), metabolic judgement, rates and programmes.

The table functions (``stratify_table`` …, the rates) load Ibis; they are imported from their
modules when needed so that reading a single archive stays light.
"""

from typing import TYPE_CHECKING, Any

from kokuho.checkups._integrated import ElderlyRecord, integrated_lists
from kokuho.checkups._measures import MEASURE_COLUMNS, Measures, measures
from kokuho.checkups._metabolic import MetabolicResult, metabolic
from kokuho.checkups._model import Checkup, Guidance, GuidanceLevel, Items, Metabolic, Observation
from kokuho.checkups._programmes import (
    NOT_CONNECTED,
    Candidate,
    ProgrammeList,
    TreatmentStatus,
    insured_key,
    nephropathy_referrals,
    person_key,
)
from kokuho.checkups._questionnaire import read_questionnaires
from kokuho.checkups._rules import term_for
from kokuho.checkups._stratify import Stratification, stratify
from kokuho.checkups._v08_api import (
    ArchiveContents,
    ArchiveProblem,
    ArchiveRejected,
    DocumentRejected,
    read_archive,
    read_document,
    read_guidance_document,
    write_archive,
    write_document,
    write_guidance_document,
)

if TYPE_CHECKING:
    from kokuho.checkups._exclusions import read_exclusions
    from kokuho.checkups._lake import IngestReport, Lake, LakeTableMissing
    from kokuho.checkups._provider import CheckupRecords
    from kokuho.checkups._rate_pair import lake_rate_tables, rate_tables
    from kokuho.checkups._rates import reporting_cutoff
    from kokuho.checkups._rates_lake import checkup_rates, guidance_rates
    from kokuho.checkups._snapshot import export_snapshot
    from kokuho.checkups._stratify_ibis import disagreements, metabolic_table, stratify_table
    from kokuho.checkups._targets import load_targets, progress

_LAZY = {
    "IngestReport": "_lake", "Lake": "_lake", "LakeTableMissing": "_lake",
    "export_snapshot": "_snapshot",
    "load_targets": "_targets", "progress": "_targets", "CheckupRecords": "_provider",
    "checkup_rates": "_rates_lake", "guidance_rates": "_rates_lake", "reporting_cutoff": "_rates",
    "rate_tables": "_rate_pair", "lake_rate_tables": "_rate_pair",
    "read_exclusions": "_exclusions",
    "disagreements": "_stratify_ibis",
    "stratify_table": "_stratify_ibis", "metabolic_table": "_stratify_ibis",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The lake and the analytics load Ibis and DuckDB; import them only when asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kokuho.checkups' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"kokuho.checkups.{module}"), name)


__all__ = [
    "person_key",
    "read_questionnaires",
    "NOT_CONNECTED",
    "Candidate",
    "ElderlyRecord",
    "ProgrammeList",
    "TreatmentStatus",
    "insured_key",
    "integrated_lists",
    "nephropathy_referrals",
    "MEASURE_COLUMNS",
    "ArchiveContents",
    "ArchiveProblem",
    "ArchiveRejected",
    "Checkup",
    "CheckupRecords",
    "DocumentRejected",
    "Guidance",
    "GuidanceLevel",
    "IngestReport",
    "Items",
    "Lake",
    "LakeTableMissing",
    "Measures",
    "Metabolic",
    "MetabolicResult",
    "Observation",
    "Stratification",
    "checkup_rates",
    "disagreements",
    "export_snapshot",
    "guidance_rates",
    "lake_rate_tables",
    "metabolic_table",
    "stratify_table",
    "load_targets",
    "measures",
    "metabolic",
    "progress",
    "read_exclusions",
    "rate_tables",
    "reporting_cutoff",
    "read_archive",
    "read_document",
    "read_guidance_document",
    "stratify",
    "term_for",
    "write_archive",
    "write_document",
    "write_guidance_document",
]
