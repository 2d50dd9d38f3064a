"""A throwaway PostgreSQL primary and its streaming replica, owned by the test that made them.

Built from the installed binaries (``/usr/lib/postgresql/<version>/bin``): ``initdb`` on a temp
folder, ``pg_basebackup -R`` for the replica, each on a free port, listening on 127.0.0.1 with
trust (and replication) allowed there only. The machine's own server is never touched, so tests
may stop "the primary" while others run in parallel. initdb and the server refuse to run as
root: as root every command runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

TOOLS = ("initdb", "pg_ctl", "pg_basebackup")


def binaries() -> tuple[Path | None, str]:
    """The newest installed version's bin folder holding every tool, or None and why not."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for folder in reversed(found):
        if all((folder / tool).exists() for tool in TOOLS):
            return folder, ""
    return None, f"no /usr/lib/postgresql/*/bin with {', '.join(TOOLS)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    name: str
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


class Pair:
    """A primary and one streaming replica in a temp folder; :meth:`close` removes both."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="kokuho-pgpair-"))
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        self.primary = Cluster("primary", self.base / "primary", free_port())
        self.replica = Cluster("replica", self.base / "replica", free_port())
        try:
            self._run("initdb", "-D", str(self.primary.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "--no-locale", "-E", "UTF8")  # fmt: skip
            self._configure(self.primary)
            # Only this pair's own addresses: replication is allowed from 127.0.0.1 alone.
            with (self.primary.data / "pg_hba.conf").open("a") as hba:
                hba.write("host replication postgres 127.0.0.1/32 trust\n")
            self.start(self.primary)
            self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U",
                      "postgres", "-D", str(self.replica.data), "-R", "-X", "stream", "-c", "fast",
                      "--no-sync")  # fmt: skip
            self._configure(self.replica)
            self.start(self.replica)
        except BaseException:
            self.close()  # no server of ours outlives a failed set-up
            raise

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")

    def _configure(self, cluster: Cluster) -> None:
        # Appended settings win over earlier ones (the replica's copy names the primary's port).
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\nfsync = off\n"
                "full_page_writes = off\nshared_buffers = 16MB\nmax_connections = 40\n"
                "wal_receiver_status_interval = 1s\n"
            )

    def start(self, cluster: Cluster) -> None:
        log = str(self.base / f"{cluster.name}.log")
        self._run("pg_ctl", "-D", str(cluster.data), "-l", log, "-w", "-t", "60", "start")

    def stop(self, cluster: Cluster) -> None:
        """Stops ``cluster`` at once (as a crash would: no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "-w", "stop")

    def running(self, cluster: Cluster) -> bool:
        return (cluster.data / "postmaster.pid").exists()

    def ensure_running(self) -> None:
        for cluster in (self.primary, self.replica):
            if not self.running(cluster):
                self.start(cluster)

    def close(self) -> None:
        for cluster in (self.replica, self.primary):
            if self.running(cluster):
                with contextlib.suppress(RuntimeError):
                    self.stop(cluster)
        shutil.rmtree(self.base, ignore_errors=True)


def execute(url: str, sql: str, *, autocommit: bool = True) -> object:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT" if autocommit else None)
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def postgres_user_exists() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True
