"""The rule table of 被扶養者の国内居住要件 (``data/boundary/dependant_residency.yaml``), read
node by node so that every problem names the file, the line and the dotted field. Keys are a closed
set: a misspelt key must not silently drop a rule."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

from kokuho.store import (
    DataFileError,
    FileProblem,
    FileProblemsError,
    YamlNode,
    data_path,
    data_text,
)

RULES_FILE: Final = "boundary/dependant_residency.yaml"
_NEEDS: Final = ("all", "any", "judgement")
_SOURCED: Final = frozenset({"source", "confirmed"})

Needs = Literal["all", "any", "judgement"]


@dataclass(frozen=True, slots=True)
class ResidencyException:
    """One exception of 健保則§37-2 (海外居住でも国内居住要件を満たす者)."""

    code: str
    name: str
    short: str
    evidence: tuple[str, ...]
    needs: Needs
    source: str
    confirmed: bool
    needs_confirmed: bool = True


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One group excluded although it holds a 住民票 (健保則§37-3): a visa and its 告示 numbers."""

    code: str
    name: str
    visa: str
    notices: tuple[int, ...]
    source: str
    confirmed: bool
    notices_confirmed: bool = True


@dataclass(frozen=True, slots=True)
class ResidencyRules:
    """The whole table: from when the requirement applies, its exceptions and exclusions."""

    in_force_from: dt.date
    principle: str
    principle_source: str
    exceptions: dict[str, ResidencyException]
    exclusions: tuple[Exclusion, ...]
    translation: str
    visa_names: frozenset[str]
    file: str

    @property
    def documents(self) -> frozenset[str]:
        """Every evidence document some exception lists."""
        return frozenset(d for e in self.exceptions.values() for d in e.evidence)


def load_residency_rules() -> ResidencyRules:
    """The shipped table (or its local copy in ``$KOKUHO_HOME/data``).

    Raises FileProblemsError naming file, line and field for anything it cannot use.
    """
    file = str(data_path(RULES_FILE))
    try:
        text = data_text(RULES_FILE)
    except DataFileError as error:
        raise FileProblemsError(
            [FileProblem(str(error.path), error.line, "(file)", error.reason)]
        ) from None
    return parse_residency_rules(text, file)


def parse_residency_rules(text: str, file: str) -> ResidencyRules:
    """The table in ``text`` (the YAML of ``file``); raises FileProblemsError."""
    top = _Node.compose(text, file).mapping(
        frozenset(
            {"in_force", "principle", "exceptions", "translation", "exclusions", "visa_statuses"}
        )  # fmt: skip
    )
    named = frozenset({"name"}) | _SOURCED
    in_force_node = _need(top, "in_force", file)
    in_force = in_force_node.mapping(frozenset({"from"}) | _SOURCED)
    start = _need(in_force, "from", file, in_force_node).date()
    _sourced(in_force, file, in_force_node)
    principle_node = _need(top, "principle", file)
    principle = principle_node.mapping(named)
    translation_node = _need(top, "translation", file)
    translation = translation_node.mapping(named)
    _sourced(translation, file, translation_node)
    visas_node = _need(top, "visa_statuses", file)
    visas = visas_node.mapping(frozenset({"names"}) | _SOURCED)
    _sourced(visas, file, visas_node)
    names = frozenset(n.text() for n in _need(visas, "names", file, visas_node).sequence())
    return ResidencyRules(
        in_force_from=start,
        principle=_need(principle, "name", file, principle_node).text(),
        principle_source=_sourced(principle, file, principle_node)[0],
        exceptions=_exceptions(_need(top, "exceptions", file)),
        exclusions=_exclusions(_need(top, "exclusions", file), names),
        translation=_need(translation, "name", file, translation_node).text(),
        visa_names=names,
        file=file,
    )


def _exceptions(node: _Node) -> dict[str, ResidencyException]:
    allowed = frozenset({"code", "name", "short", "evidence", "needs", "needs_confirmed",
                         "needs_source"}) | _SOURCED  # fmt: skip
    out: dict[str, ResidencyException] = {}
    for item in node.sequence():
        fields = item.mapping(allowed)
        code_node = _need(fields, "code", item.file, item)
        code = code_node.text()
        if code in out:
            raise code_node.error(f"exception {code!r} is listed twice")
        evidence_node = _need(fields, "evidence", item.file, item)
        evidence = tuple(d.text() for d in evidence_node.sequence())
        if len(set(evidence)) != len(evidence):
            raise evidence_node.error("a document is listed twice")
        needs_node = _need(fields, "needs", item.file, item)
        needs = needs_node.text()
        if needs not in _NEEDS:
            raise needs_node.error(f"{needs!r} is not one of {', '.join(_NEEDS)}")
        if (needs == "judgement") != (not evidence):
            raise needs_node.error("judgement goes with an empty evidence list, and only it")
        source, confirmed = _sourced(fields, item.file, item)
        needs_flag = fields.get("needs_confirmed")
        if needs_flag is not None and "needs_source" not in fields:
            raise needs_flag.error("needs_confirmed goes with a needs_source")
        out[code] = ResidencyException(
            code,
            _need(fields, "name", item.file, item).text(),
            _need(fields, "short", item.file, item).text(),
            evidence,
            needs,  # type: ignore[arg-type]  # checked against _NEEDS just above
            source,
            confirmed,
            needs_flag.boolean() if needs_flag is not None else True,
        )
    if not out:
        raise node.error("lists no exception")
    return out


def _exclusions(node: _Node, visa_names: frozenset[str]) -> tuple[Exclusion, ...]:
    allowed = frozenset({"code", "name", "visa", "notices", "notices_confirmed",
                         "notices_source"}) | _SOURCED  # fmt: skip
    out: list[Exclusion] = []
    seen: set[tuple[str, int]] = set()
    for item in node.sequence():
        fields = item.mapping(allowed)
        notices_node = _need(fields, "notices", item.file, item)
        notices = tuple(n.integer(1, 999) for n in notices_node.sequence())
        visa_node = _need(fields, "visa", item.file, item)
        visa = visa_node.text()
        if visa not in visa_names:
            # A visa the input cannot name could never match: the exclusion would be dead.
            raise visa_node.error(f"{visa!r} is not among visa_statuses.names")
        for number in notices:
            if (visa, number) in seen:
                raise notices_node.error(f"{visa} 告示{number}号 is excluded twice")
            seen.add((visa, number))
        source, confirmed = _sourced(fields, item.file, item)
        notices_flag = fields.get("notices_confirmed")
        if notices_flag is not None and "notices_source" not in fields:
            raise notices_flag.error("notices_confirmed goes with a notices_source")
        out.append(
            Exclusion(
                _need(fields, "code", item.file, item).text(),
                _need(fields, "name", item.file, item).text(),
                visa,
                notices,
                source,
                confirmed,
                notices_flag.boolean() if notices_flag is not None else True,
            )
        )
    return tuple(out)


def _need(fields: dict[str, _Node], key: str, file: str, parent: _Node | None = None) -> _Node:
    node = fields.get(key)
    if node is None:
        where = parent.line if parent else 1
        path = f"{parent.path}.{key}" if parent and parent.path else key
        raise FileProblemsError([FileProblem(file, where, path, "is missing")])
    return node


def _sourced(fields: dict[str, _Node], file: str, parent: _Node | None = None) -> tuple[str, bool]:
    """Every rule carries its source and says whether the source confirmed it."""
    source = _need(fields, "source", file, parent).text()
    return source, _need(fields, "confirmed", file, parent).boolean()


class _Node(YamlNode):
    """A node of the residency table: text in NFC, bounded whole numbers, dates."""

    def text(self) -> str:
        return unicodedata.normalize("NFC", super().text())

    def integer(self, low: int, high: int) -> int:
        raw = self.text()
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise self.error(f"{raw!r} is not a whole number from {low} to {high}")
        return int(raw)

    def date(self) -> dt.date:
        raw = self.text()
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise self.error(f"{raw!r} is not a date (YYYY-MM-DD)") from None
