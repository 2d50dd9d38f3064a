"""The linkage rate between 医療 and 介護 by ID kind (連結率), measured on the source side.

The unit is the 介護 number (保険者番号, 被保険者番号) of the 要介護認定 records, the person as
介護DB knows them. Each ID kind is computed on each side from what that side holds, under the
same source key, and a number is linked when its ID finds a partner (kokuho's model of the
national scheme; the field lists of ID1 and ID2 are UNCONFIRMED and read from
``data/provision/linkage_ids.yaml``; as shipped):

- **ID2** (カナ氏名・生年月日・性別): the number's ID2 against the ID2 of every 医療 person of the
  register. It fails when the kana differs between the sources (a reading written otherwise).
- **ID1** (保険者番号・被保険者番号・生年月日・性別): ID1 carries the number itself, so a record
  joins a person only under the number the 介護 insurer holds for them on the reference day
  (the certifications valid that day). Records under an earlier number carry an ID1 nobody
  holds any more: they fail when the insured number changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kokuho.care import Certification
from kokuho.ids import InsuredId
from kokuho.provision._id_fields import IdFields, linkage_id_fields
from kokuho.provision._pseudonym import id1, id2

Number = tuple[str, str]


@dataclass(frozen=True, slots=True)
class MedicalPerson:
    """A person of the 医療 side as the source holds them (never leaves the source)."""

    person_id: int
    name_kana: str
    birth_date: dt.date
    sex: int
    municipality: str | None


@dataclass(frozen=True, slots=True)
class LinkageRate:
    """Per ID kind: how many 介護 numbers link, and which do not."""

    numbers: int
    linked: dict[str, int]
    unlinked: dict[str, tuple[Number, ...]]

    def rate(self, kind: str) -> float:
        return self.linked[kind] / self.numbers if self.numbers else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "numbers": self.numbers,
            "kinds": {
                kind: {"linked": self.linked[kind], "unlinked": len(self.unlinked[kind]),
                       "rate": round(self.rate(kind), 4)}
                for kind in self.linked
            },
        }  # fmt: skip


def _care_id1(key: bytes, cert: Certification, fields: IdFields) -> str:
    return id1(key, InsuredId(cert.insurer_number, "", cert.insured_number, ""),
               cert.birth_date, cert.sex, fields=fields)  # fmt: skip


def linkage_rate(
    key: bytes, persons: Sequence[MedicalPerson], certifications: Sequence[Certification],
    on: dt.date,
) -> LinkageRate:  # fmt: skip
    """The linkage rate of the 介護 numbers of ``certifications`` to ``persons`` by ID1 and
    ID2, ``on`` being the reference day of the 介護 insurer's current numbers."""
    latest: dict[Number, Certification] = {}
    for cert in sorted(certifications, key=lambda c: c.valid_from):
        latest[(cert.insurer_number, cert.insured_number)] = cert
    fields = linkage_id_fields()
    medical = {id2(key, p.name_kana, p.birth_date, p.sex, fields=fields) for p in persons}
    current = {_care_id1(key, c, fields) for c in certifications
               if c.valid_from <= on <= c.valid_to}  # fmt: skip
    unlinked: dict[str, list[Number]] = {"ID1": [], "ID2": []}
    for number, cert in sorted(latest.items()):
        if _care_id1(key, cert, fields) not in current:
            unlinked["ID1"].append(number)
        if id2(key, cert.name_kana, cert.birth_date, cert.sex, fields=fields) not in medical:
            unlinked["ID2"].append(number)
    return LinkageRate(
        len(latest),
        {kind: len(latest) - len(missing) for kind, missing in unlinked.items()},
        {kind: tuple(missing) for kind, missing in unlinked.items()},
    )
