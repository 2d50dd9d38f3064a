"""bench_checks' shared constants, its error and its log line."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

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
