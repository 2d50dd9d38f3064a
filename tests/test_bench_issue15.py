"""The benchmark harness of issue 15: the register cache of ``bench_checks --reuse-dir`` (key,
reset to the generated state, adoption of an older migration head) and ``run_issue15``'s
sequence (a failing benchmark is recorded and the next one still runs)."""

from __future__ import annotations

import datetime as dt
import json
import random
import string
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import kokuho.registry  # noqa: F401  (the register's tables)
import kokuho.verify  # noqa: F401  (audit_log, card_replays, …)
from benchmarks import _register_cache as cache
from benchmarks import run_issue15
from benchmarks._issue15_figures import extract, markdown
from kokuho.store import connect, upgrade
from kokuho.verify import AuditRecord, verify_chain
from kokuho.verify import tables as v
from kokuho.verify._audit import append
from tests.conftest import POSTGRES_URL, require_postgres

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
POSTGRES = "postgresql+psycopg://unused@127.0.0.1:1/none"  # never reached by SQLite keys


def test_key_names_parse_back_and_fit_postgres() -> None:
    key = cache.CacheKey("checks", "postgres", 10_000_000, 5000, "0010")
    assert key.name == "checks-postgres-p10000000-c5000-g1-m0010"
    assert cache.CacheKey.parse(key.name) == key
    assert len(key.schema) <= 63 and key.schema == key.schema.lower()
    assert cache.CacheKey.parse("checks-sqlite-p10-c5-g1") is None  # no head: not an entry
    assert cache.CacheKey.parse("notes.txt") is None
    # Every input of the content changes the name.
    names = {
        key.name,
        cache.CacheKey("checks", "sqlite", 10_000_000, 5000, "0010").name,
        cache.CacheKey("checks", "postgres", 1_000_000, 5000, "0010").name,
        cache.CacheKey("checks", "postgres", 10_000_000, 50, "0010").name,
        cache.CacheKey("checks", "postgres", 10_000_000, 5000, "0011").name,
        cache.CacheKey("checks", "postgres", 10_000_000, 5000, "0010", 2).name,
    }
    assert len(names) == 6


def test_migration_head_is_what_connect_writes(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as connection:
        written = connection.scalar(sa.text("select version_num from alembic_version"))
    engine.dispose()
    chain = cache.migration_chain()
    assert cache.migration_head() == written == chain[-1]
    assert chain[0] == "0001" and len(chain) == len(set(chain))


def _records(engine: sa.Engine, n: int, first_person: int = 1) -> None:
    with engine.begin() as connection:
        append(connection, [AuditRecord("kc_a", "care", "check_number", "1", "3710112347",
                                        first_person + i) for i in range(n)])  # fmt: skip


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_reset_returns_to_the_generated_chain_and_tables(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'k.db'}")
    _records(engine, 3)  # written by the generation: kept
    pristine = cache.snapshot(engine)
    head = verify_chain(engine).head
    assert pristine["audit_head_seq"] == 3 and pristine["counts"]["card_replays"] == 0

    _records(engine, 40, first_person=10)  # a run's checks …
    with engine.begin() as connection:  # … and its used attestations
        connection.execute(sa.insert(v.card_replays), [
            {"token": f"t{i}", "expires_at": NOW} for i in range(5)])  # fmt: skip
    assert cache.reset(engine, pristine) == {"audit_log": 40, "card_replays": 5}
    report = verify_chain(engine)
    assert report.ok and report.records == 3 and report.head == head
    assert _count(engine, v.card_replays) == 0
    assert cache.reset(engine, pristine) == {}  # nothing left to do

    # A run's records after the reset chain on from the same head again.
    _records(engine, 2)
    assert verify_chain(engine).ok
    engine.dispose()


def test_reset_refuses_a_grown_table_that_was_not_empty(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.begin() as connection:
        connection.execute(sa.insert(v.card_replays), [{"token": "generated",
                           "expires_at": NOW}])  # fmt: skip
    pristine = cache.snapshot(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(v.card_replays), [{"token": "run",
                           "expires_at": NOW}])  # fmt: skip
    with pytest.raises(cache.CacheError, match="card_replays went from 1 to 2"):
        cache.reset(engine, pristine)
    assert _count(engine, v.card_replays) == 2  # nothing deleted: the transaction rolled back
    engine.dispose()


def _entry(root: Path, head: str, backend: str = "sqlite", kind: str = "checks",
           postgres: str = POSTGRES) -> cache.CacheKey:  # fmt: skip
    """A complete entry whose database stops at migration ``head``."""
    key = cache.CacheKey(kind, backend, 1000, 5, head)
    folder = root / key.name
    (folder / "home").mkdir(parents=True)
    if backend == "postgres":
        cache.create_schema(key, postgres)
    engine = connect(cache.database_url(key, folder, postgres), migrate=False)
    upgrade(engine, head)
    pristine = cache.snapshot(engine)
    engine.dispose()
    cache.write_ready(folder, {"key": {}, "pristine": pristine, "token": "t"})
    return key


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_older_head_is_adopted_and_migrated(tmp_path: Path, backend: str) -> None:
    postgres = POSTGRES
    kind = "checks"
    if backend == "postgres":
        require_postgres()
        postgres = POSTGRES_URL
        kind = "t" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    chain = cache.migration_chain()
    old = _entry(tmp_path, chain[-2], backend, kind, postgres)
    new = cache.CacheKey(kind, backend, 1000, 5, chain[-1])
    try:
        meta = cache.prepare(tmp_path, new, postgres, upgrade=True)
        assert meta is not None and meta["token"] == "t"
        assert meta["upgraded"][0]["from"] == old.head and meta["upgraded"][0]["to"] == new.head
        assert not (tmp_path / old.name).exists() and (tmp_path / new.name / cache.READY).exists()
        engine = connect(cache.database_url(new, tmp_path / new.name, postgres), migrate=False)
        with engine.connect() as connection:
            version = connection.scalar(sa.text("select version_num from alembic_version"))
        engine.dispose()
        assert version == new.head
        # Reused as it is the next time.
        again = cache.prepare(tmp_path, new, postgres, upgrade=True)
        assert again == cache.read_ready(tmp_path / new.name)
    finally:
        if backend == "postgres":
            cache.discard(tmp_path, old, postgres)
            cache.discard(tmp_path, new, postgres)


def test_without_upgrade_a_new_entry_is_made_and_the_old_one_kept(tmp_path: Path) -> None:
    chain = cache.migration_chain()
    old = _entry(tmp_path, chain[-2])
    new = cache.CacheKey("checks", "sqlite", 1000, 5, chain[-1])
    assert cache.prepare(tmp_path, new, POSTGRES, upgrade=False) is None
    assert (tmp_path / old.name / cache.READY).exists()
    assert list((tmp_path / new.name).iterdir()) == [tmp_path / new.name / "home"]


def test_an_interrupted_generation_is_started_again(tmp_path: Path) -> None:
    key = cache.CacheKey("checks", "sqlite", 1000, 5, cache.migration_head())
    (tmp_path / key.name / "home").mkdir(parents=True)
    (tmp_path / key.name / "home" / "kokuho.db").write_bytes(b"half written")
    assert cache.prepare(tmp_path, key, POSTGRES, upgrade=True) is None
    assert list((tmp_path / key.name / "home").iterdir()) == []


# -- the runner ------------------------------------------------------------------------------

_V08 = {"ingest": {"documents": 100, "read_plus_lake_docs_per_s": 6000,
                   "bare_parse_docs_per_s": 20000, "ratio_read_to_bare_parse": 0.3}}  # fmt: skip
_OK = f"""import json, sys
out = sys.argv[sys.argv.index("--out") + 1]
print("working")
open(out, "w").write(json.dumps({_V08!r}))
"""
_FAIL = "import sys\nprint('something broke')\nsys.exit(3)\n"
_DEMO = """import json
print("stage lines")
print(json.dumps({"best_seconds": 75.0, "runs": [{"stages": "synth 1"}]}, indent=2))
"""


def test_a_failing_benchmark_is_recorded_and_the_sequence_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in (("ok.py", _OK), ("fail.py", _FAIL), ("demo.py", _DEMO)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(run_issue15, "HERE", tmp_path)
    steps = [
        run_issue15.Step("v08_ingest", "ok.py", ("--documents", "5000"), ("--documents", "100"), 1),
        run_issue15.Step("claims_small_files", "fail.py", (), (), 1),
        run_issue15.Step("demo_start", "demo.py", (), ("--", "--persons", "200"), 1, out=False),
    ]
    json_path, md_path = run_issue15.run(steps, True, tmp_path / "out", None)
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert report["mode"] == "quick" and "load average" in report["uptime_at_start"]
    ok, failed, demo = report["steps"]
    assert "error" not in ok and "ok.py --documents 100 --out " in ok["command"]
    assert ok["command"].endswith("-v08_ingest.json")  # each step its own JSON
    assert ok["figures"][0]["value"] == 6000 and ok["figures"][0]["met"] is True
    assert ok["figures"][0]["ratio"] == 1.2 and "load average" in ok["load_after"]
    assert failed["error"] == "exit status 3" and "something broke" in failed["output_tail"]
    assert failed["figures"] == []
    assert demo["result"]["best_seconds"] == 75.0 and demo["figures"][0]["met"] is False
    assert demo["command"].endswith("demo.py -- --persons 200")  # ours before the "--"
    text = md_path.read_text(encoding="utf-8")
    assert "**met**" in text and "**missed**" in text and "claims_small_files failed" in text


def test_check_figures_are_judged_against_the_benchmarks_goals() -> None:
    run = {"rps": 2600.0, "p50_ms": 9.0, "p99_ms": 18.0, "non_2xx": 0, "audit_ok": True,
           "constant_rps": 5000.0, "constant_p99_ms": 4.0, "ratio": 0.52, "cpu_ratio": 0.4,
           "server_ms_per_request": 0.6, "constant_ms_per_request": 0.24}  # fmt: skip
    result = {
        "goals": {"rps": 5000, "p99_ms": 20.0, "ratio": 0.5},
        "sizes": [{"persons": 1_000_000, "by_workers": {"2": run}}],
        "kill_test": {"ok_2xx": 10, "audit_new": 11, "ok": True},
    }
    figures = {f.figure.split(": ")[-1]: f for f in extract("checks_sqlite", result)}
    assert figures["checks/s ÷ constant req/s"].met is True
    assert figures["checks/s ÷ constant req/s"].ratio == 1.04
    assert figures["p99 ms"].met is True and figures["checks/s"].met is False
    assert figures["every answer audited, no non-2xx"].met is True
    kill = next(f for f in extract("checks_sqlite", result) if f.figure.startswith("kill"))
    assert kill.met is True and kill.value == "10 answers, 11 records"
    rows = [f.as_dict() for f in extract("checks_sqlite", result)]
    report = {"mode": "full", "machine": {"cpus": 2, "platform": "p", "python": "3", "date": "d"},
              "uptime_at_start": "load average: 1.0, 1.0, 1.0",
              "steps": [{"name": "checks_sqlite", "command": "c", "wall_seconds": 1,
                         "load_before": "x load average: 1, 2, 3", "load_after": "y",
                         "figures": rows}]}  # fmt: skip
    assert "| 1, 2, 3 → y |" in markdown(report)


def test_the_full_plan_names_the_issue_sizes() -> None:
    commands = {s.name: s.command(False, None, Path("/cache")) for s in run_issue15.STEPS}
    assert "1000000,10000000" in commands["checks_postgres"]
    assert commands["checks_sqlite"][-2:] == ["--reuse-dir", "/cache"]
    assert "--reuse-dir" not in run_issue15.STEPS[0].command(True, None, Path("/cache"))
    assert commands["checkup_rates"][-1] == "10000000"
    assert commands["claims_small_files"][-4:] == ["--lines", "5000000", "--file-lines", "1200"]
    assert commands["register_import"][2:4] == ["--import-persons", "100000"]
    assert all(c[0] == sys.executable for c in commands.values())


def test_the_dry_run_says_which_registers_are_kept(tmp_path: Path) -> None:
    head = cache.migration_head()
    kept = cache.CacheKey("checks", "sqlite", 1_000_000, 5000, head)
    older = cache.CacheKey("checks", "postgres", 10_000_000, 5000, "0001")
    for key in (kept, older):
        (tmp_path / key.name).mkdir()
        cache.write_ready(tmp_path / key.name, {})
    (tmp_path / cache.CacheKey("checks", "sqlite", 10_000_000, 5000, head).name).mkdir()
    status = run_issue15.cache_status(run_issue15.STEPS, tmp_path)
    assert status == [
        f"{kept.name}: kept: reused",
        f"checks-sqlite-p10000000-c5000-g1-m{head}: missing: generated by the run",
        f"checks-postgres-p1000000-c5000-g1-m{head}: missing: generated by the run",
        f"checks-postgres-p10000000-c5000-g1-m{head}: at an older head ({older.name}): "
        "migrated, then reused",
    ]


def test_reset_leaves_a_table_the_snapshot_did_not_count(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'k.db'}")
    pristine = cache.snapshot(engine)
    del pristine["counts"]["card_replays"]  # an entry snapshotted before the table was counted
    with engine.begin() as connection:
        connection.execute(sa.insert(v.card_replays), [{"token": "x", "expires_at": NOW}])
    assert cache.reset(engine, pristine) == {}
    assert _count(engine, v.card_replays) == 1
    engine.dispose()


def test_the_new_baselines_are_listed_beside_the_goals_they_explain() -> None:
    """The storage floor and the constant after SELECT 1 are information, never a verdict."""
    register = {"import": {"persons": 100_000, "baseline_rows_per_s": 800_000, "sqlite": {
        "records_per_s": 30_000, "ratio_to_csv_baseline": 0.04, "storage_floor_seconds": 1.7,
        "storage_floor_records_per_s": 100_000, "ratio_to_storage_floor": 0.3}}}  # fmt: skip
    figures = {f.figure: f for f in extract("register_import", register)}
    assert figures["sqlite, 100,000 persons: records/s"].met is False
    floor = figures["sqlite: records/s ÷ storage floor"]
    assert floor.value == 0.3 and floor.met is None and "100,000 records/s" in floor.baseline
    run = {"rps": 1500.0, "p50_ms": 9.0, "p99_ms": 30.0, "non_2xx": 0, "audit_ok": True,
           "constant_rps": 6000.0, "constant_p99_ms": 4.0, "ratio": 0.25, "cpu_ratio": 0.4,
           "server_ms_per_request": 0.8, "constant_ms_per_request": 0.3,
           "constant_db_rps": 5000.0, "constant_db_ratio_to_constant": 0.833,
           "ratio_to_constant_db": 0.3}  # fmt: skip
    checks = {"goals": {"ratio": 0.5}, "sizes": [{"persons": 1000, "by_workers": {"2": run}}]}
    by_name = {f.figure.split(": ")[-1]: f for f in extract("checks_postgres", checks)}
    db = by_name["checks/s ÷ constant after SELECT 1"]
    assert db.value == 0.3 and db.met is None and "83.3% of the constant" in db.baseline
    assert by_name["checks/s ÷ constant req/s"].met is False
