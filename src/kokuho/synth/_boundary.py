"""The border with employee insurance, planted (issue 13): retroactive employer enrolments
that leave a 市町村国保 coverage open under them (§110-2(2) double-payment cases), and a
dependants file (被扶養者認定の申請) with dependants abroad under each of the five exceptions
and dependants holding an excluded 特定活動 visa.

Planted after every other file, from their own random stream, so that the rest of the
prefecture is the same with or without them. Rows are the register's own formats
(docs/formats.md §2 with ``decided_on``; docs/dependants.md for the dependants file).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kokuho.store import data_text, load_yaml
from kokuho.synth._outputs import clear_earlier
from kokuho.synth._world import KOKUHO, KUMIAI, NUMBER_STYLE, World
from kokuho.synth._writers import FEED_COLUMNS, iso, month_key, month_label, write_table

RETRO_DIR = "changes/retroactive"
DEPENDANTS_FILE = "dependants/dependants.csv"
RESIDENCY_RULES = "boundary/dependant_residency.yaml"
RETRO_COLUMNS = (*FEED_COLUMNS, "decided_on")
DEPENDANT_COLUMNS = (
    "application_id", "insurer_number", "symbol", "number", "branch", "judgement_date",
    "name_kanji", "name_kana", "birth_date", "sex", "address", "residence", "visa_status",
    "residency_exception", "exception_evidence", "exception_until",
)  # fmt: skip
#: 被扶養者の国内居住要件 is in force from this day; ordinary applications before it are
#: judged by the old rule and are not written.
IN_FORCE = dt.date(2020, 4, 1)
#: How many retroactive enrolments per person of the prefecture (at least the minimum).
NO_FAULT_PER, NO_FAULT_AT_LEAST = 4_000, 3
AT_FAULT_PER, AT_FAULT_AT_LEAST = 8_000, 2


@dataclass(frozen=True, slots=True)
class PlantedRetroactive:
    """An employee 資格取得 confirmed (資格決定日) long after its 資格取得日 while the person's
    市町村国保 stayed open: the 国保 premiums of the months between were paid twice.

    ``fault`` False: the employer (a 未適用事業所) was enrolled retroactively 2–3 years back,
    no fault of the person (§110-2(2) applies). True: the employer filed on time and the
    person never sent the 国保 脱退届 (only the months within the §110-2(1) limit return).
    """

    municipality: str
    kokuho_insurer: str
    kokuho_symbol: str
    kokuho_number: str
    kokuho_branch: str
    employee_insurer: str
    employee_symbol: str
    employee_number: str
    employee_branch: str
    acquired_on: dt.date
    decided_on: dt.date
    filed: dt.date
    fault: bool


@dataclass(frozen=True, slots=True)
class PlantedDependant:
    """A row of the dependants file the residency check must flag or pass by an exception:
    the answer and rule it must give (docs/dependants.md)."""

    application_id: str
    insurer_number: str
    symbol: str
    number: str
    branch: str
    judgement_date: dt.date
    residence: str
    visa_status: str
    exception: str
    evidence: tuple[str, ...]
    exception_until: dt.date | None
    outcome: str
    rule: str


@dataclass(frozen=True, slots=True)
class Planted:
    files: list[str]
    retroactive: list[PlantedRetroactive]
    dependants: list[PlantedDependant]
    counts: dict[str, int]


def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses (or removes, to overwrite) the planted files of an earlier run."""
    earlier = sorted((out_dir / RETRO_DIR).glob("*.csv"))
    if (out_dir / DEPENDANTS_FILE).exists():
        earlier.append(out_dir / DEPENDANTS_FILE)
    clear_earlier(out_dir, earlier, "the boundary files", overwrite)


def write(world: World, out_dir: Path, seed: int) -> Planted:
    """Plants the retroactive enrolments and writes the dependants file."""
    rng = random.Random(f"boundary-{seed}")
    retro, retro_files = _retroactive(world, out_dir, rng)
    dependants, ordinary = _dependants(world, out_dir, rng)
    counts = {
        "boundary_retroactive_no_fault": sum(1 for r in retro if not r.fault),
        "boundary_retroactive_at_fault": sum(1 for r in retro if r.fault),
        "boundary_dependants_rows": ordinary + len(dependants),
        "boundary_dependants_planted": len(dependants),
    }
    return Planted([*retro_files, DEPENDANTS_FILE], retro, dependants, counts)


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _candidates(w: World) -> list[int]:
    """Persons on the same 市町村国保 coverage from the start to the end, alive, of working
    age, and in no other planted case: a retroactive enrolment overlaps all of it."""
    found = []
    for pid, cid in enumerate(w.cov):
        if (
            cid >= 0
            and w.kind(cid) == KOKUHO
            and w.c_acquired[cid] <= w.start
            and not w.c_lost[cid]
            and not w.death[pid]
            and pid not in w.frozen
            and pid not in w.extra
            and 22 <= w.age(pid, w.last) <= 55
        ):
            found.append(pid)
    return found


def _employee_number(w: World, rng: random.Random) -> tuple[int, str, str]:
    """A new 本人 number at an employer of an employee insurer (the next serial there)."""
    ins = rng.choice(sorted(w._employee_insurers))
    employer = rng.randrange(len(w.emp_symbols[ins]))
    serial = w.emp_next[ins][employer]
    w.emp_next[ins][employer] = serial + 1
    return ins, w.emp_symbols[ins][employer], NUMBER_STYLE[w.ins_kind[ins]].format(serial)


def _retroactive(
    w: World, out_dir: Path, rng: random.Random
) -> tuple[list[PlantedRetroactive], list[str]]:
    persons = len(w.birth)
    no_fault = max(NO_FAULT_AT_LEAST, persons // NO_FAULT_PER)
    at_fault = max(AT_FAULT_AT_LEAST, persons // AT_FAULT_PER)
    candidates = _candidates(w)
    chosen = rng.sample(candidates, min(len(candidates), no_fault + at_fault))
    start, last = dt.date.fromordinal(w.start), dt.date.fromordinal(w.last)
    earliest = _month_start(start, -1)  # after the 国保 資格取得 (on or before the start)
    planted: list[PlantedRetroactive] = []
    rows: dict[tuple[int, int], list[tuple[dt.date, str]]] = defaultdict(list)
    for n, pid in enumerate(chosen):
        fault = n >= no_fault
        acquired = max(earliest, _month_start(last, rng.randint(24, 35)))
        if fault:
            # The employer filed within days; the person never told the municipality.
            decided = acquired + dt.timedelta(days=rng.randint(5, 20))
        else:
            # A 未適用事業所 enrolled 2–3 years back, confirmed near the end of the period.
            decided = last - dt.timedelta(days=rng.randint(15, 80))
        filed = min(last, decided + dt.timedelta(days=rng.randint(1, 10)))
        ins, symbol, number = _employee_number(w, rng)
        kind = w.ins_kind[ins]
        day = acquired.toordinal()
        copay, elderly = w.copay(pid, day, kind)
        card = "" if kind == KUMIAI else "01"
        body = (
            f"acquire,{iso(day)},{w.ins_number[ins]},{symbol},{number},00,{w.name_kanji(pid)},"
            f"{w.name_kana(pid)},{iso(w.birth[pid])},{w.sex[pid]},{w.h_address[w.hh[pid]]},1,"
            f"{copay},{elderly},{w.limit[pid]},{w.disease[pid]},{card},,{decided.isoformat()}"
        )
        rows[(ins, month_key(filed.toordinal()))].append((filed, body))
        kokuho = w.cov[pid]
        k_ins = w.c_ins[kokuho]
        planted.append(
            PlantedRetroactive(
                municipality=w.prefecture.insurers[k_ins].municipality_code or "",
                kokuho_insurer=w.ins_number[k_ins],
                kokuho_symbol=w.c_sym[kokuho],
                kokuho_number=w.c_num[kokuho],
                kokuho_branch=w.c_branch[kokuho],
                employee_insurer=w.ins_number[ins],
                employee_symbol=symbol,
                employee_number=number,
                employee_branch="00",
                acquired_on=acquired,
                decided_on=decided,
                filed=filed,
                fault=fault,
            )
        )
    (out_dir / RETRO_DIR).mkdir(parents=True, exist_ok=True)
    files = []
    serial: dict[int, int] = defaultdict(int)
    for ins, month in sorted(rows, key=lambda key: (key[1], key[0])):
        lines = []
        for _, body in sorted(rows[(ins, month)]):
            serial[ins] += 1
            lines.append([f"R{serial[ins]:07d}", body])
        name = f"{RETRO_DIR}/{w.ins_number[ins]}_{month_label(month)}.csv"
        write_table(out_dir / name, RETRO_COLUMNS, lines)
        files.append(name)
    return planted, files


def _rules() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(data_text(RESIDENCY_RULES), RESIDENCY_RULES)
    return loaded


def _dependants(w: World, out_dir: Path, rng: random.Random) -> tuple[list[PlantedDependant], int]:
    """Every 家族 資格取得 of the period (a 住民票 in Japan: 認定 by the principle), then the
    planted applications: abroad under each exception with and without its evidence, and the
    excluded 特定活動 visas (and one with no 告示 number)."""
    start, last = max(dt.date.fromordinal(w.start), IN_FORCE), dt.date.fromordinal(w.last)
    rows: list[list[str]] = []
    for cid in range(len(w.c_pid)):
        acquired = dt.date.fromordinal(w.c_acquired[cid])
        if w.c_rel[cid] != 2 or not w.is_employee(cid) or not start <= acquired <= last:
            continue
        pid = w.c_pid[cid]
        rows.append(
            [f"D{len(rows) + 1:07d}", w.ins_number[w.c_ins[cid]], w.c_sym[cid], w.c_num[cid],
             w.c_branch[cid], acquired.isoformat(), w.name_kanji(pid), w.name_kana(pid),
             iso(w.birth[pid]), str(w.sex[pid]), w.h_address[w.hh[pid]], "domestic", "", "",
             "", ""]
        )  # fmt: skip
    ordinary = len(rows)
    heads = [
        cid
        for cid in range(len(w.c_pid))
        if w.c_rel[cid] == 1 and w.is_employee(cid) and not w.c_lost[cid]
    ]
    rules = _rules()
    cases: list[tuple[str, str, str, tuple[str, ...], int, str, str]] = []
    # (residence, visa, exception, evidence, days the exception lasts, outcome, rule)
    for exception in rules["exceptions"]:
        code, documents = str(exception["code"]), tuple(exception["evidence"])
        lasts = (365 * 2, 365 * 3, 180, 365 * 3, 0)[int(code) - 1]
        if exception["needs"] == "judgement":
            cases.append(("abroad", "", code, (), lasts, "要確認", f"exception:{code}"))
            continue
        given = documents if exception["needs"] == "all" else documents[:1]
        short = documents[:-1] if exception["needs"] == "all" else ()
        cases.append(("abroad", "", code, given, lasts, "認定", f"exception:{code}"))
        cases.append(("abroad", "", code, short, lasts, "要確認", f"exception:{code}"))
    for exclusion in rules["exclusions"]:
        for notice in exclusion["notices"]:
            visa = f"{exclusion['visa']}:{notice}"
            cases.append(("domestic", visa, "", (), 0, "不認定", f"exclusion:{exclusion['code']}"))
    cases.append(("domestic", "特定活動", "", (), 0, "要確認", "visa_notice_unknown"))
    planted: list[PlantedDependant] = []
    span = (last - start).days
    for n, (residence, visa, code, evidence, lasts, outcome, rule) in enumerate(cases):
        head = rng.choice(heads)
        branch = w._branch_next.get(head, 1)
        w._branch_next[head] = branch + 1
        judged = start + dt.timedelta(days=rng.randint(0, max(0, span)))
        until = judged + dt.timedelta(days=lasts) if lasts else None
        address = w.h_address[w.hh[w.c_pid[head]]] if residence == "domestic" else ""
        item = PlantedDependant(
            f"P{n + 1:04d}", w.ins_number[w.c_ins[head]], w.c_sym[head], w.c_num[head],
            f"{branch:02d}", judged, residence, visa, code, evidence, until, outcome, rule,
        )  # fmt: skip
        planted.append(item)
        rows.append(
            [item.application_id, item.insurer_number, item.symbol, item.number, item.branch,
             judged.isoformat(), "", "", "", "", address, residence, visa, code,
             ";".join(evidence), until.isoformat() if until else ""]
        )  # fmt: skip
    (out_dir / DEPENDANTS_FILE).parent.mkdir(parents=True, exist_ok=True)
    write_table(out_dir / DEPENDANTS_FILE, DEPENDANT_COLUMNS, rows)
    return planted, ordinary
