"""``kokuho oqs-agent``: the on-site terminal (資格確認端末) for clinic software that speaks the
OQS file interface. It watches the ``req`` folder, asks the service over HTTP, and writes each
answer to ``res`` under the matching name, in the message structure and encoding the request
asked for.

Every request file is answered on its own, and nothing one file does stops the others:

- a request that parses, or fails to parse, gets its response file (an error response,
  SegmentOfResult 9, for a malformed one) and then moves to ``req/done``;
- an entry that cannot be a request (a symbolic link, folder, FIFO, unreadable or oversize
  file) is never opened or read; it gets an error response when its name forms one and moves
  to ``req/rejected`` with ``<name>.reason.txt``;
- an entry whose name forms no response name (``OQSsiquc01req_a.b.xml``) moves to
  ``req/rejected`` with its reason file only.

A request whose 医療機関コード is not the institution of the agent's credential gets an error
response (``institution_mismatch``) and is never asked of the service: the agent learns its
institution from the service (``GET /api/v1/credential``) before the first request it asks.

Order of work, for crash safety: the response is written under a temporary name and renamed
into place (:mod:`kokuho.verify._oqs_files`); only then does the request leave ``req``. After a
kill, a request still in ``req`` whose response in ``res`` is newer than it was answered
already: it moves to ``done`` without being asked again.
"""

from __future__ import annotations

import datetime as dt
import logging
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from kokuho.store import shown_text
from kokuho.verify._json import answer_from_json
from kokuho.verify._model import NumberQuery
from kokuho.verify._oqs_files import (
    DONE,
    REJECTED,
    Entry,
    check_entry,
    move_to_done,
    prepare_folder,
    read_request,
    reject,
    scan,
    sweep_temporaries,
    write_atomically,
)
from kokuho.verify._oqs_xml import (
    BulkFetchRequest,
    BulkSubmitRequest,
    Encoding,
    OqsErrorCode,
    OqsHeader,
    OqsMessageError,
    SingleRequest,
    UnrepresentableCharacter,
    parse_request,
    render_bulk_accepted,
    render_bulk_pending,
    render_bulk_result,
    render_response,
    response_filename,
)

log = logging.getLogger("kokuho.oqs_agent")
SETTLE_SECONDS = 0.3  # a file younger than this may still be being written by the clinic
NAME_RULE = (
    "is not a request file name (OQS…req_<id>.xml, <id> 1–64 of A–Z a–z 0–9 _ -), "
    "so no response file can be named for it"
)


class ServiceError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        super().__init__(detail)


def _query_json(query: NumberQuery, purpose: str) -> dict[str, Any]:
    return {
        "insurer_number": query.insurer, "symbol": query.symbol, "number": query.number,
        "branch": query.branch, "birth_date": query.birth_date.isoformat(),
        "date_of_care": query.date_of_care.isoformat(), "purpose": purpose,
        "limit_consent": query.limit_consent,
    }  # fmt: skip


class OqsAgent:
    def __init__(
        self, client: httpx2.Client, token: str, req: Path, res: Path,
        *, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:  # fmt: skip
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.req = req
        self.res = res
        self.done = req / DONE
        self.rejected = req / REJECTED
        self.now = now
        self._prepared = False
        # The 医療機関コード the credential speaks for, asked of the service once: a
        # credential belongs to one institution for good. None until asked.
        self._own: tuple[str | None] | None = None
        # Entries whose last pass failed (disk full, no permission), and why: they are tried
        # again every pass, but logged only when the reason changes.
        self._failing: dict[tuple[str, int, int], str] = {}

    def prepare(self) -> None:
        """Creates the folders and removes temporary files a killed run left behind."""
        prepare_folder(self.res, follow=True)
        for folder in (self.done, self.rejected):
            prepare_folder(folder, follow=False)
        for folder in (self.res, self.rejected):
            for name in sweep_temporaries(folder):
                log.warning("removed %s/%s, left by an interrupted run", folder, shown_text(name))
        self._prepared = True

    def pending(self, *, settle: float = 0.0) -> list[Entry]:
        """The request entries in ``req`` that are due for an answer."""
        return scan(self.req, settle=settle)

    def process_once(self, *, settle: float = 0.0) -> list[Path]:
        """Answers every request file present; returns the response files written."""
        if not self._prepared:
            self.prepare()
        else:
            # Every pass, not only the first: a folder deleted while the agent runs is made
            # again (else no request could leave ``req``), and ``done`` or ``rejected`` made a
            # link meanwhile is refused before anything is moved through it.
            prepare_folder(self.res, follow=True)
            for folder in (self.done, self.rejected):
                prepare_folder(folder, follow=False)
        written = []
        failing = {}
        for entry in self.pending(settle=settle):
            try:
                response = self._handle(entry)
            except Exception as error:  # disk full, no permission …: try again next pass
                failing[entry.key] = repr(error)
                if self._failing.get(entry.key) != repr(error):
                    log.error("%s: not finished, tried again next pass: %s", entry.shown, error,
                              exc_info=not isinstance(error, OSError))  # fmt: skip
                continue
            if response is not None:
                written.append(response)
        self._failing = failing
        return written

    def run(self, *, interval: float = 0.5, stop: Callable[[], bool] = lambda: False) -> None:
        """Watches ``req`` until ``stop()`` says so. Nothing in the folders ends the watch: a
        pass that fails is logged and the next one starts ``interval`` seconds later."""
        last_failure = ""
        while not stop():
            try:
                self.process_once(settle=SETTLE_SECONDS)
                last_failure = ""
            except Exception as error:  # a folder removed or unwritable; the operator may fix it
                if repr(error) != last_failure:  # once, not twice a second
                    log.exception("a pass over %s failed; trying again", self.req)
                last_failure = repr(error)
            time.sleep(interval)

    # -- one entry -------------------------------------------------------------------------
    def _handle(self, entry: Entry) -> Path | None:
        try:
            response_name = response_filename(entry.name)
        except OqsMessageError:
            self._reject(entry, f"{OqsErrorCode.UNKNOWN_FILE.value}: {NAME_RULE}")
            return None
        answered = self._answered_before(entry, response_name)
        try:
            check_entry(entry)
            data = None if answered else read_request(entry)
        except OqsMessageError as error:
            written = None if answered else self._write(response_name, self._error(None, error))
            self._reject(entry, f"{error.code.value}: {error.message}")
            return written
        if data is None:
            move_to_done(entry, self.done)  # logged once it has left ``req``, not every pass
            log.warning("%s was answered before an interruption; not asked again", entry.shown)
            return None
        written = self._write(response_name, self._answer(data, entry.name))
        move_to_done(entry, self.done)
        return written

    def _answered_before(self, entry: Entry, response_name: str) -> bool:
        """A response written after the request arrived in ``req`` (its ctime: the last write
        or the rename into ``req``) answered it, in a run killed before the request left
        ``req``. An older one answered an earlier request of the same name."""
        try:
            response = (self.res / response_name).lstat()
        except FileNotFoundError:
            return False
        # Strictly later: a clinic that writes a request the moment it reads the previous
        # answer may share its timestamp, and a stale answer is worse than a repeated one.
        return stat.S_ISREG(response.st_mode) and response.st_mtime_ns > entry.status.st_ctime_ns

    def _reject(self, entry: Entry, reason: str) -> None:
        target = reject(entry, self.rejected, reason)
        log.warning("%s: %s; moved to %s", entry.shown, reason, shown_text(str(target)))

    def _write(self, name: str, body: bytes) -> Path:
        target = write_atomically(self.res, name, body)
        log.info("answered → %s", name)
        return target

    def _answer(self, data: bytes, name: str) -> bytes:
        header: OqsHeader | None = None
        encoding: Encoding = "utf-8"
        try:
            request = parse_request(data, name)
            header = request.header
            encoding = header.response_encoding
            self._check_institution(header)
            return self._render(request, encoding)
        except OqsMessageError as error:
            return self._error(header or error.header, error, encoding)
        except (ServiceError, httpx2.HTTPError) as error:
            problem = OqsMessageError(OqsErrorCode.SERVICE, f"service: {error}")
            return self._error(header, problem, encoding)
        except Exception:  # a defect here must not leave the clinic without an answer
            log.exception("%s: answered with internal_error", name)
            problem = OqsMessageError(OqsErrorCode.INTERNAL, "the terminal failed; see its log")
            return self._error(header, problem, encoding)

    def _check_institution(self, header: OqsHeader) -> None:
        """Refuses a request written for another institution: the credential would answer it
        with this institution's rights, and the answer would carry the other one's code."""
        if self._own is None:
            self._own = (self._get("/api/v1/credential").get("institution_code"),)
        own = self._own[0]
        declared = header.institution.value
        if declared == own:
            return
        log.warning("a request names 医療機関コード %s, the credential is %s's: refused",
                    declared, own)  # fmt: skip
        held = f"institution {own}'s" if own else "not an institution's"
        raise OqsMessageError(
            OqsErrorCode.INSTITUTION_MISMATCH,
            f"the request names 医療機関コード {declared}, but this terminal's credential is "
            f"{held}; not asked of the service",
        )

    def _error(
        self, header: OqsHeader | None, error: OqsMessageError, encoding: Encoding = "utf-8"
    ) -> bytes:
        try:
            return render_response(header, None, error=error, processed_at=self.now(),
                                   encoding=encoding)  # fmt: skip
        except UnrepresentableCharacter:
            return render_response(header, None, error=error, processed_at=self.now(),
                                   encoding="utf-8")  # fmt: skip

    def _render(self, request: Any, encoding: Encoding) -> bytes:
        try:
            return self._render_in(request, encoding)
        except UnrepresentableCharacter:
            # 髙 and other IBM-extension kanji have no Shift_JIS (JIS X 0208) code: answer in
            # UTF-8 rather than change a name.
            log.warning("%s: answering in UTF-8, a name is not representable in Shift_JIS", request)
            return self._render_in(request, "utf-8")

    def _render_in(self, request: Any, encoding: Encoding) -> bytes:
        at = self.now()
        if isinstance(request, SingleRequest):
            data = self._post("/api/v1/checks/number", _query_json(request.query, "care"))
            return render_response(
                request.header, answer_from_json(data), processed_at=at, encoding=encoding,
                query=request.query, arbitrary_identifier=request.arbitrary_identifier,
            )  # fmt: skip
        if isinstance(request, BulkSubmitRequest):
            items = [_query_json(q, "precheck") for q in request.queries]
            data = self._post("/api/v1/checks/bulk", {"items": items})
            return render_bulk_accepted(
                request.header, data["reception_number"], processed_at=at, encoding=encoding
            )
        assert isinstance(request, BulkFetchRequest)
        data = self._get(f"/api/v1/checks/bulk/{request.reception_number}")
        if data["status"] == "failed":
            raise OqsMessageError(
                OqsErrorCode.BULK_FAILED,
                f"一括照会 {request.reception_number} stopped before it was complete: "
                "submit it again",
            )
        if data["status"] != "complete":
            return render_bulk_pending(
                request.header, request.reception_number, processed_at=at, encoding=encoding
            )
        answers = [answer_from_json(a) for a in data["results"]]
        return render_bulk_result(
            request.header, request.reception_number, answers, processed_at=at, encoding=encoding
        )

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._checked(self.client.post(url, json=body, headers=self.headers))

    def _get(self, url: str) -> dict[str, Any]:
        return self._checked(self.client.get(url, headers=self.headers))

    @staticmethod
    def _checked(response: httpx2.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServiceError(response.status_code, f"{response.status_code} {detail}")
        data: dict[str, Any] = response.json()
        return data
