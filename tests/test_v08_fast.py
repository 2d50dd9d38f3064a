"""The text layout of the checkup document (checkups/_v08_fast.py) against the lxml tree it
replaces: the same bytes for every document, including values that need escaping (handed to
lxml), and the same errors."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokuho.checkups import Checkup, Observation, _v08_fast
from kokuho.checkups._v08_api import DocumentRejected, read_document
from kokuho.checkups._v08_write import write_document
from kokuho.synth import generate

# Plain characters and every kind lxml escapes or refuses: markup, quotes, controls, tabs.
_AWKWARD = "&<>\"'\t\n\r\x00\x01\x7f\x85 香川-."
_CHARS = "0123456789AZaz .-/香川" + _AWKWARD


def _text(rng: random.Random, allow_empty: bool = True) -> str:
    size = rng.randint(0 if allow_empty else 1, 6)
    # Mostly plain values (the fast path), now and then an awkward one (the lxml path).
    alphabet = _CHARS if rng.random() < 0.01 else "0123456789ABCmg/dL.香川"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _observation(rng: random.Random, code: str) -> Observation:
    kind = rng.choice(["PQ", "CD", "CO", "ST", ""] * 50 + ["XX"])
    maybe = lambda: None if rng.random() < 0.3 else _text(rng)  # noqa: E731
    return Observation(
        code=code,
        kind=kind,
        value=maybe(),
        unit=maybe(),
        code_system=maybe(),
        not_done=rng.random() < 0.2,
        null_flavor=None if rng.random() < 0.7 else rng.choice(["NI", "UNK", "NA"] * 20 + ["<&>"]),
    )


def _checkup(rng: random.Random) -> Checkup:
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 25_000))
    codes = {f"{rng.randint(0, 10**17 - 1):017d}" for _ in range(rng.randint(0, 30))}
    return Checkup(
        document="",
        insurer=rng.choice(["370015", "00370015", "06370019", "3701&"]),
        symbol=rng.choice(["", "12", "香川", "A-1", "a<b"]),
        number=_text(rng, allow_empty=False),
        branch=rng.choice([None, "00", "01", "\t"]),
        sex=rng.choice([1, 2]),
        birth_date=birth,
        exam_date=birth + dt.timedelta(days=rng.randint(0, 30_000)),
        institution=rng.choice(["3710000012", "3710000020", "37100&0012"]),
        observations={code: _observation(rng, code) for code in sorted(codes)},
        ticket=rng.choice([None, "12345678901", "1234\n"]),
    )


def _both(checkup: Checkup) -> tuple[bytes | str, bytes | str]:
    """What each path gives: the bytes, or the error's type and message."""
    answers: list[bytes | str] = []
    for writer in (write_document, lambda c: _v08_fast.write_document(c, write_document)):
        try:
            answers.append(writer(checkup))
        except (ValueError, TypeError) as error:
            answers.append(f"{type(error).__name__}: {error}")
    return answers[0], answers[1]


@pytest.mark.parametrize("seed", range(8))
def test_same_bytes_or_same_error_as_lxml_on_random_documents(seed: int) -> None:
    rng = random.Random(seed)
    fast = 0
    for _ in range(250):
        checkup = _checkup(rng)
        reference, candidate = _both(checkup)
        assert candidate == reference, checkup
        try:
            _v08_fast._text(checkup)
            fast += 1
        except _v08_fast._NotPlain:
            pass
    # Both paths are exercised: the comparison is not vacuous.
    assert 0 < fast < 250


def test_plain_document_takes_the_text_layout_and_reads_back() -> None:
    checkup = Checkup(
        document="h.xml",
        insurer="370015",
        symbol="香川",
        number="1234",
        branch="00",
        sex=2,
        birth_date=dt.date(1960, 2, 29),
        exam_date=dt.date(2024, 4, 1),
        institution="3710000012",
        observations={
            "9N001000000000001": Observation("9N001000000000001", "PQ", "160.5", "cm"),
            "9N501000000000011": Observation(
                "9N501000000000011", "CD", "1", "1.2.392.200119.6.1001"
            ),
            "9N736000000000011": Observation("9N736000000000011", "ST", "所見なし"),
            "9N701000000000011": Observation(
                "9N701000000000011", "", not_done=True, null_flavor="NI"
            ),
        },
        ticket="12345678901",
    )
    _v08_fast._text(checkup)  # plain: no fallback
    data = _v08_fast.write_document(checkup, write_document)
    assert data == write_document(checkup)
    read = read_document(data, "h.xml")  # the reader accepts it
    assert read.observations.keys() == checkup.observations.keys()
    assert read.ticket == checkup.ticket


def test_awkward_values_are_escaped_by_the_lxml_path() -> None:
    base = Checkup(
        document="h.xml",
        insurer="370015",
        symbol="",
        number="1",
        branch=None,
        sex=1,
        birth_date=dt.date(1950, 1, 1),
        exam_date=dt.date(2024, 1, 1),
        institution="3710000012",
        observations={"9N736000000000011": Observation("9N736000000000011", "ST", 'a<&>"b')},
    )
    with pytest.raises(_v08_fast._NotPlain):
        _v08_fast._text(base)
    data = _v08_fast.write_document(base, write_document)
    assert b'a&lt;&amp;&gt;"b' in data
    assert data == write_document(base)


def test_an_empty_st_text_goes_to_lxml() -> None:
    checkup = Checkup(
        document="h.xml",
        insurer="370015",
        symbol="",
        number="1",
        branch=None,
        sex=1,
        birth_date=dt.date(1950, 1, 1),
        exam_date=dt.date(2024, 1, 1),
        institution="3710000012",
        observations={"9N736000000000011": Observation("9N736000000000011", "ST", "")},
    )
    assert _v08_fast.write_document(checkup, write_document) == write_document(checkup)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=8), st.text(max_size=8))
def test_any_text_value_gives_the_lxml_bytes(value: str, unit: str) -> None:
    checkup = Checkup(
        document="h.xml",
        insurer="370015",
        symbol="",
        number="1",
        branch=None,
        sex=1,
        birth_date=dt.date(1950, 1, 1),
        exam_date=dt.date(2024, 1, 1),
        institution="3710000012",
        observations={
            "9N001000000000001": Observation("9N001000000000001", "PQ", value, unit),
            "9N736000000000011": Observation("9N736000000000011", "ST", value),
        },
    )
    reference, candidate = _both(checkup)
    assert candidate == reference


def _read_back(data: bytes) -> Observation | list[str]:
    try:
        return read_document(data, "h.xml").observations["9N016160100000001"]
    except DocumentRejected as error:
        return [str(p) for p in error.problems]


@pytest.mark.parametrize(
    "value",
    [
        "999.9",  # the largest 腹囲 its format (NNN.N) allows
        "1000.0",  # one step above
        "1e308",
        "99999999",
        "1" + "0" * 300,
        "Infinity",
        "NaN",
        "1e309",
        "9" * 400,
    ],
)
def test_absurd_values_give_the_same_bytes_and_the_same_refusal_on_both_paths(
    value: str,
) -> None:
    """A 腹囲 of 1e308 or NaN: both writers write the same bytes and the reader refuses them
    alike (the range check is the reader's, whichever writer made the file)."""
    checkup = Checkup(
        document="h.xml",
        insurer="370015",
        symbol="",
        number="1",
        branch=None,
        sex=1,
        birth_date=dt.date(1950, 1, 1),
        exam_date=dt.date(2024, 1, 1),
        institution="3710000012",
        observations={
            "9N016160100000001": Observation("9N016160100000001", "PQ", value, "cm"),
        },
    )
    _v08_fast._text(checkup)  # plain: the text layout writes it
    reference, candidate = _both(checkup)
    assert isinstance(reference, bytes) and candidate == reference
    answer = _read_back(reference)
    if value == "999.9":
        assert answer == Observation("9N016160100000001", "PQ", value, "cm")
    else:
        assert isinstance(answer, list) and len(answer) == 1
        assert answer[0].startswith("h.xml: observation 9N016160100000001: value ")


def test_the_synth_archives_are_the_bytes_of_the_lxml_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The synth's own checkups (the demo's documents, small): every archive the same bytes
    whether its documents are built as text or as lxml trees."""

    def archives(out: Path) -> dict[str, bytes]:
        generate(out, seed=7, persons=1500, years=2, claims=False, incentives=False, care=False)
        return {p.name: p.read_bytes() for p in sorted((out / "checkups").iterdir())}

    fast = archives(tmp_path / "text")
    monkeypatch.setattr(_v08_fast, "write_document", lambda checkup, fallback: fallback(checkup))
    reference = archives(tmp_path / "lxml")
    assert sum(name.endswith(".zip") for name in reference) > 0
    assert fast == reference
