"""The 世帯主 and every member's 続柄 of the synthetic households, as the 住民票 writes them
(docs/formats.md §3). The world keeps who is whose spouse, mother and father; the head is
the adult a 住民票 most often names: a married man of working age, else the oldest adult.
"""

from __future__ import annotations

from kokuho.synth._world import World

ADULT = 18


def household_id(household: int) -> str:
    """The 世帯番号 of a world household (unique in the prefecture, so in each municipality)."""
    return f"{household + 1:010d}"


def _head(world: World, people: list[int]) -> int:
    w = world
    day = w.last

    def rank(pid: int) -> tuple[bool, bool, bool, int]:
        age = w.age(pid, day)
        married_here = w.spouse[pid] in people
        return (age >= ADULT, ADULT <= age < 75 and married_here, w.sex[pid] == 1, age)

    return max(people, key=rank)


def _relationship(world: World, head: int, pid: int) -> str:
    w = world
    spouse = w.spouse[head]
    parents = (w.mother[pid], w.father[pid])
    if pid == head:
        return "世帯主"
    if pid == spouse:
        return "妻" if w.sex[pid] == 2 else "夫"
    if head in parents:
        return "子"
    if spouse >= 0 and spouse in parents:
        return "妻の子" if w.sex[spouse] == 2 else "夫の子"
    if pid == w.mother[head]:
        return "母"
    if pid == w.father[head]:
        return "父"
    if spouse >= 0 and pid in (w.mother[spouse], w.father[spouse]):
        side = "妻の" if w.sex[spouse] == 2 else "夫の"
        return side + ("母" if w.sex[pid] == 2 else "父")
    partner = w.spouse[pid]
    if partner >= 0 and head in (w.mother[partner], w.father[partner]):
        return "子の妻" if w.sex[pid] == 2 else "子の夫"
    if any(p >= 0 and head in (w.mother[p], w.father[p]) for p in parents):
        return "孫"
    shared = [p for p in parents if p >= 0 and p in (w.mother[head], w.father[head])]
    if shared:
        elder = w.birth[pid] < w.birth[head]
        if w.sex[pid] == 2:
            return "姉" if elder else "妹"
        return "兄" if elder else "弟"
    return "同居人"


def relationships(world: World) -> dict[int, str]:
    """The 続柄 of every person alive at the end, by person."""
    w = world
    found: dict[int, str] = {}
    for household, members in enumerate(w.members):
        people = [m for m in members if not w.death[m] and w.hh[m] == household]
        if not people:
            continue
        head = _head(w, people)
        for pid in people:
            found[pid] = _relationship(w, head, pid)
    return found
