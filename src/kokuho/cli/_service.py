"""``kokuho serve``, ``kokuho oqs-agent`` and the service's administration: institutions,
credentials, card readers, cards and the audit log."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path

import click

from kokuho.cli._commands import SingleValueGroup, SingleValueOptions
from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import (
    CERT_SERIAL,
    DAY,
    INPUT_FILE,
    OUTPUT_FOLDER,
    PORT,
    WORKERS,
    service_url,
)
from kokuho.config import Settings, read_secret
from kokuho.ids import InsuredId, InvalidIdentifier
from kokuho.registry import FileRejected, show
from kokuho.verify import (
    OqsAgent,
    RevokeRefused,
    access_history,
    anomalies,
    issue_cards,
    issue_credential,
    load_institutions,
    register_terminal,
    revoke_credential,
    revoke_issued_card,
    revoke_terminal,
    verify_chain,
)

_FILE = INPUT_FILE


@click.command(cls=SingleValueOptions)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=PORT, default=8000, show_default=True)
@click.option("--workers", type=WORKERS, default=1, show_default=True, help="Server processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the eligibility service (REST /api/v1, FHIR /fhir, OpenAPI /docs)."""
    import uvicorn

    click.echo(f"serving on http://{host}:{port}  (OpenAPI: http://{host}:{port}/docs)")
    uvicorn.run(
        "kokuho.web:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def _token(credential_file: Path | None) -> str:
    """The institution's token: a secret file like a key (read_secret: refused when others may
    read it), else $KOKUHO_CREDENTIAL. Printable ASCII (a BOM is dropped): bytes that are not
    UTF-8 were a UnicodeDecodeError, and other characters made every request fail in the HTTP
    client with each file answered internal_error. The value is never shown (a secret)."""
    where = str(credential_file) if credential_file else "KOKUHO_CREDENTIAL"
    raw = (
        read_secret(credential_file)
        if credential_file
        else os.environ.get("KOKUHO_CREDENTIAL", "").encode("utf-8", "surrogateescape")
    )
    try:
        token = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        token = "\ufffd"
    if not token:
        fail("no credential: give --credential-file or set KOKUHO_CREDENTIAL")
    if not token.isascii() or not token.isprintable() or " " in token:
        fail(f"{where}: not a credential token (kc_<id>.<secret>, printable ASCII)")
    return token


@click.command("oqs-agent", cls=SingleValueOptions)
@click.option(
    "--req",
    type=OUTPUT_FOLDER,
    required=True,
    help="Folder the clinic software writes requests to.",
)
@click.option(
    "--res",
    type=OUTPUT_FOLDER,
    required=True,
    help="Folder the answers are written to.",
)
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, callback=service_url)
@click.option(
    "--credential-file",
    type=_FILE,
    help="File holding the institution's token (else $KOKUHO_CREDENTIAL).",
)
@click.option("--once", is_flag=True, help="Answer the files present and exit.")
def oqs_agent(req: Path, res: Path, url: str, credential_file: Path | None, once: bool) -> None:
    """The on-site terminal (資格確認端末) for the OQS file interface: answers
    OQSsiquc01req_*.xml (single) and OQSmuquc01req/02req_*.xml (bulk) files."""
    import httpx2

    token = _token(credential_file)
    req.mkdir(parents=True, exist_ok=True)
    with httpx2.Client(base_url=url, timeout=10.0) as client:
        agent = OqsAgent(client, token, req, res)
        if once:
            written = agent.process_once()
            click.echo(f"{len(written)} response file(s) written to {res}")
            return
        click.echo(f"watching {req} → {res} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            agent.run()


@click.group(cls=SingleValueGroup)
def institutions() -> None:
    """Medical institutions (保険医療機関・薬局) allowed to check eligibility."""


@institutions.command("load")
@click.argument("file", type=_FILE)
def institutions_load(file: Path) -> None:
    """Load or update institutions from FILE (docs/formats.md §5)."""
    try:
        count = load_institutions(open_engine(), file)
    except FileRejected as rejected:
        for error in rejected.errors[:20]:
            click.echo(str(error), err=True)
        fail(f"rejected with {len(rejected.errors)} error(s); nothing changed")
    click.echo(f"{shown(file)}: {count} institution(s) loaded")


@click.group(cls=SingleValueGroup)
def credentials() -> None:
    """Revocable credentials of institutions and insurer staff."""


@credentials.command("issue")
@click.option("--institution", help="10-digit 医療機関コード.")
@click.option("--insurer", help="保険者番号 (insurer staff: own members only).")
@click.option("--label", required=True, help="Who holds it (e.g. 受付端末1).")
@json_option
def credentials_issue(
    institution: str | None, insurer: str | None, label: str, as_json: bool
) -> None:
    """Issue a credential; the token is printed once and stored only as a digest."""
    try:
        credential_id, token = issue_credential(
            open_engine(), label=label, institution=institution, insurer=insurer
        )
    except ValueError as error:
        fail(str(error))
    if as_json:
        emit_json({"credential_id": credential_id, "token": token})
    else:
        click.echo(f"credential {credential_id}\ntoken (shown once): {token}")


@credentials.command("revoke")
@click.argument("credential_id")
def credentials_revoke(credential_id: str) -> None:
    """Revoke a credential (takes effect within seconds on running servers)."""
    if not revoke_credential(open_engine(), credential_id):
        fail(f"no active credential {credential_id}")
    click.echo(f"revoked {credential_id}")


@click.group(cls=SingleValueGroup)
def terminals() -> None:
    """Face-recognition card readers (顔認証付きカードリーダー)."""


@terminals.command("register")
@click.option("--institution", required=True)
@click.option("--terminal-id", required=True)
@click.option("--public-key", required=True, help="The reader's Ed25519 public key, hex.")
def terminals_register(institution: str, terminal_id: str, public_key: str) -> None:
    """Register a reader whose face-match attestations the service will accept."""
    try:
        key = bytes.fromhex(public_key)
    except ValueError:
        fail("--public-key must be hex")
    if len(key) != 32:
        fail("--public-key must be a 32-byte Ed25519 key")
    try:
        register_terminal(open_engine(), institution, terminal_id, key)
    except ValueError as error:
        fail(str(error))
    click.echo(f"registered reader {terminal_id} at {institution}")


@terminals.command("revoke")
@click.argument("terminal_id")
def terminals_revoke(terminal_id: str) -> None:
    """Revoke a reader (lost, stolen, replaced): its attestations are refused by running servers
    within seconds."""
    if not revoke_terminal(open_engine(), terminal_id):
        fail(f"no active reader {terminal_id!r}")
    click.echo(f"revoked reader {terminal_id}")


@click.group(cls=SingleValueGroup)
def cards() -> None:
    """The simulated My Number cards (JPKI 利用者証明用電子証明書)."""


@cards.command("issue")
@click.option(
    "--out",
    type=OUTPUT_FOLDER,
    help="Where card files go (default $KOKUHO_HOME/cards).",
)
def cards_issue(out: Path | None) -> None:
    """Issue a card to every person with a verified My Number link who has none."""
    settings = Settings.from_env()
    issued = issue_cards(
        open_engine(),
        settings.service_key(),
        settings.home / "ca",
        out or settings.home / "cards",
        dt.datetime.now(dt.UTC),
    )
    click.echo(f"{issued.issued} card(s) issued into {issued.folder}")


@cards.command("revoke")
@click.argument("serial", type=CERT_SERIAL)
def cards_revoke(serial: int) -> None:
    """Revoke a card's certificate and publish a new revocation list (CRL)."""
    settings = Settings.from_env()
    try:
        revoke_issued_card(
            open_engine(), settings.service_key(), settings.home / "ca", serial,
            dt.datetime.now(dt.UTC),
        )  # fmt: skip
    except RevokeRefused as refused:
        fail(str(refused))
    click.echo(f"revoked certificate {serial}; running servers pick the CRL up on refresh")


@click.group(cls=SingleValueGroup)
def audit() -> None:
    """The hash-chained audit log of every check and read."""


@audit.command("verify")
@click.option("--expect-head", help="The head hash recorded earlier (detects a cut tail).")
@json_option
def audit_verify(expect_head: str | None, as_json: bool) -> None:
    """Recompute the chain; exit 1 if any record was edited, removed or inserted."""
    report = verify_chain(open_engine(), expect_head=expect_head)
    if as_json:
        emit_json(report)
    else:
        state = "OK" if report.ok else f"BROKEN at {report.seq}: {report.problem}"
        click.echo(f"{report.records} record(s); chain {state}; head {report.head}")
    if not report.ok:
        sys.exit(1)


@audit.command("history")
@click.argument("insurer")
@click.argument("symbol")
@click.argument("number")
@click.argument("branch")
@json_option
def audit_history(insurer: str, symbol: str, number: str, branch: str, as_json: bool) -> None:
    """A person's own access history: who checked or read their data (the institution and its
    credential, or the dashboard user), when and why."""
    engine = open_engine()
    try:
        record = show(engine, InsuredId.parse(insurer, symbol, number, branch))
    except InvalidIdentifier as error:
        fail(str(error))
    if record is None:
        fail("no such member")
    entries = access_history(engine, record.person_id)
    if as_json:
        emit_json({"entries": [{**dataclasses.asdict(e), "who": e.who} for e in entries]})
        return
    for e in entries:
        click.echo(f"{e.at:%Y-%m-%d %H:%M}  {e.who}  {e.purpose}  {e.action}  {e.outcome}")


@audit.command("anomalies")
@click.option("--since", type=DAY, required=True)
@click.option("--until", type=DAY)
@json_option
def audit_anomalies(since: dt.datetime, until: dt.datetime | None, as_json: bool) -> None:
    """Institutions that checked far more people than their own pattern on some day."""
    found = anomalies(open_engine(), since=since.date(), until=(until or dt.datetime.now()).date())
    if as_json:
        emit_json({"anomalies": found})
        return
    click.echo(f"{len(found)} anomal{'y' if len(found) == 1 else 'ies'}")
    for a in found:
        click.echo(f"{a.institution_code} {a.day}: {a.persons} persons (usually {a.usual:g})")
