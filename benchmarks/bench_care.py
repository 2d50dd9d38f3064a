"""Care benchmark (issue 14 item 1): 介護給付費明細書 read, write and lake ingest in records/s,
against a baseline of the same run.

    .venv/bin/python benchmarks/bench_care.py [--claims 50000] [--per-file 5000]

Input: ``--claims`` claims of 4 to 5 records (基本情報, 2 明細情報, 2 集計情報 — the fixture's
first claim under other 被保険者番号), cp932 and CR LF, in files of ``--per-file`` claims.

- **baseline**: read the bytes, decode cp932, split records and fields: what any reader must do.
- **read**: ``read_care_bytes`` of every file (the precise reader, every check).
- **write**: ``care_file_bytes`` of every file (renders, then reads its own output back).
- **ingest**: ``CareLake.ingest`` of all files into an empty lake (sha256, read, Parquet,
  fsync, manifest); **re-ingest**: the same again (every file skipped by digest).

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from kokuho.care import CareLake, care_file_bytes, read_care_bytes, read_care_file

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "care" / "claims_202005.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--per-file", type=int, default=5_000)
    args = parser.parse_args()
    base = read_care_file(FIXTURE)
    claim = base.claims[0]
    files = []
    for start in range(0, args.claims, args.per_file):
        claims = tuple(
            dataclasses.replace(claim, insured=f"{n:010d}")
            for n in range(start, min(args.claims, start + args.per_file))
        )
        files.append(dataclasses.replace(base, claims=claims))
    began = time.perf_counter()
    blobs = [care_file_bytes(f) for f in files]
    write = time.perf_counter() - began
    records = sum(b.count(b"\r\n") for b in blobs)
    began = time.perf_counter()
    for blob in blobs:
        _ = [line.split(",") for line in blob.decode("cp932").split("\r\n")]
    baseline = time.perf_counter() - began
    began = time.perf_counter()
    for blob in blobs:
        read_care_bytes(blob, "bench")
    read = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for n, blob in enumerate(blobs):
            paths.append(Path(folder) / f"{n:04d}.csv")
            paths[-1].write_bytes(blob)
        lake = CareLake(Path(folder) / "lake")
        began = time.perf_counter()
        lake.ingest(paths)
        ingest = time.perf_counter() - began
        began = time.perf_counter()
        lake.ingest(paths)
        again = time.perf_counter() - began
    result = {
        "claims": args.claims, "files": len(blobs), "records": records,
        "megabytes": round(sum(map(len, blobs)) / 1e6, 1),
        "seconds": {"baseline": round(baseline, 2), "read": round(read, 2),
                    "write": round(write, 2), "ingest": round(ingest, 2),
                    "re_ingest": round(again, 2)},
        "records_per_second": {"baseline": round(records / baseline), "read": round(records / read),
                               "ingest": round(records / ingest)},
    }  # fmt: skip
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
