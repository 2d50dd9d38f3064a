"""Data provision (データ提供): pseudonymous linkage IDs, generalisation for the research store,
the direct-identifier scan, and safe release under 最小集計単位 (docs/provision.md).

The provision workflow (docs/provision.md §5): :func:`apply` (利用申出 or a statutory request's
求め), :func:`review` (審査: approve, approve with conditions, reject, by a reviewer only),
:func:`extract` (exactly the approved items, under the provision's own key, scanned),
:func:`record_release_check` (公表物確認), :func:`confirm_deletion` (消去の確認), with
:func:`linkage_rate` (医療–介護 by ID kind); every step goes to the caller's audit hook. It is
built on these pieces:

- on the source side, :func:`id1` / :func:`id2` / :func:`id5` under :func:`source_key` (the
  field lists of ID1 and ID2 from :func:`linkage_id_fields`), and
  :func:`rekey` under a provision's own key (:func:`new_provision_key`, :func:`provision_key`,
  :func:`destroy_provision_key`), so two provisions cannot be joined;
- :func:`birth_month`, :func:`age_band`, :func:`municipality_code` for what the research store
  may hold, :func:`research_persons` for the register's persons in that form, and
  :func:`refuse_identifiers` on every column of an extract;
- :func:`count_persons` and :func:`suppress` for a table fit to publish, and
  :func:`check_file` / :func:`check_table` (公表物確認) for any table before it is released.

Other contexts use this module only; the underscored modules are private.
"""

from kokuho.provision._catalogue import CATALOGUE_FILE, Basis, Catalogue, catalogue
from kokuho.provision._check import ReleaseCheck, ReleaseFinding, check_file, check_table
from kokuho.provision._extract import (
    CareService,
    Extract,
    MedicalClaim,
    Sources,
    extract,
    load_sources,
)
from kokuho.provision._generalise import (
    age_band,
    age_band_on,
    age_bands,
    birth_month,
    municipality_code,
)
from kokuho.provision._id_fields import ID_FIELDS_FILE, IdFields, linkage_id_fields
from kokuho.provision._keys import (
    ProvisionKeyError,
    destroy_provision_key,
    key_folder,
    new_provision_key,
    provision_key,
    source_key,
)
from kokuho.provision._lake_sources import lake_care_services, lake_claims
from kokuho.provision._linkage import LinkageRate, MedicalPerson, linkage_rate
from kokuho.provision._pseudonym import id1, id2, id5, oldest_insured_numbers, rekey
from kokuho.provision._research import ResearchPerson, research_persons
from kokuho.provision._rules import RULES_FILE, ReleaseRules, release_rules
from kokuho.provision._scan import (
    IdentifierFinding,
    IdentifierFoundError,
    kinds_of,
    refuse_identifiers,
    scan_columns,
)
from kokuho.provision._suppress import (
    MINIMUM_CELL,
    CountTable,
    NotAdditiveError,
    SafeTable,
    count_persons,
    suppress,
)
from kokuho.provision._table_csv import PublishedTable, read_table
from kokuho.provision._tables import provision_reviewers, provision_steps, provisions
from kokuho.provision._verify_extract import verify_extract
from kokuho.provision._workflow import (
    add_reviewer,
    apply,
    confirm_deletion,
    list_provisions,
    provision_detail,
    record_release_check,
    review,
    reviewers,
    revoke,
)
from kokuho.provision._workflow_model import (
    DECISIONS,
    STATE_TITLES,
    STATES,
    Application,
    Provision,
    ProvisionAudit,
    ProvisionError,
    Step,
    UnapprovedItem,
    UnknownProvision,
)

__all__ = [
    "Application",
    "Basis",
    "CATALOGUE_FILE",
    "CareService",
    "Catalogue",
    "CountTable",
    "DECISIONS",
    "Extract",
    "ID_FIELDS_FILE",
    "IdFields",
    "IdentifierFinding",
    "IdentifierFoundError",
    "LinkageRate",
    "MINIMUM_CELL",
    "MedicalClaim",
    "MedicalPerson",
    "NotAdditiveError",
    "Provision",
    "ProvisionAudit",
    "ProvisionError",
    "ProvisionKeyError",
    "PublishedTable",
    "RULES_FILE",
    "ReleaseCheck",
    "ReleaseFinding",
    "ReleaseRules",
    "ResearchPerson",
    "STATES",
    "STATE_TITLES",
    "SafeTable",
    "Sources",
    "Step",
    "UnapprovedItem",
    "UnknownProvision",
    "add_reviewer",
    "age_band",
    "age_band_on",
    "age_bands",
    "apply",
    "birth_month",
    "catalogue",
    "check_file",
    "check_table",
    "confirm_deletion",
    "count_persons",
    "destroy_provision_key",
    "extract",
    "id1",
    "id2",
    "id5",
    "key_folder",
    "kinds_of",
    "lake_care_services",
    "linkage_id_fields",
    "lake_claims",
    "linkage_rate",
    "list_provisions",
    "load_sources",
    "municipality_code",
    "new_provision_key",
    "oldest_insured_numbers",
    "provision_detail",
    "provision_key",
    "provision_reviewers",
    "provision_steps",
    "provisions",
    "read_table",
    "record_release_check",
    "refuse_identifiers",
    "rekey",
    "release_rules",
    "research_persons",
    "review",
    "reviewers",
    "revoke",
    "scan_columns",
    "source_key",
    "suppress",
    "verify_extract",
]
