"""The linkage rate between 医療 and 介護 by ID kind: ID1 fails exactly for records under a
介護 number that changed, ID2 exactly where the カナ differs; on the synthetic prefecture the
report counts exactly the failures it planted (care/planted.json)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from kokuho.care import read_certifications
from kokuho.provision import MedicalPerson, linkage_rate, load_sources
from kokuho.registry import import_changes, load_insurers
from kokuho.store import connect
from kokuho.synth import generate
from tests.provisioncases import certification

D = dt.date
KEY = b"k" * 32


def test_each_kind_fails_where_it_must_worked_by_hand() -> None:
    persons = [
        MedicalPerson(1, "カガワ イチロウ", D(1943, 5, 10), 1, "372013"),
        MedicalPerson(2, "ｶｶﾞﾜ ﾊﾅｺ", D(1949, 4, 1), 2, "372013"),  # half-width: same after
        MedicalPerson(3, "サヌキ ジロウ", D(1949, 4, 2), 1, None),  # normalisation
    ]
    on = D(2024, 3, 31)
    certs = [
        # 一郎: renumbered on 2023-10-01; the old number's certification ended the day before.
        certification(1, "0000000010", "21", D(2022, 10, 1), D(2023, 9, 30)),
        certification(1, "0000000011", "22", D(2023, 10, 1), D(2024, 9, 30)),
        # 花子: written in hiragana by the 介護 insurer: the same after normalisation.
        certification(2, "0000000020", "12", D(2023, 4, 1), D(2024, 3, 31), kana="かがわ はなこ"),
        # 次郎: a reading written otherwise (ジロウ → ジロオ): ID2 cannot find him.
        certification(3, "0000000030", "01", D(2023, 4, 1), D(2024, 3, 31), kana="サヌキ ジロオ"),
    ]
    report = linkage_rate(KEY, persons, certs, on)
    assert report.numbers == 4
    assert report.unlinked == {"ID1": (("372011", "0000000010"),),
                               "ID2": (("372011", "0000000030"),)}  # fmt: skip
    assert report.linked == {"ID1": 3, "ID2": 3}
    assert report.as_json()["kinds"]["ID2"] == {"linked": 3, "unlinked": 1, "rate": 0.75}
    # On 2023-09-30 the 台帳 still held the old number: then the new one is the stranger.
    before = linkage_rate(KEY, persons, certs[:2], D(2023, 9, 30))
    assert before.unlinked["ID1"] == (("372011", "0000000011"),)


@pytest.fixture(scope="module")
def prefecture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth_linkage")
    generate(folder, seed=11, persons=6000, checkups=False, claims=False, incentives=False)
    return folder


def test_the_report_counts_exactly_the_planted_failures(prefecture: Path, tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    load_insurers(engine, prefecture / "insurers.csv")
    manifest = json.loads((prefecture / "manifest.json").read_text("utf-8"))
    for name in manifest["files"]:
        if name.startswith("changes/"):
            import_changes(engine, prefecture / name, load_good_rows=True)
    persons = load_sources(engine).persons
    engine.dispose()
    certs = read_certifications(prefecture / "care" / "certifications.csv")
    planted = json.loads((prefecture / "care" / "planted.json").read_text("utf-8"))
    end = dt.date.fromisoformat(manifest["end"])
    report = linkage_rate(KEY, persons, certs, end)
    old = {(p["insurer"], p["old"]) for p in planted["renumbered"]}
    kana = {(p["insurer"], p["insured"]) for p in planted["kana_differs"]}
    # A renumbered person whose new number has the other カナ kept it under the old one too.
    kana |= {(p["insurer"], p["old"]) for p in planted["renumbered"]
             if (p["insurer"], p["new"]) in kana}  # fmt: skip
    assert old and kana
    assert set(report.unlinked["ID1"]) == old
    assert set(report.unlinked["ID2"]) == kana
    numbers = {(c.insurer_number, c.insured_number) for c in certs}
    assert report.numbers == len(numbers)
    assert report.linked == {"ID1": len(numbers) - len(old), "ID2": len(numbers) - len(kana)}
    # ID2 finds a renumbered person under both numbers (the カナ did not change).
    renumbered_ok = [c for c in certs if (c.insurer_number, c.insured_number) in old - kana]
    assert renumbered_ok and all(
        (c.insurer_number, c.insured_number) not in report.unlinked["ID2"] for c in renumbered_ok
    )
    # The planted カナ, restored to the register's, links again: nothing else was in the way.
    by_number = {(p["insurer"], p["insured"]): p["register_kana"] for p in planted["kana_differs"]}
    fixed = [dataclasses.replace(c, name_kana=by_number.get((c.insurer_number,
                                                              c.insured_number), c.name_kana))
             for c in certs]  # fmt: skip
    assert set(linkage_rate(KEY, persons, fixed, end).unlinked["ID2"]) == kana - set(by_number)
