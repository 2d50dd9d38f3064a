"""A key file (the source key, a provision's key) killed with kill -9 while it is being
written. It used to be created empty first (O_EXCL) and filled afterwards: a kill in between
left an empty key that was there for good. The provision's first extract was then refused
for ever ("provision P000001 already has a key" on the next try, "a key must be at least 32
bytes" when read), and a reader racing the writer of ``source.key`` read it empty. A key file
now appears whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kokuho.provision import new_provision_key, provision_key, source_key
from tests.killing import kill_when_said

_KILLED_WHILE_WRITING = """
import os
import sys
from pathlib import Path

from kokuho.provision import new_provision_key, source_key

real_fdopen = os.fdopen

def wait_then_fdopen(fd, *args, **kwargs):
    # A file is open and its bytes are about to be written: say so, and wait for the kill.
    print("writing", flush=True)
    sys.stdin.readline()
    return real_fdopen(fd, *args, **kwargs)

os.fdopen = wait_then_fdopen
folder = Path(sys.argv[1])
if sys.argv[2] == "source":
    source_key(folder)
else:
    new_provision_key(sys.argv[2], folder=folder)
"""


def _kill_while_writing(folder: Path, which: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WHILE_WRITING, str(folder), which],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    kill_when_said(child, "writing")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_provision_key_killed_while_written_is_made_again(tmp_path: Path) -> None:
    _kill_while_writing(tmp_path, "P000001")
    # No key was made: the first extract makes it (and reads it back) as if never tried.
    with pytest.raises(ValueError, match="has no key"):
        provision_key("P000001", folder=tmp_path)
    made = new_provision_key("P000001", folder=tmp_path)
    assert len(made) == 32 and provision_key("P000001", folder=tmp_path) == made
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".key")] == [
        "provision-P000001.key"
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_the_source_key_killed_while_written_is_made_again(tmp_path: Path) -> None:
    _kill_while_writing(tmp_path, "source")
    key = source_key(tmp_path)
    assert len(key) == 32 and source_key(tmp_path) == key
    assert (tmp_path / "source.key").stat().st_mode & 0o777 == 0o600
