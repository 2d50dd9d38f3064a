"""What the lake tests (claims, care) check alike: the files under a lake root byte for byte,
a rename that fails on the manifest (a crash before the commit), and the write lock holding
an ingest back."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

import kokuho.store._files as files_module


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (temporary files included)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def digest(path: Path) -> str:
    """The sha256 of a file, as the lakes name what they write from it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def manifest_rename_fails(monkeypatch: pytest.MonkeyPatch, manifest: str) -> Iterator[None]:
    """Inside: renaming a temporary file over ``manifest`` raises ``OSError("disk gone")``
    (every other rename works), as a crash just before the commit would."""
    real = files_module._replace

    def fail_on_manifest(source: str | Path, target: str | Path) -> None:
        if Path(target).name == manifest:
            raise OSError("disk gone")
        real(source, target)

    monkeypatch.setattr(files_module, "_replace", fail_on_manifest)
    try:
        yield
    finally:
        monkeypatch.setattr(files_module, "_replace", real)


def assert_one_writer_at_a_time(
    locked: Callable[[], AbstractContextManager[None]], ingest: Callable[[], object]
) -> None:
    """``ingest`` started while another thread holds ``locked()`` finishes only after that
    thread let go."""
    held, released = threading.Event(), []

    def hold() -> None:
        with locked():
            held.set()
            time.sleep(0.3)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    ingest()
    finished = time.monotonic()
    holder.join()
    assert finished >= released[0]
