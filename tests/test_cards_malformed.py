"""A card certificate that does not parse, or a CRL that does not, is refused with a fixed
reason: the parser's own text (cryptography's messages) goes to the server log only, never to
the client or the audit log."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from kokuho.config import Settings
from kokuho.store import connect
from kokuho.verify import open_authority
from kokuho.verify._cards import CRL_FILE
from kokuho.verify._tables import audit_log
from tests.conftest import small_service

PARSER_WORDS = ("asn1", "ParseError", "ShortData", "UnexpectedTag", "needed")


def _pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def _refused(
    settings: Settings, token: str, body: dict[str, str], caplog: pytest.LogCaptureFixture
) -> tuple[httpx.Response, str, dict[str, Any]]:
    """A PIN-mode card check through the app: the answer, and the outcome and detail of the
    audit log's last record (its refusal). The server's log is kept in ``caplog``."""
    from kokuho.web import create_app

    with (
        caplog.at_level(logging.INFO, logger="kokuho"),
        TestClient(create_app(settings)) as http,
    ):
        response = http.post(
            "/api/v1/checks/card", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    engine = connect(settings.database_url)
    with engine.connect() as connection:
        last = connection.execute(
            sa.select(audit_log.c.outcome, audit_log.c.detail).order_by(audit_log.c.seq.desc())
        ).first()
    engine.dispose()
    assert last is not None
    detail = last.detail if isinstance(last.detail, dict) else json.loads(last.detail)
    return response, last.outcome, detail


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_certificate_that_does_not_parse_gives_the_fixed_reason_only(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    settings, token = small_service(database_url, tmp_path)
    authority = open_authority(tmp_path / "ca", dt.datetime.now(dt.UTC))
    der = x509.load_pem_x509_certificate(authority.certificate_pem).public_bytes(
        serialization.Encoding.DER
    )
    certificate = _pem(der[:120]) if damage == "truncated" else _pem(b"\x30\x82\x01\x00" + b"x" * 9)
    body = {"certificate_pem": certificate, "challenge_id": "a" * 32, "signature": "AAAA"}
    response, outcome, detail = _refused(settings, token, body, caplog)
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"].endswith("/card_malformed")
    assert "not a parsable X.509 certificate" in problem["detail"]
    assert outcome == "refused:card_malformed"
    assert detail["reason"] == "card_malformed"
    assert "not a parsable X.509 certificate" in detail["message"]
    for word in PARSER_WORDS:
        assert word not in response.text, word
        assert word not in json.dumps(detail), word
    # The operator still sees what the parser said, in the server's log.
    assert any("asn1" in record.getMessage() for record in caplog.records)


#: The one message of every ``card_revocation_unknown`` refusal (docs/api.md).
REVOCATION_UNKNOWN = "revocation status cannot be determined"


@pytest.mark.parametrize("damage", ["truncated-der", "broken-pem"])
def test_a_crl_that_does_not_parse_gives_the_fixed_reason_only(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    settings, token = small_service(database_url, tmp_path)
    now = dt.datetime.now(dt.UTC)
    authority = open_authority(tmp_path / "ca", now)
    card = authority.issue_card(now)
    crl = tmp_path / "ca" / CRL_FILE
    crl.write_bytes(
        crl.read_bytes()[:90]
        if damage == "truncated-der"
        else b"-----BEGIN X509 CRL-----\nMIIB!!not base64!!\n-----END X509 CRL-----\n"
    )
    body = {
        "certificate_pem": card.certificate_pem.decode(),
        "challenge_id": "a" * 32,
        "signature": "AAAA",
    }
    response, outcome, detail = _refused(settings, token, body, caplog)
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"].endswith("/card_revocation_unknown")
    assert problem["detail"] == f"revocation_unknown: {REVOCATION_UNKNOWN}"
    assert outcome == "refused:card_revocation_unknown"
    assert detail["message"] == problem["detail"]
    for word in PARSER_WORDS + ("parse", "PEM", "base64"):
        assert word not in response.text, word
        assert word not in json.dumps(detail), word
    # The operator still sees why, in the server's log.
    assert any("does not parse" in record.getMessage() for record in caplog.records)
