"""The shared eligibility register (資格情報の一元管理): insurers, persons, coverages with full
history, the change-feed import, overlaps, the resident register and My Number linkage.

Other contexts use this module only; the underscored modules are private.
"""

from kokuho.registry import _tables as tables
from kokuho.registry._csv import read_rows as read_csv_rows
from kokuho.registry._errors import FileRejected, RowError
from kokuho.registry._events import COLUMNS as FEED_COLUMNS
from kokuho.registry._events import LOSS_REASONS, RESIDENCY_COLUMNS
from kokuho.registry._events import REQUIRED as FEED_REQUIRED
from kokuho.registry._feed import import_changes
from kokuho.registry._feed_read import ImportReport
from kokuho.registry._feed_run import import_feed
from kokuho.registry._insurers import INSURER_KINDS, InsurerLoadReport, load_insurers
from kokuho.registry._link_checks import (
    NO_MEMBER,
    NO_RESIDENT,
    NUMBER_LINKED_TO_OTHER_PERSON,
    PERSON_HAS_OTHER_NUMBER,
    Difference,
)
from kokuho.registry._link_queries import (
    LinkStatus,
    ReviewItem,
    link_status,
    person_for_mynumber_hmac,
    request_person,
    review_queue,
)
from kokuho.registry._linkage import (
    LinkReport,
    RecheckReport,
    link_submissions,
    recheck,
    reject,
)
from kokuho.registry._merge import VERIFIED_MYNUMBER, PersonMerge, person_merges_of
from kokuho.registry._normalize import (
    address_parts,
    differing_items,
    match_key,
    normalize_address,
    normalize_kana_name,
    normalize_kanji_name,
    same_address,
)
from kokuho.registry._queries import Coverage, Overlap, PersonRecord, Terms, find_overlaps, show
from kokuho.registry._residents import ResidentLoadReport, load_residents

__all__ = [
    "FEED_COLUMNS",
    "FEED_REQUIRED",
    "RESIDENCY_COLUMNS",
    "INSURER_KINDS",
    "LOSS_REASONS",
    "NO_MEMBER",
    "NO_RESIDENT",
    "NUMBER_LINKED_TO_OTHER_PERSON",
    "PERSON_HAS_OTHER_NUMBER",
    "VERIFIED_MYNUMBER",
    "Coverage",
    "Difference",
    "FileRejected",
    "ImportReport",
    "InsurerLoadReport",
    "LinkReport",
    "LinkStatus",
    "Overlap",
    "PersonMerge",
    "PersonRecord",
    "RecheckReport",
    "ResidentLoadReport",
    "ReviewItem",
    "RowError",
    "Terms",
    "address_parts",
    "differing_items",
    "find_overlaps",
    "import_changes",
    "import_feed",
    "link_status",
    "link_submissions",
    "load_insurers",
    "load_residents",
    "match_key",
    "normalize_address",
    "normalize_kana_name",
    "normalize_kanji_name",
    "person_for_mynumber_hmac",
    "person_merges_of",
    "read_csv_rows",
    "recheck",
    "reject",
    "request_person",
    "review_queue",
    "same_address",
    "show",
    "tables",
]
