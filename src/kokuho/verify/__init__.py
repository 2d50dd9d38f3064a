"""The online eligibility service (オンライン資格確認): institutions and credentials, card
authentication, checks by number and by card, consent, bulk checks and the audit log."""

from kokuho.verify import _tables as tables
from kokuho.verify._access import (
    AccessDenied,
    Authenticator,
    Principal,
    issue_credential,
    load_institutions,
    register_terminal,
    revoke_credential,
    revoke_terminal,
)
from kokuho.verify._access_refusals import RefusalRecorder
from kokuho.verify._audit import (
    AuditRecord,
    AuditRecordError,
    AuditWriter,
    ChainReport,
    verify_chain,
)
from kokuho.verify._audit_reports import AccessEntry, Anomaly, access_history, anomalies
from kokuho.verify._cards import (
    CardDesk,
    IssuedCards,
    MintedCard,
    RevokeRefused,
    issue_cards,
    mint_cards,
    open_authority,
    revoke_card,
    revoke_issued_card,
)
from kokuho.verify._fhir_routes import build_fhir_router
from kokuho.verify._http_errors import install_error_handlers
from kokuho.verify._model import (
    ConsentCategory,
    CoverageAnswer,
    EligibilityAnswer,
    Method,
    NumberQuery,
    Purpose,
    Validity,
)
from kokuho.verify._oqs_agent import OqsAgent
from kokuho.verify._pki_sim import Card, CardAuthority, Terminal
from kokuho.verify._rest import add_check_routes, build_router
from kokuho.verify._service import CheckResult, ConsentedDataProvider, EligibilityService

__all__ = [
    "AuditRecord",
    "AuditRecordError",
    "AuditWriter",
    "Card",
    "CardAuthority",
    "Terminal",
    "AccessEntry",
    "Anomaly",
    "OqsAgent",
    "access_history",
    "anomalies",
    "CardDesk",
    "IssuedCards",
    "MintedCard",
    "issue_cards",
    "mint_cards",
    "open_authority",
    "revoke_card",
    "revoke_issued_card",
    "RevokeRefused",
    "RefusalRecorder",
    "AccessDenied",
    "Authenticator",
    "ChainReport",
    "CheckResult",
    "ConsentedDataProvider",
    "EligibilityService",
    "Principal",
    "add_check_routes",
    "build_fhir_router",
    "build_router",
    "install_error_handlers",
    "issue_credential",
    "load_institutions",
    "register_terminal",
    "revoke_terminal",
    "revoke_credential",
    "verify_chain",
    "ConsentCategory",
    "CoverageAnswer",
    "EligibilityAnswer",
    "Method",
    "NumberQuery",
    "Purpose",
    "Validity",
    "tables",
]
