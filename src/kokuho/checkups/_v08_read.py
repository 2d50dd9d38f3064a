"""Reading a V08 archive (送付用ファイルアーカイブ): the zip a 健診機関 or 代行機関 sends, named
``{提出元機関番号10}_{提出先機関番号8}_{YYYYMMDD}{同日分割回数}_{実施区分}.zip`` with one root
folder of the same name holding

- ``ix08_V08.xml`` 交換用基本情報 (the index: sender, receiver, 作成日, 実施区分, 総ファイル数),
- ``su08_V08.xml`` 集計情報 (the summary: 受診者数 and amounts),
- ``DATA/h*.xml`` 特定健診 documents and ``DATA/g*.xml`` 特定保健指導 documents (UNCONFIRMED
  prefix and structure, see ``_v08_document``),
- ``CLAIMS/c*.xml`` 決済情報 (counted and checked well-formed, not interpreted),
- ``XSD/`` the schemas (ignored: nothing is validated against a sender's own schemas).

The zip is untrusted. Before anything is decompressed, the central directory is screened:
entry count, absolute or ``..`` paths (zip slip), symlinks, encryption, duplicate names,
declared sizes and compression ratios (zip bombs). Any of these refuses the whole archive,
``strict`` or not: an archive built to attack the reader is not half-trusted. Each entry is
then read with a hard size bound, whatever its header claims.

Everything else is a problem of one file: with ``strict=True`` any problem refuses the archive
(:class:`ArchiveRejected` lists them all); with ``strict=False`` the good documents are
returned and each bad one is left out whole and listed in ``problems``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import stat
import zipfile
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Final

from lxml import etree

from kokuho.checkups import _v08_common as limits
from kokuho.checkups._model import Checkup, Guidance
from kokuho.checkups._v08_common import (
    ARCHIVE_NAME,
    CLAIMS_DIR,
    DATA_DIR,
    INDEX_FILE,
    MHLW,
    SUMMARY_FILE,
    XSD_DIR,
    ArchiveProblem,
    ArchiveRejected,
    XmlRefused,
    parse_date,
    parse_xml,
)
from kokuho.checkups._v08_documents import (
    LOCAL_HEADER_SIZE,
    Job,
    ZipData,
    entry_bytes,
    read_documents,
)

_NAME_RULE: Final = (
    "does not follow {提出元機関番号10}_{提出先機関番号8}_{YYYYMMDD}{同日分割回数}_{実施区分}.zip"
)


@dataclass
class ArchiveContents:
    """What a V08 archive held: its identity (path, sha256 of the zip bytes), the index's
    sender (提出元), receiver (提出先), 作成日 and 実施区分, the documents read and, when read
    with ``strict=False``, every problem found."""

    path: Path
    digest: str
    sender: str
    receiver: str
    created: dt.datetime | None
    service_event: str
    checkups: list[Checkup] = field(default_factory=list)
    guidance: list[Guidance] = field(default_factory=list)
    problems: list[ArchiveProblem] = field(default_factory=list)


def _m(tag: str) -> str:
    return f"{{{MHLW}}}{tag}"


@dataclass
class _Layout:
    root: str
    index: zipfile.ZipInfo | None = None
    summary: zipfile.ZipInfo | None = None
    checkups: list[tuple[str, zipfile.ZipInfo]] = field(default_factory=list)
    guidance: list[tuple[str, zipfile.ZipInfo]] = field(default_factory=list)
    claims: list[tuple[str, zipfile.ZipInfo]] = field(default_factory=list)
    data_files: int = 0


def _unsafe_path(name: str) -> str | None:
    if "\\" in name:
        return "path contains a backslash: refused (zip slip)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path: refused (zip slip)"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "path leaves the archive folder ('..'): refused (zip slip)"
    if "" in parts or "." in parts:
        return "path has empty or '.' components: refused"
    return None


def _screen(infos: list[zipfile.ZipInfo], archive: str) -> list[ArchiveProblem]:
    """Problems that refuse the whole archive, found from the central directory alone."""
    problems: list[ArchiveProblem] = []

    def refuse(file: str, reason: str) -> None:
        problems.append(ArchiveProblem(archive, file, "zip entry", reason))

    if len(infos) > limits.MAX_ENTRIES:
        refuse("", f"{len(infos)} entries, more than the limit of {limits.MAX_ENTRIES}")
        return problems
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        unsafe = _unsafe_path(name)
        if unsafe:
            refuse(name, unsafe)
        if name in seen:
            refuse(name, "appears twice in the zip (one copy would hide the other)")
        seen.add(name)
        if info.flag_bits & 0x1:
            refuse(name, "is encrypted")
        if stat.S_ISLNK(info.external_attr >> 16):
            refuse(name, "is a symbolic link")
        if info.is_dir():
            continue
        total += info.file_size
        if info.file_size > limits.MAX_ENTRY_BYTES:
            refuse(
                name,
                f"uncompressed size {info.file_size} bytes exceeds the limit of "
                f"{limits.MAX_ENTRY_BYTES} (zip bomb?)",
            )
        elif (
            info.file_size > limits.RATIO_FLOOR
            and info.file_size / max(info.compress_size, 1) > limits.MAX_RATIO
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            refuse(
                name,
                f"compression ratio {ratio}:1 exceeds the limit of {limits.MAX_RATIO}:1 "
                "(zip bomb?)",
            )
    # Entries whose data overlap are the trick of the non-recursive zip bombs: many directory
    # entries inflating the same compressed kernel.
    files = sorted((i for i in infos if not i.is_dir()), key=lambda i: i.header_offset)
    for this, following in zip(files, files[1:], strict=False):
        if following.header_offset < this.header_offset + LOCAL_HEADER_SIZE + this.compress_size:
            refuse(following.filename, f"overlaps the data of {this.filename!r} (zip bomb?)")
    if total > limits.MAX_TOTAL_BYTES:
        refuse("", f"total uncompressed size {total} bytes exceeds {limits.MAX_TOTAL_BYTES}")
    return problems


def _layout(
    infos: list[zipfile.ZipInfo], expected_root: str, archive: str, problems: list[ArchiveProblem]
) -> _Layout:
    tops = {info.filename.split("/", 1)[0] for info in infos}
    root = expected_root
    if expected_root not in tops and len(tops) == 1:
        # A renamed zip: read the folder it has, but say that it does not match.
        root = tops.pop()
        problems.append(
            ArchiveProblem(
                archive,
                "",
                "root folder",
                f"is {root!r}, expected {expected_root!r} (the zip name)",
            )
        )
    layout = _Layout(root)
    prefix = root + "/"
    for info in sorted(infos, key=attrgetter("filename")):
        name = info.filename
        if not name.startswith(prefix):
            if name != root:
                problems.append(
                    ArchiveProblem(
                        archive, name, "zip entry", f"is outside the root folder {prefix!r}"
                    )
                )
            continue
        if info.is_dir():
            continue
        rel = name[len(prefix) :]
        folder, _, base = rel.rpartition("/")
        lower = base.lower()
        if rel == INDEX_FILE:
            layout.index = info
        elif rel == SUMMARY_FILE:
            layout.summary = info
        elif folder == XSD_DIR or folder.startswith(XSD_DIR + "/"):
            continue
        elif folder == DATA_DIR:
            layout.data_files += 1
            if lower.endswith(".xml") and lower.startswith("h"):
                layout.checkups.append((rel, info))
            elif lower.endswith(".xml") and lower.startswith("g"):
                layout.guidance.append((rel, info))
            else:
                problems.append(
                    ArchiveProblem(archive, rel, "file name", "is not an h*.xml or g*.xml document")
                )
        elif folder == CLAIMS_DIR:
            layout.claims.append((rel, info))
            if not (lower.endswith(".xml") and lower.startswith("c")):
                problems.append(
                    ArchiveProblem(archive, rel, "file name", "is not a c*.xml 決済情報 file")
                )
        else:
            problems.append(
                ArchiveProblem(
                    archive,
                    rel,
                    "zip entry",
                    "unexpected file (only the index, the summary, "
                    "DATA/, CLAIMS/ and XSD/ belong in the root folder)",
                )
            )
    if layout.index is None:
        problems.append(ArchiveProblem(archive, INDEX_FILE, "file", "交換用基本情報 is missing"))
    if layout.summary is None:
        problems.append(ArchiveProblem(archive, SUMMARY_FILE, "file", "集計情報 is missing"))
    return layout


def _xml(
    data: bytes, rel: str, archive: str, tag: str, problems: list[ArchiveProblem]
) -> etree._Element | None:
    try:
        root = parse_xml(data)
    except XmlRefused as refused:
        problems.append(ArchiveProblem(archive, rel, refused.where, refused.reason))
        return None
    if root.tag != _m(tag):
        problems.append(
            ArchiveProblem(
                archive,
                rel,
                "root element",
                f"is {root.tag!r}, expected <{tag}> in namespace {MHLW}",
            )
        )
        return None
    return root


def _mhlw_file(
    zf: ZipData,
    info: zipfile.ZipInfo | None,
    rel: str,
    tag: str,
    archive: str,
    problems: list[ArchiveProblem],
) -> etree._Element | None:
    if info is None:
        return None
    data = entry_bytes(zf, info, rel, archive, problems)
    return None if data is None else _xml(data, rel, archive, tag, problems)


def _attr(root: etree._Element, path: str, attribute: str) -> str | None:
    element = root.find(path)
    return None if element is None else element.get(attribute)


def _count(
    text: str | None, rel: str, where: str, archive: str, problems: list[ArchiveProblem]
) -> int | None:
    if text is None:
        problems.append(ArchiveProblem(archive, rel, where, "is missing"))
        return None
    if not (text.isascii() and text.isdigit()):
        problems.append(ArchiveProblem(archive, rel, where, f"value {text!r} is not a count"))
        return None
    return int(text)


def read_archive(path: Path, *, strict: bool = True, parallel: bool = True) -> ArchiveContents:
    """Reads and checks one V08 archive. See the module docstring for what refuses it.

    ``parallel``: a large archive's documents may be read half in a forked process (see
    ``_v08_documents``; same result, same errors); False reads all in this process."""
    archive = path.name
    size = path.stat().st_size
    if size > limits.MAX_ARCHIVE_BYTES:
        raise ArchiveRejected(
            [
                ArchiveProblem(
                    archive, "", "zip", f"{size} bytes, more than {limits.MAX_ARCHIVE_BYTES}"
                )
            ]
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise ArchiveRejected(
            [ArchiveProblem(archive, "", "zip", f"not a readable zip archive: {error}")]
        ) from None
    with zf:
        return _read(ZipData(data, zf), path, digest, strict, parallel)


def _read(zf: ZipData, path: Path, digest: str, strict: bool, parallel: bool) -> ArchiveContents:
    archive = path.name
    problems: list[ArchiveProblem] = []
    named = ARCHIVE_NAME.fullmatch(archive)
    if named is None:
        problems.append(ArchiveProblem(archive, "", "archive name", _NAME_RULE))
    expected_root = archive[: -len(".zip")] if archive.lower().endswith(".zip") else archive
    infos = zf.zf.infolist()
    hostile = _screen(infos, archive)
    if hostile:
        raise ArchiveRejected(problems + hostile)
    layout = _layout(infos, expected_root, archive, problems)

    sender = named.group(1) if named else ""
    receiver = named.group(2) if named else ""
    service_event = named.group(5) if named else ""
    created: dt.datetime | None = None

    index = _mhlw_file(zf, layout.index, INDEX_FILE, "index", archive, problems)
    if index is not None:
        i_sender = _attr(index, f"{_m('sender')}/{_m('id')}", "extension")
        i_receiver = _attr(index, f"{_m('receiver')}/{_m('id')}", "extension")
        i_event = _attr(index, _m("serviceEventType"), "code")
        i_created = _attr(index, _m("creationTime"), "value")
        for where, value, from_name in (
            ("sender/id@extension", i_sender, sender if named else None),
            ("receiver/id@extension", i_receiver, receiver if named else None),
            ("serviceEventType@code", i_event, service_event if named else None),
        ):
            if value is None:
                problems.append(ArchiveProblem(archive, INDEX_FILE, where, "is missing"))
            elif from_name is not None and value.zfill(len(from_name)) != from_name:
                problems.append(
                    ArchiveProblem(
                        archive, INDEX_FILE, where, f"is {value!r}, the zip name says {from_name!r}"
                    )
                )
        sender = i_sender or sender
        receiver = i_receiver or receiver
        service_event = i_event or service_event
        day = parse_date(i_created)
        if day is None:
            problems.append(
                ArchiveProblem(
                    archive,
                    INDEX_FILE,
                    "creationTime@value",
                    f"{i_created!r} is not a date (YYYYMMDD)",
                )
            )
        else:
            created = dt.datetime(day.year, day.month, day.day)
        records = _count(
            _attr(index, _m("totalRecordCount"), "value"),
            INDEX_FILE,
            "totalRecordCount",
            archive,
            problems,
        )
        held = layout.data_files + len(layout.claims)
        if records is not None and records != held:
            problems.append(
                ArchiveProblem(
                    archive,
                    INDEX_FILE,
                    "totalRecordCount",
                    f"says {records} files, DATA and CLAIMS hold {held}",
                )
            )

    summary = _mhlw_file(zf, layout.summary, SUMMARY_FILE, "summary", archive, problems)
    if summary is not None:
        subjects = _count(
            _attr(summary, _m("totalSubjectCount"), "value"),
            SUMMARY_FILE,
            "totalSubjectCount",
            archive,
            problems,
        )
        documents = len(layout.checkups) + len(layout.guidance)
        if subjects is not None and subjects != documents:
            problems.append(
                ArchiveProblem(
                    archive,
                    SUMMARY_FILE,
                    "totalSubjectCount",
                    f"says {subjects}, DATA holds {len(layout.checkups)} checkup and "
                    f"{len(layout.guidance)} guidance documents",
                )
            )
        s_event = _attr(summary, _m("serviceEventType"), "code")
        if s_event is not None and service_event and s_event != service_event:
            problems.append(
                ArchiveProblem(
                    archive,
                    SUMMARY_FILE,
                    "serviceEventType@code",
                    f"is {s_event!r}, the index says {service_event!r}",
                )
            )

    for rel, info in layout.claims:
        claim = entry_bytes(zf, info, rel, archive, problems)
        if claim is not None:
            try:
                parse_xml(claim)
            except XmlRefused as refused:
                problems.append(ArchiveProblem(archive, rel, refused.where, refused.reason))

    jobs = [Job(False, rel, info) for rel, info in layout.checkups]
    jobs += [Job(True, rel, info) for rel, info in layout.guidance]
    checkups, guidance = read_documents(zf, jobs, archive, problems, parallel=parallel)

    if problems and strict:
        raise ArchiveRejected(problems)
    return ArchiveContents(
        path=path,
        digest=digest,
        sender=sender,
        receiver=receiver,
        created=created,
        service_event=service_event,
        checkups=checkups,
        guidance=guidance,
        problems=problems,
    )
