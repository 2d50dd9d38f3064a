"""The checkup lake: atomic, idempotent ingest; duplicates; reading through Ibis; the
register's eligibility snapshot."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from kokuho.checkups import _lake
from kokuho.checkups._lake import Lake, LakeTableMissing, MeasureSpec
from kokuho.checkups._model import Checkup, Guidance, GuidanceLevel
from kokuho.checkups._snapshot import SNAPSHOT_COLUMNS, export_snapshot, snapshot_path
from kokuho.config import Settings
from kokuho.registry import tables

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

D = dt.date


@dataclass(frozen=True)
class Archive:
    """The fields of ``ArchiveContents`` the lake reads."""

    path: Path
    digest: str
    sender: str = "3711111111"
    receiver: str = "37001500"
    created: dt.datetime | None = None
    service_event: str = "1"
    checkups: list[Checkup] = field(default_factory=list)
    guidance: list[Guidance] = field(default_factory=list)


@dataclass(frozen=True)
class Values:
    bmi: float | None
    smoker: bool


def _measure(checkup: Checkup) -> Values:
    return Values(bmi=float(len(checkup.number)) + 20.0, smoker=checkup.sex == 1)


SPEC = MeasureSpec(columns={"bmi": pa.float64(), "smoker": pa.bool_()}, measure=_measure)


def checkup(
    document: str, number: str, exam: dt.date, *, branch: str | None = "01", place: str = "1"
) -> Checkup:
    return Checkup(
        document=document,
        insurer="370015",
        symbol="S",
        number=number,
        branch=branch,
        sex=1,
        birth_date=D(1970, 6, 1),
        exam_date=exam,
        institution=place * 10,
    )


def guidance(document: str, number: str, evaluated: dt.date | None) -> Guidance:
    return Guidance(
        document=document,
        insurer="370015",
        symbol="S",
        number=number,
        branch="01",
        sex=1,
        birth_date=D(1970, 6, 1),
        institution="1" * 10,
        level=GuidanceLevel.MOTIVATIONAL,
        started_on=D(2024, 7, 1),
        evaluated_on=evaluated,
    )


def archive(name: str, checkups: Sequence[Checkup], guidance: Sequence[Guidance] = ()) -> Archive:
    return Archive(
        path=Path(name),
        digest=hashlib.sha256(name.encode()).hexdigest(),
        checkups=list(checkups),
        guidance=list(guidance),
    )


def snapshot_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes (the lock file aside)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


FIRST = archive(
    "first.zip",
    [
        checkup("h1.xml", "100", D(2024, 6, 1)),
        checkup("h2.xml", "200", D(2025, 3, 31)),  # FY2024
        checkup("h3.xml", "300", D(2025, 4, 1)),  # FY2025
    ],
    [guidance("g1.xml", "100", None)],
)


def test_ingest_writes_partitions_and_reads_through_ibis(tmp_path: Path) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    report = lake.ingest_archive(FIRST)
    assert (report.checkups, report.guidance, report.duplicates) == (3, 1, ())
    digest = FIRST.digest
    assert sorted(p.relative_to(tmp_path).as_posix() for p in report.files) == [
        f"checkups/fiscal_year=2024/{digest}.parquet",
        f"checkups/fiscal_year=2025/{digest}.parquet",
        f"guidance/fiscal_year=2024/{digest}.parquet",
    ]
    t = lake.table("checkups")
    got = sorted(t.to_pyarrow().to_pylist(), key=lambda r: r["document"])
    assert [(r["document"], r["fiscal_year"], r["bmi"], r["archive"]) for r in got] == [
        ("h1.xml", 2024, 23.0, digest),
        ("h2.xml", 2024, 23.0, digest),
        ("h3.xml", 2025, 23.0, digest),
    ]
    assert got[0]["smoker"] is True and got[0]["exam_date"] == D(2024, 6, 1)
    assert lake.table("checkups", years=[2025]).count().to_pyarrow().as_py() == 1
    [g] = lake.table("guidance").to_pyarrow().to_pylist()
    assert (g["level"], g["evaluated_on"], g["fiscal_year"]) == (2, None, 2024)
    entry = lake.archives()[digest]
    assert (entry["name"], entry["checkups"], entry["guidance"]) == ("first.zip", 3, 1)
    with pytest.raises(LakeTableMissing):
        lake.table("claims")


def test_same_archive_twice_changes_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(FIRST)
    before = snapshot_of(tmp_path)
    again = lake.ingest_archive(FIRST)
    assert again.already_ingested and (again.checkups, again.guidance, again.files) == (0, 0, ())
    assert snapshot_of(tmp_path) == before


def test_documents_already_in_the_lake_are_duplicates(tmp_path: Path) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(FIRST)
    second = archive(
        "second.zip",
        [
            checkup("x1.xml", "100", D(2024, 6, 1)),  # h1 again, in another archive
            checkup("x2.xml", "100", D(2024, 6, 1), place="2"),  # another institution: new
            checkup("x3.xml", "400", D(2024, 6, 1), branch=None),
            checkup("x4.xml", "400", D(2024, 6, 1), branch=""),  # same as x3 (no 枝番)
        ],
        [
            guidance("y1.xml", "100", None),  # the same state again
            guidance("y2.xml", "100", D(2025, 1, 10)),  # now evaluated: a new row
        ],
    )
    report = lake.ingest_archive(second)
    assert (report.checkups, report.guidance) == (2, 1)
    assert [(d.table, d.document, d.existing_archive) for d in report.duplicates] == [
        ("checkups", "x1.xml", FIRST.digest),
        ("checkups", "x4.xml", ""),
        ("guidance", "y1.xml", FIRST.digest),
    ]
    assert lake.table("checkups").count().to_pyarrow().as_py() == 5
    assert lake.archives()[second.digest]["duplicates"] == 3
    # An archive of nothing but duplicates is still recorded (and writes no file).
    third = archive("third.zip", [checkup("z1.xml", "100", D(2024, 6, 1))])
    report = lake.ingest_archive(third)
    assert report.checkups == 0 and report.files == () and third.digest in lake.archives()


def test_a_crash_mid_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(archive("zero.zip", [checkup("h0.xml", "900", D(2024, 5, 1))]))
    before = snapshot_of(tmp_path)
    renames: list[Path] = []
    real = _lake._replace

    def crash_on_second(source: str | Path, target: str | Path) -> None:
        renames.append(Path(target))
        if len(renames) == 2:  # the first data file is already in place
            raise OSError("disk gone")
        real(source, target)

    monkeypatch.setattr(_lake, "_replace", crash_on_second)
    with pytest.raises(OSError, match="disk gone"):
        lake.ingest_archive(FIRST)
    assert snapshot_of(tmp_path) == before  # no data file, no temporary file, same manifest
    assert FIRST.digest not in lake.archives()
    assert lake.table("checkups").count().to_pyarrow().as_py() == 1

    monkeypatch.setattr(_lake, "_replace", real)
    assert lake.ingest_archive(FIRST).checkups == 3
    assert lake.table("checkups").count().to_pyarrow().as_py() == 4


def test_files_no_manifest_names_are_never_read(tmp_path: Path) -> None:
    # What a power cut between the data files and the manifest leaves behind.
    lake = Lake(tmp_path, measures=SPEC)
    lake.ingest_archive(FIRST)
    orphan = tmp_path / "checkups" / "fiscal_year=2024" / f"{'0' * 64}.parquet"
    pq.write_table(pq.read_table(lake.files("checkups")[0]), orphan)
    stale = tmp_path / "checkups" / "fiscal_year=2024" / ".x.parquet.abc.tmp"
    stale.write_bytes(b"PAR1 half")
    assert lake.table("checkups").count().to_pyarrow().as_py() == 3
    assert sorted(lake.vacuum()) == sorted([orphan, stale])
    assert lake.table("checkups").count().to_pyarrow().as_py() == 3


def test_default_measures_come_from_the_measures_module() -> None:
    # The lake asks kokuho.checkups._measures only when it first writes a checkup.
    spec = _lake.default_measures()
    assert "document" in spec.columns and "document" not in spec.measured
    assert "fiscal_year" not in spec.measured and spec.measured


# -- the eligibility snapshot --------------------------------------------------------------


def _register(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.insurers),
            [
                {
                    "insurer_number": "370015",
                    "name": "A市",
                    "kind": "kokuho_municipal",
                    "prefecture": "37",
                    "municipality_code": "372013",
                },
                {
                    "insurer_number": "01370016",
                    "name": "協会けんぽ香川支部",
                    "kind": "kyokai",
                    "prefecture": "37",
                    "municipality_code": None,
                },
            ],
        )
        connection.execute(
            sa.insert(tables.persons),
            [
                {
                    "person_id": n,
                    "name_kanji": f"氏名{n}",
                    "name_kana": f"シメイ{n}",
                    "birth_date": D(1960 + n, 1, 2),
                    "sex": 1 + n % 2,
                    "address": "香川県",
                    "match_key": f"{n:032d}",
                }
                for n in range(1, 6)
            ],
        )
        periods: list[tuple[int, str, dt.date, dt.date | None]] = [
            (1, "370015", D(2010, 4, 1), None),  # in FY2024
            (2, "370015", D(2010, 4, 1), D(2024, 4, 1)),  # lost on the first day: out
            (3, "370015", D(2025, 3, 31), None),  # acquired on the last day: in
            (4, "01370016", D(2025, 4, 1), None),  # after the year: out
            (5, "01370016", D(2000, 1, 1), D(2024, 4, 2)),  # one day in the year: in
            (1, "01370016", D(2000, 1, 1), D(2010, 4, 1)),  # long before: out
        ]
        connection.execute(
            sa.insert(tables.coverages),
            [
                {
                    "coverage_id": i,
                    "person_id": person,
                    "insurer_number": insurer,
                    "symbol": "S",
                    "number": str(person),
                    "branch": "01",
                    "acquired_on": acquired,
                    "lost_on": lost,
                    "loss_reason": None if lost is None else "1",
                    "relationship": 1,
                    "card_class": "01",
                }
                for i, (person, insurer, acquired, lost) in enumerate(periods, start=1)
            ],
        )


def test_export_snapshot_streams_the_periods_of_the_year(engine: sa.Engine, tmp_path: Path) -> None:
    _register(engine)
    lake = Lake(tmp_path)
    path = export_snapshot(engine, lake, 2024, chunk_rows=2)  # several chunks
    assert path == snapshot_path(lake, 2024) and path.exists()
    written = pq.read_table(path)
    assert written.schema.remove_metadata() == pa.schema(SNAPSHOT_COLUMNS)
    assert written.schema.metadata[b"kokuho.fiscal_year"] == b"2024"
    got: list[dict[str, Any]] = written.to_pylist()
    assert [(r["person_id"], r["insurer_number"]) for r in got] == [
        (5, "01370016"),
        (1, "370015"),
        (3, "370015"),
    ]
    assert got[1] == {
        "person_id": 1,
        "insurer_number": "370015",
        "insurer_kind": "kokuho_municipal",
        "municipality_code": "372013",
        "symbol": "S",
        "number": "1",
        "branch": "01",
        "sex": 2,
        "birth_date": D(1961, 1, 2),
        "acquired_on": D(2010, 4, 1),
        "lost_on": None,
        "insured_id": 2,  # the second insured number in the export's order
    }
    table = lake.table("eligibility")
    assert table.fiscal_year.max().to_pyarrow().as_py() == 2024
    # A second export replaces the file whole; no temporary file stays behind.
    export_snapshot(engine, lake, 2024)
    assert [p.name for p in path.parent.iterdir()] == ["snapshot.parquet"]


def test_lake_location_and_files_of_differing_columns(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, database_url="", mynumber_key_file=tmp_path, service_key_file=tmp_path
    )
    lake = Lake.from_settings(settings)
    assert lake.root == tmp_path / "lake"
    Lake(lake.root, measures=SPEC).ingest_archive(FIRST)
    # A later version of the measures adds a column: older files read it as null.
    wider = MeasureSpec({**SPEC.columns, "hdl": pa.float64()}, lambda c: Values2(21.0, True, 55.0))
    Lake(lake.root, measures=wider).ingest_archive(
        archive("wider.zip", [checkup("w1.xml", "700", D(2024, 8, 1))])
    )
    got = {r["document"]: r["hdl"] for r in lake.table("checkups").to_pyarrow().to_pylist()}
    assert got == {"h1.xml": None, "h2.xml": None, "h3.xml": None, "w1.xml": 55.0}


@dataclass(frozen=True)
class Values2:
    bmi: float | None
    smoker: bool
    hdl: float | None
