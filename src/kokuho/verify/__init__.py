"""The online eligibility service (オンライン資格確認): institutions and credentials, card
authentication, checks by number and by card, consent, bulk checks and the audit log."""

from kokuho.verify import _tables as tables
from kokuho.verify._model import (
    ConsentCategory,
    CoverageAnswer,
    EligibilityAnswer,
    Method,
    NumberQuery,
    Purpose,
    Validity,
)

__all__ = [
    "ConsentCategory",
    "CoverageAnswer",
    "EligibilityAnswer",
    "Method",
    "NumberQuery",
    "Purpose",
    "Validity",
    "tables",
]
