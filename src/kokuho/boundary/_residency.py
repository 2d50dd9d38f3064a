"""被扶養者認定の国内居住要件: one dependant's facts against the rule table, answered 認定,
不認定 or 要確認 with the rule that decided it. Pure: the table is read by ``_residency_rules``."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

from kokuho.boundary._residency_rules import ResidencyRules, load_residency_rules

Residence = Literal["domestic", "abroad"]
Outcome = Literal["認定", "不認定", "要確認"]
RESIDENCES: Final = ("domestic", "abroad")
DEPENDANT: Final = 2  # the change feed's relationship code for 家族 (被扶養者)
_NOTICE_VISA: Final = "特定活動"


class ResidencyInputError(ValueError):
    """A fact that cannot be judged; ``field`` names the input (the CSV column) at fault."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Visa:
    """A 在留資格, with the 告示 number for 特定活動 (None when not given)."""

    name: str
    notice: int | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.notice}" if self.notice is not None else self.name


@dataclass(frozen=True, slots=True)
class DependantFacts:
    """What the insurer knows of one dependant on the day it judges (認定日).

    ``residence``: ``domestic`` (住民票 in Japan), ``abroad`` (a declared foreign address, no
    住民票), None (not known). ``visa`` None is a Japanese national or a visa not stated.
    ``exception_until`` is the last day the exception is expected to hold (留学 ending).
    """

    judged_on: dt.date
    residence: Residence | None
    visa: Visa | None = None
    relationship: int = DEPENDANT
    exception: str | None = None
    evidence: frozenset[str] = field(default_factory=frozenset)
    exception_until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ResidencyDecision:
    """The answer and why: ``rule`` is a stable code (``principle``, ``exception:1``,
    ``exclusion:medical_stay`` …), ``reason`` the Japanese sentence, ``source`` the legal
    basis from the table, ``confirmed`` False when the deciding rule is not confirmed."""

    outcome: Outcome
    rule: str
    reason: str
    source: str
    confirmed: bool = True
    missing_evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def parse_visa(raw: str, rules: ResidencyRules) -> Visa | None:
    """A ``visa_status`` value: empty, a 在留資格 name, or ``特定活動:NN`` with its 告示 number.
    Full-width forms are made half-width first."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    name, colon, number = text.partition(":")
    name = name.strip()
    if name not in rules.visa_names:
        raise ResidencyInputError("visa_status", f"{raw!r} is not a 在留資格 of the rule table")
    if not colon:
        return Visa(name)
    number = number.strip().removeprefix("告示").removesuffix("号")
    if name != _NOTICE_VISA:
        raise ResidencyInputError("visa_status", f"only {_NOTICE_VISA} takes a 告示 number")
    if not number.isascii() or not number.isdigit() or not 1 <= int(number) <= 999:
        raise ResidencyInputError("visa_status", f"{raw!r}: the 告示 number must be 1–999")
    return Visa(name, int(number))


def parse_exception(raw: str, rules: ResidencyRules) -> str | None:
    """A ``residency_exception`` value: empty or one of the table's codes (①–⑤ accepted)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    text = {"①": "1", "②": "2", "③": "3", "④": "4", "⑤": "5"}.get(text, text)
    if text not in rules.exceptions:
        known = ", ".join(f"{c} {e.short}" for c, e in rules.exceptions.items())
        raise ResidencyInputError("residency_exception", f"{raw!r} is not a code ({known})")
    return text


def parse_evidence(raw: str, rules: ResidencyRules) -> frozenset[str]:
    """An ``exception_evidence`` value: documents separated by ``;``, each one the table lists."""
    names = [unicodedata.normalize("NFC", p).strip() for p in raw.split(";")]
    names = [name for name in names if name]
    for name in names:
        if name not in rules.documents:
            known = ", ".join(sorted(rules.documents))
            raise ResidencyInputError(
                "exception_evidence", f"{name!r} is not a document of the table ({known})"
            )
    return frozenset(names)


def check_dependant(
    facts: DependantFacts, rules: ResidencyRules | None = None
) -> ResidencyDecision:
    """被扶養者認定 の国内居住要件 for one dependant on ``facts.judged_on``.

    The order is the rule's own: not yet in force → 認定 (the requirement did not exist); an
    excluded visa (健保則§37-3) → 不認定 even with a 住民票; a 住民票 in Japan → 認定 (原則);
    abroad without an exception → 不認定; abroad with an exception → 認定 when its evidence is
    complete and the exception has not ended, else 要確認 with what is missing.
    """
    table = rules or load_residency_rules()
    if facts.relationship != DEPENDANT:
        raise ResidencyInputError(
            "relationship", "only a 被扶養者 (2 家族) is judged: the requirement is theirs"
        )
    if facts.exception is not None and facts.exception not in table.exceptions:
        raise ResidencyInputError("residency_exception", f"{facts.exception!r} is not a code")
    unknown = facts.evidence - table.documents
    if unknown:
        raise ResidencyInputError("exception_evidence", f"unknown documents {sorted(unknown)}")
    if facts.judged_on < table.in_force_from:
        return ResidencyDecision(
            "認定",
            "not_in_force",
            f"国内居住要件は {table.in_force_from.isoformat()} 施行のため適用されない",
            table.principle_source,
        )
    if facts.visa is not None:
        for exclusion in table.exclusions:
            if facts.visa.name == exclusion.visa and facts.visa.notice in exclusion.notices:
                return ResidencyDecision(
                    "不認定",
                    f"exclusion:{exclusion.code}",
                    f"{exclusion.name} (告示{facts.visa.notice}号) は住民票があっても対象外",
                    exclusion.source,
                    exclusion.confirmed and exclusion.notices_confirmed,
                )
        if facts.visa.name == _NOTICE_VISA and facts.visa.notice is None:
            return ResidencyDecision(
                "要確認",
                "visa_notice_unknown",
                "特定活動の告示番号が不明: 医療滞在・ロングステイ (除外) か確認が必要",
                "; ".join(e.source for e in table.exclusions),
            )
    if facts.residence is None:
        return ResidencyDecision(
            "要確認", "residence_unknown", "住民票の有無が不明", table.principle_source
        )
    if facts.residence == "domestic":
        # A claimed exception is not needed then; saying so spares the clerk a document hunt.
        unneeded = ("住民票があるため例外の申立ては不要",) if facts.exception else ()
        return ResidencyDecision(
            "認定",
            "principle",
            f"原則: {table.principle} (住民票あり)",
            table.principle_source,
            notes=unneeded,
        )
    if facts.exception is None:
        return ResidencyDecision(
            "不認定",
            "principle",
            f"住民票がなく ({table.principle} を満たさない)、例外の申立てもない",
            table.principle_source,
        )
    return _abroad(facts, table, facts.exception)


def _abroad(facts: DependantFacts, table: ResidencyRules, code: str) -> ResidencyDecision:
    exception = table.exceptions[code]
    rule = f"exception:{code}"
    notes = (table.translation,)
    if facts.exception_until is not None and facts.exception_until < facts.judged_on:
        return ResidencyDecision(
            "要確認",
            rule,
            f"例外 {exception.short} は {facts.exception_until.isoformat()} に終了: 帰国 "
            "(住民票) か他の例外かを確認",
            exception.source,
            exception.confirmed,
            notes=notes,
        )
    if exception.needs == "judgement":
        return ResidencyDecision(
            "要確認",
            rule,
            f"例外 {exception.short}: 保険者の個別判断が必要",
            exception.source,
            exception.confirmed,
            notes=notes,
        )
    given = facts.evidence & set(exception.evidence)
    if exception.needs == "all":
        missing = tuple(d for d in exception.evidence if d not in given)
    else:
        missing = () if given else exception.evidence
    if missing:
        return ResidencyDecision(
            "要確認",
            rule,
            f"例外 {exception.short}: 証明書類が不足 ({'、'.join(missing)})",
            exception.source,
            exception.confirmed and exception.needs_confirmed,
            missing,
            notes,
        )
    return ResidencyDecision(
        "認定",
        rule,
        f"例外 {exception.short} ({exception.name}): 証明書類あり",
        exception.source,
        exception.confirmed and exception.needs_confirmed,
        notes=notes,
    )
