"""Reduction grounds of the synthetic residents (docs/formats.md §8a):
``grounds/reduction_grounds.csv``, so the demo's assessments meet 旧被扶養者 and 非自発的失業.

From the life events: every dependant aged 65–74 who joined 国保 the day the employee moved to
後期 is a 旧被扶養者; a share of those who left a job for 国保 while under 65 left it
involuntarily (解雇, 雇止め, …) and carry a qualifying 離職理由コード. Drawn from their own random
stream: every other file is the same with or without them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from pathlib import Path

from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._world import World
from kokuho.synth._writers import write_table

FOLDER = "grounds"
NAME = f"{FOLDER}/reduction_grounds.csv"
COLUMNS = ("resident_id", "ground", "date", "reason_code")
INVOLUNTARY_SHARE = 0.3
"""Of those who leave a job for 国保 under 65: a plausible share, no published figure."""
CODES = ("11", "11", "11", "12", "21", "22", "23", "31", "32", "33", "33", "34")
"""Qualifying 離職理由コード, 解雇 (11) and 正当な理由のある自己都合 (33) the most common."""


def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses to mix with the grounds file of an earlier run, or removes it to overwrite."""
    path = out_dir / NAME
    clear_earlier(out_dir / FOLDER, [path] if path.is_file() else [], "the grounds", overwrite)


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def write(world: World, out_dir: Path, seed: int, resident_ids: dict[int, str]) -> Written:
    digest = hashlib.sha256(f"grounds-{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    counts: Counter[str] = Counter()
    rows: set[tuple[str, str, str, str]] = set()
    for ground, pid, day in world.ground_events:
        resident = resident_ids.get(pid)
        if resident is None:
            continue  # not in the resident register at the end (died, moved away)
        birth = dt.date.fromordinal(world.birth[pid])
        joined = dt.date.fromordinal(day)
        if ground == "former_dependant":
            if 65 <= _age(birth, joined) <= 74:
                rows.add((resident, ground, joined.isoformat(), ""))
        else:
            left = joined - dt.timedelta(days=1)  # 資格取得日 = the day after the 離職日
            if _age(birth, left) < 65 and rng.random() < INVOLUNTARY_SHARE:
                rows.add((resident, ground, left.isoformat(), rng.choice(CODES)))
    for row in rows:
        counts[f"grounds_{row[1]}"] += 1
    if not rows:
        # A small prefecture may meet no ground: no file, since the import refuses one that
        # holds none (an insurer's empty file is a mistake), which stopped `kokuho demo`.
        return Written([], {})
    (out_dir / FOLDER).mkdir(parents=True, exist_ok=True)
    write_table(out_dir / NAME, COLUMNS, sorted(rows))
    return Written([NAME], dict(counts))
