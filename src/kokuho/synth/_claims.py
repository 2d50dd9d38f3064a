"""Claims (レセプト) of the synthetic prefecture, written as the レセ電 files institutions send.

For every simulated service month (or the last fiscal year, ``period.months`` in
``data/claims_distributions.yaml``) the people visit clinics and hospitals and fill their
prescriptions at pharmacies (synth/_claims_visits.py); a few cases are planted for the
indicators to find (synth/_claims_plant.py); the visits become 医科 and 調剤 claims
(synth/_claims_build.py), billed in the month after the service month (a few 月遅れ later),
one file per institution, 請求年月 and 審査支払機関 (国保連 for 市町村国保 and 後期高齢者, 支払基金
for the employee schemes), written with ``kokuho.claims.write_claim_file``::

    claims/{医療機関コード 10 桁}_{請求年月 YYYY-MM}_{kokuho|shaho}.csv
    claims/planted.json      the planted cases, with the tuples and claims that carry them
    masters/                 the sample masters the claims were drawn from

Randomness is the claims' own (``claims-{seed}…``): the world's random stream is never touched,
so every other file of the prefecture is byte-identical with or without claims.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kokuho.claims import Claim, ClaimFile, ClaimKind, write_claim_file
from kokuho.synth._claims_build import KOKUHOREN, Builder, Built
from kokuho.synth._claims_catalog import load_catalog
from kokuho.synth._claims_config import Config, load_config
from kokuho.synth._claims_people import PHARMACY, Facilities, People, load_facilities
from kokuho.synth._claims_plant import Case, Planter
from kokuho.synth._claims_visits import Visits
from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._world import World, next_month

FOLDER = "claims"
MASTERS = "masters"
PLANTED_FILE = f"{FOLDER}/planted.json"
_FILE = re.compile(r"\d{10}_\d{4}-\d{2}_(kokuho|shaho)\.csv")


def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses to mix with the claims of an earlier run, or removes them to overwrite."""
    folder = out_dir / FOLDER
    earlier = sorted(p for p in folder.glob("*.csv") if _FILE.fullmatch(p.name))
    if (out_dir / PLANTED_FILE).exists():
        earlier.append(out_dir / PLANTED_FILE)
    clear_earlier(folder, earlier, "the claims", overwrite)


def service_months(world: World, cfg: Config) -> list[tuple[int, int]]:
    """The service months as (first day, last day) inside the simulated period."""
    months: list[tuple[int, int]] = []
    day = world.start
    while day <= world.last:
        end = min(next_month(day) - 1, world.last)
        months.append((day, end))
        day = end + 1
    if cfg.months == "last_fiscal_year":
        whole = [
            n for n, (first, _) in enumerate(months)
            if dt.date.fromordinal(first).month == 4 and dt.date.fromordinal(first).day == 1
            and n + 12 <= len(months)
        ]  # fmt: skip
        if whole:
            months = months[whole[-1] : whole[-1] + 12]
    return months


def _label(key: int) -> str:
    return f"{key // 12:04d}-{key % 12 + 1:02d}"


def file_name(facilities: Facilities, facility: int, billing: int, reviewer: str) -> str:
    """``claims/{医療機関コード 10 桁}_{請求年月}_{kokuho|shaho}.csv``."""
    payer = "kokuho" if reviewer == KOKUHOREN else "shaho"
    return f"{FOLDER}/{facilities.items[facility].code10}_{_label(billing)}_{payer}.csv"


class _Files:
    """Claims waiting for their file, by (facility, 請求年月, 審査支払機関)."""

    def __init__(self, out_dir: Path, facilities: Facilities) -> None:
        self.out_dir = out_dir
        self.facilities = facilities
        self.waiting: dict[tuple[int, int, str], list[Claim]] = {}
        self._numbers: Counter[tuple[int, int, str]] = Counter()
        self.files: list[str] = []
        self.counts: Counter[str] = Counter()

    def number(self, facility: int, billing: int, reviewer: str) -> int:
        """The レセプト番号 of the next claim of the file (claims are added in this order)."""
        key = (facility, billing, reviewer)
        self._numbers[key] += 1
        return self._numbers[key]

    def add(self, built: Built) -> None:
        key = (built.facility, built.billing, built.reviewer)
        self.waiting.setdefault(key, []).append(built.claim)

    def flush(self, upto: int) -> None:
        """Writes every file of a 請求年月 up to ``upto``."""
        for key in sorted(k for k in self.waiting if k[1] <= upto):
            facility, billing, reviewer = key
            claims = self.waiting.pop(key)
            f = self.facilities.items[facility]
            pharmacy = f.kind == PHARMACY
            name = file_name(self.facilities, facility, billing, reviewer)
            path = self.out_dir / name
            write_claim_file(
                ClaimFile(
                    kind=ClaimKind.PHARMACY if pharmacy else ClaimKind.MEDICAL,
                    reviewer=reviewer,
                    prefecture=f.prefecture,
                    fee_table=f.fee_table,
                    institution_code=f.code,
                    institution_name=f.name,
                    billing_month=dt.date(billing // 12, billing % 12 + 1, 1),
                    claims=tuple(claims),
                ),
                path,
            )
            self.files.append(name)
            self.counts["claim_files"] += 1
            self.counts["claim_lines"] += path.read_bytes().count(b"\n")


def write(
    world: World,
    out_dir: Path,
    seed: int,
    *,
    report: Callable[[str], None] | None = None,
    config: Config | None = None,
) -> Written:
    """Simulates the claims of ``world`` and writes them under ``out_dir/claims``, with the
    rates of ``config`` (default: ``data/claims_distributions.yaml``)."""
    say = report or (lambda stage: None)
    cfg = config or load_config()
    catalog = load_catalog()
    facilities = load_facilities(
        out_dir / "institutions.csv", len(world.prefecture.municipalities), cfg, seed
    )
    people = People(world, seed, cfg)
    months = service_months(world, cfg)
    visits = Visits(people, cfg, catalog, facilities, seed)
    builder = Builder(people, cfg, facilities)
    planter = Planter(people, cfg, catalog, visits, builder, months, seed)
    (out_dir / FOLDER).mkdir(parents=True, exist_ok=True)
    files = _Files(out_dir, facilities)
    late = np.random.default_rng([people.key & 0xFFFFFFFF, 0x1A7E])
    counts: Counter[str] = Counter()
    service = 0

    def assign(facility: int, reviewer: str) -> tuple[int, int]:
        billing = service + 1
        if late.random() < cfg.late_share:
            billing += 1 + int(late.random() * 2)  # 月遅れ請求
        return billing, files.number(facility, billing, reviewer)

    builder.assign = assign
    for index, (first, last) in enumerate(months):
        date = dt.date.fromordinal(first)
        service = date.year * 12 + date.month - 1
        if date.month == 4 or index == 0:
            say(f"claims {date:%Y-%m}")
        plan = visits.month(index, first, last)
        planter.month(plan)
        for built in builder.month(plan):
            files.add(built)
            claim = built.claim
            kind = "pharmacy" if claim.prescriber else (
                "inpatient" if claim.admission_date else "outpatient")  # fmt: skip
            counts[f"claims_{kind}"] += 1
            counts["claim_points"] += claim.total_points
            if built.plant >= 0:
                name = file_name(facilities, built.facility, built.billing, built.reviewer)
                planter.cases[built.plant].claims.append(
                    (name, claim.receipt_number, built.first_day)
                )
        files.flush(service + 1)
        counts["claim_service_months"] += 1
    files.flush(1 << 30)
    for copy in catalog.copy_masters(out_dir / MASTERS):
        files.files.append(copy.relative_to(out_dir).as_posix())
    _write_planted(out_dir / PLANTED_FILE, planter.cases, facilities, people)
    counts.update(files.counts)
    counts.update(_plant_counts(planter.cases, people, months, visits))
    share = builder.generic_quantity / max(
        builder.generic_quantity + builder.originator_quantity, 1e-9
    )
    counts["claim_generic_share_ppm"] = round(share * 1_000_000)
    return Written(files=[*files.files, PLANTED_FILE], counts=dict(counts))


def _plant_counts(
    cases: list[Case], people: People, months: list[tuple[int, int]], visits: Visits
) -> dict[str, int]:
    kinds = Counter(case.kind for case in cases)
    result = {f"claims_planted_{kind}": kinds.get(kind, 0)
              for kind in ("duplicate", "multi_drug", "lost_coverage", "not_found")}  # fmt: skip
    result["claims_planted_eligibility_claims"] = sum(
        len(case.claims) for case in cases if case.kind in ("lost_coverage", "not_found")
    )
    last = months[-1][1]
    pids = np.flatnonzero((people.birth <= last) & (people.death > last))
    _, treated, diabetic, _ = people.conditions(last, pids)
    interrupted = people.interrupters[pids]
    result["claims_diabetes_treated_persons"] = int(treated.sum())
    result["claims_diabetes_interrupted_persons"] = int((interrupted & ~treated).sum())
    result["claims_diabetes_untreated_persons"] = int((diabetic & ~treated & ~interrupted).sum())
    return result


def _write_planted(path: Path, cases: list[Case], facilities: Facilities, people: People) -> None:
    """``claims/planted.json``: every planted case with the tuple its claims carry."""
    w = people.world

    def entry(case: Case) -> dict[str, Any]:
        t = case.insured
        item: dict[str, Any] = {
            "service_month": case.month,
            "insurer": t.insurer,
            "symbol": t.symbol,
            "number": t.number,
            "branch": t.branch,
            "institutions": [facilities.items[f].code10 for f in case.facilities],
        }
        if case.kind in ("duplicate", "multi_drug"):
            item["efficacies"] = list(case.efficacies)
        if case.variant:
            item["variant"] = case.variant
        if case.kind in ("lost_coverage", "not_found"):
            item["reason"] = case.kind
            item["lost_on"] = (
                dt.date.fromordinal(case.lost_on).isoformat() if case.lost_on else None
            )
            item["responsible_insurer"] = case.responsible or None
            item["birth_date"] = dt.date.fromordinal(w.birth[case.pid]).isoformat()
            item["claims"] = [
                {"file": name, "receipt_number": number,
                 "first_day": dt.date.fromordinal(day).isoformat()}
                for name, number, day in case.claims
            ]  # fmt: skip
        return item

    document = {
        "format": "kokuho synth planted claims 1",
        "duplicate": [entry(c) for c in cases if c.kind == "duplicate"],
        "multi_drug": [entry(c) for c in cases if c.kind == "multi_drug"],
        "eligibility": [entry(c) for c in cases if c.kind in ("lost_coverage", "not_found")],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
