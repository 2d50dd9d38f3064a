"""``kokuho dashboard``: the 見える化 dashboard's users, and screenshots of its pages."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from kokuho.cli._commands import SingleValueGroup
from kokuho.cli._output import emit_json, fail, json_option, open_engine, shown
from kokuho.cli._params import OUTPUT_FOLDER, PERSONS, SEED, service_url

CHROMIUM = os.environ.get("KOKUHO_CHROMIUM", "/usr/bin/chromium")
#: The pages of docs/screenshots: (file, signed in as, path).
PAGES = (
    ("login", None, "/login"),
    ("overview", "pref", "/overview"),
    ("compare", "pref", "/compare"),
    ("municipality", "takamatsu", "/municipalities/370015"),
    ("person-list", "takamatsu", "/municipalities/370015/lists/eligibility-errors"),
    ("grants", "pref", "/grants"),
    ("eligibility", "pref", "/eligibility"),
    ("boundary", "takamatsu", "/boundary"),
    ("audit", "pref", "/audit"),
    ("overview-tablet", "pref", "/overview"),
)


@click.group(cls=SingleValueGroup)
def dashboard() -> None:
    """見える化: dashboard users and page screenshots."""


@dashboard.group()
def users() -> None:
    """Dashboard users (prefecture and municipal staff)."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["prefecture", "municipal"]), required=True)
@click.option("--insurer", help="The 市町村国保's 保険者番号 (municipal staff).")
@click.option("--name", "display_name", help="The name shown on the pages.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)
@click.option("--replace", is_flag=True, help="Reset an existing user (ends their sessions).")
@json_option
def add_command(
    username: str,
    role: str,
    insurer: str | None,
    display_name: str | None,
    password_stdin: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Adds a user; the password is asked for (or read with --password-stdin)."""
    from kokuho.web.dashboard import AccountError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = open_engine()
    try:
        user = add_user(
            engine,
            username,
            password,
            role="prefecture" if role == "prefecture" else "municipal",
            display_name=display_name,
            insurer_number=insurer,
            replace=replace,
        )
    except AccountError as error:
        fail(str(error))
    finally:
        engine.dispose()
    if as_json:
        emit_json(user)
    else:
        click.echo(f"added {user.username} ({user.role}{', ' + insurer if insurer else ''})")


@users.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disables a user (a member of staff who left): no sign-in, and their sessions end now.
    `add USERNAME --replace` enables the account again with a new password."""
    from kokuho.web.dashboard import AccountError, disable_user

    engine = open_engine()
    try:
        disable_user(engine, username)
    except AccountError as error:
        fail(shown(str(error)))
    finally:
        engine.dispose()
    click.echo(f"disabled {shown(username)}: sign-in refused, sessions ended")


@users.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Lists the users (never their passwords)."""
    from kokuho.web.dashboard import list_users

    engine = open_engine()
    try:
        found = list_users(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json(found)
        return
    for user in found:
        scope = (
            "全市町村" if user.is_prefecture else f"{user.municipality_name} {user.insurer_number}"
        )
        state = "  (無効)" if user.disabled else ""
        click.echo(f"{user.username:16} {user.role:10} {scope}  {user.display_name}{state}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def build_demo_home(home: Path, *, persons: int, seed: int) -> None:
    """The synthetic prefecture loaded into ``home`` as ``kokuho demo`` does, and the demo
    accounts."""
    env = {**os.environ, "KOKUHO_HOME": str(home)}
    env.pop("KOKUHO_DATABASE_URL", None)
    command = [sys.executable, "-c", "from kokuho.cli import main; main()", "demo"]
    options = ["--persons", str(persons), "--seed", str(seed), "--no-serve", "--json"]
    done = subprocess.run([*command, *options], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"kokuho demo failed: {done.stderr.strip()[-500:]}")
    import sqlalchemy as sa

    from kokuho.checkups import Lake, export_snapshot
    from kokuho.claims import ClaimsLake, sample_masters
    from kokuho.config import Settings
    from kokuho.store import connect
    from kokuho.verify import tables as v
    from kokuho.web.dashboard import create_demo_accounts

    secrets = home / "secrets"
    settings = Settings(
        home, f"sqlite:///{home / 'kokuho.db'}", secrets / "mynumber.key", secrets / "service.key"
    )
    engine = connect(settings.database_url)
    try:
        create_demo_accounts(engine)
        # What the demo adds for the dashboard, in case this kokuho's demo does not yet: every
        # fiscal year's snapshot (trends), the claims in the lake, and a morning of online
        # checks (volumes, card share).
        lake = Lake(home / "lake")
        for fiscal_year in (2020, 2021, 2022):
            export_snapshot(engine, lake, fiscal_year)
        claims_lake = ClaimsLake(home / "lake")
        claim_files = sorted((home / "demo" / "claims").glob("*.csv"))
        if claim_files and not claims_lake.has_table("claims"):
            masters = sample_masters()
            claims_lake.load_masters(masters.drugs, masters.generic_list)
            claims_lake.ingest(claim_files)
        with engine.connect() as connection:
            checked = connection.scalar(
                sa.select(sa.func.count()).where(v.audit_log.c.action.like("check%"))
            )
        if not checked:
            clinic = json.loads(done.stdout)["clinic"]
            sample_checks(
                settings, clinic["institution_code"], Path(clinic["token_file"]).read_text(),
                home / "demo" / "demo-reader-1.terminal.pem",
            )  # fmt: skip
    finally:
        engine.dispose()


@contextlib.contextmanager
def served(
    home: Path, port: int | None = None, *, database_url: str | None = None
) -> Iterator[str]:
    """Serves the app on ``home`` (and ``database_url``, else the home's SQLite file) with
    uvicorn on a free loopback port; yields its URL."""
    port = port or free_port()
    env = {**os.environ, "KOKUHO_HOME": str(home)}
    env.pop("KOKUHO_DATABASE_URL", None)
    if database_url is not None:
        env["KOKUHO_DATABASE_URL"] = database_url
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "kokuho.web:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the dashboard server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def launch_chromium(playwright: Any) -> Any:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def sign_in(page: Any, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("nav")


def wait_for_figures(page: Any, timeout: float = 120_000) -> None:
    """Waits until the page shows figures rather than the progress of their computation."""
    page.wait_for_selector("main h1")
    page.wait_for_selector(".pending-message", state="detached", timeout=timeout)


def take_screenshots(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            contexts: dict[str, Any] = {}
            for name, user, path in PAGES:
                tablet = name.endswith("-tablet")
                key = f"{user}:{tablet}"
                if key not in contexts:
                    viewport = (
                        {"width": 820, "height": 1180} if tablet else {"width": 1280, "height": 900}
                    )  # noqa: E501
                    context = browser.new_context(viewport=viewport, locale="ja-JP")
                    page = context.new_page()
                    if user:
                        password = PREFECTURE_PASSWORD if user == "pref" else MUNICIPAL_PASSWORD
                        sign_in(page, url, user, password)
                    contexts[key] = page
                page = contexts[key]
                page.goto(f"{url}{path}")
                if user:
                    wait_for_figures(page)
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=False)
                written.append(target)
        finally:
            browser.close()
    return written


@dashboard.command("screenshots")
@click.option(
    "--out", type=OUTPUT_FOLDER, default=Path("docs/screenshots"),
    show_default=True,
)  # fmt: skip
@click.option(
    "--url", callback=service_url,
    help="A running dashboard with the demo accounts (default: build one).",
)  # fmt: skip
@click.option(
    "--persons", type=PERSONS, default=2000, show_default=True, help="Size of the built demo."
)
@click.option("--seed", type=SEED, default=1, show_default=True)
def screenshots_command(out: Path, url: str | None, persons: int, seed: int) -> None:
    """Regenerates the screenshots of every page (docs/screenshots/*.png) with the system
    Chromium: builds a small synthetic prefecture in a temporary folder, serves it, signs in
    with the demo accounts and shoots each page."""
    if not Path(CHROMIUM).exists():
        fail(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        fail("Playwright is not installed (pip install -e '.[dev]')")
    if url:
        written = take_screenshots(url.rstrip("/"), out)
    else:
        home = Path(tempfile.mkdtemp(prefix="kokuho-shots-"))
        try:
            click.echo(f"building a synthetic prefecture of {persons:,} persons …", err=True)
            build_demo_home(home, persons=persons, seed=seed)
            with served(home) as served_url:
                written = take_screenshots(served_url, out)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    for path in written:
        click.echo(str(path))


def sample_checks(
    settings: Any,
    clinic_code: str,
    token: str,
    reader_file: Path,
    *,
    by_number: int = 150,
    by_card: int = 100,
) -> dict[str, int]:
    """Sends a morning's worth of online eligibility checks from the demo clinic through the
    service (by insured number and by My Number card with the face-recognition reader), so
    that 県の概況 has a check volume and a card share to show. Every check is audited as
    usual."""
    import datetime as dt

    import sqlalchemy as sa

    from kokuho.registry import tables as r
    from kokuho.store import connect
    from kokuho.verify import (
        AccessDenied,
        Authenticator,
        Card,
        CardDesk,
        EligibilityService,
        NumberQuery,
        Terminal,
    )

    engine = connect(settings.database_url)
    service = EligibilityService(engine, settings.service_key())
    counts = {"check_number": 0, "check_card_face": 0, "refused": 0}
    try:
        service.cards = CardDesk(engine, settings.service_key(), settings.home / "ca")
        principal = Authenticator(engine).authenticate(token)
        today = dt.date.today()
        c, p = r.coverages.c, r.persons.c
        with engine.connect() as connection:
            members = connection.execute(
                sa.select(c.insurer_number, c.symbol, c.number, c.branch, p.birth_date)
                .join(r.persons, p.person_id == c.person_id)
                .where(c.acquired_on <= today, sa.or_(c.lost_on.is_(None), c.lost_on > today))
                .order_by(c.coverage_id)
                .limit(by_number)
            ).all()
        for member in members:
            query = NumberQuery(*member[:4], birth_date=member.birth_date, date_of_care=today)
            service.check_number(principal, query, "care")
            counts["check_number"] += 1
        reader = Terminal.load(reader_file)
        for path in sorted((settings.home / "cards").glob("*.pem"))[:by_card]:
            card = Card.load(path)
            attestation = reader.attest(card.certificate_pem, clinic_code, dt.datetime.now(dt.UTC))
            try:
                service.check_card(
                    principal, certificate_pem=card.certificate_pem, day=today,
                    purpose="care", attestation=attestation,
                )  # fmt: skip
                counts["check_card_face"] += 1
            except AccessDenied:
                counts["refused"] += 1
    finally:
        service.close()
        engine.dispose()
    return counts
