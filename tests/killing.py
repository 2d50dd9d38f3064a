"""A child process killed by SIGKILL at a point it names: the tests of imports and extracts
that must leave nothing half-written (kill -9 mid-way) and apply whole when run again."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_when_said(child: subprocess.Popen[str], word: str) -> None:
    """Waits for ``child`` to print the line ``word`` (it prints it at the point to be killed
    at), kills it with SIGKILL and reaps it; on any failure it is killed all the same. Its
    pipes are closed either way."""
    try:
        assert child.stdout is not None
        said = child.stdout.readline().strip()
        assert said == word, said + child.stdout.read()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
