"""Indicator values from kokuho's own data (SQLite and PostgreSQL): the register's 市町村国保
and 被保険者数, 特定健診・特定保健指導 rates from the lake, and the claims figures mapped to the
rule files' fields (hand-made figures of the claims contract)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.checkups import Checkup, Items, Lake, Observation, read_archive, write_archive
from kokuho.claims import InsurerClaimFigures
from kokuho.incentives import (
    HomeUnit,
    example_inputs,
    load_rules,
    prefecture_scoreboard,
    values_from_claim_figures,
)
from kokuho.incentives._derive import claims_values, derive, home_units, insured_counts
from kokuho.registry import import_changes, load_insurers
from tests.feedfiles import KOKUHO, TARO, acquire, lose, write_changes, write_insurers

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")
BASIS = load_rules(2020).rules.insured
HANAKO = dict(
    TARO, name_kanji="讃岐 花子", name_kana="サヌキ ハナコ", birth_date="1972-03-03", sex="2"
)
JIRO = dict(TARO, name_kanji="讃岐 次郎", name_kana="サヌキ ジロウ", birth_date="1975-01-02")
SABURO = dict(TARO, name_kanji="讃岐 三郎", name_kana="サヌキ サブロウ", birth_date="1978-03-04")


def taro_checkup() -> Checkup:
    """太郎's checkup of 2020-09-01: waist 90 with high blood pressure and lipids, so
    積極的支援 (a guidance target)."""
    measured = [
        (Items.WAIST, "90", "cm"), (Items.BMI, "26.1", "kg/m2"), (Items.SBP, "135", "mmHg"),
        (Items.DBP, "80", "mmHg"), (Items.TG_FASTING, "160", "mg/dL"), (Items.HDL, "50", "mg/dL"),
        (Items.GLUCOSE_FASTING, "90", "mg/dL"), (Items.HBA1C, "5.2", "%"),
    ]  # fmt: skip
    coded = [
        (Items.BLOOD_DRAW_TIMING, "2"), (Items.MEDICATION_BP, "2"),
        (Items.MEDICATION_GLUCOSE, "2"), (Items.MEDICATION_LIPID, "2"), (Items.SMOKING, "3"),
    ]  # fmt: skip
    observations = [Observation(i[0], "PQ", v, u) for i, v, u in measured]
    observations += [
        Observation(i[0], "CO", v, code_system="1.2.392.200119.6.2003") for i, v in coded
    ]
    return Checkup(
        document="", insurer=KOKUHO, symbol="12", number="1001", branch="01", sex=1,
        birth_date=dt.date(1970, 5, 15), exam_date=dt.date(2020, 9, 1),
        institution="3710000012", observations={o.code: o for o in observations},
    )  # fmt: skip


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    rows = [
        acquire("K1", "2019-04-01"),  # 太郎: all of FY2019 and FY2020
        acquire("K2", "2019-04-01", number="2002", person=HANAKO),
        acquire("K3", "2020-10-15", number="3003", person=JIRO),  # from October
        acquire("K4", "2019-01-01", number="4004", person=SABURO),
        lose("K5", "2020-07-01", number="4004"),  # first day not covered: 1 July
    ]
    import_changes(engine, write_changes(tmp_path / "c.csv", rows))
    return engine


def test_home_units_are_the_registers_municipal_insurers(register: sa.Engine) -> None:
    assert home_units(register) == (HomeUnit(KOKUHO, "高松市", "37", "372013"),)
    assert home_units(register, "13") == ()


def test_insured_is_the_mean_of_the_month_end_counts(register: sa.Engine) -> None:
    # FY2020 month ends: 太郎 and 花子 12 each, 次郎 Oct–Mar 6, 三郎 Apr–Jun 3: 33 ÷ 12 = 2.75
    # → 3 (half up). On 1 July only 太郎 and 花子 (三郎 lost that day, 次郎 not yet).
    assert insured_counts(register, [KOKUHO], 2020, BASIS) == {KOKUHO: 3}
    as_of = BASIS.model_copy(update={"basis": "as_of", "as_of": "07-01"})
    assert insured_counts(register, [KOKUHO], 2020, as_of) == {KOKUHO: 2}
    # FY2019: 太郎, 花子 and 三郎 at every month end: 36 ÷ 12.
    assert insured_counts(register, [KOKUHO], 2019, BASIS) == {KOKUHO: 3}


def test_checkup_rates_come_from_the_lake(register: sa.Engine, tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "out",
        sender="3710000012",
        receiver="00" + KOKUHO,
        checkups=[taro_checkup()],  # 2020-09-01, 積極的支援
        created=dt.datetime(2020, 9, 30),
    )
    lake = Lake(tmp_path / "lake")
    lake.ingest_archive(read_archive(archive))
    derived = derive(register, tmp_path / "lake", [2019, 2020], insured_years=[2020], basis=BASIS)
    # FY2020: 太郎 and 花子 are enrolled all year and 40–74 (三郎 left, 次郎 came late):
    # 1 of 2 examined; 太郎 is the one guidance target, not completed.
    assert derived.values[(KOKUHO, 2020)] == {
        "checkup_rate": 0.5, "checkup_eligible": 2.0, "guidance_rate": 0.0,
    }  # fmt: skip
    assert derived.values[("37", 2020)] == derived.values[(KOKUHO, 2020)]
    assert (KOKUHO, 2019) not in derived.values  # no archives of FY2019: no rate, not 0 %
    assert derived.insured == {(KOKUHO, 2020): 3, ("37", 2020): 3}


def test_the_scoreboard_reads_the_register_and_the_lake(
    register: sa.Engine, tmp_path: Path
) -> None:
    archive = write_archive(
        tmp_path / "out", sender="3710000012", receiver="00" + KOKUHO,
        checkups=[taro_checkup()], created=dt.datetime(2020, 9, 30),
    )  # fmt: skip
    Lake(tmp_path / "lake").ingest_archive(read_archive(archive))
    inputs = tmp_path / "inputs"
    shutil.copytree(example_inputs(), inputs)
    board = prefecture_scoreboard(register, tmp_path / "lake", 2020, inputs, data_year=2020)
    [takamatsu] = board.municipalities  # only the register's 市町村国保
    assert takamatsu.insured == 3
    checkup = next(v for v in takamatsu.values if v.field == "checkup_rate")
    assert (checkup.value, checkup.origin, checkup.year) == (0.5, "derived", 2020)
    generic = next(v for v in takamatsu.values if v.field == "generic_share")
    assert generic.origin == "missing"  # no claims lake, and the example has no 2020 row
    # The backdrop's own 香川 rows (丸亀, 直島) are not scored as national units.
    assert board.part("municipal").national_units == 6


def test_claim_figures_map_to_the_rule_fields() -> None:
    def figures(insurer: str, share: float | None, regional: float | None) -> InsurerClaimFigures:
        return InsurerClaimFigures(
            insurer=insurer, fiscal_year=2021, insured=1200.0, generic_quantity=800.0,
            originator_quantity=200.0, generic_share=share, duplicate_persons=3,
            multi_drug_persons=6, duplicate_per_10k=25.0, multi_drug_per_10k=50.0,
            cost_per_insured=380_000.0, age_adjusted_cost=None, regional_index=regional,
        )  # fmt: skip

    class Figures:
        insurers = {KOKUHO: figures(KOKUHO, 0.8, None)}
        prefecture = figures("", 0.79, 1.08)

    mapped = values_from_claim_figures(Figures())
    assert mapped[KOKUHO] == {
        "generic_share": 0.8, "duplicate_per_10k": 25.0, "multi_drug_per_10k": 50.0,
        "cost_per_insured": 380_000.0,
    }  # fmt: skip
    assert mapped[""]["regional_index"] == 1.08 and "age_adjusted_cost" not in mapped[""]


def test_an_empty_claims_lake_gives_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    notes: list[str] = []
    assert claims_values(engine, tmp_path / "lake", 2021, notes) is None
