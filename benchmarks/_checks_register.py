"""bench_checks' register: generated for one run or kept by ``--reuse-dir``, its number-check
bodies and its single-use face-mode card bodies."""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from benchmarks._checks_common import (
    INSTITUTION,
    POSTGRES,
    TERMINAL_ID,
    UNKNOWN_SHARE,
    WRK_THREADS,
    BenchError,
    log,
)
from benchmarks._fill import VALID_INSURERS, fill, member
from benchmarks._register_cache import (
    CacheKey,
    database_url,
    discard,
    migration_head,
    prepare,
    reset,
    snapshot,
    write_ready,
)
from kokuho.config import Settings
from kokuho.registry import tables as r
from kokuho.store import bulk_insert, connect
from kokuho.verify import (
    Card,
    CardAuthority,
    Terminal,
    issue_cards,
    issue_credential,
    load_institutions,
    register_terminal,
)
from kokuho.verify._cards import write_crl


@dataclass
class Register:
    persons: int
    home: Path
    url: str
    env: dict[str, str]
    token: str
    terminal: Terminal
    card_pems: list[bytes]
    numbers: list[dict[str, Any]]
    schema: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: Set for a ``--reuse-dir`` register: the state ``release_register`` resets it to.
    pristine: dict[str, Any] | None = None
    reused: bool = False


def _database(backend: str, home: Path, persons: int) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{home / 'kokuho.db'}", None
    # Several runs may share the server (helpers, CI): KOKUHO_BENCH_SCHEMA names their own.
    schema = f"{os.environ.get('KOKUHO_BENCH_SCHEMA', 'kokuho_bench_checks')}_{persons}"
    admin = sa.create_engine(POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as error:
        raise BenchError(f"PostgreSQL at {POSTGRES} is not reachable: {error}") from None
    finally:
        admin.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str | None) -> None:
    if schema is None:
        return
    admin = sa.create_engine(POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def build_register(persons: int, backend: str, workdir: Path, cards: int,
                   number_bodies: int) -> Register:  # fmt: skip
    """A register for this run only, in ``workdir`` (and a schema dropped afterwards)."""
    home = workdir / f"home_{persons}"
    home.mkdir(parents=True)
    url, schema = _database(backend, home, persons)
    try:
        reg, _ = generate(persons, home, url, cards, number_bodies)
    except BaseException:
        drop_schema(schema)
        raise
    reg.schema = schema
    return reg


def _environment(home: Path, url: str) -> tuple[dict[str, str], Settings]:
    key_file = home / "secrets" / "service.key"
    settings = Settings(home=home, database_url=url, mynumber_key_file=home / "secrets" / "mn.key",
                        service_key_file=key_file)  # fmt: skip
    # A check-only service node, as in docs/operations.md: no dashboard warm-up (over 10 M
    # persons each worker's register overview took half its CPU for the whole run).
    env = {**os.environ, "KOKUHO_HOME": str(home), "KOKUHO_DATABASE_URL": url,
           "KOKUHO_SERVICE_KEY_FILE": str(key_file),
           "KOKUHO_DASHBOARD_WARM_UP": os.environ.get("KOKUHO_DASHBOARD_WARM_UP", "0")}  # fmt: skip
    return env, settings


def _card_pems(home: Path) -> list[bytes]:
    with (home / "cards" / "index.csv").open(encoding="utf-8", newline="") as handle:
        files = [row["card_file"] for row in csv.DictReader(handle)]
    return [Card.load(home / "cards" / name).certificate_pem for name in files]


def generate(persons: int, home: Path, url: str, cards: int,
             number_bodies: int) -> tuple[Register, bytes]:  # fmt: skip
    """Writes the register into ``url`` (an empty database) and ``home``; returns it and the
    reader's raw private key (kept by ``--reuse-dir`` to sign attestations on later runs)."""
    env, settings = _environment(home, url)
    timings: dict[str, float] = {}
    engine = connect(url)
    try:
        started = time.perf_counter()
        fill(engine, persons, seed=persons, insurers=VALID_INSURERS)
        timings["fill_seconds"] = time.perf_counter() - started
        log(f"register of {persons:,} persons written in {timings['fill_seconds']:.1f} s")

        started = time.perf_counter()
        institutions_csv = home / "institutions.csv"
        institutions_csv.write_text(
            f"institution_code,name,status,online_since\n{INSTITUTION},ベンチ診療所,active,"
            "2023-04-01\n",
            encoding="utf-8",
        )
        load_institutions(engine, institutions_csv)
        _, token = issue_credential(engine, label="bench_checks", institution=INSTITUTION)
        rng = random.Random(persons)
        linked = rng.sample(range(1, persons + 1), min(cards, persons))
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as connection:
            bulk_insert(connection, r.person_mynumbers,
                        ["person_id", "mynumber_hmac", "resident_id", "verified_at", "request_id"],
                        [(pid, hashlib.sha256(f"bench-mynumber-{pid}".encode()).hexdigest(),
                          f"R{pid}", now, i + 1) for i, pid in enumerate(linked)])  # fmt: skip
        issued = issue_cards(engine, settings.service_key(), home / "ca", home / "cards", now)
        reader_key = ed25519.Ed25519PrivateKey.generate()
        terminal = Terminal(TERMINAL_ID, reader_key)
        register_terminal(engine, INSTITUTION, terminal.terminal_id, terminal.public_key)
        timings["cards_seconds"] = time.perf_counter() - started
        log(f"{issued.issued:,} cards issued, institution, credential and reader registered "
            f"in {timings['cards_seconds']:.1f} s")  # fmt: skip

        pems = _card_pems(home)
        if cards and len(pems) != cards:
            raise BenchError(f"expected {cards} cards, found {len(pems)}")
        numbers = _number_pool(engine, persons, number_bodies, rng)
    finally:
        engine.dispose()
    raw = reader_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    reg = Register(persons, home, url, env, token, terminal, pems, numbers, None, timings)
    return reg, raw


def reused_register(root: Path, persons: int, backend: str, cards: int, number_bodies: int,
                    upgrade: bool) -> Register:  # fmt: skip
    """The register of ``--reuse-dir``: generated once into ``root/<key>`` (see
    ``_register_cache``), then reset to its generated state and reused by every run."""
    key = CacheKey("checks", backend, persons, cards, migration_head())
    folder = root / key.name
    home = folder / "home"
    url = database_url(key, folder, POSTGRES)
    try:
        meta = prepare(root, key, POSTGRES, upgrade)
    except sa.exc.OperationalError as error:
        raise BenchError(f"PostgreSQL at {POSTGRES} is not reachable: {error}") from None
    numbers_file = folder / "numbers.json"
    if meta is None:
        log(f"--reuse-dir: generating {key.name}")
        started = time.perf_counter()
        try:
            reg, raw = generate(persons, home, url, cards, number_bodies)
            numbers_file.write_text(json.dumps(reg.numbers, ensure_ascii=False), encoding="utf-8")
            engine = connect(url)
            try:
                pristine = snapshot(engine)
            finally:
                engine.dispose()
            seconds = round(time.perf_counter() - started, 1)
            write_ready(folder, {
                "key": asdict(key), "token": reg.token, "reader_key": raw.hex(),
                "timings": reg.timings, "generated_seconds": seconds, "pristine": pristine,
                "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})  # fmt: skip
        except BaseException:
            with contextlib.suppress(Exception):
                discard(root, key, POSTGRES)
            raise
        log(f"--reuse-dir: {key.name} generated in {seconds} s and kept")
        reg.timings["generated_seconds"] = seconds
        reg.pristine = pristine
        return reg
    started = time.perf_counter()
    engine = connect(url)
    try:
        deleted = reset(engine, meta["pristine"])
        numbers: list[dict[str, Any]] = json.loads(numbers_file.read_text(encoding="utf-8"))
        if len(numbers) != number_bodies:
            numbers = _number_pool(engine, persons, number_bodies, random.Random(persons))
    finally:
        engine.dispose()
    # The revocation list lives a week (CRL_LIFETIME): publish a fresh one, as an operator would,
    # or the card checks of a register kept longer would fail on a stale list.
    write_crl(CardAuthority.load(home / "ca"), home / "ca", dt.datetime.now(dt.UTC))
    env, _ = _environment(home, url)
    reader_key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(meta["reader_key"]))
    timings = {**meta["timings"], "generated_seconds": meta["generated_seconds"],
               "reuse_seconds": time.perf_counter() - started,
               "prewarm_seconds": _prewarm(home / "kokuho.db", url)}  # fmt: skip
    log(f"--reuse-dir: {key.name} reused (generated {meta['generated_at']} in "
        f"{meta['generated_seconds']} s; reset deleted {deleted or 'nothing'})")  # fmt: skip
    return Register(persons, home, url, env, meta["token"], Terminal(TERMINAL_ID, reader_key),
                    _card_pems(home), numbers, None, timings, meta["pristine"], True)  # fmt: skip


_PREWARM_SCHEMA = (
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'pg_prewarm'"
)


def _prewarm(database: Path, url: str) -> float:
    """Reads a reused register into the OS page cache, as a register written in the same run
    would be (a cold 3 GB file makes the first seconds' reads disk seeks; a 10 M PostgreSQL
    register evicted by other work answered a tenth of its warm rate, the server idle on the
    disk). SQLite: the file, read once. PostgreSQL: every table and index of the register's
    schema through ``pg_prewarm`` in mode ``read`` (through the OS cache: shared_buffers is
    small), as a service that has run for a while finds them."""
    started = time.perf_counter()
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                # Once per database, in whichever schema it was made first: call it there.
                where = connection.exec_driver_sql(_PREWARM_SCHEMA).scalar()
                if where is None:
                    connection.exec_driver_sql("CREATE EXTENSION pg_prewarm SCHEMA public")
                    where = "public"
                connection.exec_driver_sql(
                    f"SELECT \"{where}\".pg_prewarm(c.oid, 'read') FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')"
                )
        finally:
            engine.dispose()
    elif database.exists():
        with database.open("rb", buffering=0) as handle:
            while handle.read(16 << 20):
                pass
    return time.perf_counter() - started


def release_register(reg: Register) -> None:
    """After the size's runs: a reused register back to its generated state, a temporary one
    dropped."""
    if reg.pristine is None:
        drop_schema(reg.schema)
        shutil.rmtree(reg.home, ignore_errors=True)
        return
    engine = connect(reg.url)
    try:
        reset(engine, reg.pristine)
    finally:
        engine.dispose()


def _number_pool(engine: sa.Engine, persons: int, size: int,
                 rng: random.Random) -> list[dict[str, Any]]:  # fmt: skip
    """Number-check bodies for random persons with their true birth dates, and about 5 % for
    numbers nobody holds (those answer 4, 該当資格なし)."""
    unknown = round(size * UNKNOWN_SHARE)
    wanted = rng.sample(range(1, persons + 1), min(size - unknown, persons))
    c, p = r.coverages.c, r.persons.c
    bodies: list[dict[str, Any]] = []
    with engine.connect() as connection:
        for start in range(0, len(wanted), 5000):
            rows = connection.execute(
                sa.select(c.insurer_number, c.symbol, c.number, c.branch, p.birth_date)
                .join(r.persons, p.person_id == c.person_id)
                .where(c.person_id.in_(wanted[start : start + 5000]))
            )
            bodies += [_number_body(row.insurer_number, row.symbol, row.number, row.branch,
                                    row.birth_date) for row in rows]  # fmt: skip
    for k in range(unknown):
        insurer, symbol, number, branch = member(persons + 1 + k, VALID_INSURERS)
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(33000))
        bodies.append(_number_body(insurer, symbol, number, branch, birth))
    rng.shuffle(bodies)
    return bodies


def _number_body(insurer: str, symbol: str, number: str, branch: str,
                 birth: dt.date) -> dict[str, Any]:  # fmt: skip
    return {"insurer_number": insurer, "symbol": symbol, "number": number, "branch": branch,
            "birth_date": birth.isoformat(), "purpose": "care"}  # fmt: skip


def write_number_files(folder: Path, numbers: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for tid in range(WRK_THREADS):
        with (folder / f"number_{tid}.jsonl").open("w", encoding="utf-8") as handle:
            for body in numbers[tid::WRK_THREADS]:
                handle.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")


def card_body(terminal: Terminal, pem: bytes, now: dt.datetime) -> str:
    attestation = terminal.attest(pem, INSTITUTION, now)
    body = {
        "certificate_pem": pem.decode(),
        "attestation": {
            "terminal_id": attestation.terminal_id,
            "fingerprint": attestation.fingerprint,
            "institution_code": attestation.institution_code,
            "issued_at": attestation.issued_at.isoformat(),
            "nonce": base64.b64encode(attestation.nonce).decode(),
            "signature": base64.b64encode(attestation.signature).decode(),
        },
        "purpose": "care",
    }
    return json.dumps(body, separators=(",", ":"))


def write_card_files(folder: Path, reg: Register, per_thread: int, rng: random.Random) -> float:
    """One fresh single-use attestation per expected card request, each thread its own file.
    Returns the seconds it took."""
    started = time.perf_counter()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC)
    for tid in range(WRK_THREADS):
        with (folder / f"card_{tid}.jsonl").open("w", encoding="utf-8") as handle:
            if reg.card_pems:
                for _ in range(per_thread):
                    handle.write(card_body(reg.terminal, rng.choice(reg.card_pems), now) + "\n")
    return time.perf_counter() - started
