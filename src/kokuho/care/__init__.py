"""介護 (long-term care): 介護給付費明細書 files (国保連 交換情報 CSV), 要介護認定 files, the care
lake, the join of care records to the register's persons, and what they tell the 一体的実施
lists (:class:`CareStatus`) (docs/care.md).

Other contexts use this module only; the underscored modules are private.
"""

from typing import TYPE_CHECKING, Any

from kokuho.care._certs import (
    COLUMNS as CERTIFICATION_COLUMNS,
)
from kokuho.care._certs import (
    Certification,
    certifications_text,
    read_certifications,
    write_certifications,
)
from kokuho.care._errors import CareFileRejected
from kokuho.care._link import (
    AMBIGUOUS,
    NO_CERTIFICATION,
    NO_PERSON,
    ONE_ITEM_DIFFERS,
    UNLINKED_CERTIFICATION,
    CareLinkReport,
    Unlinked,
    link_certifications,
    link_to_register,
)
from kokuho.care._model import (
    CARE_LEVELS,
    CERTIFICATION_LEVELS,
    NOT_ELIGIBLE,
    SUPPORT_LEVELS,
    CareClaim,
    CareClaimFile,
    CareDetail,
    CareTotal,
)
from kokuho.care._read import read_care_bytes, read_care_file, read_care_files
from kokuho.care._status import CareStatus, care_status
from kokuho.care._write import care_file_bytes, write_care_file

if TYPE_CHECKING:
    from kokuho.care._lake import (
        CareIngested,
        CareIngestReport,
        CareLake,
        CareTableMissing,
    )

__all__ = [
    "AMBIGUOUS", "CARE_LEVELS", "CERTIFICATION_COLUMNS", "CERTIFICATION_LEVELS",
    "NOT_ELIGIBLE", "NO_CERTIFICATION", "NO_PERSON", "ONE_ITEM_DIFFERS", "SUPPORT_LEVELS",
    "UNLINKED_CERTIFICATION", "CareClaim", "CareClaimFile", "CareDetail", "CareFileRejected",
    "CareIngestReport", "CareIngested", "CareLake", "CareLinkReport", "CareStatus",
    "CareTableMissing", "CareTotal", "Certification", "Unlinked", "care_file_bytes",
    "care_status", "certifications_text",
    "link_certifications", "link_to_register", "read_care_bytes", "read_care_file",
    "read_care_files", "read_certifications", "write_care_file", "write_certifications",
]  # fmt: skip

#: The lake loads Ibis, DuckDB and pyarrow: imported when first asked for.
_LAKE = ("CareIngested", "CareIngestReport", "CareLake", "CareTableMissing")


def __getattr__(name: str) -> Any:
    if name in _LAKE:
        from kokuho.care import _lake

        return getattr(_lake, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
