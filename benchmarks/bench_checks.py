"""Eligibility-check load benchmark: the real server over HTTP on loopback, closed loop.

    .venv/bin/python benchmarks/bench_checks.py [--persons 1000000,10000000]
        [--backend sqlite|postgres] [--duration 30] [--connections 32] [--workers 1[,2]]
        [--card-share 0.2] [--cards 5000] [--out benchmarks/out/checks.json]
        [--reuse-dir DIR [--prepare-only] [--no-reuse-upgrade]]

For each register size: a register of N persons written in bulk (``_fill``) in a temporary
KOKUHO_HOME, one active institution, its credential and face-recognition reader, ``--cards``
persons with a verified My Number link and an issued card. Then, for each worker count:

* the service (``uvicorn kokuho.web:create_app``) in its own process group, under wrk
  (``checks.lua``: mixed number checks, 5 % of them for unknown numbers, and face-mode card
  checks with single-use attestations made just before the run); afterwards the audit log
  must hold a record for every 2xx answer and ``kokuho audit verify`` must say OK;
* the same stack answering a constant (``constant_app.py``), same flags, same wrk run, back
  to back: ratio = service rps / constant rps.

Then the kill test on the last size: load for ``--kill-duration`` s, ``kill -9`` of the
server's process group half-way, every 2xx answer must have its audit record, the chain must
verify, and a restarted server must answer again. Writes ``--out`` and prints a summary.

``--reuse-dir DIR`` keeps each generated register in DIR and reuses it, reset to its generated
state (``_register_cache``: the key, the reset, a newer migration head); ``--prepare-only``
generates or checks the registers and measures nothing. The JSON says per size whether the
register was reused and how long its generation took.

Goals (docs: Performance budget): >= 5,000 checks/s, p99 <= 20 ms, ratio >= 50 %, audit for
every answer, nothing lost on kill, p50 flat from 1 M to 10 M persons.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import datetime as dt
import hashlib
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

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
from kokuho.verify import tables as v
from kokuho.verify._cards import write_crl

try:  # run as a script (benchmarks/ on sys.path) or as benchmarks.bench_checks
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
except ImportError:
    from _fill import VALID_INSURERS, fill, member  # type: ignore[no-redef]
    from _register_cache import (  # type: ignore[no-redef]
        CacheKey,
        database_url,
        discard,
        migration_head,
        prepare,
        reset,
        snapshot,
        write_ready,
    )

HERE = Path(__file__).resolve().parent
LUA = HERE / "checks.lua"
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get(
    "KOKUHO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
INSTITUTION = "3710112347"  # a valid 10-digit 医療機関コード (香川, 医科)
TERMINAL_ID = "bench-reader-1"
WRK_THREADS = 2
UNKNOWN_SHARE = 0.05
CHECK_ACTIONS = ("check_number", "check_card_face")
ATTESTATION_WINDOW_S = 120  # verify_face_mode's window: a card body must be used within it
GOALS = {"rps": 5000, "p99_ms": 20.0, "ratio": 0.5}


class BenchError(RuntimeError):
    """A step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A uvicorn process group of our own; every one started is stopped by ``stop_all``."""

    running: list[Server] = []

    def __init__(self, name: str, app: list[str], env: dict[str, str], workers: int,
                 stack: list[str], log_path: Path) -> None:  # fmt: skip
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = server_command(app, self.port, workers, stack)
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pgid = self.process.pid  # start_new_session: the leader's pid is the group id
        Server.running.append(self)

    def wait_ready(self, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.process.returncode} before answering:\n"
                    + self.log_tail()
                )
            health = self.url + "/api/v1/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer /api/v1/health in {timeout:.0f} s")

    def kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_group(signal.SIGKILL)
                self.process.wait(timeout=10)
        self.kill_group(signal.SIGKILL)  # workers left behind by a killed supervisor
        self._log.close()
        if self in Server.running:
            Server.running.remove(self)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def error_sample(self, limit: int = 5) -> list[str]:
        """Distinct exception lines from the server log (uvicorn logs tracebacks)."""
        self._log.flush()
        found: list[str] = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = line.strip()
            if ("Error" in text or "Exception" in text) and not text.startswith("File "):
                if text not in found:
                    found.append(text[:300])
                if len(found) >= limit:
                    break
        return found

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.running):
            with contextlib.suppress(Exception):
                server.stop()


def server_command(app: list[str], port: int, workers: int, stack: list[str]) -> list[str]:
    """The server's command line: uvicorn, or granian when ``stack`` starts with "granian".
    ``app`` is uvicorn's: the factory, ``--factory`` and optionally ``--app-dir DIR``."""
    if stack[:1] != ["granian"]:
        return [str(BIN / "uvicorn"), *app, "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--log-level", "warning", *stack]  # fmt: skip
    folder = app[app.index("--app-dir") + 1] if "--app-dir" in app else None
    return [str(BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--log-level", "warning",
            *(["--working-dir", folder] if folder else []), *stack[1:], app[0]]  # fmt: skip


def stack_flags(choice: str, env: dict[str, str]) -> tuple[list[str], str]:
    """uvicorn's loop and HTTP parser, always explicit (its ``auto`` would pick them up
    silently)."""
    probe = subprocess.run([sys.executable, "-c", "import uvloop, httptools"], env=env,
                           capture_output=True, timeout=60, check=False)  # fmt: skip
    available = probe.returncode == 0
    if choice == "on" and not available:
        raise BenchError("--fast-stack on: uvloop and httptools are not importable")
    if choice == "on" or (choice == "auto" and available):
        return ["--loop", "uvloop", "--http", "httptools"], "uvloop+httptools"
    return ["--loop", "asyncio", "--http", "h11"], "asyncio+h11"


# -- the register -----------------------------------------------------------------------------


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
    schema = f"kokuho_bench_checks_{persons}"
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
               "prewarm_seconds": _prewarm(home / "kokuho.db")}  # fmt: skip
    log(f"--reuse-dir: {key.name} reused (generated {meta['generated_at']} in "
        f"{meta['generated_seconds']} s; reset deleted {deleted or 'nothing'})")  # fmt: skip
    return Register(persons, home, url, env, meta["token"], Terminal(TERMINAL_ID, reader_key),
                    _card_pems(home), numbers, None, timings, meta["pristine"], True)  # fmt: skip


def _prewarm(database: Path) -> float:
    """Reads a reused SQLite file once, so that it is in the page cache as a register written
    in the same run would be (a cold 3 GB file makes the first seconds' reads disk seeks).
    PostgreSQL's files are not ours to read; nothing is done there."""
    started = time.perf_counter()
    if database.exists():
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


# -- wrk --------------------------------------------------------------------------------------


def start_wrk(url: str, numbers: Path, cards: Path, token: str, share: float, seconds: float,
              connections: int) -> subprocess.Popen[str]:  # fmt: skip
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s", "-s", str(LUA), url, "--", str(numbers), str(cards), token,
               f"{share:g}"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(process: subprocess.Popen[str], seconds: float) -> dict[str, Any]:
    try:
        out, err = process.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BenchError("wrk did not finish in time") from None
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}): {err.strip() or out[-2000:]}")
    line = next((x for x in out.splitlines() if x.startswith('{"kokuho_wrk"')), None)
    if line is None:
        raise BenchError(f"wrk printed no result line:\n{out[-2000:]}\n{err[-2000:]}")
    raw = json.loads(line)["kokuho_wrk"]
    statuses = {int(k): n for k, n in raw["status"].items()}
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    seconds_run = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    sent = raw["sent"]
    total_sent = sent["number"] + sent["card"]
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "rps_2xx": round(ok / seconds_run, 1),
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "p999_ms": round(lat["p999"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
        "ok_2xx": ok,
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "status": {str(k): n for k, n in sorted(statuses.items())},
        "validity": raw["validity"],
        "socket_errors": raw["errors"],
        "sent": sent,
        "card_share_sent": round(sent["card"] / total_sent, 3) if total_sent else 0.0,
        "seconds": round(seconds_run, 2),
    }


def run_wrk(url: str, numbers: Path, cards: Path, token: str, share: float, seconds: float,
            connections: int) -> dict[str, Any]:  # fmt: skip
    return finish_wrk(start_wrk(url, numbers, cards, token, share, seconds, connections), seconds)


# -- audit ------------------------------------------------------------------------------------


def audit_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    sa.select(sa.func.count())
                    .select_from(v.audit_log)
                    .where(v.audit_log.c.action.in_(CHECK_ACTIONS))
                )
                or 0
            )
    finally:
        engine.dispose()


def audit_verify(env: dict[str, str]) -> dict[str, Any]:
    kokuho = BIN / "kokuho"
    if not kokuho.exists():
        raise BenchError(f"{kokuho} not found: run from the project's virtualenv")
    started = time.perf_counter()
    done = subprocess.run([str(kokuho), "audit", "verify", "--json"], env=env,
                          capture_output=True, text=True, timeout=1800, check=False)  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {"ok": False, "problem": (done.stderr or done.stdout).strip()[-500:]}
    return {"ok": done.returncode == 0 and bool(report.get("ok")), "records": report.get("records"),
            "problem": report.get("problem"),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


# -- CPU accounting --------------------------------------------------------------------------


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of the live processes of a process group (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields[2] is pgrp
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_cpu_seconds() -> tuple[float, float]:
    """(all, idle + iowait) CPU seconds of the machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields) / os.sysconf("SC_CLK_TCK"), (fields[3] + fields[4]) / os.sysconf(
        "SC_CLK_TCK"
    )


class CpuMeter:
    """Where the machine's CPU went during a run: the server's process group, wrk (a reaped
    child: RUSAGE_CHILDREN), and everything else. On a shared machine "others" tells how much
    of the figure the other work took; ms per request is the figure least moved by it."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.server = _group_cpu_seconds(pgid)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children = usage.ru_utime + usage.ru_stime
        self.machine = _machine_cpu_seconds()

    def read(self, requests: int) -> dict[str, float]:
        server = _group_cpu_seconds(self.pgid) - self.server
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = usage.ru_utime + usage.ru_stime - self.children
        total, idle = (a - b for a, b in zip(_machine_cpu_seconds(), self.machine, strict=True))
        cores = os.cpu_count() or 1
        wall = total / cores
        busy = total - idle
        return {
            "server_cores": round(server / wall, 2) if wall else 0.0,
            "wrk_cores": round(client / wall, 2) if wall else 0.0,
            "other_cores": round(max(busy - server - client, 0.0) / wall, 2) if wall else 0.0,
            "idle_cores": round(idle / wall, 2) if wall else 0.0,
            "server_ms_per_request": round(1000 * server / requests, 3) if requests else 0.0,
        }


# -- one measurement --------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    warmup: float
    connections: int
    card_share: float
    stack: list[str]
    max_rps_guess: float
    kill_duration: float


def card_bodies_needed(rps: float, share: float, seconds: float) -> int:
    """Per wrk thread, with a margin: three times the expected count (the run may go faster than
    its warm-up, and wrk threads need not share the load evenly)."""
    return math.ceil(rps * 3 * share * seconds / WRK_THREADS) + 200 if share > 0 else 0


def measure(kind: str, reg: Register, workers: int, opts: Options, workdir: Path,
            rng: random.Random) -> dict[str, Any]:  # fmt: skip
    """One warmed-up wrk run against the service or the constant baseline."""
    if kind == "service":
        app = ["kokuho.web:create_app", "--factory"]
    else:
        app = ["constant_app:create_app", "--factory", "--app-dir", str(HERE)]
    run_dir = workdir / f"run_{reg.persons}_{kind}_{workers}"
    numbers = workdir / f"numbers_{reg.persons}"
    server = Server(kind, app, reg.env, workers, opts.stack, run_dir.with_suffix(".log"))
    try:
        ready = server.wait_ready()
        per_thread = card_bodies_needed(opts.max_rps_guess, opts.card_share, opts.warmup)
        write_card_files(run_dir / "warm", reg, per_thread, rng)
        warm = run_wrk(server.url, numbers, run_dir / "warm", reg.token, opts.card_share,
                       opts.warmup, opts.connections)  # fmt: skip
        per_thread = card_bodies_needed(max(warm["rps"], 200), opts.card_share, opts.duration)
        made = write_card_files(run_dir / "cards", reg, per_thread, rng)
        if made + opts.duration > ATTESTATION_WINDOW_S - 10:
            raise BenchError(f"attestations took {made:.0f} s to make: with --duration "
                             f"{opts.duration:g} the last ones would be stale")  # fmt: skip
        before = audit_count(reg.url) if kind == "service" else 0
        meter = CpuMeter(server.pgid)
        result = run_wrk(server.url, numbers, run_dir / "cards", reg.token, opts.card_share,
                         opts.duration, opts.connections)  # fmt: skip
        result["cpu"] = meter.read(result["requests"])
        result["startup_seconds"] = round(ready, 2)
        result["warmup_rps"] = warm["rps"]
        result["card_bodies_seconds"] = round(made, 2)
        if result["non_2xx"] or warm["non_2xx"]:
            result["server_errors"] = server.error_sample()
    finally:
        server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    if kind == "service":
        result["audit_new"] = audit_count(reg.url) - before
        result["audit_verify"] = audit_verify(reg.env)
        result["audit_ok"] = (
            result["audit_new"] >= result["ok_2xx"] and result["audit_verify"]["ok"]
        )
    return result


def kill_test(reg: Register, workers: int, opts: Options, workdir: Path, rng: random.Random,
              rps_guess: float) -> dict[str, Any]:  # fmt: skip
    """kill -9 of the server's process group half-way through a load run."""
    run_dir = workdir / f"kill_{reg.persons}"
    numbers = workdir / f"numbers_{reg.persons}"
    app = ["kokuho.web:create_app", "--factory"]
    server = Server("service", app, reg.env, workers, opts.stack, run_dir.with_suffix(".log"))
    result: dict[str, Any] = {"workers": workers, "duration_s": opts.kill_duration}
    try:
        server.wait_ready()
        per_thread = card_bodies_needed(rps_guess, opts.card_share, opts.kill_duration)
        write_card_files(run_dir / "cards", reg, per_thread, rng)
        before = audit_count(reg.url)
        wrk = start_wrk(server.url, numbers, run_dir / "cards", reg.token, opts.card_share,
                        opts.kill_duration, opts.connections)  # fmt: skip
        started = time.monotonic()
        time.sleep(opts.kill_duration / 2)
        server.kill_group(signal.SIGKILL)
        result["killed_at_s"] = round(time.monotonic() - started, 2)
        server.process.wait(timeout=10)
        load = finish_wrk(wrk, opts.kill_duration)
    finally:
        server.stop()
    result.update({k: load[k] for k in ("requests", "ok_2xx", "non_2xx", "status",
                                        "socket_errors")})  # fmt: skip
    result["audit_new"] = audit_count(reg.url) - before
    result["nothing_lost"] = result["audit_new"] >= load["ok_2xx"]
    result["audit_verify"] = audit_verify(reg.env)
    # A restarted server must answer a number check and a card check again.
    server = Server("service", app, reg.env, workers, opts.stack, run_dir.with_suffix(".2.log"))
    try:
        result["restart_seconds"] = round(server.wait_ready(), 2)
        number = json.dumps(next(b for b in reg.numbers if not _unknown(b, reg.persons)))
        status, answer = _post(server.url + "/api/v1/checks/number", number, reg.token)
        result["restart_number_status"] = status
        if status != 200:
            result["restart_number_answer"] = answer
        if reg.card_pems:
            body = card_body(reg.terminal, reg.card_pems[0], dt.datetime.now(dt.UTC))
            status, answer = _post(server.url + "/api/v1/checks/card", body, reg.token)
            result["restart_card_status"] = status
            if status != 200:
                result["restart_card_answer"] = answer
    finally:
        server.stop()
    result["ok"] = bool(
        result["nothing_lost"] and result["audit_verify"]["ok"] and load["ok_2xx"] > 0
        and result["restart_number_status"] == 200
        and result.get("restart_card_status", 200) == 200
    )  # fmt: skip
    return result


def _unknown(body: dict[str, Any], persons: int) -> bool:
    return int(body["number"]) > persons


def _post(url: str, body: str, token: str) -> tuple[int, str]:
    """POSTs one check; returns the status and the start of the answer."""
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status: int = answer.status
            return status, answer.read(300).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(300).decode(errors="replace")


# -- main -------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("uvicorn", "fastapi", "starlette", "pydantic", "sqlalchemy", "psycopg"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    found["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else ""
    return found


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(run[key] for run in runs)), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", default="1000000,10000000", help="register sizes")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=float, default=30, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1", help="uvicorn processes, e.g. 1 or 1,2")
    parser.add_argument("--card-share", type=float, default=0.2)
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--number-bodies", type=int, default=100_000,
                        help="distinct number-check bodies")  # fmt: skip
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="service/constant pairs per size and worker count (medians)",
    )
    parser.add_argument(
        "--fast-stack",
        choices=["auto", "on", "off"],
        default="auto",
        help="uvicorn --loop uvloop --http httptools (auto: if importable)",
    )
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn",
                        help="the ASGI server for both the service and the constant")  # fmt: skip
    parser.add_argument("--kill-duration", type=float, default=8, help="0 skips the kill test")
    parser.add_argument("--kill-workers", type=int, help="default: the first --workers value")
    parser.add_argument("--max-rps-guess", type=float, default=10_000,
                        help="sizes the warm-up's card bodies")  # fmt: skip
    parser.add_argument(
        "--workdir",
        type=Path,
        default=os.environ.get("KOKUHO_BENCH_DIR"),
        help="parent of the temporary homes (default: the system temp)",
    )
    parser.add_argument(
        "--reuse-dir",
        type=Path,
        default=os.environ.get("KOKUHO_BENCH_REUSE_DIR"),
        help="keep each generated register here and reuse it (keyed by persons, backend, "
        "cards, migration head and generator version); reset to its generated state each run",
    )
    parser.add_argument(
        "--no-reuse-upgrade",
        action="store_true",
        help="with --reuse-dir: generate anew when the migration head moved, instead of "
        "migrating the register kept at the older head",
    )
    parser.add_argument("--prepare-only", action="store_true",
                        help="with --reuse-dir: generate (or check) the registers, measure "
                        "nothing")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "out" / "checks.json")
    args = parser.parse_args()

    sizes = [int(s) for s in args.persons.split(",") if s.strip()]
    workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    problems = []
    if not sizes or min(sizes) < 1000:
        problems.append("--persons: sizes of at least 1000")
    if not workers or min(workers) < 1:
        problems.append("--workers: at least 1")
    if not 0 <= args.card_share <= 1:
        problems.append("--card-share: between 0 and 1")
    if args.card_share > 0 and args.cards < 1:
        problems.append("--cards: at least 1 when --card-share > 0")
    if not 1 <= args.duration <= 90:
        problems.append("--duration: 1–90 s (face attestations are valid for 120 s)")
    if not (BIN / "uvicorn").exists() or not (BIN / "kokuho").exists():
        problems.append(f"uvicorn and kokuho not found in {BIN}: run with the project's .venv")
    if shutil.which("wrk") is None:
        problems.append("wrk is not installed (apt-get install -y wrk)")
    if args.prepare_only and args.reuse_dir is None:
        problems.append("--prepare-only needs --reuse-dir")
    if problems:
        parser.error("; ".join(problems))

    stack, stack_name = stack_flags(args.fast_stack, dict(os.environ))
    if args.server == "granian":
        if not (BIN / "granian").exists():
            parser.error(f"--server granian: granian not found in {BIN} (pip install granian)")
        stack, stack_name = ["granian", "--loop", "uvloop", "--http", "1"], "granian+uvloop"
    opts = Options(args.duration, args.warmup, args.connections, args.card_share, stack,
                   args.max_rps_guess, args.kill_duration)  # fmt: skip
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": _versions(),
        },
        "config": {
            "backend": args.backend,
            "persons": sizes,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": WRK_THREADS,
            "workers": workers,
            "card_share": args.card_share,
            "cards": args.cards,
            "number_bodies": args.number_bodies,
            "unknown_share": UNKNOWN_SHARE,
            "rounds": args.rounds,
            "stack": stack_name,
            "reuse_dir": str(args.reuse_dir) if args.reuse_dir else None,
        },
        "goals": GOALS,
        "sizes": [],
    }
    rng = random.Random(2026)
    failed = False
    schema: str | None = None
    with tempfile.TemporaryDirectory(prefix="bench_checks_", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        try:
            for index, persons in enumerate(sizes):
                bodies = min(args.number_bodies, persons)
                if args.reuse_dir is None:
                    reg = build_register(persons, args.backend, workdir, args.cards, bodies)
                else:
                    upgrade = not args.no_reuse_upgrade
                    reg = reused_register(args.reuse_dir.resolve(), persons, args.backend,
                                          args.cards, bodies, upgrade)  # fmt: skip
                schema = reg.schema
                if args.prepare_only:
                    results["sizes"].append({"persons": persons, "register_reused": reg.reused,
                                             **{k: round(s, 1) for k, s in reg.timings.items()},
                                             "by_workers": {}})  # fmt: skip
                    release_register(reg)
                    continue
                write_number_files(workdir / f"numbers_{persons}", reg.numbers)
                entry: dict[str, Any] = {
                    "persons": persons,
                    "register_reused": reg.reused,
                    **{k: round(s, 1) for k, s in reg.timings.items()},
                    "by_workers": {},
                }
                for w in workers:
                    service_runs, constant_runs = [], []
                    for _ in range(args.rounds):
                        log(f"{persons:,} persons, {w} worker(s): service")
                        service_runs.append(measure("service", reg, w, opts, workdir, rng))
                        log(_line("service", service_runs[-1]))
                        log(f"{persons:,} persons, {w} worker(s): constant baseline")
                        constant_runs.append(measure("constant", reg, w, opts, workdir, rng))
                        log(_line("constant", constant_runs[-1]))
                    entry["by_workers"][str(w)] = _summarise(service_runs, constant_runs)
                results["sizes"].append(entry)
                last = index == len(sizes) - 1
                if last and args.kill_duration > 0:
                    kw = args.kill_workers or workers[0]
                    guess = entry["by_workers"].get(str(kw), {}).get("rps") or args.max_rps_guess
                    log(f"kill test: {kw} worker(s), kill -9 at {args.kill_duration / 2:g} s")
                    results["kill_test"] = kill_test(reg, kw, opts, workdir, rng, guess)
                    log(f"kill test: {_kill_line(results['kill_test'])}")
                release_register(reg)
                schema = None
                shutil.rmtree(workdir / f"numbers_{persons}", ignore_errors=True)
        except BenchError as error:
            failed = True
            results["error"] = str(error)
            print(f"bench_checks: {error}", file=sys.stderr)
        finally:
            Server.stop_all()
            with contextlib.suppress(Exception):
                drop_schema(schema)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    _flatness(results)
    _judge(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    _print_summary(results, args.out)
    return 1 if failed else 0


def _summarise(service: list[dict[str, Any]], constant: list[dict[str, Any]]) -> dict[str, Any]:
    rps, constant_rps = _median(service, "rps"), _median(constant, "rps")
    ms = statistics.median(run["cpu"]["server_ms_per_request"] for run in service)
    constant_ms = statistics.median(run["cpu"]["server_ms_per_request"] for run in constant)
    return {
        "rps": rps,
        "p50_ms": _median(service, "p50_ms"),
        "p99_ms": _median(service, "p99_ms"),
        "non_2xx": sum(run["non_2xx"] for run in service),
        "audit_ok": all(run["audit_ok"] for run in service),
        "constant_rps": constant_rps,
        "constant_p50_ms": _median(constant, "p50_ms"),
        "constant_p99_ms": _median(constant, "p99_ms"),
        "ratio": round(rps / constant_rps, 3) if constant_rps else None,
        "server_ms_per_request": ms,
        "constant_ms_per_request": constant_ms,
        # The same ratio from CPU per request: what the ratio would be if both runs had had
        # the same CPU, which a shared machine does not give.
        "cpu_ratio": round(constant_ms / ms, 3) if ms else None,
        "other_cores": round(max(r["cpu"]["other_cores"] for r in service + constant), 2),
        "service_runs": service,
        "constant_runs": constant,
    }


def _flatness(results: dict[str, Any]) -> None:
    sizes = results["sizes"]
    if len(sizes) < 2:
        return
    first, last = sizes[0], sizes[-1]
    results["flatness_p50_ratio"] = {
        w: round(last["by_workers"][w]["p50_ms"] / first["by_workers"][w]["p50_ms"], 2)
        for w in first["by_workers"]
        if w in last["by_workers"] and first["by_workers"][w]["p50_ms"]
    }
    results["flatness_sizes"] = [first["persons"], last["persons"]]


def _judge(results: dict[str, Any]) -> None:
    for entry in results["sizes"]:
        for run in entry["by_workers"].values():
            run["goals_met"] = {
                "rps": run["rps"] >= GOALS["rps"],
                "p99": run["p99_ms"] <= GOALS["p99_ms"],
                "ratio": (run["ratio"] or 0) >= GOALS["ratio"],
                "audit": run["audit_ok"] and run["non_2xx"] == 0,
            }


def _line(kind: str, run: dict[str, Any]) -> str:
    text = (f"{kind}: {run['rps']:,.0f} req/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, "
            f"non-2xx {run['non_2xx']}, cards {run['card_share_sent']:.0%}, "
            f"validity {run['validity']}, server {run['cpu']['server_cores']} cores "
            f"{run['cpu']['server_ms_per_request']} ms/req, wrk {run['cpu']['wrk_cores']}, "
            f"others {run['cpu']['other_cores']}")  # fmt: skip
    if "audit_new" in run:
        verified = "OK" if run["audit_verify"]["ok"] else "FAIL"
        text += f", audit +{run['audit_new']} (verify {verified})"
    if run.get("server_errors"):
        text += f"\n  server errors: {run['server_errors']}"
    return text


def _kill_line(kill: dict[str, Any]) -> str:
    chain = "OK" if kill["audit_verify"]["ok"] else "BROKEN"
    verdict = "PASS" if kill["ok"] else "FAIL"
    return (f"2xx {kill['ok_2xx']}, audit +{kill['audit_new']}, nothing lost "
            f"{kill['nothing_lost']}, chain {chain}, restart {kill['restart_seconds']} s → "
            f"number {kill['restart_number_status']}, card {kill.get('restart_card_status')}: "
            f"{verdict}")  # fmt: skip


def _print_summary(results: dict[str, Any], out: Path) -> None:
    config = results["config"]
    print()
    print(f"eligibility checks over HTTP — {config['backend']}, {config['stack']}, "
          f"{config['connections']} connections, {config['duration_s']:g} s, "
          f"card share {config['card_share']:.0%}, {results['machine']['cpus']} CPUs, "
          f"load {results['machine']['loadavg_at_start']}")  # fmt: skip
    header = (f"{'persons':>11} {'w':>2} {'fill s':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'non2xx':>7} {'audit':>5} {'const/s':>8} {'ratio':>6} {'ms/req':>6} "
              f"{'c ms/req':>8} {'cpu ratio':>9} {'others':>6}  goals")  # fmt: skip
    print(header)
    for entry in results["sizes"]:
        for w, run in entry["by_workers"].items():
            met = run.get("goals_met", {})
            missed = [k for k, ok in met.items() if not ok]
            print(f"{entry['persons']:>11,} {w:>2} {entry['fill_seconds']:>7.1f} "
                  f"{run['rps']:>8,.0f} {run['p50_ms']:>7.2f} {run['p99_ms']:>7.2f} "
                  f"{run['non_2xx']:>7} {'ok' if run['audit_ok'] else 'FAIL':>5} "
                  f"{run['constant_rps']:>8,.0f} {run['ratio'] or 0:>6.1%} "
                  f"{run['server_ms_per_request']:>6.2f} {run['constant_ms_per_request']:>8.2f} "
                  f"{run['cpu_ratio'] or 0:>9.1%} {run['other_cores']:>6.2f}  "
                  f"{'all met' if not missed else 'missed: ' + ', '.join(missed)}")  # fmt: skip
    if "flatness_p50_ratio" in results:
        print(f"p50 flatness {results['flatness_sizes'][0]:,} → {results['flatness_sizes'][1]:,}:"
              f" {results['flatness_p50_ratio']}")  # fmt: skip
    if "kill_test" in results:
        print(f"kill test: {_kill_line(results['kill_test'])}")
    print(
        "ms/req: server CPU per request (c: the constant); cpu ratio = c ms/req / ms/req; "
        "others: cores busy with other work during the runs (max)"
    )
    if "error" in results:
        print(f"ERROR: {results['error']}")
    print(f"written to {out}")


if __name__ == "__main__":
    sys.exit(main())
