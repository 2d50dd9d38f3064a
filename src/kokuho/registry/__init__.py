"""The shared eligibility register (資格情報の一元管理): insurers, persons, coverages with full
history, the change-feed import, overlaps, the resident register and My Number linkage.

Other contexts use this module only; the underscored modules are private.
"""

from kokuho.registry import _tables as tables
from kokuho.registry._csv import read_rows as read_csv_rows
from kokuho.registry._errors import FileRejected, RowError
from kokuho.registry._events import LOSS_REASONS
from kokuho.registry._feed import ImportReport, import_changes
from kokuho.registry._insurers import INSURER_KINDS, InsurerLoadReport, load_insurers
from kokuho.registry._queries import Coverage, Overlap, PersonRecord, Terms, find_overlaps, show

__all__ = [
    "INSURER_KINDS",
    "LOSS_REASONS",
    "Coverage",
    "FileRejected",
    "ImportReport",
    "InsurerLoadReport",
    "Overlap",
    "PersonRecord",
    "RowError",
    "Terms",
    "find_overlaps",
    "import_changes",
    "load_insurers",
    "read_csv_rows",
    "show",
    "tables",
]
