"""Claims benchmark (issue 5): レセ電 ingest rate in lines/s, against a baseline of the same run.

    .venv/bin/python benchmarks/bench_claims.py [--lines 25000000] [--file-lines 50000] [--repeat 3]
    .venv/bin/python benchmarks/bench_claims.py --files FOLDER      # your own *.UKE / *.csv

Input: ``--lines`` lines of synthetic claims in realistic shapes (医科外来 ≈ 10 lines a claim
with SY/SI/IY, 調剤 ≈ 8 with SH/CZ/IY, 医科入院 ≈ 40 with day-by-day SI), cp932 and CRLF,
split into files of about ``--file-lines`` lines (a clinic's month is ≈ 1,000 lines; the
国保連's monthly delivery to an insurer is far larger); or the files of ``--files``.

- **baseline**: read the bytes, decode cp932, split lines, split fields (``str.split``), for
  every file: what any reader must at least do.
- **ingest**: ``ClaimsLake.ingest`` of all the files into an empty lake (read, sha256, check
  every record, build the columns, write the Parquet files, fsync, commit the manifest).
- **parse**: the lake's parsing alone (files in batches through the columnar fast path, no
  sha256, no Parquet), for the split of the time.

Prints and writes JSON to benchmarks/out/claims.json (``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from kokuho.claims import ClaimsLake
from kokuho.claims._rece_batch import parse_files
from kokuho.ids import luhn_2_1

try:  # run as a script (benchmarks/ on sys.path) or as a module of the benchmarks package
    from benchmarks._machine import machine
except ImportError:
    from _machine import machine  # type: ignore[no-redef]

OUT = Path(__file__).parent / "out"
INSURERS = ["370015", "370023", "370031", "370049", "370056", "370064", "370072"]
DRUGS = [f"6990001{n:02d}" for n in range(1, 85)]


def _days(rng: random.Random, count: int, value: str = "1") -> str:
    days = [""] * 31
    for day in rng.sample(range(28), count):
        days[day] = value
    return ",".join(days)


def _pools(rng: random.Random) -> dict[str, list[str]]:
    """Body records to draw from (their content does not change the work per line)."""
    pools: dict[str, list[str]] = {key: [] for key in ("SY", "SI", "IY", "WARD", "SH", "CZ", "IYP")}
    for n in range(1, 42):
        # 令和2–5年: a 診療開始日 before the claims' 診療年月 (令和6年4月), as the readers require.
        start = f"50{rng.randint(2, 5)}0{rng.randint(1, 9)}0{rng.randint(1, 9)}"
        pools["SY"].append(f"SY,99000{n:02d},{start},1,,,{'01' if n % 3 == 0 else ''},")
    for times in (1, 1, 2, 3):
        for _ in range(50):
            section = rng.choice(["11", "12", "13", "60", "80"])
            code = f"1{rng.randint(10**7, 10**8 - 1)}"
            points = rng.randint(5, 400)
            pools["SI"].append(f"SI,{section},1,{code},,{points},{times},,,,,,,{_days(rng, times)}")
    for days in (7, 14, 28, 30):
        for _ in range(50):
            amount = rng.choice(["1", "2", "0.5", "3"])
            head = f"IY,21,1,{rng.choice(DRUGS)},{amount},{rng.randint(1, 90)},{days}"
            pools["IY"].append(f"{head},,,,,,,{_days(rng, 1, str(days))}")
    ward_days = ",".join(["1"] * 20 + [""] * 11)
    for _ in range(20):
        code = f"19{rng.randint(10**6, 10**7 - 1)}"
        pools["WARD"].append(f"SI,90,1,{code},,{rng.randint(500, 3000)},20,,,,,,,{ward_days}")
    for n in (1, 2, 3):
        for form in ("1", "1", "3", "5"):
            pools["SH"].append(f"SH,{n},{form},{rng.randint(100, 999)},,{rng.randint(1, 60)},,,,")
    for units in (7, 14, 28, 30):
        days = f"{rng.randint(1, 28):02d},{rng.randint(1, 28):02d}"
        fee = f"1,1,01,130000110,{rng.randint(10, 40)},,,{rng.randint(1, 200)}"
        pools["CZ"].append(f"CZ,1,{days},1,{units},{fee}" + "," * 40)
    for _ in range(100):
        pools["IYP"].append(f"IY,1,{rng.choice(DRUGS)},{rng.choice(['1', '2', '0.5'])},,,,,,")
    return pools


def _medical(
    rng: random.Random, pools: dict[str, list[str]], receipt: int, inpatient: bool
) -> tuple[list[str], int]:
    points = rng.randint(100, 60000 if inpatient else 3000)
    name = rng.choice(["香川　太郎", "讃岐　花子", "高松　一郎", "丸亀　幸子"])
    lines = [
        f"RE,{receipt},{'1111' if inpatient else '1112'},50604,{name},{rng.randint(1, 2)},"
        f"3{rng.randint(10, 60)}0{rng.randint(1, 9)}1{rng.randint(0, 9)},70,"
        f"{'5060401' if inpatient else ''}" + "," * 28 + "ｶﾀｶﾅ ｼﾒｲ,",
        f"HO,{rng.choice(INSURERS)},{rng.randint(1, 99)},{rng.randint(1, 99999)},"
        f"{rng.randint(1, 20)},{points},,,,,,{points * 3},,,",
    ]
    if rng.random() < 0.3:
        lines.append(f"SN,1,01,{INSURERS[0]},,{receipt},01,,")
    lines += rng.sample(pools["SY"], rng.randint(1, 5))
    if inpatient:
        lines += rng.choices(pools["WARD"], k=15) + rng.choices(pools["IY"], k=12)
        lines += ["JD,1," + ",".join(["1"] * 20 + [""] * 11), "MF,01" + "," * 31]
    else:
        lines += rng.choices(pools["SI"], k=rng.randint(2, 6))
        lines += rng.choices(pools["IY"], k=rng.randint(0, 3))
    return lines, points


def _pharmacy(
    rng: random.Random, pools: dict[str, list[str]], receipt: int
) -> tuple[list[str], int]:
    points = rng.randint(100, 3000)
    lines = [
        f"RE,{receipt},4112,50604,讃岐　花子,2,3{rng.randint(10, 60)}0101,70,,37,1,"
        f"{_code(rng, '1')},合成医院" + "," * 29 + "ｻﾇｷ ﾊﾅｺ",
        f"HO,{rng.choice(INSURERS)},,{rng.randint(1, 99999)},1,{points},,,,{points * 3},,,,",
    ]
    for rx in range(1, rng.randint(2, 4)):
        lines.append(pools["SH"][(rx - 1) * 4 + rng.randint(0, 3)])
        lines.append(rng.choice(pools["CZ"]))
        lines += rng.choices(pools["IYP"], k=rng.randint(1, 2))
    return lines, points


def _code(rng: random.Random, table: str) -> str:
    """A 7-digit 医療機関コード of prefecture 37 whose 10-digit form has a valid 検証番号
    (ingest checks it)."""
    body = f"{rng.randint(10**5, 10**6 - 1)}"
    return body + str(luhn_2_1(f"37{table}{body}"))


def generate(folder: Path, total: int, file_lines: int, seed: int = 5) -> list[Path]:
    """About ``total`` lines of claims in files of about ``file_lines`` lines."""
    rng = random.Random(seed)
    pools = _pools(rng)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    written = 0
    while written < total:
        pharmacy = rng.random() < 0.4
        inpatient = not pharmacy and rng.random() < 0.08
        code = _code(rng, "4" if pharmacy else "1")
        body: list[str] = []
        claims = points = 0
        while len(body) < min(file_lines, total - written) - 2:
            claims += 1
            lines, p = (
                _pharmacy(rng, pools, claims)
                if pharmacy
                else _medical(rng, pools, claims, inpatient)
            )
            body += lines
            points += p
        header = (
            f"YK,2,37,4,{code},合成薬局,50605,00,"
            if pharmacy
            else f"IR,2,37,1,{code},,合成医院,50605,00,"
        )
        text = "\r\n".join([header, *body, f"GO,{claims},{points},99"]) + "\r\n"
        path = folder / f"{len(paths):06d}_{'Y' if pharmacy else 'I'}.UKE"
        path.write_bytes(text.encode("cp932"))
        paths.append(path)
        written += len(body) + 2
    return paths


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".uke", ".csv"))


def _timed(run: Any) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def baseline(paths: list[Path]) -> int:
    """Read, decode, split lines, split fields: the least any reader does."""
    fields = 0
    for path in paths:
        text = path.read_bytes().decode("cp932")
        fields += sum(len(line.split(",")) for line in text.splitlines())
    return fields


def parse_only(paths: list[Path]) -> Iterator[int]:
    """The lake's parsing (batches of files through the fast path), without the Parquet."""
    problems: list[Any] = []
    files = ((path, path.read_bytes(), f"{n:064d}") for n, path in enumerate(paths))
    for item in parse_files(files, problems):
        yield item.parsed.lines
    assert not problems, problems[:3]


def _ingest(lake: ClaimsLake, paths: list[Path], report: list[Any]) -> None:
    report.append(lake.ingest(paths))


def _rate(lines: int, seconds: list[float]) -> dict[str, Any]:
    median = statistics.median(seconds)
    return {
        "seconds": [round(s, 2) for s in seconds],
        "median_lines_per_s": round(lines / median),
        "best_lines_per_s": round(lines / min(seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--file-lines", type=int, default=50_000)
    parser.add_argument("--files", type=Path, help="ingest these files instead of generating")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each measure, interleaved (a busy machine)"
    )
    parser.add_argument("--out", type=Path, default=OUT / "claims.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join(sys.argv),
    }
    with tempfile.TemporaryDirectory(dir=os.environ.get("KOKUHO_BENCH_DIR")) as tmp:
        work = Path(tmp)
        if args.files:
            paths = _files(args.files)
        else:
            started = time.perf_counter()
            paths = generate(work / "in", args.lines, args.file_lines)
            print(f"generated {len(paths)} files in {time.perf_counter() - started:.1f} s")
        size = sum(p.stat().st_size for p in paths)
        lines = sum(p.read_bytes().count(b"\n") for p in paths)
        results["input"] = {"files": len(paths), "lines": lines, "bytes": size}
        print(f"input: {results['input']}", flush=True)
        times: dict[str, list[float]] = {"baseline": [], "parse": [], "ingest": []}
        report: list[Any] = []
        for run in range(args.repeat):
            times["baseline"].append(_timed(lambda: baseline(paths)))
            times["parse"].append(_timed(lambda: sum(parse_only(paths))))
            lake = ClaimsLake(work / f"lake{run}")
            times["ingest"].append(_timed(partial(_ingest, lake, paths, report)))
            assert report[-1].lines == lines, (report[-1].lines, lines)
            print(
                f"run {run + 1}: "
                + ", ".join(f"{k} {lines / v[-1]:,.0f} lines/s" for k, v in times.items()),
                flush=True,
            )
        for name, seconds in times.items():
            results[name] = _rate(lines, seconds)
        results["ingest"] |= {
            "claims": report[-1].claims,
            "parquet_files": sum(1 for _ in lake.root.rglob("*.parquet")),
            "parquet_bytes": sum(p.stat().st_size for p in lake.root.rglob("*.parquet")),
            "vs_baseline": round(
                statistics.median(times["baseline"]) / statistics.median(times["ingest"]), 2
            ),
        }
        results["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
