"""The JSON form of answers: the REST face's body and the stored form of bulk results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kokuho.ids import InsuredId
from kokuho.verify._model import ConsentCategory, CoverageAnswer, EligibilityAnswer, Validity


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def coverage_to_json(coverage: CoverageAnswer) -> dict[str, Any]:
    return {
        "insurer_number": coverage.insured.insurer,
        "symbol": coverage.insured.symbol,
        "number": coverage.insured.number,
        "branch": coverage.insured.branch,
        "insurer_name": coverage.insurer_name,
        "card_class": coverage.card_class,
        "relationship": coverage.relationship,
        "name_kanji": coverage.name_kanji,
        "name_kana": coverage.name_kana,
        "sex": coverage.sex,
        "birth_date": _day(coverage.birth_date),
        "acquired_on": _day(coverage.acquired_on),
        "lost_on": _day(coverage.lost_on),
        "loss_reason": coverage.loss_reason,
        "copay_percent": coverage.copay_percent,
        "elderly_copay_percent": coverage.elderly_copay_percent,
        "specific_disease": coverage.specific_disease,
        "limit_category": coverage.limit_category,
        "reference_number": coverage.reference_number,
    }


def answer_to_json(answer: EligibilityAnswer) -> dict[str, Any]:
    return {
        "validity": int(answer.validity),
        "validity_label": answer.validity.label,
        "date_of_care": answer.date_of_care.isoformat(),
        "results": [coverage_to_json(c) for c in answer.results],
        "consents": {str(k): v.isoformat() for k, v in sorted(answer.consents.items())},
    }


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def coverage_from_json(data: dict[str, Any]) -> CoverageAnswer:
    birth = _date(data["birth_date"])
    acquired = _date(data["acquired_on"])
    assert birth is not None and acquired is not None
    return CoverageAnswer(
        insured=InsuredId(data["insurer_number"], data["symbol"], data["number"], data["branch"]),
        insurer_name=data["insurer_name"],
        card_class=data["card_class"],
        relationship=data["relationship"],
        name_kanji=data["name_kanji"],
        name_kana=data["name_kana"],
        sex=data["sex"],
        birth_date=birth,
        acquired_on=acquired,
        lost_on=_date(data["lost_on"]),
        loss_reason=data["loss_reason"],
        copay_percent=data["copay_percent"],
        elderly_copay_percent=data["elderly_copay_percent"],
        specific_disease=data["specific_disease"],
        limit_category=data["limit_category"],
        reference_number=data["reference_number"],
    )


def answer_from_json(data: dict[str, Any]) -> EligibilityAnswer:
    return EligibilityAnswer(
        validity=Validity(data["validity"]),
        date_of_care=dt.date.fromisoformat(data["date_of_care"]),
        results=[coverage_from_json(c) for c in data["results"]],
        consents={
            ConsentCategory(k): dt.date.fromisoformat(v) for k, v in data["consents"].items()
        },
    )
