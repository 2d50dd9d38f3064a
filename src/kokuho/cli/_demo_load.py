"""The work of ``kokuho demo``: the synthetic prefecture generated and loaded, and what it holds
reported. Apart from the command so that ``kokuho demo --help`` imports none of this."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress

from kokuho.cli._dashboard import sample_checks
from kokuho.cli._demo_boundary import load_boundary, print_boundary
from kokuho.cli._demo_premiums import load_premiums, print_premiums
from kokuho.cli._demo_second import (
    fill_care,
    fill_checkups,
    fill_claims,
    mint_demo_cards,
    score_demo,
    second_process,
)
from kokuho.cli._output import emit_json, fail
from kokuho.cli._registry import feed_files
from kokuho.config import Settings
from kokuho.registry import (
    FileRejected,
    find_overlaps,
    import_feed,
    link_submissions,
    load_insurers,
    load_residents,
    review_queue,
)
from kokuho.registry import tables as t
from kokuho.store import connect, metadata
from kokuho.synth import generate
from kokuho.verify import (
    Terminal,
    issue_cards,
    issue_credential,
    load_institutions,
    register_terminal,
)
from kokuho.verify import tables as v
from kokuho.web import tuned_gc
from kokuho.web.dashboard import create_demo_accounts

DEMO_CLINIC_KIND = "1"  # a 医科 clinic answers the demo requests
_LOADING_GC = (50_000, 50, 100)  # the collector's thresholds while the demo loads


def load_demo(persons: int, seed: int, host: str, port: int, as_json: bool) -> None:
    """Resets the database under $KOKUHO_HOME, generates and loads the prefecture, prints the
    summary (one JSON document with ``as_json``)."""
    # The cycle collector seldom run while the demo loads, as in a server: the premiums'
    # ledgers and the loading's SQLAlchemy rows set off collections that walk every live
    # object again and free almost nothing (reference counting frees the rows), 30 % of the
    # premiums' CPU measured. The interpreter's settings are put back after.
    with tuned_gc(_LOADING_GC, freeze=True):
        _load_demo(persons, seed, host, port, as_json)


def _load_demo(persons: int, seed: int, host: str, port: int, as_json: bool) -> None:
    settings = Settings.from_env()
    console = Console(stderr=True, quiet=as_json)
    data = settings.home / "demo"
    _reset(settings)
    timings: dict[str, float] = {"synth": 0.0}
    register = _Register(settings, data, console, timings)
    started = time.perf_counter()
    console.print(f"generating the synthetic prefecture ({persons:,} persons, seed {seed}) …")
    try:
        manifest = generate(
            data, seed=seed, persons=persons, start=dt.date(2020, 4, 1), years=3,
            meanwhile=register,
        )  # fmt: skip
        timings["synth"] = time.perf_counter() - started - timings["import"] - timings["mynumber"]
        engine, second, checkups_job = register.started()
        claims_job = second.submit(fill_claims, str(data))
        care_job = second.submit(fill_care, str(data))
        # The cards' keys and certificates, made by the second process once the lakes are
        # filled, while this one assesses the premiums; registered below, in this one.
        now = dt.datetime.now(dt.UTC)
        minting = second.submit(
            mint_demo_cards, settings.home / "ca", settings.home / "cards", now, _cardless(engine)
        )
        started = time.perf_counter()
        premiums = load_premiums(engine, data, seed, console)
        timings["premiums"] = time.perf_counter() - started
        started = time.perf_counter()
        # The cases are opened once the last year's accounts close, as a clerk would.
        boundary = load_boundary(
            engine, data, manifest, dt.date.fromisoformat(premiums["arrears_on"])
        )
        timings["boundary"] = time.perf_counter() - started
        started = time.perf_counter()
        load_institutions(engine, data / "institutions.csv")
        timings["cards"] = time.perf_counter() - started
        # The register is final for them (what follows adds cards, credentials and accounts,
        # which neither reads): the 実施率 and the scoreboard, in whichever process is free
        # first. The second one if it has made the cards' keys already, else this one once
        # the lakes are filled: the same figures either way, only the seconds differ.
        scoring = second.submit(score_demo, str(data)) if minting.done() else None
        second.shutdown(wait=False)  # the submitted work still runs; the process ends after it
        with console.status("特定健診・レセプト, cards (the lakes and keys, made alongside)"):
            started = time.perf_counter()
            filled, claims, care = checkups_job.result(), claims_job.result(), care_job.result()
            timings["lakes_wait"] = time.perf_counter() - started
            scored = score_demo(str(data)) if scoring is None else None
            started = time.perf_counter()
            minted, timings["cards_mint"] = minting.result()
            timings["cards_wait"] = time.perf_counter() - started
        started = time.perf_counter()
        cards = issue_cards(
            engine, settings.service_key(), settings.home / "ca", settings.home / "cards", now,
            minted=minted,
        )  # fmt: skip
        timings["cards"] += time.perf_counter() - started
        timings["checkups_ingest"] = filled["seconds"]
        timings["claims_ingest"] = claims.pop("seconds")
        timings["care_ingest"] = care.pop("seconds")
    except (FileRejected, ValueError) as rejected:
        # ClaimFileRejected and the incentives' input errors are ValueErrors naming the file.
        fail(f"the synthetic files did not load: {rejected}")
    clinic = _demo_clinic(engine, data)
    started = time.perf_counter()
    accounts = create_demo_accounts(engine)
    checks = sample_checks(
        settings, clinic["institution_code"], Path(clinic["token_file"]).read_text(),
        data / "demo-reader-1.terminal.pem",
    )  # fmt: skip
    timings["dashboard"] = time.perf_counter() - started
    started = time.perf_counter()
    if scored is None:
        assert scoring is not None
        try:
            with console.status("実施率, 保険者努力支援制度 (scored alongside)"):
                scored = scoring.result()
        except ValueError as rejected:  # the incentives' input errors name the file
            fail(f"the synthetic files did not load: {rejected}")
    timings["scores_wait"] = time.perf_counter() - started
    timings["checkups_rates"] = scored["seconds_rates"]
    timings["incentives"] = scored["seconds_incentives"]
    checkups = {"archives": filled["archives"], "documents": filled["documents"]}
    checkups.update(scored["checkups"])
    incentives = scored["incentives"]
    summary = _summary(
        engine, register.applied, register.residents, register.links, manifest, cards.issued
    )
    # The demo's ① 資格喪失 steps end the overlap of the cases it walked.
    walked = boundary["walked"]["decided"] + boundary["walked"]["judged"]
    summary["overlaps"]["resolved_by_boundary_cases"] = walked
    summary["premiums"] = premiums
    summary["boundary"] = boundary
    summary["checkups"] = checkups
    summary["claims"] = claims
    summary["care"] = care
    summary["incentives"] = incentives
    summary["online_checks"] = checks
    summary["dashboard"] = {
        "url": f"http://{host}:{port}/",
        "accounts": [
            {"username": a.username, "password": a.password, "role": a.role,
             "insurer_number": a.insurer_number}
            for a in accounts
        ],
    }  # fmt: skip
    summary["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    summary["clinic"] = clinic
    summary["url"] = f"http://{host}:{port}"
    example = _example(engine, host, port, data)
    summary["example"] = example
    engine.dispose()
    if as_json:
        emit_json(summary)
    else:
        _print(summary)


def _cardless(engine: sa.Engine) -> int:
    """How many persons with a verified My Number link hold no card yet (issue_cards's
    query): the cards to make ahead."""
    links = t.person_mynumbers.c
    with engine.connect() as connection:
        return connection.scalar(
            sa.select(sa.func.count())
            .select_from(t.person_mynumbers)
            .where(~sa.exists().where(v.card_certificates.c.person_id == links.person_id))
        ) or 0  # fmt: skip


class _Register:
    """The register loaded while the synth's child still writes the claims (``generate``'s
    ``meanwhile``): insurers, the change feed, residents and My Number links. The second
    process is started then too, with the checkup lake to fill (its archives are written)."""

    def __init__(
        self, settings: Settings, data: Path, console: Console, timings: dict[str, float]
    ) -> None:
        self._settings, self._data, self._console, self._timings = settings, data, console, timings
        self._engine: sa.Engine | None = None
        self._second: ProcessPoolExecutor | None = None
        self._checkups: Future[dict[str, Any]] | None = None
        self.applied = 0
        self.residents = 0
        self.links: Any = None

    def __call__(self) -> None:
        # Started here, after the synth forked its child: a pool runs threads, and the synth
        # forks only while this process runs one.
        self._second = second_process()
        self._checkups = self._second.submit(fill_checkups, str(self._data))
        settings, data = self._settings, self._data
        self._engine = engine = connect(settings.database_url)
        started = time.perf_counter()
        load_insurers(engine, data / "insurers.csv")
        files = feed_files((data / "changes",))
        with Progress(console=self._console, transient=True) as progress:
            task = progress.add_task("資格異動 (change feed)", total=len(files))
            for report in import_feed(engine, files):
                self.applied += report.applied
                progress.advance(task)
        self._timings["import"] = time.perf_counter() - started
        started = time.perf_counter()
        self.residents = load_residents(
            engine, data / "residents.csv", settings.mynumber_key()
        ).rows
        self.links = link_submissions(
            engine, data / "mynumber_submissions.csv", settings.mynumber_key(), load_good_rows=True
        )
        self._timings["mynumber"] = time.perf_counter() - started

    def started(self) -> tuple[sa.Engine, ProcessPoolExecutor, Future[dict[str, Any]]]:
        """The register's engine, the second process and its checkup job."""
        assert self._engine and self._second and self._checkups, "generate ran no meanwhile"
        return self._engine, self._second, self._checkups


def _reset(settings: Settings) -> None:
    """An empty database, keys kept: the demo is repeatable."""
    url = settings.database_url
    for folder in ("demo", "cards", "ca", "lake"):
        shutil.rmtree(settings.home / folder, ignore_errors=True)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = connect(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def _demo_clinic(engine: sa.Engine, data: Path) -> dict[str, str]:
    """A credential and a face-recognition reader for the first active 医科 clinic."""
    with engine.connect() as connection:
        code, name = connection.execute(
            sa.select(v.institutions.c.institution_code, v.institutions.c.name)
            .where(
                v.institutions.c.status == "active",
                sa.func.substr(v.institutions.c.institution_code, 3, 1) == DEMO_CLINIC_KIND,
            )
            .order_by(v.institutions.c.institution_code)
            .limit(1)
        ).one()
    _, token = issue_credential(engine, label="demo 受付", institution=code)
    token_file = data / "clinic.token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        # A token file left by an earlier run keeps its mode through O_TRUNC: made 0600 here,
        # as the agent refuses a credential file others may read (config.read_secret).
        os.fchmod(handle.fileno(), 0o600)
        handle.write(token)
    reader = Terminal.create("demo-reader-1")
    register_terminal(engine, code, reader.terminal_id, reader.public_key)
    reader.save(data)
    return {"institution_code": code, "name": name, "token_file": str(token_file)}


def _example(engine: sa.Engine, host: str, port: int, data: Path) -> dict[str, Any]:
    c = t.coverages.c
    p = t.persons.c
    today = dt.date.today()
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(c.insurer_number, c.symbol, c.number, c.branch, p.birth_date)
            .join(t.persons, p.person_id == c.person_id)
            .where(c.lost_on.is_(None), c.acquired_on <= today)
            .order_by(c.coverage_id)
            .limit(1)
        ).one()
    body = {
        "insurer_number": row.insurer_number,
        "symbol": row.symbol,
        "number": row.number,
        "branch": row.branch,
        "birth_date": row.birth_date.isoformat(),
        "purpose": "care",
    }
    token_file = data / "clinic.token"
    curl = (
        f"curl -s -X POST http://{host}:{port}/api/v1/checks/number "
        f'-H "Authorization: Bearer $(cat {token_file})" '
        f"-H 'Content-Type: application/json' -d '{json.dumps(body, ensure_ascii=False)}'"
    )
    return {"body": body, "curl": curl}


def _summary(
    engine: sa.Engine, applied: int, residents: int, links: Any, manifest: Any, cards: int
) -> dict[str, Any]:
    today = dt.date.today()
    c = t.coverages.c
    with engine.connect() as connection:

        def count(table: sa.Table) -> int:
            return connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0

        by_kind = {
            kind: n
            for kind, n in connection.execute(
                sa.select(t.insurers.c.kind, sa.func.count())
                .join(t.coverages, c.insurer_number == t.insurers.c.insurer_number)
                .where(c.acquired_on <= today, sa.or_(c.lost_on.is_(None), c.lost_on > today))
                .group_by(t.insurers.c.kind)
            )
        }
        counts = {
            "insurers": count(t.insurers),
            "persons": count(t.persons),
            "coverages": count(t.coverages),
            "events_applied": applied,
            "residents": residents,
            "mynumber_linked": count(t.person_mynumbers),
            "mynumber_in_review": len(review_queue(engine)),
            "cards_issued": cards,
        }
    overlaps = find_overlaps(engine)
    return {
        "counts": counts,
        "current_members_by_insurer_kind": by_kind,
        "overlaps": {
            "found": len(overlaps),
            "still_open": sum(1 for o in overlaps if o.overlap_until is None),
            # The older 資格重複 (filed late) and the retroactive enrolments (資格決定日).
            "planted": manifest.counts.get("overlaps_planted", 0) + len(manifest.retroactive),
        },
        "mynumber": {
            "linked": links.linked,
            "sent_to_review": links.review,
            "rejected_rows": len(links.errors),
        },
    }


def _print(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    click.echo(
        f"register: {counts['insurers']} insurers, {counts['persons']:,} persons, "
        f"{counts['coverages']:,} coverage periods from {counts['events_applied']:,} events"
    )
    kinds = ", ".join(
        f"{k} {v:,}" for k, v in sorted(summary["current_members_by_insurer_kind"].items())
    )
    click.echo(f"current members by insurer kind: {kinds}")
    o = summary["overlaps"]
    click.echo(
        f"overlaps (資格重複): {o['found']} found ({o['planted']} planted), "
        f"{o['still_open']} still open"
    )
    m = summary["mynumber"]
    click.echo(
        f"My Number: {counts['residents']:,} residents; {m['linked']:,} linked (all five "
        f"items matched), {m['sent_to_review']:,} sent to review, "
        f"{m['rejected_rows']} submissions rejected (bad check digit); "
        f"{counts['cards_issued']:,} cards issued"
    )
    k = summary["checkups"]
    click.echo(
        f"特定健診: {k['documents']:,} checkups from {k['archives']} V08 archives in the "
        f"lake; {k['fiscal_year']}年度 市町村国保 実施率 {k['kokuho_examined']:,}/"
        f"{k['kokuho_eligible']:,} = {(k['kokuho_rate'] or 0) * 100:.1f}%"
    )
    print_premiums(summary["premiums"])
    print_boundary(summary["boundary"])
    c = summary["claims"]
    click.echo(
        f"レセプト: {c['claims']:,} claims ({c['lines']:,} lines) from {c['files']} レセ電 files "
        f"in the lake; {c['drugs']} drugs in the master"
    )
    a = summary["care"]
    click.echo(
        f"介護: {a['claims']:,} 介護給付費明細書 from {a['files']} files and "
        f"{a['certifications']:,} 要介護認定 in the care lake"
    )
    i = summary["incentives"]
    points = [m["points"] for m in i["municipalities"]]
    click.echo(
        f"保険者努力支援制度 ({i['fiscal_year']}年度の配点, {i['data_year']}年度の指標): "
        f"{len(points)} 市町 scored, {min(points):g}–{max(points):g} 点 "
        f"(全国平均 {i['national_mean_points'] or 0:.0f}), 交付額 {i['grants_yen']:,}円"
    )
    click.echo("seconds: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    clinic = summary["clinic"]
    click.echo(
        f"demo clinic: {clinic['name']} ({clinic['institution_code']}), "
        f"token in {clinic['token_file']}"
    )
    click.echo("an eligibility check that works (in another terminal):")
    click.echo("  " + summary["example"]["curl"])
    dashboard = summary["dashboard"]
    accounts = dashboard["accounts"]
    click.echo(
        f"dashboard (見える化): {dashboard['url']} — sign in as {accounts[0]['username']} / "
        f"{accounts[0]['password']} (県), or as a municipality "
        f"({', '.join(a['username'] for a in accounts[1:4])} …) / "
        f"{accounts[1]['password'] if len(accounts) > 1 else ''}"
    )
