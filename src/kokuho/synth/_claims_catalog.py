"""The drugs and 傷病名 the synthetic claims may use, from the masters kokuho ships.

Drugs come from the sample 医薬品マスター joined to the MHLW list 「各先発医薬品の後発医薬品の
有無に関する情報」 on the 薬価基準収載医薬品コード, grouped by 薬効 (its first 4 characters) and
ingredient. An ingredient can then be prescribed as its originator or one of its generics,
which is what the 後発医薬品使用割合 counts. 傷病名 are picked by ICD-10 from the sample
傷病名マスター; a condition the master does not cover is written as 未コード化傷病名 (0000999)
with its name.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kokuho.claims import (
    read_disease_master,
    read_drug_master,
    read_generic_list,
    sample_masters,
)

#: MHLW list categories on each side of the generic share (data/generic_classes.yaml of
#: kokuho.claims reads them the same way): 3/★ generic, 2/☆ originator with a generic.
GENERIC = frozenset({"3", "★"})
ORIGINATOR_WITH_GENERIC = frozenset({"2", "☆"})
UNCODED = "0000999"  # 未コード化傷病名
ORAL, INJECTION, EXTERNAL = "oral", "injection", "external"
#: Units that name the route by themselves (錠 and カプセル are taken by mouth, a キット is
#: injected, a 枚 is a patch); others (g, mL …) are read from the 薬価基準コード.
_UNIT_ROUTE = {
    "錠": ORAL, "カプセル": ORAL, "包": ORAL, "丸": ORAL, "枚": EXTERNAL, "キット": INJECTION,
    "瓶": INJECTION, "管": INJECTION, "筒": INJECTION, "袋": INJECTION,
}  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class Product:
    """One 医薬品コード: its 薬価 per unit, route and side of the generic share. Each code
    has one Product, compared and hashed by identity (cheap as a cache key)."""

    code: str
    price: float
    unit: str
    route: str
    generic: bool  # 後発医薬品 (3, ★)
    originator: bool  # 後発医薬品のある先発医薬品 (2, ☆)


@dataclass(frozen=True, slots=True)
class Ingredient:
    """The products of one ingredient and route within a 薬効."""

    efficacy: str
    key: str
    route: str
    originators: tuple[Product, ...]  # with a generic (2, ☆)
    generics: tuple[Product, ...]  # (3, ★)
    others: tuple[Product, ...]  # originators without a generic and drugs not listed

    @property
    def has_choice(self) -> bool:
        """Both an originator and a generic exist: the prescriber's choice counts."""
        return bool(self.originators and self.generics)


@dataclass
class Catalog:
    """Ingredients by 薬効, and 傷病名コード by ICD-10 prefix."""

    by_efficacy: dict[str, tuple[Ingredient, ...]]
    diseases: dict[str, str]  # ICD-10 (as in the master) → 傷病名コード
    master_files: tuple[Path, ...] = ()
    products: dict[str, Product] = field(default_factory=dict)

    def ingredients(self, efficacy: str, route: str | None = ORAL) -> tuple[Ingredient, ...]:
        found = self.by_efficacy.get(efficacy, ())
        return found if route is None else tuple(i for i in found if i.route == route)

    def efficacies(self, candidates: Iterable[str], route: str = ORAL) -> tuple[str, ...]:
        """Those of ``candidates`` the masters hold drugs for (by ``route``), in order."""
        return tuple(e for e in candidates if self.ingredients(e, route))

    def disease(self, icd10: Sequence[str]) -> str:
        """The 傷病名コード of the first listed ICD-10 (prefix) the master has, else
        未コード化 (0000999)."""
        for wanted in icd10:
            code = self.diseases.get(wanted)
            if code:
                return code
        return UNCODED

    def copy_masters(self, folder: Path) -> list[Path]:
        """Copies the master files used into ``folder``; returns the copies."""
        folder.mkdir(parents=True, exist_ok=True)
        copies = []
        for path in self.master_files:
            target = folder / path.name
            shutil.copyfile(path, target)
            copies.append(target)
        return copies


def route_of(yakka_code: str, unit: str) -> str:
    """投与経路: from the unit when it tells (錠, カプセル, 枚, キット …), else from the
    薬価基準収載医薬品コード, whose characters 5–7 are 001–399 内用, 400–699 注射 and 700–999
    外用 (the sample master's made-up ingredient digits 9xx say nothing: its units do)."""
    found = _UNIT_ROUTE.get(unit.strip())
    if found is not None:
        return found
    part = yakka_code[4:7]
    if len(part) == 3 and part.isdigit():
        number = int(part)
        return ORAL if number < 400 else INJECTION if number < 700 else EXTERNAL
    return ORAL


def load_catalog(
    drugs: Path | None = None, generic_list: Path | None = None, diseases: Path | None = None
) -> Catalog:
    """The catalog of the given masters, or of the sample masters kokuho ships."""
    if drugs is None or generic_list is None or diseases is None:
        sample = sample_masters()
        drugs = drugs or sample.drugs
        generic_list = generic_list or sample.generic_list
        diseases = diseases or sample.diseases
    listed = {row.yakka_code: row for row in read_generic_list(generic_list)}
    groups: dict[tuple[str, str, str], list[Product]] = {}
    products: dict[str, Product] = {}
    for row in read_drug_master(drugs):
        if row.price <= 0 or len(row.yakka_code) < 4:
            continue
        entry = listed.get(row.yakka_code)
        category = entry.category if entry is not None else ""
        route = route_of(row.yakka_code, row.unit)
        product = Product(
            code=row.code,
            price=float(row.price),
            unit=row.unit,
            route=route,
            generic=category in GENERIC,
            originator=category in ORIGINATOR_WITH_GENERIC,
        )
        products[row.code] = product
        ingredient = entry.ingredient.strip() if entry is not None and entry.ingredient else ""
        key = ingredient or row.yakka_code[:7]
        groups.setdefault((row.yakka_code[:4], key, route), []).append(product)
    by_efficacy: dict[str, list[Ingredient]] = {}
    for (efficacy, key, route), items in sorted(groups.items()):
        items.sort(key=lambda p: p.code)
        by_efficacy.setdefault(efficacy, []).append(
            Ingredient(
                efficacy=efficacy,
                key=key,
                route=route,
                originators=tuple(p for p in items if p.originator),
                generics=tuple(p for p in items if p.generic),
                others=tuple(p for p in items if not p.originator and not p.generic),
            )
        )
    codes: dict[str, str] = {}
    rows = [(row.icd10.strip().upper().replace(".", ""), row.code) for row in
            read_disease_master(diseases)]  # fmt: skip
    # Every prefix of an ICD-10 names the disease ("E11" finds "E119"); the most general
    # disease of a prefix wins.
    for icd, code in sorted(rows, key=lambda r: (len(r[0]), r[1])):
        for length in range(3, len(icd) + 1):
            codes.setdefault(icd[:length], code)
    return Catalog(
        by_efficacy={k: tuple(v) for k, v in by_efficacy.items()},
        diseases=codes,
        master_files=(drugs, generic_list, diseases),
        products=products,
    )
