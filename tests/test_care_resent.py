"""A 介護給付費明細書 sent again in a later 処理対象年月 (a 月遅れ請求, a 再請求 after a 返戻
or a 過誤申立) replaces the earlier one: one claim is (証記載保険者番号, 被保険者番号,
サービス提供年月, 事業所番号, 交換情報識別番号), and of its versions the latest 処理対象年月
counts, whatever the order the files were ingested in. Worked on the fixture's two claims
(docs/care.md §3)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kokuho.care import (
    UNLINKED_CERTIFICATION,
    CareClaimFile,
    CareDetail,
    CareFileRejected,
    CareLake,
    CareTotal,
    read_care_file,
    write_care_file,
)
from kokuho.cli import main
from kokuho.provision import lake_care_services
from tests.lakefiles import snapshot
from tests.test_care_link import add_person

FIXTURES = Path(__file__).parent / "fixtures" / "care"
CLAIMS = FIXTURES / "claims_202005.csv"  # 処理対象年月 2020-05, サービス提供年月 2020-04
D = dt.date
BASE = read_care_file(CLAIMS)


def count(lake: CareLake, name: str) -> int:
    return int(lake.table(name).count().to_pyarrow().as_py())


def write(folder: Path, name: str, file: CareClaimFile) -> Path:
    path = folder / name
    write_care_file(path, file)
    return path


def billed(month: dt.date, file: CareClaimFile = BASE) -> CareClaimFile:
    """``file`` with only its 処理対象年月 changed."""
    return dataclasses.replace(file, billing_month=month)


def fewer_visits(file: CareClaimFile) -> CareClaimFile:
    """The first claim with 7 訪問介護 visits instead of 8: 250 × 7 = 1,750 単位, at 10.70 円
    18,725 円, 90 % 16,852 円 請求, 1,873 円 負担."""
    first = file.claims[0]
    details = (CareDetail("11", "1121", 250, 7, 1750), *first.details[1:])
    totals = (CareTotal("11", 2, 1750, Decimal("10.70"), 16852, 1873), *first.totals[1:])
    changed = dataclasses.replace(first, details=details, totals=totals)
    return dataclasses.replace(file, claims=(changed, *file.claims[1:]))


def claim_rows(lake: CareLake) -> list[tuple[Any, ...]]:
    rows = lake.table("care_claims").to_pyarrow().to_pylist()
    return sorted((r["insured"], r["service_month"], r["billing_month"], r["units"], r["claimed"],
                   r["copay"]) for r in rows)  # fmt: skip


def billing_months(lake: CareLake) -> list[str]:
    """The 処理対象年月 of the claims read, "-" for none."""
    rows = lake.table("care_claims").to_pyarrow().to_pylist()
    return sorted(r["billing_month"] or "-" for r in rows)


def tables(lake: CareLake) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three claim tables without its claim id and file."""
    found = {}
    for name in ("care_claims", "care_services", "care_totals"):
        rows = lake.table(name).to_pyarrow().to_pylist()
        found[name] = sorted(
            tuple(sorted((k, v) for k, v in r.items() if k not in ("claim_id", "file")))
            for r in rows
        )
    return found


@pytest.fixture
def lake(tmp_path: Path) -> CareLake:
    return CareLake(tmp_path / "lake")


def test_a_claim_resent_with_only_its_billing_month_changed_counts_once(
    lake: CareLake, tmp_path: Path
) -> None:
    june = write(tmp_path, "june.csv", billed(D(2020, 6, 1)))
    lake.ingest([CLAIMS])
    report = lake.ingest([june])
    assert (report.ingested, report.rows, report.files[0].replaced) == (1, 2, 2)
    assert claim_rows(lake) == [
        ("0000123456", "2020-04", "2020-06", 4800, 46224, 5136),
        ("0000234567", "2020-04", "2020-06", 1000, 8000, 2000),
    ]
    assert (count(lake, "care_services"), count(lake, "care_totals")) == (3, 3)
    services = lake_care_services(lake, D(2020, 4, 1), D(2020, 4, 30))
    assert sorted((s.service_type, s.service_units) for s in services) == [
        ("11", 2000), ("15", 2800), ("17", 1000),
    ]  # fmt: skip
    # What is stored keeps both versions; only what is read is the latest.
    stored = [pq.read_table(p).num_rows for p in lake.files("care_claims")]
    assert sorted(stored) == [2, 2]


def test_another_service_month_is_another_claim(lake: CareLake, tmp_path: Path) -> None:
    claims = tuple(dataclasses.replace(c, service_month=D(2020, 5, 1)) for c in BASE.claims)
    may = write(tmp_path, "may.csv", dataclasses.replace(BASE, claims=claims,
                                                         billing_month=D(2020, 6, 1)))  # fmt: skip
    lake.ingest([CLAIMS, may])
    assert [r[:3] for r in claim_rows(lake)] == [
        ("0000123456", "2020-04", "2020-05"), ("0000123456", "2020-05", "2020-06"),
        ("0000234567", "2020-04", "2020-05"), ("0000234567", "2020-05", "2020-06"),
    ]  # fmt: skip
    assert count(lake, "care_services") == 6


def test_another_provider_or_form_is_another_claim(lake: CareLake, tmp_path: Path) -> None:
    """事業所番号 and 様式 (交換情報識別番号) are part of what one claim is: a person's month at
    two 事業所, or on two 明細書 forms, is two claims."""
    provider = dataclasses.replace(
        billed(D(2020, 6, 1)), provider="3712349999",
        claims=tuple(dataclasses.replace(c, provider="3712349999") for c in BASE.claims),
    )  # fmt: skip
    form = dataclasses.replace(
        billed(D(2020, 6, 1)),
        claims=tuple(dataclasses.replace(c, exchange_id="7132") for c in BASE.claims),
    )
    paths = [write(tmp_path, "provider.csv", provider), write(tmp_path, "form.csv", form)]
    lake.ingest([CLAIMS, *paths])
    assert count(lake, "care_claims") == 6


def test_a_resent_claim_with_other_amounts_keeps_the_later_ones(
    lake: CareLake, tmp_path: Path
) -> None:
    june = write(tmp_path, "june.csv", fewer_visits(billed(D(2020, 6, 1))))
    lake.ingest([CLAIMS, june])
    assert claim_rows(lake) == [
        ("0000123456", "2020-04", "2020-06", 4550, 43816, 4869),
        ("0000234567", "2020-04", "2020-06", 1000, 8000, 2000),
    ]
    services = lake.table("care_services").to_pyarrow().to_pylist()
    assert sorted((s["service_type"], s["count"], s["service_units"]) for s in services) == [
        ("11", 7, 1750), ("15", 4, 2800), ("17", 1, 1000),
    ]  # fmt: skip
    totals = lake.table("care_totals").to_pyarrow().to_pylist()
    assert sorted((t["service_type"], t["claimed"], t["copay"]) for t in totals) == [
        ("11", 16852, 1873), ("15", 26964, 2996), ("17", 8000, 2000),
    ]  # fmt: skip


def test_the_order_of_ingest_does_not_matter(tmp_path: Path) -> None:
    june = write(tmp_path, "june.csv", fewer_visits(billed(D(2020, 6, 1))))
    july = write(tmp_path, "july.csv", billed(D(2020, 7, 1)))  # the fixture's amounts again
    orders = [[CLAIMS, june, july], [july, june, CLAIMS], [june, CLAIMS, july]]
    seen = []
    for n, order in enumerate(orders):
        lake = CareLake(tmp_path / f"lake{n}")
        for path in order:  # one call per file
            lake.ingest([path])
        seen.append(tables(lake))
        one_call = CareLake(tmp_path / f"once{n}")
        one_call.ingest(order)
        seen.append(tables(one_call))
    assert all(s == seen[0] for s in seen)
    assert [(r[0], r[2], r[3]) for r in claim_rows(CareLake(tmp_path / "lake1"))] == [
        ("0000123456", "2020-07", 4800), ("0000234567", "2020-07", 1000),
    ]  # fmt: skip
    # The earlier file ingested last: its claims are kept, and said to be superseded.
    lake = CareLake(tmp_path / "late")
    lake.ingest([july])
    report = lake.ingest([CLAIMS])
    assert (report.rows, report.files[0].replaced, report.files[0].superseded) == (2, 0, 2)
    assert [r[2] for r in claim_rows(lake)] == ["2020-07", "2020-07"]


def test_the_same_claims_under_the_same_billing_month_are_not_doubled(
    lake: CareLake, tmp_path: Path
) -> None:
    """Another file (another ボリューム通番, so another digest) of the same 処理対象年月 holding
    a claim already in the lake with the same values: that claim is not written again."""
    again = write(tmp_path, "again.csv", dataclasses.replace(BASE, volume=2))
    lake.ingest([CLAIMS])
    report = lake.ingest([again])
    assert (report.ingested, report.rows, report.files[0].repeated) == (1, 0, 2)
    assert count(lake, "care_claims") == 2 and count(lake, "care_services") == 3


def test_other_values_under_the_same_billing_month_are_refused(
    lake: CareLake, tmp_path: Path
) -> None:
    """Two versions of one claim in one 処理対象年月 are a 重複請求 (the 国保連 returns the
    second): which one counts cannot be told, so the file is refused and nothing is written."""
    lake.ingest([CLAIMS])
    before = snapshot(lake.root)
    other = write(tmp_path, "other.csv", fewer_visits(dataclasses.replace(BASE, volume=2)))
    good = write(tmp_path, "good.csv", billed(D(2020, 6, 1)))
    with pytest.raises(CareFileRejected) as rejected:
        lake.ingest([good, other])
    assert [(p.file, p.line, p.field) for p in rejected.value.problems] == [
        (str(other), 0, "claim")
    ]
    reason = rejected.value.problems[0].reason
    assert "0000123456" in reason and "2020-04" in reason and "claims_202005.csv" in reason
    assert "処理対象年月 2020-05" in reason
    assert snapshot(lake.root) == before
    # Within one call, and within one file, the same.
    with pytest.raises(CareFileRejected):
        CareLake(tmp_path / "fresh").ingest([CLAIMS, other])
    twice = dataclasses.replace(BASE, claims=(BASE.claims[0], fewer_visits(BASE).claims[0]))
    with pytest.raises(CareFileRejected) as rejected:
        CareLake(tmp_path / "fresh").ingest([write(tmp_path, "twice.csv", twice)])
    assert "a second version in this file" in rejected.value.problems[0].reason


def test_a_lake_written_before_billing_months_is_read(lake: CareLake, tmp_path: Path) -> None:
    """A care lake of manifest format 1 holds claims without 処理対象年月 or 交換情報識別番号:
    read as they are (nothing dropped), and older than any claim that carries one."""
    lake.ingest([CLAIMS])
    for path in lake.files("care_claims"):
        old = pq.read_table(path).drop_columns(["billing_month", "exchange_id", "content"])
        pq.write_table(old, path)
    manifest = lake.root / "care_manifest.json"
    manifest.write_text(manifest.read_text("utf-8").replace('"format": 2', '"format": 1'), "utf-8")
    assert billing_months(lake) == ["-", "-"]
    assert count(lake, "care_services") == 3
    june = write(tmp_path, "june.csv", billed(D(2020, 6, 1)))
    lake.ingest([june])
    assert '"format": 2' in manifest.read_text("utf-8")
    assert count(lake, "care_claims") + count(lake, "care_services") == 4 + 6  # old ids differ
    assert billing_months(lake) == ["-", "-", "2020-06", "2020-06"]


def test_the_cli_counts_a_resent_claim_once(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    add_person(
        engine, "香川　太郎", "カガワ　タロウ", D(1940, 1, 5), 1, "香川県高松市番町一丁目1番1号"
    )
    june = write(tmp_path, "june.csv", billed(D(2020, 6, 1)))
    env = {"KOKUHO_HOME": str(tmp_path), "KOKUHO_DATABASE_URL": database_url}
    runner = CliRunner()
    first = runner.invoke(main, ["care", "ingest", str(CLAIMS), str(june), "--json"], env=env)
    assert first.exit_code == 0, first.output
    files = json.loads(first.stdout)["files"]
    assert [(f["claims"], f["replaced"]) for f in files] == [(2, 0), (2, 2)]
    shown = runner.invoke(main, ["care", "ingest", str(june), str(CLAIMS)], env=env)
    assert "skipped" in shown.stdout
    result = runner.invoke(
        main, ["care", "certifications", str(FIXTURES / "certifications.csv")], env=env
    )
    assert result.exit_code == 0, result.output
    linked = json.loads(runner.invoke(main, ["care", "link", "--json"], env=env).stdout)
    assert (linked["claims_linked"], linked["claims_unlinked"]) == (
        1, {UNLINKED_CERTIFICATION: 1},
    )  # fmt: skip


def test_the_cli_says_what_a_resent_file_replaced(tmp_path: Path) -> None:
    june = write(tmp_path, "june.csv", billed(D(2020, 6, 1)))
    env = {"KOKUHO_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, ["care", "ingest", str(june), str(CLAIMS)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        f"{june}: 2 claims ingested",
        f"{CLAIMS}: 2 claims ingested, 2 superseded by a later 処理対象年月",
    ]
