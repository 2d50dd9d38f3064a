"""Two real server processes (two uvicorn processes on two ports) on one database: a PIN
challenge issued by one is answered by the other, a face attestation used at one is refused at
the other, and a card revoked while both run is refused by both within REVOCATION_SECONDS."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.cli._dashboard import served
from kokuho.config import Settings
from kokuho.store import connect
from kokuho.verify import (
    issue_cards,
    issue_credential,
    register_terminal,
    revoke_card,
)
from kokuho.verify._cards import REVOCATION_SECONDS
from kokuho.verify._pki import signed_message
from kokuho.verify._pki_sim import Card, Terminal
from kokuho.verify._tables import audit_log
from tests.cardholders import seed_taro

CLINIC = "3710112347"


def call(url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def two_workers(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[str, str, str, Card, Terminal, Path]]:
    home = tmp_path
    settings = Settings(
        home, database_url, home / "secrets" / "mynumber.key", home / "secrets" / "service.key"
    )
    engine = connect(database_url)
    seed_taro(engine, tmp_path, {CLINIC: "讃岐クリニック"})
    _, token = issue_credential(engine, label="受付", institution=CLINIC)
    now = dt.datetime.now(dt.UTC)
    issue_cards(engine, settings.service_key(), home / "ca", home / "cards", now)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    [card_file] = (home / "cards").glob("*.pem")
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(served(home, database_url=database_url))
        other = stack.enter_context(served(home, database_url=database_url))
        yield one, other, token, Card.load(card_file), reader, home
    with engine.connect() as connection:
        actions = connection.execute(
            sa.select(audit_log.c.action, audit_log.c.outcome).order_by(audit_log.c.seq)
        ).all()
    engine.dispose()
    # Every answer and refusal above has its record, both processes writing one chain.
    assert [a for a, _ in actions].count("check_card_pin") >= 3


def test_pin_and_face_flows_across_two_processes(
    two_workers: tuple[str, str, str, Card, Terminal, Path],
) -> None:
    one, other, token, card, reader, home = two_workers
    assert one != other

    def pin(ask: str, answer: str) -> tuple[int, dict[str, Any]]:
        status, challenge = call(f"{ask}/api/v1/card/challenges", token)
        assert status == 200
        signature = card.sign(signed_message(base64.b64decode(challenge["nonce"]), CLINIC))
        body = {"certificate_pem": card.certificate_pem.decode(),
                "challenge_id": challenge["challenge_id"],
                "signature": base64.b64encode(signature).decode()}  # fmt: skip
        status, answered = call(f"{answer}/api/v1/checks/card", token, body)
        # The same response sent again to the process that issued the challenge: spent.
        replay_status, replayed = call(f"{ask}/api/v1/checks/card", token, body)
        assert replay_status == 403, replayed
        assert "challenge_replayed" in json.dumps(replayed)
        return status, answered

    # Challenge from one process, answer to the other, both ways.
    for ask, answer in ((one, other), (other, one)):
        status, answered = pin(ask, answer)
        assert status == 200, answered
        assert answered["validity"] == 1  # 有効
    # A face attestation used at one process is refused at the other.
    attestation = reader.attest(card.certificate_pem, CLINIC, dt.datetime.now(dt.UTC))
    face = {"certificate_pem": card.certificate_pem.decode(), "attestation": {
        "terminal_id": attestation.terminal_id, "fingerprint": attestation.fingerprint,
        "institution_code": CLINIC, "issued_at": attestation.issued_at.isoformat(),
        "nonce": base64.b64encode(attestation.nonce).decode(),
        "signature": base64.b64encode(attestation.signature).decode(),
    }}  # fmt: skip
    assert call(f"{one}/api/v1/checks/card", token, face)[0] == 200
    status, replayed = call(f"{other}/api/v1/checks/card", token, face)
    assert status == 403 and "attestation_replayed" in json.dumps(replayed)
    # The card is revoked while both run (a new CRL file, nobody tells the servers): after
    # the stated bound, each refuses it.
    revoke_card(home / "ca", card.serial, dt.datetime.now(dt.UTC))
    time.sleep(REVOCATION_SECONDS + 0.5)
    for ask, answer in ((one, other), (other, one)):
        status, challenge = call(f"{ask}/api/v1/card/challenges", token)
        signature = card.sign(signed_message(base64.b64decode(challenge["nonce"]), CLINIC))
        body = {"certificate_pem": card.certificate_pem.decode(),
                "challenge_id": challenge["challenge_id"],
                "signature": base64.b64encode(signature).decode()}  # fmt: skip
        status, refused = call(f"{answer}/api/v1/checks/card", token, body)
        assert status == 403 and "card_revoked" in json.dumps(refused), refused
