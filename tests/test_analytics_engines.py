"""One analytics interface, two engines (分析エンジン): the checkup rates and the claims
indicators give the same rows on DuckDB and on Spark local over one synthetic lake, and the
setting that chooses the engine takes only what it names.

The Spark tests share one SparkSession (it takes seconds to start) and a small lake. Under
CI=true a missing PySpark or Java fails them; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.checkups import Lake, checkup_rates, export_snapshot, guidance_rates, read_archive
from kokuho.checkups._rate_pair import lake_rate_tables
from kokuho.claims import (
    ClaimsLake,
    cost,
    duplicate_prescribing,
    eligibility_errors,
    generic_share,
    multi_drug,
)
from kokuho.cli import main
from kokuho.config import SettingError, Settings, analytics_engine, spark_master
from kokuho.registry import import_changes, load_insurers
from kokuho.store import Analytics, connect
from kokuho.synth import generate

FY = 2021


# -- the setting ----------------------------------------------------------------------------------
def test_the_engine_setting_is_a_closed_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert analytics_engine(None) == analytics_engine("") == "duckdb"
    assert analytics_engine(" Spark ") == "spark"
    for bad in ("postgres", "spark,duckdb", "duck db"):
        with pytest.raises(SettingError, match=r"KOKUHO_ANALYTICS=.*one of duckdb, spark"):
            analytics_engine(bad)
    monkeypatch.setenv("KOKUHO_ANALYTICS", "polars")
    with pytest.raises(SettingError, match="KOKUHO_ANALYTICS='polars'"):
        Settings.from_env()


def test_the_cli_names_the_bad_setting_and_does_nothing(tmp_path: Path) -> None:
    env = {"KOKUHO_HOME": str(tmp_path), "KOKUHO_ANALYTICS": "spork"}
    result = CliRunner().invoke(main, ["lake", "vacuum", "--json"], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: KOKUHO_ANALYTICS='spork': must be one of duckdb, spark"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "master",
    ["local", "local[*]", "local[4]", "local[4,2]", "spark://master.example:7077",
     "spark://a:7077,b:7077", "yarn", "k8s://https://10.0.0.1:6443"],
)  # fmt: skip
def test_spark_masters_spark_accepts(master: str) -> None:
    assert spark_master(master) == master


@pytest.mark.parametrize(
    "master", ["local[0]", "local[-1]", "spark://host", "mesos://x:5050", "local[*]; rm -rf /"]
)
def test_other_spark_masters_are_refused(master: str) -> None:
    with pytest.raises(SettingError, match="KOKUHO_SPARK_MASTER="):
        spark_master(master)


def test_the_lakes_read_through_the_chosen_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert spark_master(None) == "local[*]"
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.setenv("KOKUHO_ANALYTICS", "spark")
    monkeypatch.setenv("KOKUHO_SPARK_MASTER", "spark://analytics.example:7077")
    settings = Settings.from_env()
    for lake in (Lake.from_settings(settings), ClaimsLake.from_settings(settings), Lake(tmp_path)):
        # Chosen, not started: nothing connects to the cluster before a table is read.
        assert (lake.analytics.engine, lake.analytics.master) == (
            "spark",
            "spark://analytics.example:7077",
        )
    monkeypatch.delenv("KOKUHO_ANALYTICS")
    assert ClaimsLake(tmp_path).analytics.engine == "duckdb"


# -- the same rows on both engines ----------------------------------------------------------------
@dataclass(frozen=True)
class Home:
    root: Path
    engine: sa.Engine


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A synthetic prefecture of FY2021 loaded as ``kokuho demo`` loads it: the register, the
    V08 archives and their snapshot, the masters and the レセ電 files."""
    root = tmp_path_factory.mktemp("engines")
    data = root / "data"
    generate(data, seed=14, persons=60, start=dt.date(FY, 4, 1), years=1, incentives=False)
    engine = connect(f"sqlite:///{root / 'kokuho.db'}")
    load_insurers(engine, data / "insurers.csv")
    changes = sorted((data / "changes").rglob("*.csv"), key=lambda p: (_month(p), str(p)))
    for path in changes:
        import_changes(engine, path)
    duck = Analytics("duckdb")
    lake = Lake(root / "lake", analytics=duck)
    for path in sorted((data / "checkups").glob("*.zip")):
        lake.ingest_archive(read_archive(path))
    export_snapshot(engine, lake, FY)
    claims = ClaimsLake(root / "lake", analytics=duck)
    masters = data / "masters"
    claims.load_masters(masters / "y_synthetic.csv", masters / "generic_list_synthetic.csv")
    claims.load_disease_master(masters / "b_synthetic.csv")
    claims.ingest(sorted((data / "claims").glob("*.csv")), workers=1)
    return Home(root, engine)


def _month(path: Path) -> str:
    found = re.search(r"\d{4}-\d{2}", path.name)
    return found.group(0) if found else ""


def _unavailable(problem: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Spark engine unavailable under CI: {problem}")
    pytest.skip(f"Spark engine unavailable: {problem}")


@pytest.fixture(scope="module")
def spark_installed() -> None:
    """Java and PySpark are there (nothing started)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("no Java runtime (apt-get install openjdk-17-jre-headless)")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _unavailable("PySpark is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def spark(spark_installed: None) -> Analytics:
    """Spark local on two threads, started once for the module."""
    analytics = Analytics("spark", master="local[2]")
    try:
        _start_small_spark()
        analytics.backend  # noqa: B018 (takes the session just started)
    except Exception as failed:  # Java that does not start, a port refused
        _unavailable(str(failed).splitlines()[0])
    return analytics


def _start_small_spark() -> None:
    """The session the Spark engine finds already running (as in a notebook or spark-submit),
    tuned for seconds-long runs on tiny data: the JIT's quick tier only, one shuffle partition,
    no adaptive re-planning. The engine's own settings are for real work."""
    from pyspark.sql import SparkSession

    (
        SparkSession.builder.master("local[2]")
        .appName("kokuho-tests")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )


Compute = Callable[[Lake, ClaimsLake, sa.Engine], Any]


def _rows(found: Any) -> list[dict[str, Any]]:
    if isinstance(found, list):  # eligibility_errors gives dataclasses
        return [asdict(e) for e in found]
    return list(found.to_pyarrow().to_pylist())


def _on(analytics: Analytics, home: Home, compute: Compute) -> list[dict[str, Any]]:
    lake = Lake(home.root / "lake", analytics=analytics)
    claims = ClaimsLake(home.root / "lake", analytics=analytics)
    return _rows(compute(lake, claims, home.engine))


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 12 digits: a sum's last bit depends on the order Spark's partitions
    add up in (IEEE addition is not associative), and nothing else may differ."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


CASES: dict[str, Compute] = {
    "特定健診実施率 by insurer, sex and band": lambda lake, _c, _e: checkup_rates(
        lake, FY, ("insurer", "sex", "band")
    ),
    "特定保健指導実施率": lambda lake, _c, _e: guidance_rates(lake, FY),
    # rate_tables: both from one match on the integer key, the engine's own hash function.
    "特定健診実施率 from the shared match": lambda lake, _c, _e: lake_rate_tables(
        lake, FY, ("insurer", "sex", "band")
    )[0],
    "特定保健指導実施率 from the shared match": lambda lake, _c, _e: lake_rate_tables(lake, FY)[1],
    "後発医薬品使用割合": lambda _l, claims, _e: generic_share(
        claims, fiscal_year=FY, by=("insurer", "service_month", "setting")
    ),
    "重複投薬": lambda _l, claims, _e: duplicate_prescribing(claims, fiscal_year=FY),
    "多剤投与": lambda _l, claims, _e: multi_drug(claims, fiscal_year=FY),
    "医療費 (年齢調整)": lambda _l, claims, engine: cost(claims, engine, fiscal_year=FY),
    "資格過誤": lambda _l, claims, engine: eligibility_errors(claims, engine),
    # Months the lake holds no file of: the empty tables are the engine's own too.
    "no month": lambda _l, claims, _e: generic_share(claims, months=["2019-04"]),
}


@pytest.mark.slow
def test_both_engines_give_the_same_rows(
    home: Home, spark: Analytics, subtests: pytest.Subtests
) -> None:
    # One test with a subtest per indicator, not one test each: pytest-xdist would spread
    # them over its workers and start a Spark (and build the lake) in each.
    for name, compute in CASES.items():
        with subtests.test(msg=name):
            on_duckdb = _on(Analytics("duckdb"), home, compute)
            on_spark = _on(spark, home, compute)
            assert _same(on_duckdb, on_spark), (name, on_duckdb[:3], on_spark[:3])
            if name != "no month":
                # Something to compare: the synthetic prefecture plants every kind of case.
                assert on_duckdb, name


@pytest.mark.slow
def test_the_setting_chooses_the_engine_of_a_command(home: Home, spark_installed: None) -> None:
    """``kokuho claims generic-share`` with KOKUHO_ANALYTICS=spark, in a process of its own so
    that the engine starts its own Spark session (not the tests' one), prints what it prints
    on DuckDB."""
    arguments = ["claims", "generic-share", "--fy", str(FY), "--json"]
    env = {"KOKUHO_HOME": str(home.root), "KOKUHO_ANALYTICS": "duckdb"}
    on_duckdb = CliRunner().invoke(main, arguments, env=env)
    assert on_duckdb.exit_code == 0, on_duckdb.output
    env = {
        **os.environ,
        "KOKUHO_HOME": str(home.root),
        "KOKUHO_ANALYTICS": "spark",
        "KOKUHO_SPARK_MASTER": "local[1]",
        # The JIT's quick tier: this JVM lives for seconds.
        "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    kokuho = Path(sys.executable).with_name("kokuho")
    done = subprocess.run(
        [str(kokuho), *arguments], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == json.loads(on_duckdb.stdout)
    assert json.loads(on_duckdb.stdout)
