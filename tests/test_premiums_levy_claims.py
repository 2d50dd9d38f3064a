"""The 年齢調整後医療費指数 for the 納付金 from the claims room's 地域差指数 and the register's
insurers (SQLite and PostgreSQL), and its use in the levy inputs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.claims import BANDS, GenericClasses, ReferencePopulation, claims_figures
from kokuho.premiums import (
    LevyError,
    example_levy_inputs,
    medical_indices,
    with_medical_indices,
)
from kokuho.registry import import_changes, load_insurers
from tests.claimrows import MemoryLake, claim, drug, master
from tests.feedfiles import KOKUHO, TARO, acquire, write_changes, write_insurers

# Every band weighs the same; the national per-capita cost is 25,000 円.
REFERENCE = ReferencePopulation(
    bands=dict.fromkeys(BANDS, 1.0), age_month=9, age_day_of_month=30,
    national_cost={2020: 25_000.0}, default_national_cost=None, unconfirmed=(),
)  # fmt: skip


@pytest.fixture
def register(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    # 高松市国民健康保険 (370015 → 372013) and a 協会けんぽ branch; Taro insured all year.
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    import_changes(engine, write_changes(tmp_path / "changes.csv", [acquire("T1", "2019-04-01")]))
    return engine


def test_the_index_is_the_municipal_insurers_regional_index(register: sa.Engine) -> None:
    # One insured person all year, one claim of 2,573 points = 25,730 円: the age-adjusted
    # cost is 25,730 円 and the 地域差指数 25,730 / 25,000 = 1.0292.
    taro = claim("t1:1", "2020-05", insurer=KOKUHO, birth_date=TARO["birth_date"], points=2_573)
    lake = MemoryLake(
        claims=[taro],
        claim_drugs=[drug(taro, "610000001", 1)],
        drug_master=[master("610000001", "2149", "3")],
    )
    classes = GenericClasses(frozenset({"3"}), frozenset({"2"}))
    figures = claims_figures(lake, register, 2020, reference=REFERENCE, classes=classes)
    assert medical_indices(register, figures) == {"372013": Decimal("1.0292")}
    assert medical_indices(register, figures, decimals=2) == {"372013": Decimal("1.03")}
    # A year without claims has no index for anyone.
    empty = claims_figures(lake, register, 2019, reference=REFERENCE, classes=classes)
    assert medical_indices(register, empty) == {}


def test_indices_replace_the_inputs_and_a_missing_one_is_refused() -> None:
    inputs = example_levy_inputs()
    indices = {"372013": Decimal("1.1"), "372021": Decimal("0.9"), "373249": Decimal("1.0")}
    replaced = with_medical_indices(inputs, indices)
    assert [m.medical_index for m in replaced.municipalities] == list(indices.values())
    assert replaced.municipalities[0].parts == inputs.municipalities[0].parts
    with pytest.raises(LevyError, match="no 年齢調整後医療費指数 from claims for 373249"):
        with_medical_indices(inputs, {k: v for k, v in indices.items() if k != "373249"})
    with pytest.raises(LevyError, match="≤ 0 for 372021"):
        with_medical_indices(inputs, {**indices, "372021": Decimal(0)})
    assert replace(replaced, municipalities=inputs.municipalities) == inputs
