"""The inputs of 保険者努力支援制度 scoring for the synthetic prefecture (kokuho.incentives):

    incentives/national.csv          the national backdrop: the other 46 prefectures and their
                                     municipalities (and fallbacks for the synthetic Kagawa's
                                     own figures kokuho cannot compute), one row per unit and
                                     fiscal year
    incentives/efforts.csv           the self-assessed 取組 of the 17 municipalities and the
                                     prefecture
    incentives/collection_rates.csv  収納率 (現年度分) of the 17 municipalities and the prefecture

Values are drawn from the distributions in ``data/incentives/national_distributions.yaml``,
each with its source and ``confirmed`` flag: published national figures where they were
found, assumptions otherwise. Every unit outside Kagawa and its code and name are synthetic
(``{prefecture}市町村{n}``, 保険者番号-like codes with a valid 検証番号). The synthetic Kagawa's
rows are sized to the synthetic register (``persons``), so that its per-capita figures stay
plausible next to its insured count.

Randomness is keyed on ``incentives-{seed}``: the other files of the prefecture do not change.
The formats are those of docs/incentives.md ("Input files").
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from kokuho.ids import with_check_digit
from kokuho.store import data_text, load_yaml
from kokuho.synth._data import Prefecture
from kokuho.synth._outputs import Written, clear_earlier

FOLDER: Final = "incentives"
FILES: Final = ("national.csv", "efforts.csv", "collection_rates.csv")
_MUNICIPAL_FIELDS: Final = (
    "checkup_rate",
    "checkup_eligible",
    "guidance_rate",
    "reduction_rate",
    "cancer_screening_rate",
    "dental_checkup_rate",
    "generic_share",
    "duplicate_per_10k",
    "multi_drug_per_10k",
    "collection_rate",
    "cost_per_insured",
    "age_adjusted_cost",
    "regional_index",
)
_PREFECTURE_FIELDS: Final = (
    "program_f_score",
    "adj_demand",
    "adj_deductions",
    "adj_income",
    "adj_benefit_per_insured",
    "preschool_children",
    "preschool_cost",
    "psychiatric_patients",
    "psychiatric_cost",
    "involuntary_unemployed",
)
_RATES: Final = {
    "checkup_rate",
    "guidance_rate",
    "reduction_rate",
    "cancer_screening_rate",
    "dental_checkup_rate",
    "generic_share",
    "collection_rate",
}
#: 市町村国保 members decline as the population ages and moves to 後期高齢者医療 (assumption).
_INSURED_DECLINE: Final = 0.02


@dataclass
class _Unit:
    kind: str
    code: str
    name: str
    prefecture: str
    insured_2020: float
    home: bool
    values: dict[int, dict[str, float]]
    answers: dict[int, dict[str, str]]


def _parameters() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(
        data_text(f"{FOLDER}/national_distributions.yaml"), "national_distributions.yaml"
    )
    return loaded


def prepare(out_dir: Path, overwrite: bool) -> None:
    """Refuses to mix with the files of an earlier run, or removes them to overwrite."""
    earlier = [out_dir / FOLDER / n for n in FILES if (out_dir / FOLDER / n).exists()]
    clear_earlier(out_dir / FOLDER, earlier, "the incentive inputs", overwrite)


def write(
    prefecture: Prefecture,
    out_dir: Path,
    seed: int,
    *,
    persons: int,
    start: dt.date,
    years: int,
) -> Written:
    """Writes the three files for the fiscal years up to the last one simulated."""
    p = _parameters()
    digest = hashlib.sha256(f"incentives-{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    first = int(p["first_year"])
    last_day = dt.date(start.year + years, start.month, start.day) - dt.timedelta(days=1)
    last = last_day.year if last_day.month >= 4 else last_day.year - 1
    span = list(range(first, last + 1))
    home_code = prefecture.municipalities[0].nhi_number[:2]
    units = _national_units(p, rng, home_code)
    units += _home_units(p, prefecture, persons, home_code)
    for unit in units:
        _draw_values(p, rng, unit, span, home_code)
    _draw_prefecture_values(p, rng, units, span, home_code)
    _draw_answers(p, rng, units, list(range(int(p["effort_first_year"]), last + 1)))
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rows = _write_national(folder / FILES[0], units, span, p)
    efforts = _write_efforts(folder / FILES[1], [u for u in units if u.home])
    rates = _write_collection(folder / FILES[2], [u for u in units if u.home], span)
    return Written(
        [f"{FOLDER}/{name}" for name in FILES],
        {
            "incentive_backdrop_rows": rows,
            "incentive_effort_rows": efforts,
            "incentive_collection_rows": rates,
        },
    )


def _national_units(p: Mapping[str, Any], rng: np.random.Generator, home: str) -> list[_Unit]:
    share = float(p["nhi_share"]["value"])
    sigma = float(p["size_sigma"]["value"])
    units: list[_Unit] = []
    for code, name, population, count in p["prefectures"]["rows"]:
        if code == home:
            continue
        insured = float(population) * 1000 * share
        weights = rng.lognormal(0.0, sigma, int(count))
        weights /= weights.sum()
        units.append(_Unit("prefecture", code, name, code, insured, False, {}, {}))
        for k, weight in enumerate(weights, start=1):
            number = with_check_digit(f"{code}{k:03d}")
            units.append(
                _Unit(
                    "municipality",
                    number,
                    f"{name}市町村{k:03d}",
                    code,
                    max(150.0, insured * float(weight)),
                    False,
                    {},
                    {},
                )
            )
    return units


def _home_units(
    p: Mapping[str, Any], prefecture: Prefecture, persons: int, code: str
) -> list[_Unit]:
    share = float(p["nhi_share"]["value"])
    total = sum(m.population for m in prefecture.municipalities)
    units = [_Unit("prefecture", code, prefecture.name, code, persons * share, True, {}, {})]
    for m in prefecture.municipalities:
        insured = max(10.0, persons * share * m.population / total)
        units.append(_Unit("municipality", m.nhi_number, m.name, code, insured, True, {}, {}))
    return units


def _insured(unit: _Unit, year: int) -> int:
    return max(1, round(unit.insured_2020 * (1 - _INSURED_DECLINE) ** (year - 2020)))


def _clip(value: float, spec: Mapping[str, Any]) -> float:
    return float(min(float(spec["high"]), max(float(spec["low"]), value)))


def _draw_values(
    p: Mapping[str, Any], rng: np.random.Generator, unit: _Unit, span: list[int], home: str
) -> None:
    if unit.kind != "municipality":
        return
    levels = {}
    for name, spec in p["municipal"].items():
        levels[name] = rng.normal(float(spec["mean"]), float(spec["sd"]))
    kagawa = p["kagawa"]
    if unit.home:
        levels["checkup_rate"] = rng.normal(
            kagawa["checkup_rate"]["mean"], kagawa["checkup_rate"]["sd"]
        )
        levels["generic_share"] += float(kagawa["generic_share_offset"]["value"])
    collection = _collection_level(p, rng, unit, home)
    for year in span:
        values: dict[str, float] = {}
        for name, spec in p["municipal"].items():
            drift = float(spec["trend"]) * (year - int(spec["year"]))
            noise = rng.normal(0.0, float(spec["noise"]))
            values[name] = _clip(levels[name] + drift + noise, spec)
        c = p["collection"]
        rate = collection + float(c["trend"]) * (year - int(c["year"]))
        values["collection_rate"] = min(0.995, max(0.8, rate + rng.normal(0, float(c["noise"]))))
        values["checkup_eligible"] = round(
            _insured(unit, year) * p["checkup_eligible_share"]["value"]
        )
        unit.values[year] = values


def _collection_level(
    p: Mapping[str, Any], rng: np.random.Generator, unit: _Unit, home: str
) -> float:
    if unit.home:
        spec = p["kagawa"]["collection_rate"]
        shift = float(p["collection"]["trend"]) * (int(spec["year"]) - int(p["collection"]["year"]))
        return float(rng.normal(float(spec["mean"]), float(spec["sd"]))) - shift
    for band in p["collection"]["bands"]:
        if unit.insured_2020 >= float(band["min"]):
            spread = (float(band["top30"]) - float(band["median"])) / 0.524
            return float(rng.normal(float(band["median"]), spread))
    raise AssertionError("the last collection band starts at 0")


def _draw_prefecture_values(
    p: Mapping[str, Any], rng: np.random.Generator, units: list[_Unit], span: list[int], home: str
) -> None:
    """Prefecture rows: the insured-weighted figures of their municipalities, plus their own."""
    spec = p["prefecture"]
    for pref in (u for u in units if u.kind == "prefecture"):
        members = [u for u in units if u.kind == "municipality" and u.prefecture == pref.code]
        level = {k: rng.normal(float(v["mean"]), float(v["sd"])) for k, v in spec.items()}
        if pref.home:
            level["regional_index"] = float(p["kagawa"]["regional_index"]["value"])
        for year in span:
            weights = np.array([_insured(u, year) for u in members], dtype=np.float64)
            values: dict[str, float] = {}
            for name in _MUNICIPAL_FIELDS:
                column = np.array([u.values[year][name] for u in members])
                if name == "checkup_eligible":
                    values[name] = float(column.sum())
                else:
                    values[name] = float((column * weights).sum() / weights.sum())
            insured = float(weights.sum())
            values["regional_index"] = level["regional_index"] + rng.normal(0, 0.01)
            values["program_f_score"] = max(0.0, level["program_f_score"] + rng.normal(0, 3))
            for name, key in (
                ("adj_demand", "adj_demand_per_insured"),
                ("adj_deductions", "adj_deductions_per_insured"),
                ("adj_income", "adj_income_per_insured"),
            ):
                values[name] = round(insured * level[key])
            values["adj_benefit_per_insured"] = round(level["adj_benefit_per_insured"], 2)
            values["preschool_children"] = round(insured * max(0.0, level["preschool_share"]))
            values["preschool_cost"] = round(level["preschool_cost"])
            values["psychiatric_patients"] = round(insured * max(0.0, level["psychiatric_share"]))
            values["psychiatric_cost"] = round(level["psychiatric_cost"])
            values["involuntary_unemployed"] = round(
                insured * max(0.0, level["involuntary_unemployed_share"])
            )
            pref.values[year] = values


def _draw_answers(
    p: Mapping[str, Any], rng: np.random.Generator, units: list[_Unit], span: list[int]
) -> None:
    e = p["efforts"]
    growth = float(e["growth"])
    for unit in units:
        items = e["prefecture_items"] if unit.kind == "prefecture" else e["municipal_items"]
        latent = {item: float(rng.random()) for item in items}
        for k, year in enumerate(span):
            answers: dict[str, str] = {}
            for item in items:
                categories = e["categories"].get(item)
                if categories is not None:
                    answers[item] = _category(categories, latent[item])
                    continue
                share = float(e["shares"].get(item, e["default"])["value"])
                answers[item] = "yes" if latent[item] < min(1.0, share + growth * k) else "no"
            unit.answers[year] = answers


def _category(shares: Mapping[str, float], u: float) -> str:
    total = 0.0
    for answer, share in shares.items():
        total += float(share)
        if u < total:
            return str(answer)
    return str(list(shares)[-1])


def _text(name: str, value: float) -> str:
    if name in _RATES:
        return f"{value:.4f}"
    if name == "regional_index":
        return f"{value:.3f}"
    if name in ("cost_per_insured", "age_adjusted_cost") or float(value).is_integer():
        return str(round(value))
    return f"{value:.2f}"


def _rows(units: list[_Unit], span: list[int], p: Mapping[str, Any]) -> Iterator[list[str]]:
    e = p["efforts"]
    items = list(e["municipal_items"]) + list(e["prefecture_items"])
    fields = list(_MUNICIPAL_FIELDS) + list(_PREFECTURE_FIELDS)
    yield ["fiscal_year", "kind", "code", "name", "prefecture", "insured", *fields, *items]
    for year in span:
        totals: dict[str, int] = {}
        for unit in units:
            if unit.kind == "municipality":
                totals[unit.prefecture] = totals.get(unit.prefecture, 0) + _insured(unit, year)
        for unit in units:
            values = unit.values.get(year, {})
            # The home units' answers and 収納率 go to their own files (efforts.csv …).
            answers = {} if unit.home else unit.answers.get(year, {})
            row = [str(year), unit.kind, unit.code, unit.name, unit.prefecture]
            insured = totals[unit.code] if unit.kind == "prefecture" else _insured(unit, year)
            row.append(str(insured))
            for name in fields:
                skip = unit.home and name == "collection_rate"
                row.append("" if name not in values or skip else _text(name, values[name]))
            row += [answers.get(item, "") for item in items]
            yield row


def _write_national(path: Path, units: list[_Unit], span: list[int], p: Mapping[str, Any]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        for row in _rows(units, span, p):
            out.writerow(row)
            count += 1
    return count - 1


def _write_efforts(path: Path, home: list[_Unit]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["fiscal_year", "code", "item", "value"])
        for unit in home:
            for year, answers in sorted(unit.answers.items()):
                for item, answer in answers.items():
                    out.writerow([year, unit.code, item, answer])
                    count += 1
    return count


def _write_collection(path: Path, home: list[_Unit], span: list[int]) -> int:
    municipalities = [u for u in home if u.kind == "municipality"]
    prefecture = next(u for u in home if u.kind == "prefecture")
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["fiscal_year", "code", "name", "rate"])
        for year in span:
            weights = [_insured(u, year) for u in municipalities]
            rates = [u.values[year]["collection_rate"] for u in municipalities]
            for unit, rate in zip(municipalities, rates, strict=True):
                out.writerow([year, unit.code, unit.name, f"{rate:.4f}"])
                count += 1
            mean = sum(w * r for w, r in zip(weights, rates, strict=True)) / sum(weights)
            out.writerow([year, prefecture.code, prefecture.name, f"{mean:.4f}"])
            count += 1
    return count
