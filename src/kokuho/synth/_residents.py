"""The resident register (住民基本台帳) at the end, and the My Numbers insurers submit.

Most submissions are right. Some are planted wrong the ways they went wrong in practice:
a mistyped digit (most then fail the 検査用数字), the number of someone else (a household
member, or a person of the same name: the 2023 紐付け誤り pattern), a record that differs
from the 住基 in notation only (異体字, half-width kana, 丁目 notation: these must still link)
and one that really differs (an unreported move, a maiden name: these must go to review).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kokuho.ids import mynumber_check
from kokuho.synth._address import FEED_STYLES, KANJI_STYLE
from kokuho.synth._data import kanji_variants
from kokuho.synth._households import household_id, relationships
from kokuho.synth._world import World
from kokuho.synth._writers import (
    RESIDENT_COLUMNS,
    SUBMISSION_COLUMNS,
    iso,
    write_table,
)

SUBMITTED = 0.85  # share of current members whose My Number the insurer submits
TYPO = 0.02
OTHER_PERSON = 0.003
NOTATION = 0.022  # planted in the 住基; the half-width kana records (0.8 %) add to it
REAL_DIFFERENCE = 0.01


def _new_mynumber(world: World, seen: set[str]) -> str:
    rng = world.rng
    while True:
        body = f"{rng.randrange(10**11):011d}"
        number = body + str(mynumber_check(body))
        if number not in seen:
            seen.add(number)
            return number


def _mistype(world: World, number: str) -> str:
    rng = world.rng
    position = rng.randrange(12)
    digit = str((int(number[position]) + rng.randint(1, 9)) % 10)
    return number[:position] + digit + number[position + 1 :]


def _variant_name(kanji: str) -> str | None:
    """The same name with one character in its 異体字 (or back to the standard form)."""
    forward = kanji_variants()
    backward = {variant: standard for standard, variant in forward.items()}
    for position, char in enumerate(kanji):
        other = forward.get(char) or backward.get(char)
        if other:
            return kanji[:position] + other + kanji[position + 1 :]
    return None


def write(
    world: World, directory: Path, ids_by_person: dict[int, str] | None = None
) -> Counter[str]:
    """Writes residents.csv (with each resident's 世帯番号 and 続柄) and
    mynumber_submissions.csv; returns the planted counts. ``ids_by_person`` receives every
    person's resident_id, for the files keyed by it (incomes)."""
    w = world
    rng = w.rng
    counts: Counter[str] = Counter()
    alive = [pid for pid in range(len(w.birth)) if not w.death[pid]]
    seen: set[str] = set()
    mynumber = {pid: _new_mynumber(w, seen) for pid in alive}
    resident_ids: set[int] = set()

    submissions: list[tuple[int, int, int]] = []
    for pid in alive:
        for cid in w.open_coverages(pid):
            if rng.random() < SUBMITTED:
                submissions.append((w.c_ins[cid], cid, pid))
    submissions.sort()

    # What each submission carries, and which persons get a 住基 record that differs.
    numbers: list[str] = []
    correct_persons: list[int] = []
    same_name: dict[tuple[int, int], list[int]] | None = None
    for _, _, pid in submissions:
        u = rng.random()
        if u < TYPO:
            wrong = _mistype(w, mynumber[pid])
            passes = mynumber_check(wrong[:11]) == int(wrong[11])
            counts["submissions_typo"] += 1
            counts[
                "submissions_typo_passing_check" if passes else "submissions_typo_failing_check"
            ] += 1
            numbers.append(wrong)
            continue
        if u < TYPO + OTHER_PERSON:
            housemates = [m for m in w.members[w.hh[pid]] if m != pid]
            if housemates and rng.random() < 0.6:
                other = housemates[rng.randrange(len(housemates))]
                counts["submissions_other_household_member"] += 1
            else:
                if same_name is None:
                    same_name = {}
                    for person in alive:
                        same_name.setdefault((w.sur[person], w.given[person]), []).append(person)
                namesakes = [m for m in same_name[(w.sur[pid], w.given[pid])] if m != pid]
                if namesakes:
                    other = namesakes[rng.randrange(len(namesakes))]
                    counts["submissions_other_same_name"] += 1
                else:
                    other = pid
                    while other == pid:
                        other = alive[rng.randrange(len(alive))]
                    counts["submissions_other_random"] += 1
            counts["submissions_other_person"] += 1
            numbers.append(mynumber[other])
            continue
        numbers.append(mynumber[pid])
        correct_persons.append(pid)

    # Planted differences between the insurer's record and the 住基, per person.
    difference: dict[int, str] = {}  # pid → "notation" | "real"
    resident_name: dict[int, tuple[str, str]] = {}
    resident_address: dict[int, str] = {}
    for pid in dict.fromkeys(correct_persons):
        if pid in w.halfwidth:
            difference[pid] = "notation"  # the insurer holds ﾀｶﾊｼ, the 住基 タカハシ
            continue
        u = rng.random()
        household = w.hh[pid]
        if u < NOTATION:
            difference[pid] = "notation"
            kanji = w.name_kanji(pid)
            variant = _variant_name(kanji)
            v = rng.random()
            if variant and v < 0.4:
                resident_name[pid] = (variant, _full_kana(w, pid))
                counts["notation_kanji_variant"] += 1
            elif v < 0.8:
                style = w.h_style[household]
                other = KANJI_STYLE if rng.random() < 0.5 else (style + 1) % FEED_STYLES
                resident_address[pid] = w.addresses.render(
                    w.h_parts[household], other, not w.h_prefix[household]
                )
                counts["notation_address"] += 1
            else:
                resident_name[pid] = (kanji.replace("\u3000", ""), _full_kana(w, pid))
                counts["notation_spacing"] += 1
        elif u < NOTATION + REAL_DIFFERENCE:
            difference[pid] = "real"
            if w.sex[pid] == 2 and 20 <= w.age(pid, w.last) < 50 and rng.random() < 0.5:
                # 住基 has her married name; the insurer still holds the maiden name.
                surname = w.sur[pid]
                while w.surnames[surname][1] == w.surnames[w.sur[pid]][1]:
                    surname = w.pick_surname()
                kanji, kana = w.surnames[surname]
                given_kanji, given_kana = w.given_names[w.given[pid]]
                resident_name[pid] = (f"{kanji}\u3000{given_kanji}", f"{kana}\u3000{given_kana}")
                counts["real_difference_name"] += 1
            else:
                # Moved within the municipality; the 住基 knows, the insurer was not told.
                parts = w.addresses.new(w.h_muni[household])
                resident_address[pid] = w.addresses.render(
                    parts, w.h_style[household], w.h_prefix[household]
                )
                counts["real_difference_address"] += 1

    for (_, _, pid), number in zip(submissions, numbers, strict=True):
        if number != mynumber[pid]:
            continue
        kind = difference.get(pid)
        counts[
            "submissions_notation_only"
            if kind == "notation"
            else "submissions_real_difference"
            if kind == "real"
            else "submissions_exact"
        ] += 1
    counts["submissions"] = len(submissions)

    roles = relationships(w)

    def resident_rows() -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for pid in alive:
            resident_id = rng.randrange(10**10, 10**11)
            while resident_id in resident_ids:
                resident_id = rng.randrange(10**10, 10**11)
            resident_ids.add(resident_id)
            household = w.hh[pid]
            kanji, kana = resident_name.get(pid) or (w.name_kanji(pid), _full_kana(w, pid))
            rows.append(
                (
                    str(resident_id),
                    mynumber[pid],
                    kanji,
                    kana,
                    iso(w.birth[pid]),
                    str(w.sex[pid]),
                    resident_address.get(pid) or w.h_address[household],
                    w.prefecture.municipalities[w.h_muni[household]].code,
                    household_id(household),
                    roles.get(pid, "同居人"),
                    "",  # 世帯異動日: the register at the end does not say
                )
            )
            if ids_by_person is not None:
                ids_by_person[pid] = str(resident_id)
        return rows

    counts["residents"] = write_table(
        directory / "residents.csv", RESIDENT_COLUMNS, resident_rows()
    )
    write_table(
        directory / "mynumber_submissions.csv",
        SUBMISSION_COLUMNS,
        (
            (w.ins_number[w.c_ins[cid]], w.c_sym[cid], w.c_num[cid], w.c_branch[cid], number)
            for (_, cid, _), number in zip(submissions, numbers, strict=True)
        ),
    )
    return counts


def _full_kana(world: World, pid: int) -> str:
    """カナ氏名 as the 住基 holds it: always full-width."""
    return f"{world.surnames[world.sur[pid]][1]}\u3000{world.given_names[world.given[pid]][1]}"
