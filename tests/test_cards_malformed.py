"""A card certificate that does not parse is refused with a fixed reason: the parser's own
text (cryptography's messages) goes to the server log only, never to the client or the
audit log."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from kokuho.store import connect
from kokuho.verify import open_authority
from kokuho.verify._tables import audit_log
from tests.conftest import small_service

PARSER_WORDS = ("asn1", "ParseError", "ShortData", "UnexpectedTag", "needed")


def _pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


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
    from kokuho.web import create_app

    with (
        caplog.at_level(logging.INFO, logger="kokuho"),
        TestClient(create_app(settings)) as http,
    ):
        response = http.post(
            "/api/v1/checks/card", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"].endswith("/card_malformed")
    assert "not a parsable X.509 certificate" in problem["detail"]
    engine = connect(settings.database_url)
    with engine.connect() as connection:
        last = connection.execute(
            sa.select(audit_log.c.outcome, audit_log.c.detail).order_by(audit_log.c.seq.desc())
        ).first()
    engine.dispose()
    assert last is not None
    assert last.outcome == "refused:card_malformed"
    detail = last.detail if isinstance(last.detail, dict) else json.loads(last.detail)
    assert detail["reason"] == "card_malformed"
    assert "not a parsable X.509 certificate" in detail["message"]
    for word in PARSER_WORDS:
        assert word not in response.text, word
        assert word not in json.dumps(detail), word
    # The operator still sees what the parser said, in the server's log.
    assert any("asn1" in record.getMessage() for record in caplog.records)
