"""Claims (レセプト): レセ電 files, masters, the claims lake and the indicators built on them
(後発医薬品使用割合, 重複・多剤, 医療費, 資格過誤)."""

from kokuho.claims._errors import ClaimFileRejected, ClaimProblem, MasterFileRejected
from kokuho.claims._masters import (
    GENERIC_CATEGORIES,
    DiseaseMasterRow,
    DrugMasterRow,
    GenericListRow,
    MasterFiles,
    read_disease_master,
    read_drug_master,
    read_generic_list,
    sample_masters,
)
from kokuho.claims._model import (
    Claim,
    ClaimFile,
    ClaimKind,
    Diagnosis,
    Drug,
    Procedure,
    PublicFund,
)
from kokuho.claims._rece_read import read_claim_file, read_claim_files
from kokuho.claims._rece_write import write_claim_file

__all__ = ["Claim", "ClaimFile", "ClaimKind", "Diagnosis", "Drug", "Procedure", "PublicFund"]

# -- レセ電 files, masters, the lake (helper A) ----------------------------------------------
__all__ += [
    "GENERIC_CATEGORIES", "ClaimFileRejected", "ClaimProblem", "ClaimsIngestReport",
    "ClaimsLake", "ClaimsTableMissing", "DiseaseMasterRow", "DrugMasterRow", "GenericListRow",
    "IngestedFile", "MasterFileRejected", "MasterFiles", "read_claim_file", "read_claim_files",
    "read_disease_master", "read_drug_master", "read_generic_list", "sample_masters",
    "write_claim_file",
]  # fmt: skip
#: The lake loads Ibis and DuckDB: imported when first asked for.
_LAKE = {
    "ClaimsLake": "_lake", "ClaimsIngestReport": "_lake", "ClaimsTableMissing": "_lake",
    "IngestedFile": "_lake",
}  # fmt: skip

# -- indicators (helper B) -------------------------------------------------------------------
from typing import TYPE_CHECKING, Any  # noqa: E402

from kokuho.claims._indicator_rules import (  # noqa: E402
    DuplicateRule,
    PrescribingRules,
    diabetes_codes,
    load_prescribing_rules,
)
from kokuho.claims._indicator_rules import parse_rules as parse_prescribing_rules  # noqa: E402

if TYPE_CHECKING:
    from kokuho.claims._cost import cost, cost_table
    from kokuho.claims._eligibility import (
        EligibilityError,
        eligibility_errors,
        eligibility_errors_table,
        register_coverages,
    )
    from kokuho.claims._figures import ClaimFigures, InsurerClaimFigures, claims_figures
    from kokuho.claims._generic import (
        GENERIC_GROUPS,
        GenericClasses,
        generic_share,
        generic_share_table,
        load_generic_classes,
        parse_generic_classes,
    )
    from kokuho.claims._insured import insured_months
    from kokuho.claims._lake import (
        ClaimsIngestReport,
        ClaimsLake,
        ClaimsTableMissing,
        IngestedFile,
    )
    from kokuho.claims._medication import MedicationRecords
    from kokuho.claims._prescribing import (
        duplicate_prescribing,
        duplicate_prescribing_table,
        multi_drug,
        multi_drug_table,
        person_counts,
        prescribed,
    )
    from kokuho.claims._reference import (
        ReferencePopulation,
        ReferenceRejected,
        load_reference_population,
    )
    from kokuho.claims._sources import BANDS, TableSource, claim_insurers, fiscal_months
    from kokuho.claims._treatment import ClaimsTreatment

#: The indicators load Ibis and DuckDB: imported from their modules when first asked for.
_INDICATORS = {
    "GENERIC_GROUPS": "_generic", "GenericClasses": "_generic",
    "generic_share": "_generic", "generic_share_table": "_generic",
    "load_generic_classes": "_generic", "parse_generic_classes": "_generic",
    "duplicate_prescribing": "_prescribing", "duplicate_prescribing_table": "_prescribing",
    "multi_drug": "_prescribing", "multi_drug_table": "_prescribing",
    "person_counts": "_prescribing", "prescribed": "_prescribing",
    "TableSource": "_sources", "fiscal_months": "_sources", "BANDS": "_sources",
    "claim_insurers": "_sources",
    "EligibilityError": "_eligibility", "eligibility_errors": "_eligibility",
    "eligibility_errors_table": "_eligibility", "register_coverages": "_eligibility",
    "insured_months": "_insured",
    "ReferencePopulation": "_reference", "ReferenceRejected": "_reference",
    "cost": "_cost", "cost_table": "_cost", "load_reference_population": "_reference",
    "ClaimsTreatment": "_treatment", "MedicationRecords": "_medication",
    "ClaimFigures": "_figures", "InsurerClaimFigures": "_figures",
    "claims_figures": "_figures",
}  # fmt: skip
__all__ += [
    "BANDS", "GENERIC_GROUPS", "ClaimFigures", "ClaimsTreatment", "DuplicateRule",
    "EligibilityError", "GenericClasses", "InsurerClaimFigures", "MedicationRecords",
    "PrescribingRules", "ReferencePopulation", "ReferenceRejected", "TableSource",
    "claim_insurers",
    "claims_figures", "cost",
    "cost_table", "diabetes_codes", "duplicate_prescribing", "duplicate_prescribing_table",
    "eligibility_errors", "eligibility_errors_table", "fiscal_months", "generic_share",
    "generic_share_table", "insured_months", "load_generic_classes", "load_prescribing_rules",
    "load_reference_population", "multi_drug", "multi_drug_table", "parse_generic_classes",
    "parse_prescribing_rules", "person_counts", "prescribed", "register_coverages",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    """Ibis-loading names, imported on first use (like ``kokuho.checkups``)."""
    module = _INDICATORS.get(name) or _LAKE.get(name)
    if module is None:
        raise AttributeError(f"module 'kokuho.claims' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"kokuho.claims.{module}"), name)
