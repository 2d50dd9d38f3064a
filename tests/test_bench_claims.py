"""The claims benchmark's synthetic files are claims the readers accept: when a reader's rule
tightens (a 診療開始日 after the 診療年月 is refused since this session), the generator must
follow, or the benchmark of record stops at its first file (it did)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_claims


def test_the_generated_files_parse_without_a_problem(tmp_path: Path) -> None:
    paths = bench_claims.generate(tmp_path / "in", total=6000, file_lines=1200)
    assert len(paths) >= 4
    lines = sum(bench_claims.parse_only(paths))  # asserts that no problem was found
    assert lines >= 5000
