"""Data provision (データ提供): pseudonymous linkage IDs, generalisation for the research store,
the direct-identifier scan, and safe release under 最小集計単位 (docs/provision.md).

The provision workflow (applications, review, extracts, requests) is built on these pieces:

- on the source side, :func:`id1` / :func:`id2` / :func:`id5` under :func:`source_key`, and
  :func:`rekey` under a provision's own key (:func:`new_provision_key`, :func:`provision_key`,
  :func:`destroy_provision_key`), so two provisions cannot be joined;
- :func:`birth_month`, :func:`age_band`, :func:`municipality_code` for what the research store
  may hold, :func:`research_persons` for the register's persons in that form, and
  :func:`refuse_identifiers` on every column of an extract;
- :func:`count_persons` and :func:`suppress` for a table fit to publish, and
  :func:`check_file` / :func:`check_table` (公表物確認) for any table before it is released.

Other contexts use this module only; the underscored modules are private.
"""

from kokuho.provision._check import ReleaseCheck, ReleaseFinding, check_file, check_table
from kokuho.provision._generalise import (
    age_band,
    age_band_on,
    age_bands,
    birth_month,
    municipality_code,
)
from kokuho.provision._keys import (
    ProvisionKeyError,
    destroy_provision_key,
    key_folder,
    new_provision_key,
    provision_key,
    source_key,
)
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

__all__ = [
    "MINIMUM_CELL",
    "RULES_FILE",
    "CountTable",
    "IdentifierFinding",
    "IdentifierFoundError",
    "NotAdditiveError",
    "ProvisionKeyError",
    "PublishedTable",
    "ReleaseCheck",
    "ReleaseFinding",
    "ReleaseRules",
    "ResearchPerson",
    "SafeTable",
    "age_band",
    "age_band_on",
    "age_bands",
    "birth_month",
    "check_file",
    "check_table",
    "count_persons",
    "destroy_provision_key",
    "id1",
    "id2",
    "id5",
    "key_folder",
    "kinds_of",
    "municipality_code",
    "new_provision_key",
    "oldest_insured_numbers",
    "provision_key",
    "read_table",
    "refuse_identifiers",
    "rekey",
    "research_persons",
    "release_rules",
    "scan_columns",
    "source_key",
    "suppress",
]
