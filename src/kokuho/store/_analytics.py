"""The analytics engine (分析エンジン) the lakes are read through: one Ibis backend per lake,
DuckDB embedded (the default) or Apache Spark, chosen by ``KOKUHO_ANALYTICS``.

The checkup rates and the claims indicators are Ibis expressions over ``Analytics.read_parquet``
tables: the same code runs on either engine. Neither Ibis nor PySpark is imported before a lake
is first read, so the CLI starts fast and PySpark loads only when ``spark`` is chosen.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kokuho.config import DEFAULT_SPARK_MASTER, Settings, analytics_engine, spark_master
from kokuho.store._files import PerThreadDuckDB

_SPARK_LOCK = threading.Lock()
# master → the Ibis PySpark backend: Spark allows one SparkContext per process.
_SPARK: dict[str, Any] = {}
# master → objects bound to that backend (``Analytics.scratch``).
_SPARK_SCRATCH: dict[str, dict[str, Any]] = {}


class AnalyticsUnavailable(RuntimeError):
    """The engine chosen cannot start here (PySpark not installed, no Java)."""


class Analytics:
    """Where a lake's Ibis expressions run (分析エンジン): ``duckdb`` or ``spark``."""

    def __init__(self, engine: str = "duckdb", *, master: str = DEFAULT_SPARK_MASTER) -> None:
        self.engine = analytics_engine(engine)
        self.master = spark_master(master)
        self._duckdb = PerThreadDuckDB()

    @classmethod
    def from_settings(cls, settings: Settings) -> Analytics:
        """The engine of ``KOKUHO_ANALYTICS`` and ``KOKUHO_SPARK_MASTER``."""
        return cls(settings.analytics, master=settings.spark_master)

    @classmethod
    def from_env(cls) -> Analytics:
        """``from_settings`` of the environment (for lakes made without settings)."""
        return cls.from_settings(Settings.from_env())

    def __repr__(self) -> str:
        where = f", master={self.master!r}" if self.engine == "spark" else ""
        return f"Analytics({self.engine!r}{where})"

    @property
    def backend(self) -> Any:
        """The Ibis backend: this thread's in-memory DuckDB connection (a DuckDB connection
        refuses a second concurrent query), or the process's one Spark backend."""
        if self.engine == "duckdb":
            return self._duckdb.get()
        return spark_backend(self.master)

    def scratch(self) -> dict[str, Any]:
        """A dict for objects bound to ``backend`` (per thread with DuckDB)."""
        if self.engine == "duckdb":
            return self._duckdb.scratch()
        with _SPARK_LOCK:
            return _SPARK_SCRATCH.setdefault(self.master, {})

    def read_parquet(
        self,
        files: Sequence[Path],
        *,
        base: Path | None = None,
        partitions: Mapping[str, str] | None = None,
        union_by_name: bool = False,
    ) -> Any:
        """The Parquet ``files`` as one ``ibis.Table``.

        ``partitions`` names the ``key=value`` folders under ``base`` that become columns, with
        their Ibis types (both engines then agree on them: Spark would infer ``int32`` where
        DuckDB infers ``int64``). ``union_by_name``: files lacking a column read it as null.
        """
        names = [str(f) for f in files]
        if self.engine == "duckdb":
            return self.backend.read_parquet(
                names, hive_partitioning=bool(partitions), union_by_name=union_by_name
            )
        backend = self.backend
        reader = backend._session.read
        if union_by_name:
            reader = reader.option("mergeSchema", "true")
        if partitions:
            if base is None:
                raise ValueError("partition columns need the base folder of the partitions")
            reader = reader.option("basePath", str(base))
        # Without a base folder Spark takes each file's own folder as its base: no partition
        # columns, as with DuckDB's hive_partitioning=False.
        frame = reader.parquet(*names)
        import ibis  # type: ignore[import-untyped, unused-ignore]

        name = ibis.util.gen_name("kokuho_lake")
        frame.createOrReplaceTempView(name)
        table = backend.table(name)
        if partitions:
            table = table.mutate(**{k: table[k].cast(t) for k, t in partitions.items()})
        return table

    def empty_table(self, name: str, rows: Any) -> Any:
        """An empty ``ibis.Table`` of the pyarrow table ``rows``'s schema, bound to ``backend``
        (an expression over empty tables only would otherwise run on Ibis's default backend)."""
        made = self.scratch()
        key = f"empty_{name}"
        if key not in made:
            import ibis

            # Made once per connection: Ibis 12's overwrite and list_tables fail on DuckDB 2.
            made[key] = self.backend.create_view(key, ibis.memtable(rows))
        return made[key]


def spark_backend(master: str = DEFAULT_SPARK_MASTER) -> Any:
    """The process's Ibis PySpark backend on ``master`` (started on first use)."""
    with _SPARK_LOCK:
        found = _SPARK.get(master)
        if found is not None:
            return found
        try:
            from pyspark.sql import SparkSession
        except ImportError as missing:
            raise AnalyticsUnavailable(
                "KOKUHO_ANALYTICS=spark needs PySpark: pip install 'kokuho[spark]'"
            ) from missing
        active = SparkSession.getActiveSession()
        if active is None:
            builder = (
                SparkSession.builder.master(master)
                .appName("kokuho")
                # Timestamps stay as written, like DuckDB's naive ones: no shift by the zone.
                .config("spark.sql.session.timeZone", "UTC")
                # The CLI's output is its own: no progress bars on the terminal.
                .config("spark.ui.showConsoleProgress", "false")
                # Results (and Ibis's in-memory tables) cross to Python as Arrow, not row by row.
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            )
            if master.startswith("local"):
                # One machine: a few shuffle partitions, not Spark's 200, no web UI port, and
                # the driver on the loopback whatever the host name resolves to.
                builder = (
                    builder.config("spark.sql.shuffle.partitions", "4")
                    .config("spark.ui.enabled", "false")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                )
            try:
                active = builder.getOrCreate()
            except Exception as failed:  # Java missing or the master unreachable
                raise AnalyticsUnavailable(
                    f"Spark did not start on {master!r}: {failed}".splitlines()[0]
                ) from failed
        backend = _SPARK[master] = _arrow_spark().connect(active)
        return backend


def _arrow_spark() -> Any:
    """Ibis's PySpark backend, taking results through Spark's own Arrow collect
    (``DataFrame.toArrow``, Spark 4) instead of pandas: the types stay exact (a null integer
    does not become a float on the way) and pandas 3, which PySpark 4.0 and Ibis 12 call
    with deprecated options, is not involved."""
    import ibis

    # Loaded through ibis.pyspark first: that registers the backend's options.
    ibis.pyspark.connect  # noqa: B018
    from ibis.backends.pyspark import Backend  # type: ignore[import-untyped, unused-ignore]
    from ibis.formats.pyarrow import PyArrowData  # type: ignore[import-untyped, unused-ignore]

    class ArrowSpark(Backend):  # type: ignore[misc]
        def to_pyarrow(
            self,
            expr: Any,
            /,
            *,
            params: Mapping[Any, Any] | None = None,
            limit: int | str | None = None,
            **kwargs: Any,
        ) -> Any:
            self._run_pre_execute_hooks(expr)
            table_expr = expr.as_table()
            schema = table_expr.schema()
            sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
            with self._safe_raw_sql(sql) as query:
                output = query.toArrow()
            # Spark names result columns its own way: Ibis's names, by position.
            output = output.rename_columns(list(schema.names))
            return expr.__pyarrow_result__(PyArrowData.convert_table(output, schema))

    return ArrowSpark()
