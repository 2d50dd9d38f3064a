"""The state of the synthetic prefecture while it is simulated, and the rows it files.

Persons, households and coverages are kept column-wise (one list per attribute, indexed by
an integer id): a million persons then cost a few lists, not a million objects.
A coverage is one insured-number tuple (保険者番号・記号・番号・枝番) of one person with
its 資格取得日 and, once lost, its 資格喪失日. Tuples are never given to anyone else.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections import Counter
from functools import cache

from kokuho.synth._address import Addresses, Parts
from kokuho.synth._data import NameTables, Prefecture
from kokuho.synth._text import halfwidth_kana
from kokuho.synth._writers import Feed, iso

KOKUHO, KYOKAI, KUMIAI, KYOSAI, KOKI = range(5)
_KIND_CODES = {"kokuho_municipal": KOKUHO, "kyokai": KYOKAI, "kumiai": KUMIAI}
_KIND_CODES |= {"kyosai": KYOSAI, "koki": KOKI}
#: Share of employees (被用者) by scheme. ASSUMPTION for a prefecture with few large firms:
#: nationally the split is about 54 % 協会, 36 % 組合, 10 % 共済 (被保険者, FY2022).
_EMPLOYEE_KIND_SHARE = {KYOKAI: 0.65, KUMIAI: 0.22, KYOSAI: 0.13}

#: 番号 of an employee: 協会けんぽ plain digits, 組合 and 共済 zero-padded to their width.
NUMBER_STYLE = {KYOKAI: "{}", KUMIAI: "{:06d}", KYOSAI: "{:07d}"}

#: 後期高齢者 一般Ⅱ pay 20 % from this day (令和3年法律第66号).
KOKI_TWENTY_PERCENT_FROM = dt.date(2022, 10, 1).toordinal()
#: 後期高齢者医療制度 began on this day; nobody's 後期 coverage is older.
KOKI_BEGAN = dt.date(2008, 4, 1).toordinal()

# income classes: 0 一般, 1 後期 一般Ⅱ (20 % from 2022-10), 2 現役並み所得
GENERAL, GENERAL_II, HIGH = 0, 1, 2
_TO_ELDERLY_LIMIT = {"A01": "B01", "A02": "B02", "A03": "B04", "A04": "B04", "A05": "B05"}
_TO_ELDERLY_LIMIT["A06"] = "B06"


def next_month(day: int) -> int:
    """The first day of the month after ``day`` (ordinals)."""
    date = dt.date.fromordinal(day)
    year, month = (date.year + 1, 1) if date.month == 12 else (date.year, date.month + 1)
    return dt.date(year, month, 1).toordinal()


@cache
def anniversary(birth: int, years: int) -> int:
    """The day of the ``years``-th birthday; 29 February births have theirs on 1 March."""
    day = dt.date.fromordinal(birth)
    try:
        return dt.date(day.year + years, day.month, day.day).toordinal()
    except ValueError:
        return dt.date(day.year + years, 3, 1).toordinal()


@cache
def school_entry(birth: int) -> int:
    """1 April after the March 31 that follows the 6th birthday (義務教育就学): the day
    一部負担金 goes from 20 % (未就学) to 30 %. Children born on 1 April count as a year older
    (年齢計算ニ関スル法律), so they start a year earlier."""
    day = dt.date.fromordinal(birth)
    year = day.year + (6 if (day.month, day.day) <= (4, 1) else 7)
    return dt.date(year, 4, 1).toordinal()


@cache
def elderly_start(birth: int) -> int:
    """高齢受給者 from the 1st of the month after the 70th birthday is reached; the law
    reaches it on the day before the birthday, so a person born on the 1st starts on it."""
    reached = dt.date.fromordinal(anniversary(birth, 70) - 1)
    year, month = (
        (reached.year + 1, 1) if reached.month == 12 else (reached.year, reached.month + 1)
    )
    return dt.date(year, month, 1).toordinal()


def age(birth: int, day: int) -> int:
    """Approximate age in years (off by a day near birthdays): for hazards, not for law."""
    return int((day - birth) / 365.2425)


class World:
    def __init__(
        self,
        prefecture: Prefecture,
        names: NameTables,
        rng: random.Random,
        start: dt.date,
        years: int,
        feed: Feed,
        persons: int,
    ) -> None:
        self.prefecture = prefecture
        self.rng = rng
        self.start = start.toordinal()
        self.end = anniversary(self.start, years)  # first day after the simulated period
        self.last = self.end - 1
        self.feed = feed
        self.addresses = Addresses(prefecture, rng)
        self.counts: Counter[str] = Counter()

        self.surnames = names.surnames
        self.surname_weights = names.surname_weights
        self.given_names: list[tuple[str, str]] = []
        self._given_pick: dict[tuple[int, int], tuple[int, tuple[float, ...]]] = {}
        for key, (entries, weights) in sorted(names.given.items()):
            self._given_pick[key] = (len(self.given_names), weights)
            self.given_names.extend(entries)
        self._eras = names.eras

        insurers = prefecture.insurers
        self.ins_kind = [_KIND_CODES[i.kind] for i in insurers]
        self.ins_number = [i.number for i in insurers]
        self.koki = self.ins_kind.index(KOKI)
        employee = [n for n, kind in enumerate(self.ins_kind) if kind in _EMPLOYEE_KIND_SHARE]
        self._employee_insurers = employee
        self._employee_weights = list(
            itertools.accumulate(
                _EMPLOYEE_KIND_SHARE[self.ins_kind[n]] * insurers[n].share for n in employee
            )
        )
        self._init_employers(persons)

        # persons
        self.birth: list[int] = []
        self.sex: list[int] = []
        self.sur: list[int] = []
        self.given: list[int] = []
        self.hh: list[int] = []
        self.spouse: list[int] = []
        self.mother: list[int] = []
        self.father: list[int] = []
        self.death: list[int] = []  # 0 while alive
        self.income: list[int] = []
        self.limit: list[str] = []
        self.disease: list[str] = []
        self.cov: list[int] = []  # the open coverage, -1 for none
        #: The second open coverage of a planted overlap: the 国保 the member has not left.
        self.extra: dict[int, int] = {}
        self.halfwidth: set[int] = set()  # insurers hold the カナ氏名 in half-width kana
        self.frozen: set[int] = set()  # planted overlaps: no optional events any more
        # (ground, person, day) of a possible 旧被扶養者 or 非自発的失業 (synth/_grounds.py)
        self.ground_events: list[tuple[str, int, int]] = []

        # households (世帯)
        self.members: list[list[int]] = []
        self.h_muni: list[int] = []
        self.h_parts: list[Parts] = []
        self.h_style: list[int] = []
        self.h_prefix: list[bool] = []
        self.h_address: list[str] = []
        self.h_kokuho: list[int] = []  # 国保 世帯 in the current municipality, -1 for none

        # 国保 世帯 (記号・番号 shared by the household's 国保 members)
        self.kk_insurer: list[int] = []
        self.kk_symbol: list[str] = []
        self.kk_number: list[str] = []
        self.kk_next: list[int] = []
        self._kokuho_serial = [rng.randrange(10_000, 400_000) for _ in prefecture.municipalities]
        self._koki_serial = rng.randrange(10_000_000, 20_000_000)

        # coverages
        self.c_ins: list[int] = []
        self.c_sym: list[str] = []
        self.c_num: list[str] = []
        self.c_branch: list[str] = []
        self.c_pid: list[int] = []
        self.c_acquired: list[int] = []
        self.c_lost: list[int] = []  # 0 while open
        self.c_rel: list[int] = []
        self.c_head: list[int] = []  # a dependant's 本人 coverage, else -1
        self.c_filed: list[int] = []  # the last day a row of this tuple was filed
        self._branch_next: dict[int, int] = {}  # 本人 coverage → next 枝番 of a dependant

    # -- reference data -------------------------------------------------------------------
    def _init_employers(self, persons: int) -> None:
        """Employers (事業所) of each employee scheme: their 記号 and a Zipf-like size."""
        rng = self.rng
        self.emp_symbols: dict[int, list[str]] = {}
        self.emp_next: dict[int, list[int]] = {}
        self.emp_weights: dict[int, list[float]] = {}
        seen: set[str] = set()
        for n, insurer in enumerate(self.prefecture.insurers):
            kind = self.ins_kind[n]
            if kind == KYOKAI:
                count = max(10, persons // 35)
            elif kind == KUMIAI:
                count = max(3, min(999, int(persons * insurer.share) // 900))
            elif kind == KYOSAI:
                count = max(2, min(99, int(persons * insurer.share) // 3000))
            else:
                continue
            symbols: list[str] = []
            for k in range(count):
                if kind == KYOKAI:
                    symbol = str(rng.randrange(10_000_000, 100_000_000))
                    while symbol in seen:
                        symbol = str(rng.randrange(10_000_000, 100_000_000))
                    seen.add(symbol)
                elif kind == KUMIAI:
                    symbol = str(k + 1)
                else:
                    symbol = f"{insurer.symbol}{k + 1:02d}"
                symbols.append(symbol)
            self.emp_symbols[n] = symbols
            self.emp_next[n] = [rng.randrange(1, 50) for _ in symbols]
            self.emp_weights[n] = list(
                itertools.accumulate(1 / (k + 1) ** 0.9 for k in range(count))
            )

    # -- persons ----------------------------------------------------------------------------
    def pick_surname(self) -> int:
        weights = self.surname_weights
        return bisect.bisect(weights, self.rng.random() * weights[-1])

    def pick_given(self, sex: int, birth: int, avoid: list[int] | None = None) -> int:
        year = dt.date.fromordinal(birth).year
        era = self._eras[bisect.bisect(self._eras, year) - 1]
        offset, weights = self._given_pick[(sex, era)]
        while True:
            index = offset + bisect.bisect(weights, self.rng.random() * weights[-1])
            if not avoid or index not in avoid:
                return index

    def new_person(self, sex: int, birth: int, surname: int, household: int) -> int:
        pid = len(self.birth)
        rng = self.rng
        self.birth.append(birth)
        self.sex.append(sex)
        self.sur.append(surname)
        avoid = [self.given[m] for m in self.members[household]]
        self.given.append(self.pick_given(sex, birth, avoid))
        self.hh.append(household)
        self.spouse.append(-1)
        self.mother.append(-1)
        self.father.append(-1)
        self.death.append(0)
        u = rng.random()
        self.income.append(HIGH if u < 0.07 else GENERAL_II if u < 0.27 else GENERAL)
        self.limit.append("")
        self.disease.append("")
        self.cov.append(-1)
        if rng.random() < 0.008:
            self.halfwidth.add(pid)
        self.members[household].append(pid)
        return pid

    def name_kanji(self, pid: int) -> str:
        return f"{self.surnames[self.sur[pid]][0]}\u3000{self.given_names[self.given[pid]][0]}"

    def name_kana(self, pid: int) -> str:
        kana = f"{self.surnames[self.sur[pid]][1]}\u3000{self.given_names[self.given[pid]][1]}"
        return halfwidth_kana(kana) if pid in self.halfwidth else kana

    def is_elderly(self, pid: int, day: int) -> bool:
        return day >= elderly_start(self.birth[pid])

    def limit_for(self, pid: int, day: int) -> str:
        """A 限度額適用 区分 that fits the age and income: ア–オ under 70, B from 70."""
        u = self.rng.random()
        if self.is_elderly(pid, day):
            if self.income[pid] == HIGH:
                return "B01" if u < 0.2 else "B02" if u < 0.5 else "B03"
            return "B04" if u < 0.6 else "B05" if u < 0.85 else "B06"
        if self.income[pid] == HIGH:
            return "A01" if u < 0.4 else "A02"
        return "A03" if u < 0.6 else "A04" if u < 0.85 else "A05"

    @staticmethod
    def elderly_limit(limit: str) -> str:
        return _TO_ELDERLY_LIMIT.get(limit, limit)

    # -- households ---------------------------------------------------------------------------
    def new_household(self, municipality: int) -> int:
        h = len(self.members)
        parts = self.addresses.new(municipality)
        style = self.addresses.style()
        prefix = self.rng.random() < 0.4
        self.members.append([])
        self.h_muni.append(municipality)
        self.h_parts.append(parts)
        self.h_style.append(style)
        self.h_prefix.append(prefix)
        self.h_address.append(self.addresses.render(parts, style, prefix))
        self.h_kokuho.append(-1)
        return h

    def relocate(self, household: int, municipality: int) -> None:
        parts = self.addresses.new(municipality)
        if municipality != self.h_muni[household]:
            self.h_kokuho[household] = -1
        self.h_muni[household] = municipality
        self.h_parts[household] = parts
        self.h_address[household] = self.addresses.render(
            parts, self.h_style[household], self.h_prefix[household]
        )

    # -- coverages ----------------------------------------------------------------------------
    def _coverage(
        self, pid: int, ins: int, sym: str, num: str, branch: str, rel: int, head: int, day: int
    ) -> int:
        cid = len(self.c_pid)
        self.c_ins.append(ins)
        self.c_sym.append(sym)
        self.c_num.append(num)
        self.c_branch.append(branch)
        self.c_pid.append(pid)
        self.c_acquired.append(day)
        self.c_lost.append(0)
        self.c_rel.append(rel)
        self.c_head.append(head)
        self.c_filed.append(0)
        self.cov[pid] = cid
        return cid

    def kind(self, cid: int) -> int:
        return self.ins_kind[self.c_ins[cid]]

    def is_employee(self, cid: int) -> bool:
        return self.ins_kind[self.c_ins[cid]] in _EMPLOYEE_KIND_SHARE

    def hire(self, pid: int, day: int, filed: int) -> int:
        """資格取得 as 本人 of an employee scheme, at an employer drawn by size."""
        rng = self.rng
        ins = self._employee_insurers[
            bisect.bisect(self._employee_weights, rng.random() * self._employee_weights[-1])
        ]
        weights = self.emp_weights[ins]
        employer = bisect.bisect(weights, rng.random() * weights[-1])
        serial = self.emp_next[ins][employer]
        self.emp_next[ins][employer] = serial + 1
        number = NUMBER_STYLE[self.ins_kind[ins]].format(serial)
        cid = self._coverage(pid, ins, self.emp_symbols[ins][employer], number, "00", 1, -1, day)
        self.acquire(cid, filed)
        return cid

    def add_dependant(self, pid: int, head: int, day: int, filed: int) -> int:
        """資格取得 as 家族 (被扶養者) of the 本人 coverage ``head``: same 記号・番号, next 枝番."""
        branch = self._branch_next.get(head, 1)
        self._branch_next[head] = branch + 1
        cid = self._coverage(
            pid, self.c_ins[head], self.c_sym[head], self.c_num[head], f"{branch:02d}", 2, head,
            day,
        )  # fmt: skip
        self.acquire(cid, filed)
        return cid

    def join_kokuho(self, pid: int, day: int, filed: int) -> int:
        """資格取得 in the 市町村国保 of the household's municipality; every member is 本人."""
        household = self.hh[pid]
        k = self.h_kokuho[household]
        if k < 0:
            municipality = self.h_muni[household]
            serial = self._kokuho_serial[municipality]
            self._kokuho_serial[municipality] = serial + 1
            k = len(self.kk_insurer)
            self.kk_insurer.append(municipality)  # the 国保 insurers come first, in order
            self.kk_symbol.append(f"{self.h_parts[household][1] % 30 + 1:02d}")
            self.kk_number.append(f"{serial:07d}")
            self.kk_next.append(1)
            self.h_kokuho[household] = k
        branch = self.kk_next[k]
        self.kk_next[k] = branch + 1
        cid = self._coverage(
            pid, self.kk_insurer[k], self.kk_symbol[k], self.kk_number[k], f"{branch:02d}", 1, -1,
            day,
        )  # fmt: skip
        u = self.rng.random()
        card = "03" if u < 0.01 else "05" if u < 0.012 and self.age(pid, day) >= 20 else "01"
        self.acquire(cid, filed, card)
        return cid

    def join_koki(self, pid: int, day: int, filed: int) -> int:
        """資格取得 in the 後期高齢者医療広域連合: no 記号, an 8-digit individual 番号."""
        self._koki_serial += 1
        cid = self._coverage(pid, self.koki, "", f"{self._koki_serial:08d}", "00", 1, -1, day)
        self.acquire(cid, filed)
        return cid

    def dependants(self, head: int) -> list[int]:
        """The persons whose open coverage is a 家族 coverage under ``head``."""
        cov = self.cov
        c_head = self.c_head
        return [
            m
            for m in self.members[self.hh[self.c_pid[head]]]
            if cov[m] >= 0 and c_head[cov[m]] == head
        ]

    def age(self, pid: int, day: int) -> int:
        """Approximate age, as :func:`age`."""
        return int((day - self.birth[pid]) / 365.2425)

    # -- rows -----------------------------------------------------------------------------------
    def file(self, cid: int, filed: int, body: str) -> None:
        """Files a row of ``cid``: never after the period ends, never before an earlier row
        of the same tuple (a change must not reach the register before its acquire)."""
        filed = min(filed, self.last)
        if filed < self.c_filed[cid]:
            filed = self.c_filed[cid]
        self.c_filed[cid] = filed
        self.feed.add(self.c_ins[cid], filed, body)

    def _tuple(self, cid: int) -> str:
        return (
            f"{self.ins_number[self.c_ins[cid]]},{self.c_sym[cid]},{self.c_num[cid]},"
            f"{self.c_branch[cid]}"
        )

    def copay(self, pid: int, day: int, kind: int) -> tuple[str, str]:
        """一部負担金の割合 and 高齢受給者 割合 on ``day``."""
        if kind == KOKI:
            income = self.income[pid]
            if income == HIGH:
                return "30", ""
            if income == GENERAL_II and day >= KOKI_TWENTY_PERCENT_FROM:
                return "20", ""
            return "10", ""
        birth = self.birth[pid]
        if day < school_entry(birth):
            return "20", ""
        if day < elderly_start(birth):
            return "30", ""
        return ("30", "30") if self.income[pid] == HIGH else ("20", "20")

    def acquire(self, cid: int, filed: int, card: str = "01") -> None:
        pid = self.c_pid[cid]
        day = self.c_acquired[cid]
        kind = self.ins_kind[self.c_ins[cid]]
        copay, elderly = self.copay(pid, day, kind)
        body = (
            f"acquire,{iso(day)},{self._tuple(cid)},{self.name_kanji(pid)},{self.name_kana(pid)},"
            f"{iso(self.birth[pid])},{self.sex[pid]},{self.h_address[self.hh[pid]]},"
            f"{self.c_rel[cid]},{copay},{elderly},{self.limit[pid]},{self.disease[pid]},"
            # 組合 leave the optional 被保険者証区分 empty (it defaults to 01 一般).
            f"{'' if kind == KUMIAI and card == '01' else card},"
        )
        self.file(cid, filed, body)
        self.counts["rows_acquire"] += 1

    def lose(self, cid: int, day: int, reason: str, filed: int, *, address: str = "") -> None:
        """資格喪失: ``day`` is the first day not covered; ``address`` is the 転出先."""
        self.c_lost[cid] = day
        pid = self.c_pid[cid]
        if self.cov[pid] == cid:
            self.cov[pid] = -1
            extra = self.extra.pop(pid, -1)
            if extra >= 0:
                self.cov[pid] = extra
        elif self.extra.get(pid) == cid:
            del self.extra[pid]
        self.file(cid, filed, f"lose,{iso(day)},{self._tuple(cid)},,,,,{address},,,,,,,{reason}")
        self.counts["rows_lose"] += 1

    def change(
        self,
        cid: int,
        day: int,
        filed: int,
        *,
        address: str = "",
        copay: str = "",
        elderly: str = "",
        limit: str = "",
        disease: str = "",
    ) -> None:
        """変更: empty columns stay as they were; ``-`` clears an optional one."""
        body = (
            f"change,{iso(day)},{self._tuple(cid)},,,,,{address},,{copay},{elderly},{limit},"
            f"{disease},,"
        )
        self.file(cid, filed, body)
        self.counts["rows_change"] += 1

    def open_coverages(self, pid: int) -> list[int]:
        first = self.cov[pid]
        if first < 0:
            return []
        extra = self.extra.get(pid, -1)
        return [first] if extra < 0 else [first, extra]

    def lag(self, low: int, high: int) -> int:
        """Days between an event and its filing, most of them short."""
        return low + int((high - low) * self.rng.random() ** 1.6)
