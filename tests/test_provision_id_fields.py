"""The field lists of ID1 and ID2 come from ``data/provision/linkage_ids.yaml`` (recalled, not
read in an official definition: ``confirmed: false``): a local copy that changes a list
changes the IDs; a field outside the closed set is refused naming the file and the field, by
the loader and by ``kokuho provision extract``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kokuho.ids import InsuredId
from kokuho.provision import ID_FIELDS_FILE, id1, id2, linkage_id_fields
from kokuho.store import FileProblemsError, data_path
from tests.clihome import invoke, sqlite_home

KEY = b"k" * 32
BORN = dt.date(1950, 4, 2)
KOKUHO = InsuredId("00370015", "高松", "1234", "01")
TWIN = InsuredId("00370015", "高松", "1234", "02")


def _copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> Path:
    """A local copy of the shipped file with ``old`` replaced by ``new``."""
    shipped = data_path(ID_FIELDS_FILE).read_text(encoding="utf-8")
    assert shipped.count(old) == 1
    home = tmp_path / "home"
    copy = home / "data" / ID_FIELDS_FILE
    copy.parent.mkdir(parents=True)
    copy.write_text(shipped.replace(old, new), encoding="utf-8")
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    return copy


def test_the_shipped_lists_are_the_recalled_ones() -> None:
    fields = linkage_id_fields()
    assert fields.id1 == ("insurer", "symbol", "number", "birth_date", "sex")
    assert fields.id2 == ("name_kana", "birth_date", "sex")


def test_a_changed_file_changes_the_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (
        id1(KEY, KOKUHO, BORN, 1),
        id1(KEY, TWIN, BORN, 1),
        id2(KEY, "ヤマダ タロウ", BORN, 1),
    )
    # As shipped, ID1 has no 枝番: the twins share it.
    assert before[0] == before[1]
    _copy(tmp_path, monkeypatch, "fields: [insurer, symbol, number, birth_date, sex]",
          "fields: [insurer, symbol, number, branch, birth_date, sex]")  # fmt: skip
    with_branch = (id1(KEY, KOKUHO, BORN, 1), id1(KEY, TWIN, BORN, 1))
    assert with_branch[0] != with_branch[1] and before[0] not in with_branch
    assert id2(KEY, "ヤマダ タロウ", BORN, 1) == before[2]  # ID2's list is unchanged


def test_the_order_of_the_fields_is_the_order_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = id2(KEY, "ヤマダ タロウ", BORN, 1)
    _copy(tmp_path, monkeypatch, "fields: [name_kana, birth_date, sex]",
          "fields: [birth_date, sex, name_kana]")  # fmt: skip
    assert id2(KEY, "ヤマダ タロウ", BORN, 1) != before


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ("[name_kana, birth_date, sex, address]",
         "unknown field 'address' \\(one of name_kana, birth_date, sex\\)"),
        ("[insurer, birth_date, sex]", "unknown field 'insurer'"),
        ("[name_kana, sex, sex]", "names a field twice"),
        ("[]", "must be a list of one field or more"),
    ],
)  # fmt: skip
def test_a_bad_field_list_is_refused_naming_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: str, reason: str
) -> None:
    copy = _copy(tmp_path, monkeypatch, "fields: [name_kana, birth_date, sex]",
                 f"fields: {fields}")  # fmt: skip
    with pytest.raises(FileProblemsError, match=f"^{copy}: id2.fields: {reason}"):
        id2(KEY, "ヤマダ タロウ", BORN, 1)
    with pytest.raises(FileProblemsError, match="id2.fields"):
        id1(KEY, KOKUHO, BORN, 1)  # the file is refused whole


def test_the_extract_command_names_a_bad_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_home(tmp_path, monkeypatch)[1].dispose()
    copy = tmp_path / "home" / "data" / ID_FIELDS_FILE
    assert invoke("data", "copy", ID_FIELDS_FILE).exit_code == 0
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace("[insurer, symbol,", "[insurer, name_kana,"), encoding="utf-8")
    for args in (
        ("reviewer", "委員 丙", "--by", "事務局", "--on", "2024-05-01"),
        ("apply", "--basis", "third_party", "--applicant", "研究者 甲", "--organisation", "大学",
         "--purpose", "解析", "--public-interest", "評価", "--place", "香川県",
         "--user", "研究者 甲",
         "--item", "persons.sex", "--from", "2023-04-01", "--to", "2024-03-31",
         "--on", "2024-05-01"),
        ("review", "P000001", "--by", "委員 丙", "--decision", "approve", "--minutes", "議事",
         "--term-until", "2025-03-31", "--on", "2024-05-10"),
    ):  # fmt: skip
        done = invoke("provision", *args)
        assert done.exit_code == 0, done.output
    out = tmp_path / "out"
    refused = invoke("provision", "extract", "P000001", "--out", str(out), "--by", "事務局",
                     "--on", "2024-05-20")  # fmt: skip
    assert refused.exit_code == 1
    assert f"{copy}: id1.fields: unknown field 'name_kana'" in refused.output
    assert "Traceback" not in refused.output and not out.exists()
