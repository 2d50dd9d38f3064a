"""Pseudonymous linkage IDs (連結用ID), computed on the source side with a keyed hash.

NDB and 介護DB link a person's records through hashes of what each source holds
(incentives-grants-premiums.md §6; the field lists of ID1 and ID2 are UNCONFIRMED and read
from ``data/provision/linkage_ids.yaml``, kokuho.provision._id_fields; ID5 is confirmed). As
shipped:

- ``id1``: 保険者番号・被保険者証記号番号・生年月日・性別. It changes whenever the insured
  number changes (moving between insurers, 国保 → 後期高齢者医療 at 75, a new 記号番号), so the
  same person falls apart into several IDs; family members sharing 記号番号, birth date and sex
  (twins) fall together.
- ``id2``: カナ氏名・生年月日・性別, the kana normalised as the register normalises it
  (kokuho.registry.normalize_kana_name). It survives a change of insurer but breaks when the
  kana differs between sources (a misspelt reading, a name changed by marriage) and joins
  namesakes born the same day.
- ``id5``: the person's oldest individual insured number (個人単位被保険者番号: 保険者番号 +
  記号 + 番号 + 枝番) in the register's history (the 履歴照会・回答システム in the national
  scheme). It stays the same across changes of insurer and of name.

Each is HMAC-SHA256 under the source key with the ID kind as a prefix (so the same text hashed
for two kinds gives unrelated IDs). :func:`rekey` turns a source ID into the ID of one
provision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

import sqlalchemy as sa

from kokuho.ids import InsuredId
from kokuho.provision._id_fields import IdFields, linkage_id_fields
from kokuho.registry import normalize_kana_name, tables

_SEP = "\x1f"
#: 性別 as the register codes it (1 男, 2 女).
SEXES = (1, 2)


def _hmac(key: bytes, *parts: str) -> str:
    message = _SEP.join(parts).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _checked(birth_date: dt.date, sex: int) -> tuple[str, str]:
    if sex not in SEXES:
        raise ValueError(f"sex {sex!r}: 1 (男) or 2 (女)")
    return birth_date.isoformat(), str(sex)


def id1(
    key: bytes, insured: InsuredId, birth_date: dt.date, sex: int, *,
    fields: IdFields | None = None,
) -> str:  # fmt: skip
    """ID1-like: as shipped 保険者番号・記号・番号 (no 枝番)・生年月日・性別 (``fields``: the
    lists to use, default those in force; a caller computing many IDs reads them once)."""
    born, sex_text = _checked(birth_date, sex)
    values = {"insurer": insured.insurer, "symbol": insured.symbol, "number": insured.number,
              "branch": insured.branch, "birth_date": born, "sex": sex_text}  # fmt: skip
    names = (fields or linkage_id_fields()).id1
    return _hmac(key, "ID1", *(values[name] for name in names))


def id2(
    key: bytes, name_kana: str, birth_date: dt.date, sex: int, *,
    fields: IdFields | None = None,
) -> str:  # fmt: skip
    """ID2-like: as shipped カナ氏名 (normalised)・生年月日・性別."""
    names = (fields or linkage_id_fields()).id2
    kana = normalize_kana_name(name_kana)
    if not kana and "name_kana" in names:
        raise ValueError("カナ氏名 is empty")
    born, sex_text = _checked(birth_date, sex)
    values = {"name_kana": kana, "birth_date": born, "sex": sex_text}
    return _hmac(key, "ID2", *(values[name] for name in names))


def id5(key: bytes, oldest: InsuredId) -> str:
    """ID5-like: the oldest individual insured number, 枝番 included."""
    return _hmac(key, "ID5", oldest.insurer, oldest.symbol, oldest.number, oldest.branch)


def rekey(provision_key: bytes, source_id: str) -> str:
    """The ID one provision carries: HMAC(provision key, source ID). Fresh keys per provision
    make the IDs of two provisions unrelated."""
    return _hmac(provision_key, "PROVISION", source_id)


def oldest_insured_numbers(connection: sa.Connection) -> Mapping[int, InsuredId]:
    """Each person's oldest individual insured number in the register's history: the coverage
    acquired first (the lowest coverage id among those of one day). Merged records count with
    the person they were merged into, as their coverages now name it."""
    c = tables.coverages
    first = (
        sa.select(
            c.c.person_id,
            c.c.insurer_number,
            c.c.symbol,
            c.c.number,
            c.c.branch,
            sa.func.row_number()
            .over(partition_by=c.c.person_id, order_by=(c.c.acquired_on, c.c.coverage_id))
            .label("rank"),
        )
    ).subquery()
    rows = connection.execute(
        sa.select(first.c.person_id, first.c.insurer_number, first.c.symbol, first.c.number,
                  first.c.branch).where(first.c.rank == 1)
    )  # fmt: skip
    return {
        row.person_id: InsuredId(row.insurer_number, row.symbol, row.number, row.branch)
        for row in rows
    }
