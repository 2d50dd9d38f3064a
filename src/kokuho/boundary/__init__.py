"""The border between 市町村国保 and employee insurance (issue 13): here, 被扶養者の国内居住要件
(dependants' residency, from 2020-04-01): the rule table, one dependant's check, the stage on
change feeds and dependants files, and the re-check list (docs/dependants.md).

Other contexts use this module only; the underscored modules are private.
"""

from kokuho.boundary._residency import (
    DependantFacts,
    Outcome,
    Residence,
    ResidencyDecision,
    ResidencyInputError,
    Visa,
    check_dependant,
    parse_evidence,
    parse_exception,
    parse_visa,
)
from kokuho.boundary._residency_file import (
    DEPENDANTS_COLUMNS,
    DEPENDANTS_REQUIRED,
    FileCheck,
    RecheckItem,
    RowCheck,
    check_residency_file,
    feed_has_residency_columns,
    recheck_list,
)
from kokuho.boundary._residency_register import (
    BasicItems,
    ResidentLookup,
    resident_register_lookup,
)
from kokuho.boundary._residency_rules import (
    RULES_FILE,
    Exclusion,
    ResidencyException,
    ResidencyRules,
    load_residency_rules,
    parse_residency_rules,
)

__all__ = [
    "DEPENDANTS_COLUMNS",
    "DEPENDANTS_REQUIRED",
    "RULES_FILE",
    "BasicItems",
    "DependantFacts",
    "Exclusion",
    "FileCheck",
    "Outcome",
    "RecheckItem",
    "Residence",
    "ResidencyDecision",
    "ResidencyException",
    "ResidencyInputError",
    "ResidencyRules",
    "ResidentLookup",
    "RowCheck",
    "Visa",
    "check_dependant",
    "check_residency_file",
    "feed_has_residency_columns",
    "load_residency_rules",
    "parse_evidence",
    "parse_exception",
    "parse_residency_rules",
    "parse_visa",
    "recheck_list",
    "resident_register_lookup",
]
