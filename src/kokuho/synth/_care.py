"""要介護認定 and 介護 claims of the synthetic prefecture (docs/care.md §5).

Each person alive at the end and 65 or older is certified with the chance of their age band
(``data/care_distributions.yaml``), higher with a chronic condition (dialysis); the 区分 is
heavier with age. Those certified use services in the last service months with the chance of
their 区分 group, billed by one 事業所 of their municipality in the month after::

    care/certifications.csv                   要介護認定 (with the five basic items; not
                                              written when no one is certified)
    care/{事業所番号}_{請求年月 YYYY-MM}.csv     介護給付費明細書 (kokuho.care.write_care_file)
    care/planted.json                         the linkage failures planted: カナ that differs
                                              from the register's, 被保険者番号 that changed

Randomness is the care's own (``care-{seed}``): every other file is the same with or without it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kokuho.care import (
    CareClaim,
    CareClaimFile,
    CareDetail,
    CareTotal,
    Certification,
    write_care_file,
    write_certifications,
)
from kokuho.registry import normalize_kana_name
from kokuho.store import data_text, load_yaml
from kokuho.synth._outputs import Written, clear_earlier
from kokuho.synth._world import World

FOLDER = "care"
CERTIFICATIONS = f"{FOLDER}/certifications.csv"
PLANTED = f"{FOLDER}/planted.json"
_CLAIM_FILE = re.compile(r"\d{10}_\d{4}-\d{2}\.csv")
#: Kana a clerk may write otherwise (ユウコ / ユーコ, タロウ / タロオ, a 濁点 added or lost).
_VARIANTS = (
    ("ウ", "ー"),
    ("ウ", "オ"),
    ("オ", "ウ"),
    ("イ", "エ"),
    ("ズ", "ヅ"),
    ("ジ", "ヂ"),
    ("キ", "ギ"),
    ("コ", "ゴ"),
    ("シ", "ジ"),
    ("タ", "ダ"),
    ("ト", "ド"),
    ("カ", "ガ"),
    ("ヒ", "ビ"),
)


def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses to mix with the care files of an earlier run, or removes them to overwrite."""
    folder = out_dir / FOLDER
    earlier = sorted(p for p in folder.glob("*.csv") if _CLAIM_FILE.fullmatch(p.name))
    earlier += [out_dir / n for n in (CERTIFICATIONS, PLANTED) if (out_dir / n).exists()]
    clear_earlier(folder, earlier, "the care files", overwrite)


def load_config() -> dict[str, Any]:
    """``data/care_distributions.yaml`` as parsed; checks the shapes the writer relies on."""
    raw: dict[str, Any] = load_yaml(data_text("care_distributions.yaml"), "care_distributions.yaml")
    bands = len(raw["certified"]["ages"])
    if len(raw["certified"]["share"]) != bands or len(raw["levels"]["share"]) != bands:
        raise ValueError("care_distributions.yaml: one share per age band")
    for row in raw["levels"]["share"]:
        if len(row) != len(raw["levels"]["codes"]) or abs(sum(row) - 1) > 1e-6:
            raise ValueError("care_distributions.yaml: levels.share rows add up to 1")
    return raw


def _band(ages: list[int], age: int) -> int:
    return max(n for n, start in enumerate(ages) if age >= start)


def _month(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _kana_variant(kana: str) -> str | None:
    """The カナ written otherwise in one character, different after normalisation."""
    for old, new in _VARIANTS:
        at = kana.rfind(old)
        if at > 0:
            varied = kana[:at] + new + kana[at + 1 :]
            if normalize_kana_name(varied) != normalize_kana_name(kana):
                return varied
    return None


@dataclass
class _Certified:
    pid: int
    municipality: int
    cert: Certification
    old: Certification | None  # the certification under the earlier number (renumbered)


def write(world: World, out_dir: Path, seed: int) -> Written:
    """Writes the certifications and claims; returns the files and the planted counts."""
    cfg = load_config()
    rng = random.Random(f"care-{seed}")
    w = world
    end = dt.date.fromordinal(w.last)
    ages = cfg["certified"]["ages"]
    counts: Counter[str] = Counter()
    certified: list[_Certified] = []
    serials = [rng.randrange(1_000, 5_000) * 1000 for _ in w.prefecture.municipalities]
    planted: dict[str, list[dict[str, str]]] = {"kana_differs": [], "renumbered": []}
    for pid in range(len(w.birth)):
        if w.death[pid]:
            continue
        birth = dt.date.fromordinal(w.birth[pid])
        age = end.year - birth.year - ((end.month, end.day) < (birth.month, birth.day))
        if age < 65:
            continue
        band = _band(ages, age)
        counts[f"care_persons_65plus_band_{ages[band]}"] += 1
        chance = cfg["certified"]["share"][band]
        if w.disease[pid] == "1":
            odds = chance / (1 - chance) * cfg["health"]["dialysis_factor"]
            chance = odds / (1 + odds)
        if rng.random() >= chance:
            continue
        level = rng.choices(cfg["levels"]["codes"], cfg["levels"]["share"][band])[0]
        household = w.hh[pid]
        municipality = w.h_muni[household]
        serials[municipality] += 1
        insurer = w.prefecture.municipalities[municipality].code
        start = _month(end, -rng.randrange(0, 12))
        kana = w.name_kana(pid)
        if rng.random() < cfg["planted"]["kana_differs"]:
            full = f"{w.surnames[w.sur[pid]][1]}\u3000{w.given_names[w.given[pid]][1]}"
            varied = _kana_variant(full)
            if varied is not None:
                planted["kana_differs"].append(
                    {"insurer": insurer, "insured": f"{serials[municipality]:010d}",
                     "register_kana": kana, "care_kana": varied}
                )  # fmt: skip
                kana = varied
        cert = Certification(
            insurer_number=insurer, insured_number=f"{serials[municipality]:010d}",
            name_kanji=w.name_kanji(pid), name_kana=kana, birth_date=birth, sex=w.sex[pid],
            address=w.h_address[household], care_level=level,
            certified_on=max(birth, start + dt.timedelta(days=rng.randrange(14, 40))),
            valid_from=start, valid_to=_month(start, 12) - dt.timedelta(days=1),
        )  # fmt: skip
        old = None
        if rng.random() < cfg["planted"]["renumbered"]:
            serials[municipality] += 1
            earlier = _month(start, -12)
            old = dataclasses.replace(
                cert, insured_number=f"{serials[municipality]:010d}", valid_from=earlier,
                valid_to=start - dt.timedelta(days=1),
                certified_on=max(birth, earlier + dt.timedelta(days=rng.randrange(14, 40))),
            )  # fmt: skip
            planted["renumbered"].append(
                {"insurer": insurer, "old": old.insured_number, "new": cert.insured_number}
            )
        certified.append(_Certified(pid, municipality, cert, old))
        counts[f"care_certified_band_{ages[band]}"] += 1
        counts[f"care_level_{level}"] += 1
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    certs = [c.cert for c in certified] + [c.old for c in certified if c.old is not None]
    # No 認定 (a prefecture of a few persons, none 65 or older certified): no file, as a file of
    # its header alone is refused by `kokuho care certifications`.
    files = [CERTIFICATIONS] if certs else []
    if certs:
        write_certifications(out_dir / CERTIFICATIONS, sorted(certs, key=lambda c: c.key))
    files += [*_claims(w, cfg, rng, certified, out_dir, counts), PLANTED]
    (out_dir / PLANTED).write_text(json.dumps(planted, ensure_ascii=False, indent=1), "utf-8")
    counts["care_certified"] = len(certified)
    counts["care_certifications"] = len(certs)
    counts["care_kana_differs_planted"] = len(planted["kana_differs"])
    counts["care_renumbered_planted"] = len(planted["renumbered"])
    return Written(files, dict(counts))


def _claims(
    w: World, cfg: dict[str, Any], rng: random.Random, certified: list[_Certified],
    out_dir: Path, counts: Counter[str],
) -> list[str]:  # fmt: skip
    """Writes the claim files of the last service months; returns their names."""
    end = dt.date.fromordinal(w.last)
    months = [_month(end, -n) for n in range(cfg["months"] - 1, -1, -1)]
    if end.day != (_month(end, 1) - dt.timedelta(days=1)).day:
        months = [_month(m, -1) for m in months]  # the last month is not over
    price = Decimal(cfg["unit_price"])
    rate = int(cfg["benefit_rate"])
    by_municipality: dict[int, list[_Certified]] = defaultdict(list)
    for c in certified:
        by_municipality[c.municipality].append(c)
    bills: dict[tuple[str, dt.date], list[CareClaim]] = defaultdict(list)
    for municipality, people in sorted(by_municipality.items()):
        providers = [
            f"37{municipality:02d}7{n:05d}" for n in range(1, max(1, len(people) // 30) + 2)
        ]
        for c in people:
            provider = providers[rng.randrange(len(providers))]
            group = "support" if c.cert.care_level in ("12", "13") else "care"
            for month in months:
                cert = c.cert if month >= c.cert.valid_from else c.old
                if cert is None or rng.random() >= cfg["services"]["use"][group]:
                    continue
                claim = _claim(cfg["services"][group], rng, cert, provider, month, price, rate)
                bills[(provider, _month(month, 1))].append(claim)
                counts["care_claims"] += 1
                counts[f"care_claims_level_{cert.care_level}"] += 1
    names: list[str] = []
    for (provider, billing), claims in sorted(bills.items()):
        name = f"{FOLDER}/{provider}_{billing.year:04d}-{billing.month:02d}.csv"
        write_care_file(out_dir / name, CareClaimFile(provider, "37", billing, tuple(claims)))
        names.append(name)
    counts["care_claim_files"] = len(names)
    return names


def _claim(
    catalogue: list[dict[str, Any]], rng: random.Random, cert: Certification, provider: str,
    month: dt.date, price: Decimal, rate: int,
) -> CareClaim:  # fmt: skip
    chosen = rng.sample(catalogue, rng.randint(1, min(2, len(catalogue))))
    details = []
    for item in sorted(chosen, key=lambda i: i["type"]):
        low, high = item["count"]
        times = rng.randint(low, high)
        details.append(CareDetail(item["type"], item["item"], item["units"], times,
                                  item["units"] * times))  # fmt: skip
    totals = []
    for detail in details:
        cost = int(detail.service_units * price)  # 円未満切り捨て
        claimed = cost * rate // 100
        totals.append(CareTotal(detail.service_type, min(detail.count, 31), detail.service_units,
                                price, claimed, cost - claimed))  # fmt: skip
    return CareClaim(
        service_month=month, provider=provider, insurer=cert.insurer_number,
        insured=cert.insured_number, name_kana=_claim_kana(cert.name_kana),
        birth_date=cert.birth_date, sex=cert.sex, care_level=cert.care_level,
        valid_from=cert.valid_from, valid_to=cert.valid_to, benefit_rate=rate,
        details=tuple(details), totals=tuple(totals),
    )  # fmt: skip


def _claim_kana(kana: str) -> str:
    """The claim's カナ field: katakana and spaces only, at most 40 characters."""
    kept = "".join(ch for ch in kana if ch == "\u3000" or ch == " " or "\u30a0" <= ch <= "\u30ff"
                   or "\uff66" <= ch <= "\uff9f")  # fmt: skip
    return kept[:40] or "カナ"
