"""Writes a 介護給付費明細書 file (国保連 交換情報 CSV: cp932, CR LF) from ``_layout``'s table.

What the writer writes, the reader reads back to the same values: ``care_file_bytes`` reads its
own output before it returns, so a claim the reader would refuse is refused here (with the same
file:line:field problems, the file named ``<written>``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kokuho.care._layout import LAYOUTS, BadValue, Layout, render
from kokuho.care._model import CareClaimFile
from kokuho.care._read import read_care_bytes
from kokuho.store import atomic_file


def _record(layout: Layout, number: int, sources: tuple[Any, ...], count: int = 0) -> str:
    texts: list[str] = []
    for spec in layout.fields:
        if spec.name == "レコード番号":
            value: Any = number
        elif spec.name == "レコード件数":
            value = count
        elif spec.attr:
            value = next(getattr(s, spec.attr) for s in sources if hasattr(s, spec.attr))
        else:
            value = spec.value
        try:
            texts.append(render(spec, value))
        except BadValue as bad:
            raise ValueError(f"record {number}: {spec.name}: {bad}") from None
    return ",".join(texts)


def care_file_bytes(file: CareClaimFile) -> bytes:
    """The bytes of ``file``. Raises ValueError for a value the layout cannot hold and
    ``CareFileRejected`` for claims the reader would refuse."""
    data = sum(1 + len(c.details) + len(c.totals) for c in file.claims)
    records = [_record(LAYOUTS["control"], 1, (file,), data)]
    for claim in file.claims:
        records.append(_record(LAYOUTS["basic"], len(records) + 1, (claim,)))
        for detail in claim.details:
            records.append(_record(LAYOUTS["detail"], len(records) + 1, (detail, claim)))
        for total in claim.totals:
            records.append(_record(LAYOUTS["total"], len(records) + 1, (total, claim)))
    records.append(_record(LAYOUTS["end"], len(records) + 1, ()))
    try:
        body = "".join(f"{r}\r\n" for r in records).encode("cp932")
    except UnicodeEncodeError as error:
        raise ValueError(f"a character cp932 cannot hold: {error.object[error.start]!r}") from None
    read_care_bytes(body, "<written>")
    return body


def write_care_file(path: Path, file: CareClaimFile) -> int:
    """Writes ``file`` to ``path`` whole or not at all; returns the number of bytes."""
    body = care_file_bytes(file)
    with atomic_file(Path(path)) as temporary:
        temporary.write_bytes(body)
    return len(body)
