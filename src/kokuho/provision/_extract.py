"""The extract (提供データの作成): built from exactly the approved items, every table keyed by the
provision's own pseudonymous ID, generalised, scanned for direct identifiers, then written.

Every table carries ``pid`` = rekey(provision key, ID2 of the person): ID2 (カナ氏名・生年月日・
性別) is the one key both the 医療 and the 介護 side can compute, so the tables of one extract
join per person, and the fresh key of each provision keeps two provisions apart. A 医療 claim
names its person on the source side through the register's coverage of its insured number
(保険者番号・記号・番号, 生年月日, 性別); claims the register cannot place are left out and counted.
Dates leave as 年月 only. Each basis provides only its scope (catalogue ``scope``): a
statutory request only the persons its providing insurer (the 市町村's 国保, the 広域連合)
covered in the period, the claims billed to it and those persons' 介護 records; the
第三者提供 every insurer's. The 一体的実施 request has no minimum age: the 広域連合 insures
those 75 and over and those 65–74 it has found disabled (障害認定, 高確法 §50(ii)). A basis a
local catalogue gives a ``minimum_age`` keeps only the records of persons of that age on the
period's last day.

The files are written into a temporary folder, audited, renamed into
``<out>/<provision>/extract-<n>/`` when the step is recorded, and removed when it is not: a
refused or failed extract leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.care import Certification
from kokuho.ids import age_on
from kokuho.provision._catalogue import Basis, Catalogue
from kokuho.provision._generalise import age_band_on, birth_month
from kokuho.provision._id_fields import linkage_id_fields
from kokuho.provision._keys import new_provision_key, provision_key
from kokuho.provision._linkage import LinkageRate, MedicalPerson, linkage_rate
from kokuho.provision._pseudonym import id2, rekey
from kokuho.provision._scan import refuse_identifiers
from kokuho.provision._workflow import begin_extract, check_items, finish_extract, text_field
from kokuho.provision._workflow_model import (
    Provision,
    ProvisionAudit,
    ProvisionError,
    UnapprovedItem,
)
from kokuho.registry import tables
from kokuho.store import atomic_file, exclusive_lock


@dataclass(frozen=True, slots=True)
class MedicalClaim:
    """One 医療 claim as the source holds it (from the claims lake)."""

    insurer: str
    symbol: str
    number: str
    birth_date: dt.date
    sex: int
    service_month: dt.date
    setting: str
    days: int
    points: int


@dataclass(frozen=True, slots=True)
class CareService:
    """One 介護 明細 with the claim's person items (from the care lake)."""

    name_kana: str
    birth_date: dt.date
    sex: int
    service_month: dt.date
    service_type: str
    service_units: int


@dataclass(frozen=True, slots=True)
class Sources:
    """What the source side holds for an extract (clear text: never leaves the source)."""

    persons: Sequence[MedicalPerson]
    coverages: Mapping[tuple[str, str, str], Sequence[int]] = field(default_factory=dict)
    """(保険者番号, 記号, 番号) → the person ids covered under it."""
    claims: Sequence[MedicalClaim] = ()
    certifications: Sequence[Certification] = ()
    care_services: Sequence[CareService] = ()
    periods: Mapping[int, Sequence[tuple[str, dt.date, dt.date | None]]] | None = None
    """person id → the (保険者番号, 資格取得日, 資格喪失日) of each coverage; ``persons`` keeps
    only those covered by an insurer of the basis's scope at some time in the data period
    (None: no register, nobody is filtered)."""
    insurers: Mapping[str, str] = field(default_factory=dict)
    """保険者番号 → the register's insurer kind (``kokuho_municipal``, ``koki`` …)."""


@dataclass(frozen=True, slots=True)
class Extract:
    """What one extract wrote."""

    provision_id: str
    number: int
    folder: Path
    rows: dict[str, int]
    sha256: dict[str, str]
    claims_unplaced: int
    linkage: LinkageRate | None

    def as_json(self) -> dict[str, Any]:
        return {
            "provision": self.provision_id, "extract": self.number, "folder": str(self.folder),
            "rows": self.rows, "sha256": self.sha256, "claims_unplaced": self.claims_unplaced,
            "linkage": None if self.linkage is None else self.linkage.as_json(),
        }  # fmt: skip


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _in(day: dt.date, start: dt.date, end: dt.date) -> bool:
    return (start.year, start.month) <= (day.year, day.month) <= (end.year, end.month)


def load_sources(
    engine: sa.Engine, *, certifications: Sequence[Certification] = (),
    care_services: Sequence[CareService] = (), claims: Sequence[MedicalClaim] = (),
) -> Sources:  # fmt: skip
    """The register's persons and coverages, with the given 介護 and 医療 records."""
    p, pm, r, c = tables.persons, tables.person_mynumbers, tables.residents, tables.coverages
    linked = sa.select(r.c.municipality_code).where(
        r.c.resident_id == sa.select(pm.c.resident_id).where(pm.c.person_id == p.c.person_id)
        .scalar_subquery()
    ).scalar_subquery()  # fmt: skip
    matched = (
        sa.select(sa.func.min(r.c.municipality_code))
        .where(r.c.match_key == p.c.match_key).scalar_subquery()
    )  # fmt: skip
    absorbed = sa.select(tables.person_merges.c.absorbed_person_id)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(p.c.person_id, p.c.name_kana, p.c.birth_date, p.c.sex,
                      sa.func.coalesce(linked, matched))
            .where(p.c.person_id.not_in(absorbed)).order_by(p.c.person_id)
        ).all()  # fmt: skip
        covered: dict[tuple[str, str, str], list[int]] = {}
        for row in connection.execute(sa.select(c.c.insurer_number, c.c.symbol, c.c.number,
                                                c.c.person_id).distinct()):  # fmt: skip
            covered.setdefault((row[0], row[1], row[2]), []).append(row[3])
        periods: dict[int, list[tuple[str, dt.date, dt.date | None]]] = {}
        m = tables.person_merges.c
        into: dict[int, int] = {
            int(a): int(b)
            for a, b in connection.execute(sa.select(m.absorbed_person_id, m.into_person_id))
        }
        for person, insurer, acquired, lost in connection.execute(
            sa.select(c.c.person_id, c.c.insurer_number, c.c.acquired_on, c.c.lost_on)
        ):
            # A merged record's coverage counts under the person it was merged into.
            periods.setdefault(into.get(person, person), []).append((insurer, acquired, lost))
        kinds = {
            str(number): str(kind)
            for number, kind in connection.execute(
                sa.select(tables.insurers.c.insurer_number, tables.insurers.c.kind)
            )
        }
    persons = [MedicalPerson(int(i), k, b, int(s), m) for i, k, b, s, m in rows]
    return Sources(persons, covered, claims, certifications, care_services, periods, kinds)


def _covered(
    sources: Sources, person: MedicalPerson, start: dt.date, end: dt.date,
    scope: frozenset[str] | None,
) -> bool:  # fmt: skip
    """Covered by an insurer of ``scope`` (None: any insurer) on some day from ``start`` to
    ``end``: 取得 on or before the end, and not lost on or before the start (資格喪失日 is the
    first day without coverage)."""
    if sources.periods is None:
        return True
    return any(
        acquired <= end and (lost is None or lost > start)
        and (scope is None or insurer in scope)
        for insurer, acquired, lost in sources.periods.get(person.person_id, ())
    )  # fmt: skip


def _scope(sources: Sources, basis: Basis, provider: str | None) -> frozenset[str] | None:
    """The insurers whose members and claims the extract may hold: the provider a statutory
    request names, the insurers of the basis's kinds, or None (every insurer: 第三者提供)."""
    if basis.names_provider:
        assert provider is not None  # begin_extract refuses a request naming none
        return frozenset({provider})
    if basis.insurer_kinds is None:
        return None
    return frozenset(n for n, kind in sources.insurers.items() if kind in basis.insurer_kinds)


def _tables(
    sources: Sources, items: Mapping[str, tuple[str, ...]], provision: Provision,
    pid: Callable[[str, dt.date, int], str], basis: Basis, top: int,
) -> tuple[dict[str, list[dict[str, Any]]], int]:  # fmt: skip
    """The rows of each asked table, only ``pid`` and the asked items; the claims the
    register could not place. Only the persons of the basis's scope (covered in the period by
    an insurer it may provide from, old enough), the claims billed to such an insurer, and,
    when the request names its provider, the 介護 records of those persons."""
    start, end = provision.period_from, provision.period_to
    minimum_age = basis.minimum_age
    scope = _scope(sources, basis, provision.provider)

    def old_enough(born: dt.date) -> bool:
        return minimum_age is None or age_on(born, end) >= minimum_age

    members = {
        p.person_id: p for p in sources.persons
        if old_enough(p.birth_date) and _covered(sources, p, start, end, scope)
    }  # fmt: skip
    member_ids = {pid(p.name_kana, p.birth_date, p.sex) for p in members.values()}

    def cared_for(kana: str, born: dt.date, sex: int) -> bool:
        """A 介護 record the extract may hold: every one for 第三者提供 (介護DB holds all),
        only its members' for a request naming its provider."""
        return not basis.names_provider or pid(kana, born, sex) in member_ids

    by_id = {p.person_id: p for p in sources.persons}
    out: dict[str, list[dict[str, Any]]] = {}
    unplaced = 0
    for table, names in items.items():
        rows: list[dict[str, Any]] = []
        if table == "persons":
            for person in members.values():
                full = {"sex": person.sex, "birth_month": birth_month(person.birth_date),
                        "age_band": age_band_on(person.birth_date, end, top=top),
                        "municipality": person.municipality or ""}  # fmt: skip
                rows.append({"pid": pid(person.name_kana, person.birth_date, person.sex), **full})
        elif table == "claims":
            for claim in sources.claims:
                if not _in(claim.service_month, start, end) or not old_enough(claim.birth_date):
                    continue
                if scope is not None and claim.insurer not in scope:
                    continue  # billed to another insurer: not the provider's to give
                owners = [
                    by_id[i] for i in sources.coverages.get((claim.insurer, claim.symbol,
                                                             claim.number), ())
                    if i in by_id and by_id[i].birth_date == claim.birth_date
                    and by_id[i].sex == claim.sex
                ]  # fmt: skip
                if len(owners) != 1:
                    unplaced += 1
                    continue
                who = owners[0]
                if who.person_id not in members:
                    continue  # a person outside the scope: none of their records go
                full = {"service_month": _month(claim.service_month), "setting": claim.setting,
                        "days": claim.days, "points": claim.points}  # fmt: skip
                rows.append({"pid": pid(who.name_kana, who.birth_date, who.sex), **full})
        elif table == "care_certifications":
            for cert in sources.certifications:
                if cert.valid_to < start or cert.valid_from > end:
                    continue
                if not old_enough(cert.birth_date):
                    continue
                if not cared_for(cert.name_kana, cert.birth_date, cert.sex):
                    continue
                full = {"care_level": cert.care_level, "valid_from": _month(cert.valid_from),
                        "valid_to": _month(cert.valid_to)}  # fmt: skip
                rows.append({"pid": pid(cert.name_kana, cert.birth_date, cert.sex), **full})
        elif table == "care_services":
            for service in sources.care_services:
                if not _in(service.service_month, start, end):
                    continue
                if not old_enough(service.birth_date):
                    continue
                if not cared_for(service.name_kana, service.birth_date, service.sex):
                    continue
                full = {"service_month": _month(service.service_month),
                        "service_type": service.service_type,
                        "service_units": service.service_units}  # fmt: skip
                rows.append({"pid": pid(service.name_kana, service.birth_date, service.sex),
                             **full})  # fmt: skip
        else:  # the catalogue names a table this code does not build
            raise UnapprovedItem(f"table {table!r}: kokuho cannot build it")
        columns = ("pid", *names)
        out[table] = sorted(({k: row[k] for k in columns} for row in rows),
                            key=lambda row: tuple(str(row[k]) for k in columns))  # fmt: skip
    return out, unplaced


def _csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
    return buffer.getvalue().encode("utf-8")


def extract(
    engine: sa.Engine, catalogue: Catalogue, provision_id: str, sources: Sources, *,
    out: Path, by: str, on: dt.date, audit: ProvisionAudit,
    items: Mapping[str, Sequence[str]] | None = None, source_key: bytes,
    key_folder: Path | None = None, top: int = 100,
) -> Extract:  # fmt: skip
    """Builds, scans and writes one extract of ``provision_id`` (default: every approved
    item; any item outside the approval is refused, naming it). The step and its audit record
    are written before the files are moved into place."""
    by = text_field(by, "by", 100)
    fields = linkage_id_fields()  # a bad local copy is refused before anything is made
    with contextlib.ExitStack() as held, engine.begin() as connection:
        # Refused here (unknown, not approved, past its term, an item outside the approval)
        # before anything is made.
        current = begin_extract(connection, catalogue, provision_id, on)
        approved = current.approved or {}
        asked = approved if items is None else check_items(
            catalogue, current.basis, items, "extract")  # fmt: skip
        for table, names in asked.items():
            for item in names:
                if item not in approved.get(table, ()):
                    raise UnapprovedItem(
                        f"provision {provision_id}: {table}.{item} was not approved"
                    )
        # One extract of a provision at a time in ``out``, from here to its commit (the lock
        # is released after it): two at once built the same numbered folder in the same
        # temporary folder, and two first extracts both made the provision's key. The count
        # is read again under the lock, so a folder numbered past it can only be a killed
        # run's, and the key is taken under it.
        held.enter_context(exclusive_lock(out / provision_id / ".extract.lock"))
        current = begin_extract(connection, catalogue, provision_id, on)
        key = (provision_key(provision_id, folder=key_folder) if current.extracts
               else _first_key(provision_id, key_folder))  # fmt: skip

        def pid(kana: str, born: dt.date, sex: int) -> str:
            return rekey(key, id2(source_key, kana, born, sex, fields=fields))

        basis = catalogue.basis(current.basis)
        built, unplaced = _tables(sources, asked, current, pid, basis, top)
        for table, rows in built.items():
            columns = ("pid", *asked[table])
            refuse_identifiers({c: [row[c] for row in rows] for c in columns})
        linkage = None
        if "persons" in asked and "care_certifications" in asked:
            linkage = linkage_rate(source_key, sources.persons, sources.certifications,
                                   current.period_to)  # fmt: skip
        number = current.extracts + 1
        final = out / provision_id / f"extract-{number}"
        if final.exists():
            if not _unrecorded(final, provision_id, number):
                raise ProvisionError(f"{final}: already exists; an extract is never overwritten")
            # Renamed into place by a run killed before its step was committed: never
            # recorded as provided, and built again below with the same key.
            shutil.rmtree(final)
        staging = out / provision_id / f".extract-{number}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            digests = {}
            for table, rows in built.items():
                data = _csv(rows, ("pid", *asked[table]))
                with atomic_file(staging / f"{table}.csv") as temporary:
                    temporary.write_bytes(data)
                digests[table] = hashlib.sha256(data).hexdigest()
            counts = {table: len(rows) for table, rows in built.items()}
            detail = {"on": on.isoformat(),
                      "tables": {t: list(i) for t, i in asked.items()}, "rows": counts,
                      "sha256": digests, "claims_unplaced": unplaced,
                      "linkage": None if linkage is None else linkage.as_json()}  # fmt: skip
            audit("provision_extract", by, [],
                  {"provision": provision_id, "extract": number, "rows": counts,
                   "sha256": digests})  # fmt: skip
            finish_extract(connection, current, by, detail)
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Extract(provision_id, number, final, counts, digests, unplaced, linkage)


def _unrecorded(final: Path, provision_id: str, number: int) -> bool:
    """Whether ``final`` (``extract-<number>``, the next number the steps have not recorded)
    is what a killed extract of ``provision_id`` left: a folder of ``<table>.csv`` files only,
    as an extract writes them (anything else there is not ours to remove)."""
    assert final.name == f"extract-{number}" and final.parent.name == provision_id
    return (
        not final.is_symlink()
        and final.is_dir()
        and all(
            entry.is_file() and not entry.is_symlink() and entry.suffix == ".csv"
            for entry in final.iterdir()
        )
    )


def _first_key(provision_id: str, folder: Path | None) -> bytes:
    """The provision's key for its first extract: made now, or kept from an attempt that
    failed after making it (its IDs were never released)."""
    try:
        return provision_key(provision_id, folder=folder)
    except ValueError:
        return new_provision_key(provision_id, folder=folder)
