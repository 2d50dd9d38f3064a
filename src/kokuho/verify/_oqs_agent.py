"""``kokuho oqs-agent``: the on-site terminal (資格確認端末) for clinic software that speaks the
OQS file interface. It watches the ``req`` folder, asks the service over HTTP, and writes each
answer to ``res`` under the matching name, in the message structure and encoding the request
asked for. Every request file gets a response file: a malformed one gets an error response.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from kokuho.verify._json import answer_from_json
from kokuho.verify._model import NumberQuery
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
PREFIXES = ("OQSsiquc01req_", "OQSmuquc01req_", "OQSmuquc02req_")
SETTLE_SECONDS = 0.3  # a file younger than this may still be being written by the clinic


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
        self.done = req / "done"
        self.now = now

    def pending(self, *, settle: float = 0.0) -> list[Path]:
        cutoff = time.time() - settle
        return sorted(
            path for path in self.req.iterdir()
            if path.is_file() and path.name.startswith(PREFIXES) and path.stat().st_mtime <= cutoff
        )  # fmt: skip

    def process_once(self, *, settle: float = 0.0) -> list[Path]:
        """Answers every request file present; returns the response files written."""
        self.res.mkdir(parents=True, exist_ok=True)
        self.done.mkdir(parents=True, exist_ok=True)
        written = []
        for path in self.pending(settle=settle):
            written.append(self._answer(path))
            path.replace(self.done / path.name)
        return written

    def run(self, *, interval: float = 0.5, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            self.process_once(settle=SETTLE_SECONDS)
            time.sleep(interval)

    # -- one file ---------------------------------------------------------------------------
    def _answer(self, path: Path) -> Path:
        target = self.res / response_filename(path.name)
        header: OqsHeader | None = None
        encoding: Encoding = "utf-8"
        try:
            request = parse_request(path.read_bytes(), path.name)
            header = request.header
            encoding = header.response_encoding
            body = self._render(request, encoding)
        except OqsMessageError as error:
            header = header or error.header
            body = self._error(header, error, encoding)
        except (ServiceError, httpx2.HTTPError) as error:
            problem = OqsMessageError(OqsErrorCode.INVALID_VALUE, f"service: {error}")
            body = self._error(header, problem, encoding)
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(body)
        os.replace(temporary, target)  # the clinic never sees half a file
        log.info("answered %s → %s", path.name, target.name)
        return target

    def _error(self, header: OqsHeader | None, error: OqsMessageError, encoding: Encoding) -> bytes:
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
