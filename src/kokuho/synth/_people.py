"""The opening population: ages, households and the coverage everyone has at the start.

Ages are drawn first, matching the configured pyramid exactly, and households are then
assembled from that pool (families around their children, couples, the elderly), so the
age structure is right by construction and the households stay plausible.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random

from kokuho.synth._data import Prefecture
from kokuho.synth._world import KOKI_BEGAN, World, anniversary

MAX_AGE = 104
MALE, FEMALE = 0, 1  # pool indices; the feed's 性別 codes are 1 and 2
CHILD_MAX = 21  # children up to this age live with their parents
AT_HOME_MAX = 49  # unmarried adult children living with their parents (パラサイト) up to this


def _at_home(age: int) -> float:
    """Share of adults of ``age`` who live with their parents. ASSUMPTION near the census
    shares of unmarried adults living in their parents' household."""
    return 0.5 if age < 30 else 0.3 if age < 40 else 0.12


def _male_share(age: int) -> float:
    """Share of men by age: slightly more boys, far more women among the very old."""
    if age < 50:
        return 0.512
    if age < 65:
        return 0.5
    if age < 75:
        return 0.48
    if age < 85:
        return 0.43
    if age < 95:
        return 0.33
    return 0.2


def age_counts(prefecture: Prefecture, persons: int) -> list[list[int]]:
    """Persons by sex and single year of age: the 5-year shape smoothed to single years,
    scaled so that 0–14, 15–64 and 65+ hold exactly their configured shares."""
    shape = prefecture.age_shape
    mids = [group * 5 + 2 for group in range(len(shape))]
    weights: list[float] = []
    for age in range(MAX_AGE + 1):
        if age <= mids[0]:
            value = shape[0]
        elif age >= mids[-1]:
            value = shape[-1] * max(0.1, (MAX_AGE + 1 - age) / (MAX_AGE + 1 - mids[-1]))
        else:
            i = (age - 2) // 5
            value = shape[i] + (shape[i + 1] - shape[i]) * (age - mids[i]) / 5
        weights.append(value)
    total_percent = sum(prefecture.age_percent)
    expected: list[tuple[float, int, int]] = []
    for (low, high), percent in zip(
        ((0, 14), (15, 64), (65, MAX_AGE)), prefecture.age_percent, strict=True
    ):
        band = sum(weights[low : high + 1])
        for age in range(low, high + 1):
            people = persons * percent / total_percent * weights[age] / band
            male = _male_share(age)
            expected.append((people * male, MALE, age))
            expected.append((people * (1 - male), FEMALE, age))
    counts = [[0] * (MAX_AGE + 1), [0] * (MAX_AGE + 1)]
    for value, sex, age in expected:
        counts[sex][age] = int(value)
    # Largest remainders make the total exact without disturbing the shape.
    missing = persons - sum(map(sum, counts))
    by_remainder = sorted(expected, key=lambda e: (-(e[0] - int(e[0])), e[1], e[2]))
    for _, sex, age in by_remainder[:missing]:
        counts[sex][age] += 1
    return counts


class _Pool:
    def __init__(self, counts: list[list[int]]) -> None:
        self.count = counts

    def take(self, sex: int, target: int, low: int, high: int) -> int:
        """Removes one person of ``sex`` aged as near ``target`` as the pool allows within
        [low, high]; returns the age, or -1 when nobody is left in the range."""
        count = self.count[sex]
        low = max(low, 0)
        high = min(high, MAX_AGE)
        if low > high:
            return -1
        target = min(max(target, low), high)
        for distance in range(high - low + 1):
            age = target + distance
            if age <= high and count[age]:
                count[age] -= 1
                return age
            age = target - distance
            if distance and age >= low and count[age]:
                count[age] -= 1
                return age
        return -1


# A planned household: (sex 0/1, age, role) with roles below.
HEAD, PARTNER, CHILD, GRANDFATHER, GRANDMOTHER = range(5)
Plan = list[tuple[int, int, int]]


def _families(pool: _Pool, rng: random.Random) -> list[Plan]:
    """Households with children: parents, 1–4 children, sometimes grandparents (三世代)."""
    plans: list[Plan] = []
    count = pool.count
    for child_age in range(AT_HOME_MAX, -1, -1):
        for child_sex in (MALE, FEMALE):
            families = count[child_sex][child_age]
            if child_age > CHILD_MAX:
                families = round(families * _at_home(child_age))
            for _ in range(families):
                if not count[child_sex][child_age]:
                    break
                count[child_sex][child_age] -= 1
                children = [(child_sex, child_age)]
                target = child_age + round(rng.triangular(22, 40, 30))
                mother = pool.take(FEMALE, target, child_age + 18, child_age + 45)
                father = -1
                if mother < 0 or rng.random() < 0.87:
                    base = mother if mother >= 0 else target
                    father = pool.take(
                        MALE, base + round(rng.gauss(2, 3)), child_age + 18, base + 15
                    )
                if mother < 0 and father < 0:
                    # Only a tiny prefecture runs out of parents: the child joins the last
                    # family rather than living alone.
                    if plans:
                        plans[-1].append((child_sex, child_age, CHILD))
                    else:
                        plans.append([(child_sex, child_age, HEAD)])
                    continue
                age = child_age
                for _ in range(rng.choices((0, 1, 2, 3), (35, 45, 17, 3))[0]):
                    age -= rng.randint(1, 5)
                    if age < 0:
                        break
                    sex = MALE if rng.random() < 0.512 else FEMALE
                    if pool.take(sex, age, age, age) >= 0:
                        children.append((sex, age))
                plan: Plan = []
                if father >= 0:
                    plan.append((MALE, father, HEAD))
                if mother >= 0:
                    plan.append((FEMALE, mother, HEAD if father < 0 else PARTNER))
                plan.extend((sex, age, CHILD) for sex, age in children)
                if child_age <= CHILD_MAX and rng.random() < 0.15:
                    parent = father if father >= 0 else mother
                    target = parent + round(rng.triangular(24, 34, 28))
                    grandmother = pool.take(FEMALE, target, parent + 18, parent + 45)
                    if grandmother >= 0:
                        plan.append((FEMALE, grandmother, GRANDMOTHER))
                        if rng.random() < 0.65:
                            grandfather = pool.take(
                                MALE, grandmother + 3, grandmother - 2, grandmother + 10
                            )
                            if grandfather >= 0:
                                plan.append((MALE, grandfather, GRANDFATHER))
                plans.append(plan)
    return plans


def _couples_and_singles(pool: _Pool, rng: random.Random) -> list[Plan]:
    plans: list[Plan] = []
    count = pool.count
    for age in range(CHILD_MAX + 1, MAX_AGE + 1):
        if age < 30:
            married = 0.3
        elif age < 45:
            married = 0.55
        elif age < 75:
            married = 0.8
        elif age < 85:
            married = 0.68
        else:
            married = 0.45
        while count[MALE][age]:
            count[MALE][age] -= 1
            plan: Plan = [(MALE, age, HEAD)]
            if rng.random() < married:
                gap = round(rng.gauss(2.5, 3))
                wife = pool.take(FEMALE, age - gap, CHILD_MAX + 1, age + 10)
                if wife >= 0:
                    plan.append((FEMALE, wife, PARTNER))
            plans.append(plan)
    for age in range(CHILD_MAX + 1, MAX_AGE + 1):
        for _ in range(count[FEMALE][age]):
            plans.append([(FEMALE, age, HEAD)])
        count[FEMALE][age] = 0
    return plans


def _birth(world: World, age: int) -> int:
    return world.start - int((age + world.rng.random()) * 365.2425) - 1


def build(world: World, persons: int) -> None:
    """Creates the opening households and persons (no coverage yet)."""
    rng = world.rng
    pool = _Pool(age_counts(world.prefecture, persons))
    plans = _families(pool, rng) + _couples_and_singles(pool, rng)
    rng.shuffle(plans)
    weights = list(itertools.accumulate(m.population for m in world.prefecture.municipalities))
    for number, plan in enumerate(plans):
        # One household in each municipality first: even a small run has all 17 (直島町 holds
        # 0.3 % of the people).
        if number < len(weights):
            municipality = number
        else:
            municipality = bisect.bisect(weights, rng.random() * weights[-1])
        household = world.new_household(municipality)
        surname = world.pick_surname()
        made: dict[int, int] = {}
        for sex, age, role in plan:
            pid = world.new_person(sex + 1, _birth(world, age), surname, household)
            made.setdefault(role, pid)
            _opening_terms(world, pid, age)
            if role == CHILD:
                head = made[HEAD]
                if world.sex[head] == 1:
                    world.father[pid] = head
                    partner = made.get(PARTNER, -1)
                    world.mother[pid] = partner
                else:
                    world.mother[pid] = head
            elif role == PARTNER:
                _marry(world, made[HEAD], pid)
            elif role == GRANDMOTHER:
                world.mother[made[HEAD]] = pid
            elif role == GRANDFATHER:
                world.father[made[HEAD]] = pid
                _marry(world, pid, made[GRANDMOTHER])
    world.counts["households_initial"] = len(world.members)


def _marry(world: World, one: int, other: int) -> None:
    world.spouse[one] = other
    world.spouse[other] = one


def _opening_terms(world: World, pid: int, age: int) -> None:
    """限度額適用 and 特定疾病 held at the start by a few (older people more often)."""
    rng = world.rng
    if age >= 20 and rng.random() < (0.015 if age < 60 else 0.035):
        world.limit[pid] = world.limit_for(pid, world.start)
    if age >= 30:
        u = rng.random()
        if u < (0.004 if age >= 50 else 0.001):
            world.disease[pid] = "1"  # 人工透析を要する慢性腎不全
        elif u < 0.0041 and world.sex[pid] == 1:
            world.disease[pid] = "2"  # 血友病


def _employed(rng: random.Random, age: int, sex: int) -> bool:
    """本人 of an employee scheme at the start. ASSUMPTION calibrated to national labour-force
    shares; most people 65–74 are not employees and so are in 国保."""
    if age < 18:
        return False
    if age < 23:
        p = 0.25
    elif age < 60:
        p = 0.86 if sex == 1 else 0.55
    elif age < 65:
        p = 0.6 if sex == 1 else 0.35
    elif age < 70:
        p = 0.3 if sex == 1 else 0.16
    else:
        p = 0.1 if sex == 1 else 0.05
    return rng.random() < p


def _first_of_month(day: int) -> int:
    date = dt.date.fromordinal(day)
    return date.replace(day=1).toordinal()


def open_coverages(world: World) -> None:
    """Gives everyone the coverage they hold at the start, with the real historical
    資格取得日, and files it as the first rows of every insurer (the opening membership)."""
    rng = world.rng
    start = world.start
    filed = start - 1  # sorts before every event of the first month
    years30 = int(30 * 365.2425)
    for members in world.members:
        employed: list[int] = []
        others: list[int] = []
        for pid in members:
            birth = world.birth[pid]
            if anniversary(birth, 75) <= start:
                world.join_koki(pid, max(KOKI_BEGAN, anniversary(birth, 75)), filed)
            elif _employed(rng, world.age(pid, start), world.sex[pid]):
                employed.append(pid)
            else:
                others.append(pid)
        for pid in employed:
            low = max(anniversary(world.birth[pid], 18), start - years30)
            day = low + int((start - 1 - low) * rng.random())
            if rng.random() < 0.5:
                day = max(low, _first_of_month(day))
            world.hire(pid, day, filed)
        for pid in others:
            head = _head_for(world, pid, employed)
            birth = world.birth[pid]
            if head >= 0:
                day = max(world.c_acquired[head], birth)
                world.add_dependant(pid, head, day, filed)
            else:
                low = anniversary(birth, 60) if world.age(pid, start) >= 60 else birth
                low = max(low, birth, start - years30)
                world.join_kokuho(pid, low + int((start - 1 - low) * rng.random()), filed)


def _head_for(world: World, pid: int, employed: list[int]) -> int:
    """The 本人 coverage a non-employee depends on (被扶養者), or -1 for 国保."""
    if not employed:
        return -1
    spouse = world.spouse[pid]
    if spouse in employed:
        return world.cov[spouse]
    age = world.age(pid, world.start)
    if age < CHILD_MAX + 1:
        for parent in (world.father[pid], world.mother[pid]):
            if parent in employed:
                return world.cov[parent]
        return -1
    if age >= 60 and world.rng.random() < 0.3:
        for other in employed:
            if pid in (world.father[other], world.mother[other]):
                return world.cov[other]
    return -1
