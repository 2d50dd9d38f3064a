"""``rate_tables`` (both 実施率 from one integer-keyed match) against the reference functions
``checkup_rate_table`` and ``guidance_rate_table``, on seeded random awkward registers.

Awkward on purpose: insured numbers held twice (by 枝番, and by twins without 枝番 sharing a
生年月日), checkups matched by 枝番 or by 生年月日, 年度末年齢 39/40/74/75 on both sides of
1–2 April, part-year and boundary enrolment, several checkups per person with known, 判定不能
and missing levels on the same day, guidance before and after the checkup and after the
cut-off, and exclusions.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import ibis
import pyarrow as pa
import pytest

from kokuho.checkups._rate_pair import KEY, insured_key, rate_tables
from kokuho.checkups._rates import checkup_rate_table, guidance_rate_table, read_exclusions
from tests.test_rates import (
    FY,
    KIND,
    A,
    B,
    K,
    checkups,
    exam,
    guidance,
    guidance_row,
    member,
    snapshot,
)

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

D = dt.date
FIRST, LAST = D(FY, 4, 1), D(FY + 1, 3, 31)
BYS: tuple[tuple[str, ...], ...] = (
    ("insurer",),
    (),
    ("sex", "band"),
    ("municipality",),
    ("insurer", "sex", "band"),
)


def _birth(rng: random.Random) -> dt.date:
    # 年度末年齢 39, 40, 74 or 75 around the 1–2 April edge, or anything 35–80.
    if rng.random() < 0.5:
        age = rng.choice((39, 40, 74, 75))
        return (
            D(FY + 1 - age, 4, rng.choice((1, 2)))
            if rng.random() < 0.6
            else D(FY - age, rng.randint(5, 12), rng.randint(1, 28))
        )
    return D(FY - rng.randint(35, 80), rng.randint(1, 12), rng.randint(1, 28))


def _enrolment(rng: random.Random) -> tuple[dt.date, dt.date | None]:
    acquired = rng.choice(
        [D(2010, 4, 1), FIRST, D(FY, 4, 2), D(FY, 10, 1), FIRST - dt.timedelta(days=1)]
    )
    lost = rng.choice([None, None, None, LAST, D(FY + 1, 4, 1), D(FY, 12, 1), D(FY + 2, 1, 1)])
    return acquired, lost


def _case(seed: int) -> tuple[Any, Any, Any, Any]:
    rng = random.Random(seed)
    people: list[dict[str, Any]] = []
    pid = 0
    for household in range(60):
        insurer = rng.choice((A, A, B, K))
        number = f"{household:04d}"
        symbol = rng.choice(("S", "T", ""))
        shape = rng.random()
        if shape < 0.15:  # twins before 枝番: one insured number, no branch, one 生年月日
            # Same sex too: which twin's row the reference's window keeps is arbitrary, so
            # by sex the reference itself would not be repeatable.
            born, branches = _birth(rng), ["", ""]
            births = [born, born]
            twin_sex = rng.choice((1, 2))
        elif shape < 0.35:  # one insured number held by several, told apart by 枝番
            branches = [f"{i:02d}" for i in range(1, rng.randint(2, 4))]
            births = [_birth(rng) for _ in branches]
        elif shape < 0.45:  # no 枝番, told apart by 生年月日
            branches = ["", ""]
            births = [_birth(rng), _birth(rng)]
        else:
            branches, births = [rng.choice(("01", ""))], [_birth(rng)]
        if shape >= 0.15:
            twin_sex = 0
        for branch, born in zip(branches, births, strict=True):
            pid += 1
            acquired, lost = _enrolment(rng)
            people.append(
                member(
                    pid,
                    insurer=insurer,
                    sex=twin_sex or rng.choice((1, 2)),
                    born=born,
                    acquired=acquired,
                    lost=lost,
                    symbol=symbol,
                    number=number,
                    branch=branch,
                )
            )
    exams: list[dict[str, Any]] = []
    guided: list[dict[str, Any]] = []
    for person in people:
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            on = rng.choice(
                [FIRST, LAST, FIRST - dt.timedelta(days=1), D(FY, 7, 1), D(FY, 7, 1), D(FY, 9, 9)]
            )
            branch = rng.choice((person["branch"], None, "", "99"))
            born = person["birth_date"] if rng.random() < 0.9 else D(1950, 1, 1)
            row = exam(
                person["number"],
                on,
                rng.choice((1, 2, 2, 3, 4)),
                insurer=person["insurer_number"],
                born=born,
                sex=person["sex"],
                symbol=person["symbol"],
                branch=branch,
            )
            if rng.random() < 0.1:
                row["level"] = None
            exams.append(row)
            if rng.random() < 0.5:
                started = on + dt.timedelta(days=rng.choice((-10, 0, 30)))
                evaluated = rng.choice((None, D(FY + 1, 6, 1), D(FY + 1, 11, 1)))
                guided.append(
                    guidance_row(
                        person["number"],
                        started,
                        evaluated,
                        insurer=person["insurer_number"],
                        born=born,
                        branch=branch,
                    )
                )
    # A member-less insured number, examined anyway.
    exams.append(exam("9999", D(FY, 8, 1), 1))
    assert {p["insurer_number"] for p in people} <= set(KIND)
    excluded = rng.choice(people)
    x = pa.table(
        {
            "insurer": [excluded["insurer_number"]],
            "symbol": [excluded["symbol"]],
            "number": [excluded["number"]],
            "branch": pa.array([None], pa.string()),
            "reason": ["pregnant"],
            "started_on": [D(FY, 6, 1)],
            "ended_on": pa.array([None], pa.date32()),
        }
    )
    return (
        ibis.memtable(snapshot(*people)),
        ibis.memtable(checkups(*exams)),
        ibis.memtable(guidance(*guided)),
        ibis.memtable(x),
    )


def _rows(table: Any) -> list[dict[str, Any]]:
    return list(table.to_pyarrow().to_pylist())


@pytest.mark.parametrize("seed", range(4))
def test_rate_tables_equal_the_reference_on_random_registers(seed: int, tmp_path: Any) -> None:
    snap, ck, g, x = _case(seed)
    for by in BYS:
        for exclusions in (None, x):
            checkup, guided = rate_tables(snap, ck, g, FY, by=by, exclusions=exclusions)
            expected_checkup = checkup_rate_table(snap, ck, FY, by=by, exclusions=exclusions)
            expected_guided = guidance_rate_table(snap, ck, g, FY, by=by, exclusions=exclusions)
            assert _rows(checkup) == _rows(expected_checkup), (seed, by)
            assert _rows(guided) == _rows(expected_guided), (seed, by)
            # Something was counted: the comparison is not between two empty tables.
            if by == ("insurer",) and exclusions is None:
                assert sum(r["examined"] for r in _rows(checkup)) > 0
                assert sum(r["targets"] for r in _rows(guided)) > 0


def test_twins_without_branch_count_twice_as_examined_once_as_targets() -> None:
    # The reference's rules, kept: its semi join counts each member; its window, one 受診者
    # per member key.
    born = D(1970, 6, 1)
    snap = ibis.memtable(
        snapshot(member(1, number="7", branch="", born=born), member(2, number="7", branch=""))
    )
    ck = ibis.memtable(checkups(exam("7", D(FY, 7, 1), 2, branch=None)))
    g = ibis.memtable(guidance(guidance_row("7", D(FY, 8, 1), D(FY, 12, 1), branch=None)))
    checkup, guided = rate_tables(snap, ck, g, FY)
    [c] = _rows(checkup)
    [gr] = _rows(guided)
    assert (c["eligible"], c["examined"]) == (2, 2)
    assert (gr["targets"], gr["completed"]) == (1, 1)


def test_a_shared_key_never_matches_another_insured_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every tuple gets the same key, the worst collision: the strings still decide.
    import kokuho.checkups._rate_pair as pair

    monkeypatch.setattr(pair, "insured_key", lambda *_: ibis.literal(42, "int64"))
    snap, ck, g, _ = _case(99)
    checkup, guided = rate_tables(snap, ck, g, FY, by=("insurer", "sex"))
    assert _rows(checkup) == _rows(checkup_rate_table(snap, ck, FY, by=("insurer", "sex")))
    assert _rows(guided) == _rows(guidance_rate_table(snap, ck, g, FY, by=("insurer", "sex")))


def test_the_key_is_one_integer_per_insured_number() -> None:
    t = ibis.memtable(
        pa.table(
            {
                "insurer": [A, A, A, A],
                "symbol": ["1", "12", "1", "1"],
                "number": ["23", "3", "23", "24"],
            }
        )
    )
    keyed = t.mutate(**{KEY: insured_key(t.insurer, t.symbol, t.number)})
    keys = [r[KEY] for r in _rows(keyed)]
    assert keys[0] == keys[2]
    assert len({keys[0], keys[1], keys[3]}) == 3  # ("1", "23") is not ("12", "3")
    assert all(isinstance(k, int) for k in keys)


def test_empty_inputs_and_an_unknown_group() -> None:
    snap, _, _, _ = _case(1)
    empty_ck = ibis.memtable(checkups())
    checkup, guided = rate_tables(snap, empty_ck, ibis.memtable(guidance()), FY)
    assert _rows(checkup) == _rows(checkup_rate_table(snap, empty_ck, FY))
    assert all(r["examined"] == 0 for r in _rows(checkup))
    assert _rows(guided) == []
    with pytest.raises(ValueError, match="choose distinct names"):
        rate_tables(snap, empty_ck, ibis.memtable(guidance()), FY, by=("ward",))


def test_exclusions_file_is_read_like_the_reference(tmp_path: Any) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        f"insurer,symbol,number,branch,reason,started_on,ended_on\n{A},S,0001,,pregnant,{FY}-06-01,\n",
        "utf-8",
    )
    snap, ck, g, _ = _case(3)
    x = read_exclusions(path)
    checkup, _ = rate_tables(snap, ck, g, FY, exclusions=x)
    assert _rows(checkup) == _rows(checkup_rate_table(snap, ck, FY, exclusions=x))


def test_the_first_checkup_with_a_known_level_decides() -> None:
    # 判定不能 (4) or no level first, then 動機付け支援: a 対象者, from the later checkup.
    snap = ibis.memtable(snapshot(member(1), member(2)))
    first = exam("1", D(FY, 5, 1), 4)
    missing = exam("2", D(FY, 5, 1), 3)
    missing["level"] = None
    ck = ibis.memtable(
        checkups(first, exam("1", D(FY, 6, 1), 2), missing, exam("2", D(FY, 6, 1), 1))
    )
    g = ibis.memtable(guidance(guidance_row("1", D(FY, 5, 15), D(FY, 12, 1))))
    checkup, guided = rate_tables(snap, ck, g, FY)
    [c] = _rows(checkup)
    [gr] = _rows(guided)
    assert (c["eligible"], c["examined"]) == (2, 2)
    # Guidance started before the deciding checkup does not complete it.
    assert (gr["targets"], gr["targets_intensive"], gr["completed"]) == (2, 1, 0)
    assert _rows(guided) == _rows(guidance_rate_table(snap, ck, g, FY))


@pytest.mark.parametrize("one_order", [True, False])
def test_both_window_shapes_equal_the_reference(
    one_order: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB sorts every matched row in one order and finds each member key's start by
    # comparing neighbours; other engines (Spark) get one window partition per member key.
    import kokuho.checkups._rate_pair as pair

    backends = pair.ONE_ORDER_BACKENDS if one_order else frozenset()
    monkeypatch.setattr(pair, "ONE_ORDER_BACKENDS", backends)
    snap, ck, g, x = _case(5)
    assert pair._one_order(ck) is one_order
    for by in (("insurer",), ("sex", "band")):
        checkup, guided = rate_tables(snap, ck, g, FY, by=by, exclusions=x)
        assert _rows(checkup) == _rows(checkup_rate_table(snap, ck, FY, by=by, exclusions=x))
        expected = guidance_rate_table(snap, ck, g, FY, by=by, exclusions=x)
        assert _rows(guided) == _rows(expected), by


@pytest.mark.parametrize("numbered", [False, True])
def test_a_tie_of_one_day_is_broken_by_the_document(
    numbered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB's one order breaks a person's ties of one day by the level, not the document;
    # where the known levels differ, the member key is counted again in the document's order.
    import kokuho.checkups._rate_pair as pair

    recounted: list[int] = []
    original = pair.recounted

    def spy(counts: Any, keys: Any, unsure: Any, *args: Any) -> Any:
        recounted.append(len(unsure))
        return original(counts, keys, unsure, *args)

    monkeypatch.setattr(pair, "recounted", spy)
    on, born = D(FY, 7, 1), D(1970, 6, 1)
    rows = snapshot(
        member(1, number="1"),
        member(2, number="2"),
        member(3, number="3", branch="", born=born),  # twins without 枝番: one member key
        member(4, number="3", branch="", born=born),
        member(5, number="5"),
    )
    if numbered:
        ids = {"1": 1, "2": 2, "3": 3, "5": 4}
        rows = rows.set_column(
            rows.schema.get_field_index("insured_id"),
            "insured_id",
            pa.array([ids[n] for n in rows["number"].to_pylist()], pa.int64()),
        )
    ck = ibis.memtable(
        checkups(
            # Documents are numbered in this order: the first of each pair comes first.
            exam("1", on, 2),
            exam("1", on, 1),
            exam("2", on, 3),
            exam("2", on, 1),
            exam("3", on, 2, branch=None, born=born),
            exam("3", on, 1, branch=None, born=born),
            exam("5", on, 1),  # the same level twice: no tie to break
            exam("5", on, 1),
        )
    )
    g = ibis.memtable(
        guidance(
            guidance_row("1", D(FY, 8, 1), D(FY, 12, 1)),
            guidance_row("3", D(FY, 8, 1), D(FY, 12, 1), branch=None),
        )
    )
    snap = ibis.memtable(rows)
    for by in (("insurer",), ()):
        checkup, guided = rate_tables(snap, ck, g, FY, by=by)
        assert _rows(checkup) == _rows(checkup_rate_table(snap, ck, FY, by=by))
        assert _rows(guided) == _rows(guidance_rate_table(snap, ck, g, FY, by=by))
    [gr] = _rows(guided)
    assert (gr["targets"], gr["targets_intensive"], gr["completed"]) == (3, 1, 2)
    # Marked once per person: members 1 and 2 and each twin (their key, listed twice, is
    # counted again once).
    assert recounted == [4, 4]


def test_an_insurer_with_two_kinds_keeps_both_groups() -> None:
    # On DuckDB the window carries the insurer without its kind when each insurer has one;
    # a hand-made snapshot giving one insurer two kinds is counted by both, as the reference.
    rows = snapshot(member(1), member(2), member(3)).to_pylist()
    rows[1]["insurer_kind"] = "kokuho_kumiai"
    snap = ibis.memtable(snapshot(*rows))
    ck = ibis.memtable(checkups(exam("1", D(FY, 7, 1), 1), exam("2", D(FY, 7, 1), 2)))
    g = ibis.memtable(guidance(guidance_row("2", D(FY, 8, 1), D(FY, 12, 1))))
    for by in (("insurer",), ("insurer", "sex")):
        checkup, guided = rate_tables(snap, ck, g, FY, by=by)
        assert len(_rows(checkup)) == 2
        assert _rows(checkup) == _rows(checkup_rate_table(snap, ck, FY, by=by))
        assert _rows(guided) == _rows(guidance_rate_table(snap, ck, g, FY, by=by))
