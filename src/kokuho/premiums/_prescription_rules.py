"""The prescription rule file (data/premiums/prescription.yaml): the periods of 時効 of the
徴収権 and of the 還付請求権, what renews them (督促, 一部納付), the grounds of 不納欠損 and how a
write-off enters the 収納率, per levy form (保険料 under 国保法, 保険税 under 地方税法). Read
through kokuho.store, so a local copy replaces the shipped file; every value is unconfirmed
there (docs/premiums-collection.md, "時効 and 不納欠損")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from kokuho.store import DataFileError, data_path, data_text, load_yaml

RULES_FILE: Final = "premiums/prescription.yaml"

Form = Literal["premium", "tax"]
FORMS: Final[tuple[Form, ...]] = ("premium", "tax")
WriteOffsInCharged = Literal["kept", "deducted"]
#: The ground `kokuho premiums write-offs run` finds by itself.
PRESCRIPTION: Final = "prescription"


class PrescriptionRuleError(DataFileError):
    """The rule file cannot be used; the message names the file (the local copy when there is
    one) and the key. A DataFileError: every command ends on it with its one line."""


@dataclass(frozen=True, slots=True)
class FormRule:
    """時効 of one levy form (保険料 or 保険税)."""

    form: Form
    label: str
    collection_years: int
    refund_years: int
    reminder_renews: bool
    #: The renewed period is counted from the day after ``anchor`` + ``days``.
    reminder_anchor: Literal["deadline", "issued"]
    reminder_days: int
    first_reminder_only: bool
    payment_acknowledges: bool


@dataclass(frozen=True, slots=True)
class Ground:
    """A ground of 不納欠損 (時効完成, 執行停止 …)."""

    id: str
    label: str
    after_years: int | None
    source: str


@dataclass(frozen=True, slots=True)
class PrescriptionRules:
    default_form: Form
    municipal_forms: dict[str, Form]
    forms: dict[Form, FormRule]
    write_offs_in_charged: WriteOffsInCharged
    grounds: dict[str, Ground]

    def form_of(self, municipality: str) -> FormRule:
        """The rule of the form ``municipality`` levies."""
        return self.forms[self.municipal_forms.get(municipality, self.default_form)]


def _fail(key: str, reason: str) -> PrescriptionRuleError:
    return PrescriptionRuleError(Path(RULES_FILE), 0, f"{key}: {reason}")


def _value(raw: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    entry = raw.get(key) if isinstance(raw, dict) else None
    value = entry.get("value") if isinstance(entry, dict) else None
    # A bool is an int to isinstance: a year count of `true` is refused.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _fail(key, f"needs a value ({names})")
    if not str(entry.get("source", "")).strip():  # type: ignore[union-attr]
        raise _fail(key, "needs its source")
    return value


def _years(raw: Any, key: str, where: str) -> int:
    years = _value(raw, key, int)
    if not 1 <= years <= 10:
        raise _fail(f"{where}.{key}", f"must be 1–10 years, not {years}")
    return int(years)


def _form(raw: Any, form: Form) -> FormRule:
    if not isinstance(raw, dict):
        raise _fail(f"forms.{form}", "missing")
    renewal = _value(raw, "reminder_renewal_from", dict)
    anchor, days = renewal.get("anchor"), renewal.get("days")
    if anchor not in ("deadline", "issued") or not isinstance(days, int) or not 0 <= days <= 60:
        raise _fail(
            f"forms.{form}.reminder_renewal_from",
            "needs {anchor: deadline|issued, days: 0–60}",
        )
    return FormRule(
        form,
        str(raw.get("label", form)),
        _years(raw, "collection_years", f"forms.{form}"),
        _years(raw, "refund_years", f"forms.{form}"),
        _value(raw, "reminder_renews", bool),
        anchor,
        days,
        _value(raw, "first_reminder_only", bool),
        _value(raw, "payment_acknowledges", bool),
    )


def _grounds(raw: Any) -> dict[str, Ground]:
    if not isinstance(raw, list) or not raw:
        raise _fail("grounds", "needs a list of grounds")
    found: dict[str, Ground] = {}
    for index, item in enumerate(raw):
        where = f"grounds[{index}]"
        if not isinstance(item, dict) or not re.fullmatch(
            r"[a-z][a-z_]{0,29}", str(item.get("id"))
        ):
            raise _fail(where, "needs an id of 1–30 letters a–z and _")
        ident = str(item["id"])
        after = item.get("after_years")
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)
                                  or not 1 <= after <= 10):  # fmt: skip
            raise _fail(f"{where}.after_years", "must be 1–10 years")
        if ident in found:
            raise _fail(where, f"{ident} is listed twice")
        if not str(item.get("source", "")).strip() or not str(item.get("label", "")).strip():
            raise _fail(where, "needs its label and source")
        found[ident] = Ground(ident, str(item["label"]), after, str(item["source"]).strip())
    if PRESCRIPTION not in found:
        raise _fail("grounds", f"needs the ground {PRESCRIPTION}")
    if found[PRESCRIPTION].after_years is not None:
        raise _fail("grounds", f"{PRESCRIPTION} takes no after_years")
    return found


def parse_prescription_rules(raw: Any, path: Path | None = None) -> PrescriptionRules:
    """The rules of the parsed file ``raw`` (read from ``path``); PrescriptionRuleError naming
    the file and the key otherwise."""
    try:
        return _parse(raw)
    except PrescriptionRuleError as error:
        if path is None:
            raise
        raise PrescriptionRuleError(path, 0, error.reason) from None


def _parse(raw: Any) -> PrescriptionRules:
    if not isinstance(raw, dict) or raw.get("schema_version") != 1:
        raise _fail("schema_version", "must be 1")
    default = _value(raw, "default_form", str)
    if default not in FORMS:
        raise _fail("default_form", f"must be one of {', '.join(FORMS)}")
    forms_raw = raw.get("forms")
    if not isinstance(forms_raw, dict):
        raise _fail("forms", "needs premium and tax")
    municipal = raw.get("municipal_forms") or {}
    if not isinstance(municipal, dict):
        raise _fail("municipal_forms", "must map 団体コード to premium or tax")
    forms_of: dict[str, Form] = {}
    for code, form in municipal.items():
        if not re.fullmatch(r"[0-9]{6}", str(code)) or form not in FORMS:
            raise _fail(f"municipal_forms.{code}", "a 6-digit 団体コード: premium or tax")
        forms_of[str(code)] = form
    kept = _value(raw, "write_offs_in_charged", str)
    if kept not in ("kept", "deducted"):
        raise _fail("write_offs_in_charged", "must be kept or deducted")
    return PrescriptionRules(
        default,
        forms_of,
        {form: _form(forms_raw.get(form), form) for form in FORMS},
        kept,
        _grounds(raw.get("grounds")),
    )


_cache: dict[str, tuple[float, PrescriptionRules]] = {}


def load_prescription_rules() -> PrescriptionRules:
    """The rules in force (the local copy when there is one), read again when the file
    changes."""
    path = data_path(RULES_FILE)
    stamp = path.stat().st_mtime
    found = _cache.get(str(path))
    if found is not None and found[0] == stamp:
        return found[1]
    rules = parse_prescription_rules(load_yaml(data_text(RULES_FILE), str(path)), path)
    _cache[str(path)] = (stamp, rules)
    return rules
