"""住民票の有無 from the resident register (住民基本台帳, loaded by ``kokuho residents load``): a
dependant found there on all five basic items has a 住民票 in Japan.

Only presence is answered, never the resident's own items: the register is another office's
data, and the check needs nothing more. Absence proves nothing (the dependant may live in
another prefecture), so a dependant not found stays "not known" (要確認), never "abroad".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.registry import differing_items, match_key, tables


@dataclass(frozen=True, slots=True)
class BasicItems:
    """The five basic items (基本5情報) of a dependant, as the file gives them."""

    name_kanji: str
    name_kana: str
    birth_date: dt.date
    sex: int
    address: str


ResidentLookup = Callable[[BasicItems], bool]


def resident_register_lookup(engine: sa.Engine) -> ResidentLookup:
    """A look-up that says whether the register holds a resident with the same five items,
    compared by the register's own rules (``differing_items``: the same as My Number linkage)."""
    residents = tables.residents
    items = (residents.c.name_kanji, residents.c.name_kana, residents.c.birth_date,
             residents.c.sex, residents.c.address)  # fmt: skip

    def found(person: BasicItems) -> bool:
        key = match_key(
            person.name_kanji, person.name_kana, person.birth_date, person.sex, person.address
        )
        query = sa.select(*items).where(residents.c.match_key == key)
        with engine.connect() as connection:
            candidates = connection.execute(query).mappings().all()
        ours = {
            "name_kanji": person.name_kanji, "name_kana": person.name_kana,
            "birth_date": person.birth_date, "sex": person.sex, "address": person.address,
        }  # fmt: skip
        return any(not differing_items(ours, dict(candidate)) for candidate in candidates)

    return found
