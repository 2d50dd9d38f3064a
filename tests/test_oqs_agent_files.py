"""The on-site terminal against hostile folders: bad names, links, folders, FIFOs, oversize and
hostile files never stop it, and a killed agent leaves no half-written answer behind.

The in-process tests use the app through TestClient; the end-to-end ones run the real
``kokuho oqs-agent`` as a subprocess against a real uvicorn server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from kokuho.verify._oqs_agent import OqsAgent
from kokuho.web import create_app
from tests.conftest import CLINIC, small_service
from tests.test_oqs_agent import FIXTURES, agent, request_xml, values

BAD_NAMES = [
    "OQSsiquc01req_a.b.xml",
    "OQSsiquc01req_.xml",
    "OQSsiquc01req_日本.xml",
    "OQSsiquc01req_a b.xml",
    "OQSsiquc01req_" + "x" * 70 + ".xml",
]
KOKUHO_CLI = Path(sys.executable).parent / "kokuho"


def leftovers(req: Path) -> list[str]:
    return sorted(p.name for p in req.iterdir() if p.name.startswith("OQS"))


def reason(req: Path, name: str) -> str:
    return (req / "rejected" / f"{name}.reason.txt").read_text(encoding="utf-8")


def test_bad_names_are_set_aside_and_the_files_after_them_answered(
    service_client: tuple[TestClient, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    terminal = agent(service_client, tmp_path)
    for name in BAD_NAMES:
        (terminal.req / name).write_text(request_xml(), encoding="utf-8")
    not_utf8 = os.fsencode(terminal.req) + b"/OQSsiquc01req_\xff.xml"
    with open(not_utf8, "wb") as handle:
        handle.write(request_xml().encode())
    (terminal.req / "OQSsiquc01req_Z.xml").write_text(request_xml(), encoding="utf-8")
    (terminal.req / "OQSsiquc01req_z.xml").write_text(request_xml(), encoding="utf-8")
    written = terminal.process_once()
    assert [p.name for p in written] == ["OQSsiquc01res_Z.xml", "OQSsiquc01res_z.xml"]
    assert all(values(p, "QualificationValidity") == ["1"] for p in written)
    assert leftovers(terminal.req) == []
    for name in BAD_NAMES:
        assert (terminal.req / "rejected" / name).read_text(encoding="utf-8") == request_xml()
        assert "is not a request file name" in reason(terminal.req, name), name
    rejected = os.fsencode(terminal.req / "rejected")
    assert os.path.exists(rejected + b"/OQSsiquc01req_\xff.xml")
    with open(rejected + b"/OQSsiquc01req_\xff.xml.reason.txt", encoding="utf-8") as handle:
        assert handle.read().startswith("OQSsiquc01req_\\xff.xml: unknown_file_name: ")
    # The log names it too, as text a UTF-8 log file (or a terminal) can take.
    messages = [record.getMessage() for record in caplog.records]
    assert any("OQSsiquc01req_\\xff.xml" in message for message in messages)
    for message in messages:
        message.encode("utf-8")
    # A restarted agent finds nothing left to do.
    assert terminal.process_once() == []


def test_a_symlink_is_answered_with_an_error_and_never_followed(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    outside = tmp_path / "outside.xml"  # a valid request: following the link would answer it
    outside.write_text(request_xml(), encoding="utf-8")
    (terminal.req / "OQSsiquc01req_link.xml").symlink_to(outside)
    (terminal.req / "OQSsiquc01req_passwd.xml").symlink_to("/etc/passwd")
    (terminal.req / "OQSsiquc01req_loop.xml").symlink_to("OQSsiquc01req_loop.xml")
    written = terminal.process_once()
    assert len(written) == 3
    for response in written:
        assert values(response, "ErrorCode") == ["not_a_regular_file"], response.name
        assert values(response, "QualificationValidity") == []
        assert b"root:" not in response.read_bytes()
    moved = terminal.req / "rejected" / "OQSsiquc01req_link.xml"
    assert moved.is_symlink() and moved.readlink() == outside  # the link moved, not the file
    assert outside.read_text(encoding="utf-8") == request_xml()
    assert "symbolic link (not followed)" in reason(terminal.req, "OQSsiquc01req_link.xml")
    assert leftovers(terminal.req) == []


def test_folders_fifos_and_oversize_files_are_answered_without_being_read(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    (terminal.req / "OQSsiquc01req_dir.xml").mkdir()
    os.mkfifo(terminal.req / "OQSsiquc01req_fifo.xml")  # opening it to read would block
    big = request_xml().replace("<MessageBody>", "<MessageBody>" + " " * 70_000)
    (terminal.req / "OQSsiquc01req_big.xml").write_text(big, encoding="utf-8")
    (terminal.req / "OQSsiquc01req_good.xml").write_text(request_xml(), encoding="utf-8")
    reader = threading.Thread(target=terminal.process_once, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "the agent blocked on the FIFO"
    res = terminal.res
    assert values(res / "OQSsiquc01res_good.xml", "QualificationValidity") == ["1"]
    for name, code in (("dir", "not_a_regular_file"), ("fifo", "not_a_regular_file"),
                       ("big", "oversize")):  # fmt: skip
        assert values(res / f"OQSsiquc01res_{name}.xml", "ErrorCode") == [code], name
        assert code in reason(terminal.req, f"OQSsiquc01req_{name}.xml")
    assert "a FIFO" in reason(terminal.req, "OQSsiquc01req_fifo.xml")
    assert "64 KB" not in reason(terminal.req, "OQSsiquc01req_big.xml")  # bytes, exact
    assert (terminal.req / "rejected" / "OQSsiquc01req_dir.xml").is_dir()
    assert leftovers(terminal.req) == []


@pytest.mark.parametrize(("folder", "name"), [("done", "OQSsiquc01req_A.xml"),
                                              ("rejected", "OQSsiquc01req_a.b.xml")])  # fmt: skip
def test_done_or_rejected_planted_as_a_link_is_refused_and_nothing_moved_through_it(
    service_client: tuple[TestClient, str], tmp_path: Path, folder: str, name: str
) -> None:
    terminal = agent(service_client, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (terminal.req / folder).symlink_to(elsewhere)
    (terminal.req / name).write_text(request_xml())
    with pytest.raises(NotADirectoryError, match=f"{folder} must be a folder"):
        terminal.process_once()
    assert list(elsewhere.iterdir()) == []
    assert leftovers(terminal.req) == [name]


def test_an_unreachable_service_gets_each_file_an_error_answer(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    import httpx2

    (tmp_path / "req").mkdir()
    with httpx2.Client(base_url=f"http://127.0.0.1:{_free_port()}", timeout=2.0) as client:
        terminal = OqsAgent(client, "token", tmp_path / "req", tmp_path / "res")
        for name in ("A", "B"):
            (terminal.req / f"OQSsiquc01req_{name}.xml").write_text(request_xml())
        written = terminal.process_once()
    assert [values(p, "ErrorCode") for p in written] == [["service_error"]] * 2
    assert sorted(p.name for p in (terminal.req / "done").iterdir()) == [
        "OQSsiquc01req_A.xml",
        "OQSsiquc01req_B.xml",
    ]


def test_leftover_temporaries_are_removed_and_planted_links_not_written_through(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    terminal.res.mkdir()
    (terminal.res / ".OQSsiquc01res_old.xml.kokuho-tmp").write_bytes(b"<XmlMsg><Mess")
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (terminal.res / ".OQSsiquc01res_A.xml.kokuho-tmp").symlink_to(victim)
    (terminal.res / "keep.txt").write_text("the clinic's")
    (terminal.req / "OQSsiquc01req_A.xml").write_text(request_xml())
    [written] = terminal.process_once()
    assert sorted(p.name for p in terminal.res.iterdir()) == ["OQSsiquc01res_A.xml", "keep.txt"]
    assert values(written, "QualificationValidity") == ["1"]
    assert victim.read_text() == "untouched"


def test_a_request_answered_before_a_crash_is_not_asked_again(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    terminal.res.mkdir()
    earlier, later = time.time() - 60, time.time() + 5
    # Killed after the answer was renamed into place, before the request left req.
    (terminal.req / "OQSmuquc01req_A.xml").write_text(request_xml())
    first = b"<XmlMsg>the first answer</XmlMsg>"
    (terminal.res / "OQSmuquc01res_A.xml").write_bytes(first)
    os.utime(terminal.res / "OQSmuquc01res_A.xml", (later, later))
    # The same for an entry that is no request: its error answer stands, it is still rejected.
    os.mkfifo(terminal.req / "OQSsiquc01req_F.xml")
    (terminal.res / "OQSsiquc01res_F.xml").write_bytes(first)
    os.utime(terminal.res / "OQSsiquc01res_F.xml", (later, later))
    # A new request under the name of an answer the clinic left in res: answered anew.
    (terminal.req / "OQSsiquc01req_B.xml").write_text(request_xml())
    stale = terminal.res / "OQSsiquc01res_B.xml"
    stale.write_bytes(b"<XmlMsg>yesterday's answer</XmlMsg>")
    os.utime(stale, (earlier, earlier))
    assert [p.name for p in terminal.process_once()] == ["OQSsiquc01res_B.xml"]
    assert (terminal.res / "OQSmuquc01res_A.xml").read_bytes() == first
    assert (terminal.res / "OQSsiquc01res_F.xml").read_bytes() == first
    assert values(stale, "QualificationValidity") == ["1"]
    assert sorted(p.name for p in (terminal.req / "done").iterdir()) == [
        "OQSmuquc01req_A.xml",
        "OQSsiquc01req_B.xml",
    ]
    assert (terminal.req / "rejected" / "OQSsiquc01req_F.xml").is_fifo()


def test_a_response_that_cannot_be_written_is_tried_again_and_does_not_stop_the_rest(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    (terminal.res / "OQSsiquc01res_A.xml").mkdir(parents=True)  # a rename cannot replace it
    for name in ("A", "B"):
        (terminal.req / f"OQSsiquc01req_{name}.xml").write_text(request_xml())
    assert [p.name for p in terminal.process_once()] == ["OQSsiquc01res_B.xml"]
    assert leftovers(terminal.req) == ["OQSsiquc01req_A.xml"]  # kept, nothing lost
    assert sorted(p.name for p in terminal.res.iterdir()) == [
        "OQSsiquc01res_A.xml",
        "OQSsiquc01res_B.xml",
    ]  # and no temporary file left behind
    (terminal.res / "OQSsiquc01res_A.xml").rmdir()
    [answer] = terminal.process_once()
    assert values(answer, "QualificationValidity") == ["1"]
    assert leftovers(terminal.req) == []


def test_watch_mode_outlives_a_failing_pass(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    terminal.res.write_text("a file where the res folder should be")
    request = terminal.req / "OQSsiquc01req_A.xml"
    request.write_text(request_xml())
    past = time.time() - 10
    os.utime(request, (past, past))
    passes = 0

    def stop() -> bool:
        nonlocal passes
        passes += 1
        if passes == 3:  # the operator repairs the folder while the agent keeps watching
            terminal.res.unlink()
        return passes > 4

    terminal.run(interval=0.01, stop=stop)
    assert values(terminal.res / "OQSsiquc01res_A.xml", "QualificationValidity") == ["1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_answered_and_set_aside(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    (terminal.req / "OQSsiquc01req_secret.xml").write_text(request_xml())
    (terminal.req / "OQSsiquc01req_secret.xml").chmod(0)
    [written] = terminal.process_once()
    assert values(written, "ErrorCode") == ["unreadable_file"]
    assert "unreadable_file" in reason(terminal.req, "OQSsiquc01req_secret.xml")


# --- the real command against a real server ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real uvicorn server on a free loopback port over the small register; (URL, token)."""
    with serving(f"sqlite:///{tmp_path / 'kokuho.db'}", tmp_path) as served:
        yield served


@contextlib.contextmanager
def serving(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real uvicorn server on a free loopback port over the small register in
    ``database_url``; (URL, token)."""
    settings, token = small_service(database_url, tmp_path)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def command(url: str, req: Path, res: Path, *extra: str) -> list[str]:
    """The agent's command line; the token goes in the environment (:func:`agent_env`)."""
    return [str(KOKUHO_CLI), "oqs-agent", "--req", str(req), "--res", str(res), "--url", url,
            *extra]  # fmt: skip


def agent_env(token: str) -> dict[str, str]:
    return {**os.environ, "KOKUHO_CREDENTIAL": token}


def mixed_folder(req: Path, outside: Path) -> tuple[list[str], list[str]]:
    """50 entries: good requests in both encodings, then everything a clinic's folder should
    not hold. Returns (names that form a response name, names that do not)."""
    req.mkdir()
    named: list[str] = []
    for i in range(26):
        number = "1001" if i % 2 == 0 else "9999"
        named.append(f"OQSsiquc01req_u{i:02}.xml")
        (req / named[-1]).write_text(request_xml(number=number), encoding="utf-8")
    for i in range(8):
        named.append(f"OQSsiquc01req_s{i:02}.xml")
        sjis = request_xml(encoding="Shift_JIS", code=1).encode("cp932")
        (req / named[-1]).write_bytes(sjis)
    for name in BAD_NAMES:
        (req / name).write_text(request_xml(), encoding="utf-8")
    outside.write_text(request_xml(), encoding="utf-8")
    specials = {
        "OQSsiquc01req_link.xml": lambda p: p.symlink_to(outside),
        "OQSsiquc01req_passwd.xml": lambda p: p.symlink_to("/etc/passwd"),
        "OQSsiquc01req_dir.xml": lambda p: p.mkdir(),
        "OQSsiquc01req_fifo.xml": os.mkfifo,
        "OQSsiquc01req_big.xml": lambda p: p.write_bytes(b"<XmlMsg>" + b"x" * 70_000),
        "OQSsiquc01req_bin1.xml": lambda p: p.write_bytes(bytes(range(256))),
        "OQSsiquc01req_bin2.xml": lambda p: p.write_bytes(b"\xff\xfe not xml at all"),
        "OQSsiquc01req_xxe.xml": lambda p: p.write_bytes((FIXTURES / "xxe.xml").read_bytes()),
        "OQSsiquc01req_laughs.xml": lambda p: p.write_bytes(
            (FIXTURES / "billion_laughs.xml").read_bytes()
        ),
        "OQSsiquc01req_broken.xml": lambda p: p.write_text("<XmlMsg><MessageHeader>"),
        # The sample's 医療機関コード made the credential's: another one's is refused.
        "OQSmuquc01req_bulk.xml": lambda p: p.write_bytes(
            (FIXTURES / "OQSmuquc01req_20250115090003.xml")
            .read_bytes()
            .replace(b"3711234561", CLINIC.encode())
        ),
    }
    for name, make in specials.items():
        make(req / name)
        named.append(name)
    (req / "unrelated.txt").write_text("left alone")
    assert len(named) + len(BAD_NAMES) == 50
    return named, BAD_NAMES


@pytest.mark.slow
def test_one_once_run_answers_a_folder_of_50_mixed_files(
    served: tuple[str, str], tmp_path: Path
) -> None:
    url, token = served
    req, res = tmp_path / "req", tmp_path / "res"
    named, unnamed = mixed_folder(req, tmp_path / "outside.xml")
    run = subprocess.run(
        command(url, req, res, "--once"), env=agent_env(token),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert f"{len(named)} response file(s)" in run.stdout
    assert leftovers(req) == []
    assert (req / "unrelated.txt").exists()
    for name in named:
        response = res / name.replace("req_", "res_")
        assert values(response, "SegmentOfResult"), name  # parses, and is an OQS message
    for name in unnamed:
        assert (req / "rejected" / f"{name}.reason.txt").exists(), name
    assert values(res / "OQSsiquc01res_u00.xml", "QualificationValidity") == ["1"]
    assert values(res / "OQSsiquc01res_u01.xml", "QualificationValidity") == ["4"]
    assert (
        (res / "OQSsiquc01res_s00.xml")
        .read_bytes()
        .startswith(b'<?xml version="1.0" encoding="Shift_JIS"')
    )
    assert values(res / "OQSsiquc01res_s00.xml", "QualificationValidity") == ["1"]
    assert values(res / "OQSmuquc01res_bulk.xml", "ReceptionNumber") != []
    for name, code in (("link", "not_a_regular_file"), ("passwd", "not_a_regular_file"),
                       ("dir", "not_a_regular_file"), ("fifo", "not_a_regular_file"),
                       ("big", "oversize"), ("bin1", "encoding"),
                       ("xxe", "external_reference_forbidden"), ("laughs", "entity_forbidden"),
                       ("broken", "malformed_xml")):  # fmt: skip
        assert values(res / f"OQSsiquc01res_{name}.xml", "ErrorCode") == [code], name
    assert not any(b"root:" in p.read_bytes() for p in res.iterdir())


class ResponseWatcher(threading.Thread):
    """Parses every response file the moment it appears, as clinic software would read it."""

    def __init__(self, res: Path) -> None:
        super().__init__(daemon=True)
        self.res = res
        self.seen: set[str] = set()
        self.partial: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for path in sorted(self.res.glob("OQS*res_*.xml")) if self.res.exists() else []:
                try:
                    if not values(path, "SegmentOfResult"):
                        self.partial.append(path.name)
                except FileNotFoundError:
                    continue
                except Exception as error:  # a half-written file does not parse
                    self.partial.append(f"{path.name}: {error}")
                self.seen.add(path.name)
            time.sleep(0.005)


def start_agent(url: str, token: str, req: Path, res: Path, log: Path) -> subprocess.Popen[bytes]:
    """``kokuho oqs-agent`` in watch mode, its log appended to ``log``."""
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command(url, req, res), env=agent_env(token),
                                stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip


def deliver(req: Path, name: str, body: str) -> None:
    """Writes a request as a careful clinic does: under another name, then renamed."""
    staging = req.parent / "staging" / name
    staging.write_text(body, encoding="utf-8")
    staging.replace(req / name)


@pytest.mark.slow
def test_kill_9_in_watch_mode_then_restart_answers_every_request(
    served: tuple[str, str], tmp_path: Path
) -> None:
    url, token = served
    req, res = tmp_path / "req", tmp_path / "res"
    req.mkdir()
    (tmp_path / "staging").mkdir()
    names = [f"OQSsiquc01req_{i:03}.xml" for i in range(75)]
    log = tmp_path / "agent.log"  # a file, not a pipe nobody reads while the agent runs
    watcher = ResponseWatcher(res)
    watcher.start()
    try:
        for round_ in range(2):  # files arrive, the agent is killed mid-way, twice
            agent_process = start_agent(url, token, req, res, log)
            try:
                goal = len(watcher.seen) + 8
                for name in names[25 * round_ : 25 * round_ + 25]:
                    deliver(req, name, request_xml())
                    time.sleep(0.01)
                deliver(req, BAD_NAMES[round_], request_xml())  # must not end the watch
                deadline = time.monotonic() + 120
                while len(watcher.seen) < goal:
                    assert agent_process.poll() is None, "the agent exited on input"
                    assert time.monotonic() < deadline, "the agent answered nothing"
                    time.sleep(0.002)
                agent_process.send_signal(signal.SIGKILL)  # requests still waiting
                agent_process.wait(timeout=30)
            finally:
                if agent_process.poll() is None:
                    agent_process.kill()
                    agent_process.wait(timeout=30)
        last = start_agent(url, token, req, res, log)
        try:
            for name in names[50:]:
                deliver(req, name, request_xml())
            deadline = time.monotonic() + 180
            while leftovers(req):
                assert last.poll() is None, "the restarted agent exited"
                assert time.monotonic() < deadline, f"not answered: {leftovers(req)}"
                time.sleep(0.1)
        finally:
            last.send_signal(signal.SIGINT)
            last.wait(timeout=30)
    finally:
        watcher.stopped.set()
        watcher.join(timeout=10)
    assert watcher.partial == []
    assert "Traceback" not in log.read_text(), log.read_text()
    assert sorted(p.name for p in (req / "done").iterdir()) == names
    assert sorted(p.name for p in (req / "rejected").glob("*.xml")) == sorted(BAD_NAMES[:2])
    expected = sorted(name.replace("req_", "res_") for name in names)
    assert sorted(p.name for p in res.iterdir()) == expected  # and no temporary left over
    assert all(values(res / name, "QualificationValidity") == ["1"] for name in expected)


def test_done_and_rejected_removed_while_watching_are_made_again(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    """An operator (or the clinic's clean-up) that deletes ``req/done`` and ``req/rejected``
    while the agent runs: the next pass makes them again. They were made only at start, so each
    pass answered every request again, could not move it, and logged it (14,000 lines in 20 s
    over 230 files in the faces probe), and no request ever left ``req``."""
    terminal = agent(service_client, tmp_path)
    terminal.process_once()  # the folders are made
    shutil.rmtree(terminal.done)
    shutil.rmtree(terminal.rejected)
    (terminal.req / "OQSsiquc01req_A.xml").write_text(request_xml())
    (terminal.req / "OQSsiquc01req_a b.xml").write_text(request_xml())
    [written] = terminal.process_once()
    assert written.name == "OQSsiquc01res_A.xml"
    assert leftovers(terminal.req) == []
    assert (terminal.done / "OQSsiquc01req_A.xml").is_file()
    assert "unknown_file_name" in reason(terminal.req, "OQSsiquc01req_a b.xml")
    assert terminal.process_once() == []


@pytest.mark.parametrize("folder", ["done", "rejected"])
def test_done_or_rejected_made_a_link_while_watching_is_refused(
    service_client: tuple[TestClient, str], tmp_path: Path, folder: str
) -> None:
    """A folder replaced by a link after the agent started is refused as one planted before:
    nothing is moved through it (only the first pass looked)."""
    terminal = agent(service_client, tmp_path)
    terminal.process_once()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (terminal.req / folder).rmdir()
    (terminal.req / folder).symlink_to(elsewhere)
    name = "OQSsiquc01req_A.xml" if folder == "done" else "OQSsiquc01req_a b.xml"
    (terminal.req / name).write_text(request_xml())
    with pytest.raises(NotADirectoryError, match=f"{folder} must be a folder"):
        terminal.process_once()
    assert list(elsewhere.iterdir()) == []
    assert leftovers(terminal.req) == [name]
