"""The closed catalogue of tables and items a provision may ask for, and the legal bases
(提供の根拠) of provisions and statutory requests, from ``data/provision/catalogue.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kokuho.registry import INSURER_KINDS
from kokuho.store import data_text, load_yaml

CATALOGUE_FILE = "provision/catalogue.yaml"
_FORMAT = "kokuho provision catalogue 1"


@dataclass(frozen=True, slots=True)
class Basis:
    """One legal basis: who asks, who provides, which tables it may cover."""

    key: str
    title: str
    law: str
    requester: str
    provider: str
    tables: tuple[str, ...]
    minimum_age: int | None
    confirmed: bool
    insurer_kinds: tuple[str, ...] | None = None
    """Whose members and claims it may hold, by the register's insurer kind (``kokuho_municipal``
    …); None: every insurer's."""
    names_provider: bool = False
    """The request names the providing insurer (保険者番号), one of ``insurer_kinds``, and the
    extract holds only that insurer's members and claims."""

    @property
    def statutory_request(self) -> bool:
        """True for the 法定の求め (都道府県 ← 市町村, 市町村 ← 広域連合)."""
        return self.key != "third_party"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Tables → items (with their Japanese titles), the bases, the longest term and the
    longest data period."""

    tables: Mapping[str, Mapping[str, str]]
    titles: Mapping[str, str]
    bases: Mapping[str, Basis]
    longest_term_days: int
    longest_period_days: int

    def basis(self, key: str) -> Basis:
        try:
            return self.bases[key]
        except KeyError:
            known = ", ".join(sorted(self.bases))
            raise ValueError(f"basis {key!r}: one of {known}") from None


def parse_catalogue(text: str, *, name: str = CATALOGUE_FILE) -> Catalogue:
    """Parses and checks the catalogue: every basis names known tables."""
    raw: Any = load_yaml(text, name)
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        raise ValueError(f"{name}: not a {_FORMAT!r} file")
    tables = {t: dict(spec["items"]) for t, spec in raw["tables"].items()}
    titles = {t: str(spec["title"]) for t, spec in raw["tables"].items()}
    bases = {}
    for key, spec in raw["bases"].items():
        unknown = [t for t in spec["tables"] if t not in tables]
        if unknown:
            raise ValueError(f"{name}: basis {key} names unknown table(s) {unknown}")
        kinds, names_provider = _scope(spec.get("scope"), name, key)
        bases[key] = Basis(
            key, spec["title"], " ".join(str(spec["law"]).split()), spec["requester"],
            spec["provider"], tuple(spec["tables"]), spec.get("minimum_age"),
            bool(spec["confirmed"]), kinds, names_provider,
        )  # fmt: skip
    bounds = [_days(raw, name, field) for field in ("longest_term_days", "longest_period_days")]
    return Catalogue(tables, titles, bases, *bounds)


def _scope(node: Any, name: str, key: str) -> tuple[tuple[str, ...] | None, bool]:
    """``scope``: ``insurer_kinds`` (``all`` or a list of the register's insurer kinds) and
    ``names_provider``. A basis that names its provider names at least one kind."""
    where = f"{name}: basis {key}: scope"
    if not isinstance(node, dict):
        raise ValueError(f"{where}: missing (insurer_kinds and names_provider)")
    kinds = node.get("insurer_kinds")
    names_provider = node.get("names_provider")
    if not isinstance(names_provider, bool):
        raise ValueError(f"{where}.names_provider: true or false")
    if kinds == "all" and not names_provider:
        return None, False
    if (
        not isinstance(kinds, list) or not kinds
        or any(kind not in INSURER_KINDS for kind in kinds)
    ):  # fmt: skip
        known = ", ".join(INSURER_KINDS)
        raise ValueError(f"{where}.insurer_kinds: 'all' or a list of {known}")
    return tuple(kinds), names_provider


def _days(raw: Mapping[str, Any], name: str, field: str) -> int:
    """``field.value``: a whole number of days, 1 or more (a bound of 0 would refuse all)."""
    node = raw.get(field)
    value = node.get("value") if isinstance(node, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {field}.value: must be a whole number of days, 1 or more")
    return value


def catalogue() -> Catalogue:
    """The catalogue in force (a local copy in $KOKUHO_HOME/data wins, docs/data.md)."""
    return parse_catalogue(data_text(CATALOGUE_FILE))
