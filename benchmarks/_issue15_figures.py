"""The issue-15 figures (課題15 の数値) read from each benchmark's JSON, judged against their goals,
and the markdown summary of a ``run_issue15`` run.

Each extractor knows where its benchmark puts the figure and its same-run baseline. The goals
are those of docs/benchmarks.md (the checks' come from the benchmark's own JSON ``goals``). A
figure without a goal (CPU ratio, flatness) is listed as information, neither met nor missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

#: (goal, "min" = at least / "max" = at most), by benchmark figure.
GOALS: dict[str, tuple[float, str]] = {
    "import_records_per_s": (100_000, "min"),
    "v08_docs_per_s": (5_000, "min"),
    "rates_total_s": (10.0, "max"),
    "claims_small_lines_per_s": (300_000, "min"),
    "demo_seconds": (60.0, "max"),
}


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``met`` is None for a figure without a goal."""

    benchmark: str
    figure: str
    value: float | str
    baseline: str = ""
    goal: str = ""
    met: bool | None = None
    ratio: float | None = None  # figure ÷ goal

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judged(benchmark: str, figure: str, value: float, goal: float, kind: str,
           baseline: str = "") -> Figure:  # fmt: skip
    """A numeric figure against an "at least" (``min``) or "at most" (``max``) goal."""
    met = value >= goal if kind == "min" else value <= goal
    sign = "≥" if kind == "min" else "≤"
    return Figure(benchmark, figure, value, baseline, f"{sign} {goal:,g}", met,
                  float(f"{value / goal:.3g}") if goal else None)  # fmt: skip


def _checks(name: str, result: dict[str, Any]) -> list[Figure]:
    goals = result.get("goals", {})
    out: list[Figure] = []
    for entry in result.get("sizes", []):
        persons = entry["persons"]
        made = entry.get("generated_seconds") or round(
            entry.get("fill_seconds", 0) + entry.get("cards_seconds", 0), 1
        )
        how = "reused" if entry.get("register_reused") else "generated in this run"
        out.append(Figure(name, f"{persons:,} persons: register", f"{how} ({made} s to generate)"))
        for workers, run in entry.get("by_workers", {}).items():
            where = f"{persons:,} persons, {workers} worker(s)"
            constant = f"constant {run['constant_rps']:,.0f} req/s"
            if "ratio" in goals and run.get("ratio") is not None:
                out.append(judged(name, f"{where}: checks/s ÷ constant req/s", run["ratio"],
                                  goals["ratio"], "min",
                                  f"{run['rps']:,.0f} checks/s vs {constant}"))  # fmt: skip
            if "p99_ms" in goals:
                out.append(judged(name, f"{where}: p99 ms", run["p99_ms"], goals["p99_ms"], "max",
                                  f"constant p99 {run['constant_p99_ms']} ms"))  # fmt: skip
            if "rps" in goals:
                out.append(judged(name, f"{where}: checks/s", run["rps"], goals["rps"], "min",
                                  constant))  # fmt: skip
            out.append(Figure(name, f"{where}: server CPU ratio (constant ms ÷ service ms)",
                              run.get("cpu_ratio") or 0.0,
                              f"{run['server_ms_per_request']} ms vs "
                              f"{run['constant_ms_per_request']} ms a request"))  # fmt: skip
            if run.get("ratio_to_constant_db") is not None:
                out.append(Figure(name, f"{where}: checks/s ÷ constant after SELECT 1",
                                  run["ratio_to_constant_db"],
                                  f"{run['constant_db_rps']:,.0f} req/s, "
                                  f"{run['constant_db_ratio_to_constant']:.1%} of the constant")
                           )  # fmt: skip
            for paced in run.get("paced", []):
                out.append(_paced_p99(name, where, paced, goals))
            audited = bool(run.get("audit_ok")) and run.get("non_2xx", 1) == 0
            out.append(Figure(name, f"{where}: every answer audited, no non-2xx",
                              "yes" if audited else "no", "", "yes", audited))  # fmt: skip
    for workers, ratio in result.get("flatness_p50_ratio", {}).items():
        sizes = result.get("flatness_sizes", [0, 0])
        out.append(Figure(name, f"p50 at {sizes[1]:,} ÷ p50 at {sizes[0]:,} ({workers} w)",
                          ratio, "", "flat (no threshold set)"))  # fmt: skip
    kill = result.get("kill_test")
    if kill:
        out.append(Figure(name, "kill -9: answers ≤ audit records, chain OK, restart answers",
                          f"{kill['ok_2xx']:,} answers, {kill['audit_new']:,} records",
                          "", "pass", bool(kill.get("ok"))))  # fmt: skip
    if "error" in result:
        out.append(Figure(name, "error", str(result["error"])[:200], "", "", False))
    return out


def _paced_p99(name: str, where: str, paced: dict[str, Any], goals: dict[str, Any]) -> Figure:
    """The p99 of a paced run (fixed offered rate): met only if the service kept up with the
    rate, since a saturated run's p99 leaves out the wait before the send."""
    ours, base = paced["service"], paced["constant"]
    share = paced.get("share_of_constant")
    rate = f"{paced['offered_rps']:,.0f} req/s offered" + (f" ({share:.0%} of constant)"
                                                          if share is not None else "")  # fmt: skip
    baseline = (f"achieved {ours['achieved_rps']:,.0f}/s; constant p99 {base['p99_ms']} ms at "
                f"the same rate")  # fmt: skip
    figure = f"{where}: p99 ms paced at {rate}"
    if not ours["kept_up"]:
        return Figure(name, figure, f"{ours['p99_ms']} (saturated: understated)", baseline,
                      f"≤ {goals.get('p99_ms', 20.0):g}, kept up", False)  # fmt: skip
    return judged(name, figure, ours["p99_ms"], goals.get("p99_ms", 20.0), "max", baseline)


def _register(name: str, result: dict[str, Any]) -> list[Figure]:
    found = result["import"]
    goal, kind = GOALS["import_records_per_s"]
    csv = f"CSV read {found['baseline_rows_per_s']:,} rows/s"
    out = []
    for backend in ("sqlite", "postgres"):
        if backend in found:
            run = found[backend]
            out.append(judged(name, f"{backend}, {found['persons']:,} persons: records/s",
                              run["records_per_s"], goal, kind,
                              f"{csv} (÷ {run['ratio_to_csv_baseline']})"))  # fmt: skip
            if "storage_floor_records_per_s" in run:
                floor = (f"floor {run['storage_floor_records_per_s']:,} records/s (the written "
                         f"rows alone, {run['storage_floor_seconds']} s)")  # fmt: skip
                out.append(Figure(name, f"{backend}: records/s ÷ storage floor",
                                  run["ratio_to_storage_floor"], floor))  # fmt: skip
    return out


def _v08(name: str, result: dict[str, Any]) -> list[Figure]:
    found = result["ingest"]
    goal, kind = GOALS["v08_docs_per_s"]
    return [judged(name, f"{found['documents']:,} documents: read_archive + lake, docs/s",
                   found["read_plus_lake_docs_per_s"], goal, kind,
                   f"bare lxml parse {found['bare_parse_docs_per_s']:,} docs/s "
                   f"(read ÷ bare {found['ratio_read_to_bare_parse']})")]  # fmt: skip


def _rates(name: str, result: dict[str, Any]) -> list[Figure]:
    found = result["analytics"]
    goal, kind = GOALS["rates_total_s"]
    scan = f"scan {found['baseline_scan_seconds']} s"
    where = f"{found['checkups']:,} checkups, {found['members']:,} members"
    return [
        judged(name, f"{where}: 階層化 + 実施率, s", found["total_seconds"], goal, kind,
               f"{scan} (× {found['ratio_total_to_scan']})"),
        Figure(name, "of which 階層化 + メタボ判定, s", found["stratify_and_metabolic_seconds"],
               scan),
        Figure(name, "of which 実施率, s", found["rates_seconds"], scan),
    ]  # fmt: skip


def _claims(name: str, result: dict[str, Any]) -> list[Figure]:
    goal, kind = GOALS["claims_small_lines_per_s"]
    files = result.get("input", {}).get("files", 0)
    return [judged(name, f"{files:,} files: ingest lines/s (median)",
                   result["ingest"]["median_lines_per_s"], goal, kind,
                   f"split {result['baseline']['median_lines_per_s']:,} lines/s "
                   f"(÷ {result['ingest'].get('vs_baseline')})")]  # fmt: skip


def _demo(name: str, result: dict[str, Any]) -> list[Figure]:
    goal, kind = GOALS["demo_seconds"]
    runs = result.get("runs", [])
    stages = runs[0].get("stages") if runs else None
    return [judged(name, "seconds to the first 200 of /login (best run)", result["best_seconds"],
                   goal, kind, f"no in-run baseline; stages: {stages}")]  # fmt: skip


EXTRACTORS: dict[str, Callable[[str, dict[str, Any]], list[Figure]]] = {
    "checks_sqlite": _checks,
    "checks_postgres": _checks,
    "register_import": _register,
    "register_import_1m": _register,
    "v08_ingest": _v08,
    "checkup_rates": _rates,
    "claims_small_files": _claims,
    "demo_start": _demo,
}


def extract(step: str, result: dict[str, Any]) -> list[Figure]:
    """The figures of one benchmark's JSON (none for a step this module does not know)."""
    extractor = EXTRACTORS.get(step)
    return extractor(step, result) if extractor else []


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return text.replace("|", "\\|")


def markdown(report: dict[str, Any]) -> str:
    """The summary: the machine, each step's command, load and wall time, then every figure."""
    m = report["machine"]
    lines = [
        f"# Issue 15 benchmarks ({report['mode']} mode)",
        "",
        f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, started {m['date']}.",
        f"Load at start: `{report['uptime_at_start']}`; at end: `{report.get('uptime_at_end')}`;"
        f" wall time {report.get('wall_seconds', 0) / 60:.1f} min.",
        "",
        "| step | status | wall s | load before → after (1/5/15 min) | command |",
        "|---|---|---|---|---|",
    ]
    for step in report["steps"]:
        status = "ok" if "error" not in step else f"**failed**: {step['error']}"
        load = f"{_load(step['load_before'])} → {_load(step['load_after'])}"
        lines.append(f"| {step['name']} | {_cell(status)} | {step['wall_seconds']} | {load} | "
                     f"`{step['command']}` |")  # fmt: skip
    lines += ["", "| benchmark | figure | value | baseline (same run) | goal | met "
              "| figure ÷ goal |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for step in report["steps"]:
        for f in step.get("figures", []):
            met = "—" if f["met"] is None else ("**met**" if f["met"] else "**missed**")
            ratio = "" if f["ratio"] is None else f"{f['ratio']:.3g}"
            cells = [step["name"], _cell(f["figure"]), _cell(f["value"]), _cell(f["baseline"]),
                     _cell(f["goal"]), met, ratio]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        if "extract_error" in step:
            lines.append(f"| {step['name']} | figures not read: {_cell(step['extract_error'])} "
                         "| | | | | |")  # fmt: skip
    failed = [s for s in report["steps"] if "error" in s]
    for step in failed:
        tail = "\n".join(step.get("output_tail", "").splitlines()[-15:])
        lines += ["", f"## {step['name']} failed: {step['error']}", "", "```", tail, "```"]
    return "\n".join(lines) + "\n"


def _load(line: str) -> str:
    """The three load averages of an ``uptime`` line."""
    return line.rsplit("load average:", 1)[-1].strip() if "load average" in line else line
