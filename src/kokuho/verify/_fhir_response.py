"""kokuho's answers as FHIR R4 JSON: CoverageEligibilityResponse, Coverage, Patient and the
server's CapabilityStatement.

Plain dicts are built here, not fhir.resources models: the answer path stays fast and free of
model start-up cost, and the tests validate every shape against ``fhir.resources.R4B`` (R4B
has the same elements as R4 for these resources; fhir.resources 8 ships no R4 module).

Choices a client should know:

- 記号・番号 are written in kokuho's canonical form (full-width input made half-width, as
  OQS carries them), although JP Core's comments show them full-width; compare after
  width-normalising.
- ``period.end`` is the last covered day: 資格喪失日 (the first day not covered) minus one.
- ``inforce`` is true only when the 資格有効性 is 有効; the exact code (1–5) is in the
  ``qualification-validity`` extension of the response.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from kokuho.ids import InstitutionCode
from kokuho.registry import LOSS_REASONS
from kokuho.verify._fhir_codes import (
    ACT_CODE,
    CARD_CLASSES,
    COPAY_TYPE,
    CS_CARD_CLASS,
    CS_CONSENT,
    CS_LIMIT_CATEGORY,
    CS_LOSS_REASON,
    CS_SPECIFIC_DISEASE,
    CS_VALIDITY,
    EXT_BRANCH,
    EXT_CARD_CLASS,
    EXT_CONSENT,
    EXT_ELDERLY_COPAY,
    EXT_LIMIT_CATEGORY,
    EXT_LOSS_REASON,
    EXT_NUMBER,
    EXT_SPECIFIC_DISEASE,
    EXT_SYMBOL,
    EXT_VALIDITY,
    INSTITUTION_SYSTEM,
    INSURED_CATEGORY_SYSTEM,
    INSURER_SYSTEM,
    JP_COVERAGE_PROFILE,
    JP_PATIENT_PROFILE,
    LIMIT_CATEGORIES,
    LOCAL_PATIENT_ID_PREFIX,
    NAME_REPRESENTATION,
    SPECIFIC_DISEASES,
    SUBSCRIBER_ID_SYSTEM,
    SUBSCRIBER_RELATIONSHIP,
    UCUM,
)
from kokuho.verify._fhir_request import ROOT as REQUEST_TYPE
from kokuho.verify._model import CoverageAnswer, EligibilityAnswer, NumberQuery, Validity

Json = dict[str, Any]

#: When the CapabilityStatement's content last changed (its required ``date``).
CAPABILITY_PUBLISHED: Final = dt.date(2026, 11, 27)

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_LITERAL_REFERENCE = re.compile(rf"{REQUEST_TYPE}/[A-Za-z0-9\-.]{{1,64}}|(https?|urn):\S+")
_NAME_SPLIT = re.compile(r"[\s\u3000]+")
_GENDERS: Final = {1: "male", 2: "female", 3: "unknown"}
#: PersonalFamilyClassification → (subscriber-relationship, 被保険者区分).
_RELATIONSHIPS: Final = {
    1: (("self", "Self"), ("1", "被保険者")),
    2: (("other", "Other"), ("2", "被扶養者")),
}


def _check_id(resource_id: str) -> str:
    if not _FHIR_ID.fullmatch(resource_id):
        raise ValueError(f"{resource_id!r} is not a FHIR id ([A-Za-z0-9-.], 1–64 characters)")
    return resource_id


def _coding(system: str, code: str, table: dict[str, str] | None = None) -> Json:
    coding: Json = {"system": system, "code": code}
    display = table.get(code) if table else None
    if display:
        coding["display"] = display
    return coding


def _ext_coding(url: str, system: str, code: str, table: dict[str, str]) -> Json:
    return {"url": url, "valueCoding": _coding(system, code, table)}


def subscriber_identifier(coverage: CoverageAnswer) -> str:
    """被保険者識別子 (JP Core): 保険者番号 padded to 8 with zeros, 記号, 番号, 枝番, by colons."""
    insured = coverage.insured
    return f"{insured.insurer.zfill(8)}:{insured.symbol}:{insured.number}:{insured.branch}"


def _period(coverage: CoverageAnswer) -> Json:
    period: Json = {"start": coverage.acquired_on.isoformat()}
    if coverage.lost_on is not None:
        # 資格喪失日 is the first day without coverage; a FHIR date-precision end is inclusive.
        period["end"] = (coverage.lost_on - dt.timedelta(days=1)).isoformat()
    return period


def coverage_resource(
    coverage: CoverageAnswer, resource_id: str, *, beneficiary: str | None = None
) -> Json:
    """One 資格 as a JP Core Coverage.

    ``beneficiary`` is the Patient reference: ``#id`` when contained, ``Patient/{resource_id}``
    by default, since the standalone Coverage and Patient of one answer share their id.
    Carries 記号・番号・枝番 (JP Core extensions and 被保険者識別子), 本人/家族 in
    ``relationship``, the period, the 保険者番号 in ``payor``, the 一部負担金割合 as a
    ``copaypct`` costToBeneficiary, and kokuho extensions for 被保険者証区分, 高齢受給者の
    負担割合, 限度額適用区分 (only when present: the core leaves it out without consent),
    特定疾病 and 喪失事由.
    """
    insured = coverage.insured
    if coverage.relationship not in _RELATIONSHIPS:
        raise ValueError(f"relationship {coverage.relationship} is not 1 (本人) or 2 (家族)")
    (fhir_code, fhir_display), (jp_code, jp_display) = _RELATIONSHIPS[coverage.relationship]

    extensions: list[Json] = []
    if insured.symbol:  # 後期高齢者 cards have no 記号, and FHIR strings may not be empty
        extensions.append({"url": EXT_SYMBOL, "valueString": insured.symbol})
    extensions += [
        {"url": EXT_NUMBER, "valueString": insured.number},
        {"url": EXT_BRANCH, "valueString": insured.branch},
        _ext_coding(EXT_CARD_CLASS, CS_CARD_CLASS, coverage.card_class, CARD_CLASSES),
    ]
    if coverage.elderly_copay_percent is not None:
        extensions.append(
            {"url": EXT_ELDERLY_COPAY, "valueInteger": coverage.elderly_copay_percent}
        )
    if coverage.limit_category is not None:
        extensions.append(
            _ext_coding(
                EXT_LIMIT_CATEGORY, CS_LIMIT_CATEGORY, coverage.limit_category, LIMIT_CATEGORIES
            )
        )
    if coverage.specific_disease is not None:
        extensions.append(
            _ext_coding(
                EXT_SPECIFIC_DISEASE,
                CS_SPECIFIC_DISEASE,
                coverage.specific_disease,
                SPECIFIC_DISEASES,
            )
        )
    if coverage.loss_reason is not None:
        extensions.append(
            _ext_coding(EXT_LOSS_REASON, CS_LOSS_REASON, coverage.loss_reason, LOSS_REASONS)
        )

    payor: Json = {"identifier": {"system": INSURER_SYSTEM, "value": insured.insurer}}
    if coverage.insurer_name:
        payor["display"] = coverage.insurer_name
    return {
        "resourceType": "Coverage",
        "id": _check_id(resource_id),
        "meta": {"profile": [JP_COVERAGE_PROFILE]},
        "extension": extensions,
        "identifier": [{"system": SUBSCRIBER_ID_SYSTEM, "value": subscriber_identifier(coverage)}],
        # The record is current; whether the 資格 covers the date of care is the period's and
        # the response's business, not the resource status.
        "status": "active",
        "type": {
            "coding": [{"system": ACT_CODE, "code": "PUBLICPOL", "display": "public healthcare"}],
            "text": "公的医療保険",
        },
        # JP Core: 記号 and 番号 in double quotes, comma-separated.
        "subscriberId": f'"{insured.symbol}","{insured.number}"',
        "beneficiary": {"reference": beneficiary or f"Patient/{resource_id}"},
        "dependent": insured.branch,
        "relationship": {
            "coding": [
                {"system": SUBSCRIBER_RELATIONSHIP, "code": fhir_code, "display": fhir_display},
                {"system": INSURED_CATEGORY_SYSTEM, "code": jp_code, "display": jp_display},
            ]
        },
        "period": _period(coverage),
        "payor": [payor],
        "costToBeneficiary": [
            {
                "type": {"coding": [{"system": COPAY_TYPE, "code": "copaypct"}]},
                "valueQuantity": {
                    "value": coverage.copay_percent,
                    "unit": "%",
                    "system": UCUM,
                    "code": "%",
                },
            }
        ],
    }


def _human_name(text: str, representation: str) -> Json | None:
    text = text.strip()
    if not text:
        return None
    name: Json = {
        "extension": [{"url": NAME_REPRESENTATION, "valueCode": representation}],
        "use": "official",
        "text": text,
    }
    family, *rest = _NAME_SPLIT.split(text, maxsplit=1)
    name["family"] = family
    if rest:
        name["given"] = [rest[0]]
    return name


def patient_resource(
    coverage: CoverageAnswer, resource_id: str, *, institution: str | None = None
) -> Json:
    """The insured person of one 資格 as a JP Core Patient: 漢字 and カナ names (marked IDE /
    SYL), gender, birthDate and the 被保険者識別子 as identifier. With ``institution`` (the
    asking 医療機関コード) the 照会番号 it registered is added as its 院内患者ID."""
    identifiers: list[Json] = [
        {"system": SUBSCRIBER_ID_SYSTEM, "value": subscriber_identifier(coverage)}
    ]
    if coverage.reference_number and institution:
        code = InstitutionCode.parse(institution).value
        identifiers.append(
            {"system": f"{LOCAL_PATIENT_ID_PREFIX}{code}", "value": coverage.reference_number}
        )
    if coverage.sex not in _GENDERS:
        raise ValueError(f"sex {coverage.sex} is not 1, 2 or 3")
    names = [
        name
        for name in (
            _human_name(coverage.name_kanji, "IDE"),
            _human_name(coverage.name_kana, "SYL"),
        )
        if name
    ]
    patient: Json = {
        "resourceType": "Patient",
        "id": _check_id(resource_id),
        "meta": {"profile": [JP_PATIENT_PROFILE]},
        "identifier": identifiers,
    }
    if names:
        patient["name"] = names
    patient["gender"] = _GENDERS[coverage.sex]
    patient["birthDate"] = coverage.birth_date.isoformat()
    return patient


def _request_reference(request_ref: str) -> Json:
    if not request_ref:
        raise ValueError("request_ref is required: pass the stored request's reference")
    # A token "system|value" first: its system is itself a URL.
    system, bar, value = request_ref.partition("|")
    if bar:
        return {"identifier": {"system": system, "value": value} if system else {"value": value}}
    if _LITERAL_REFERENCE.fullmatch(request_ref):
        return {"reference": request_ref}
    return {"identifier": {"value": request_ref}}


def _person(coverage: CoverageAnswer) -> tuple[object, ...]:
    return (
        coverage.name_kanji,
        coverage.name_kana,
        coverage.sex,
        coverage.birth_date,
        coverage.reference_number,
    )


def eligibility_response(
    answer: EligibilityAnswer,
    request_ref: str,
    *,
    created: dt.datetime,
    requestor: str,
    query: NumberQuery | None = None,
) -> Json:
    """The CoverageEligibilityResponse for one 資格確認.

    ``request_ref`` is what :func:`parse_eligibility_request` returned (or the stored
    request's ``CoverageEligibilityRequest/id``); ``created`` must carry a time zone;
    ``requestor`` is the asking 医療機関コード (10 digits). ``query`` names the insurer when
    nothing was found.

    ``disposition`` is the 資格有効性 label (有効, 無効, 無効（新しい資格あり）, 該当資格なし,
    複数該当) and the ``qualification-validity`` extension its code. Each result becomes an
    ``insurance`` entry over a contained Coverage and Patient (one Patient per person);
    該当資格なし has no entry and one ``error``. Consents in force for the institution are
    listed as ``consent`` extensions (category and last day).
    """
    if created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("created needs a time zone: FHIR dateTime with a time must carry one")
    institution = InstitutionCode.parse(requestor).value
    validity = answer.validity
    if validity is Validity.NOT_FOUND and answer.results:
        raise ValueError("an answer of 該当資格なし cannot carry results")

    contained: list[Json] = []
    insurance: list[Json] = []
    patients: dict[tuple[object, ...], str] = {}
    for number, coverage in enumerate(answer.results, start=1):
        patient_id = patients.get(_person(coverage))
        if patient_id is None:
            patient_id = patients[_person(coverage)] = f"patient-{len(patients) + 1}"
            contained.append(patient_resource(coverage, patient_id, institution=institution))
        coverage_id = f"coverage-{number}"
        contained.append(coverage_resource(coverage, coverage_id, beneficiary=f"#{patient_id}"))
        insurance.append(
            {
                "coverage": {"reference": f"#{coverage_id}"},
                "inforce": validity is Validity.VALID,
                "benefitPeriod": _period(coverage),
            }
        )

    extensions: list[Json] = [
        {
            "url": EXT_VALIDITY,
            "valueCoding": {
                "system": CS_VALIDITY,
                "code": str(int(validity)),
                "display": validity.label,
            },
        }
    ]
    for category, until in sorted(answer.consents.items(), key=lambda item: item[0].value):
        extensions.append(
            {
                "url": EXT_CONSENT,
                "extension": [
                    {"url": "category", "valueCoding": _coding(CS_CONSENT, category.value)},
                    {"url": "until", "valueDate": until.isoformat()},
                ],
            }
        )

    response: Json = {"resourceType": "CoverageEligibilityResponse"}
    if contained:
        response["contained"] = contained
    response |= {
        "extension": extensions,
        "status": "active",
        "purpose": ["validation"],
        # One person: reference them. Several (複数該当 without 枝番) or none: only a label,
        # since pointing at one of them would claim a match the check did not make.
        "patient": (
            {"reference": "#patient-1"} if len(patients) == 1 else {"display": validity.label}
        ),
        "servicedDate": answer.date_of_care.isoformat(),
        "created": created.isoformat(timespec="seconds"),
        "requestor": {"identifier": {"system": INSTITUTION_SYSTEM, "value": institution}},
        "request": _request_reference(request_ref),
        "outcome": "complete",
        "disposition": validity.label,
        "insurer": _insurer_reference(answer, query),
    }
    if insurance:
        response["insurance"] = insurance
    if validity is Validity.NOT_FOUND:
        response["error"] = [
            {
                "code": {
                    "coding": [_coding(CS_VALIDITY, str(int(validity)))],
                    "text": validity.label,
                }
            }
        ]
    return response


def _insurer_reference(answer: EligibilityAnswer, query: NumberQuery | None) -> Json:
    insurers = {(c.insured.insurer, c.insurer_name) for c in answer.results}
    if len(insurers) == 1:
        number, name = insurers.pop()
        reference: Json = {"identifier": {"system": INSURER_SYSTEM, "value": number}}
        if name:
            reference["display"] = name
        return reference
    if query is not None:
        return {"identifier": {"system": INSURER_SYSTEM, "value": query.insurer}}
    # R4 requires an insurer; kokuho answers on behalf of every insurer.
    return {"display": "オンライン資格確認（kokuho）"}


def capability_statement(
    base_url: str, software_version: str, *, published: dt.date = CAPABILITY_PUBLISHED
) -> Json:
    """What the FHIR face serves (``GET [base]/metadata``): FHIR 4.0.1, JSON only;
    ``POST [base]/CoverageEligibilityRequest`` answers at once with the
    CoverageEligibilityResponse; Coverage and Patient support read."""
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"base_url {base_url!r} must be an http(s) URL")
    base = base_url.rstrip("/")
    return {
        "resourceType": "CapabilityStatement",
        "url": f"{base}/metadata",
        "version": software_version,
        "name": "KokuhoEligibilityServer",
        "title": "kokuho オンライン資格確認 FHIR サーバ",
        "status": "active",
        "experimental": False,
        "date": published.isoformat(),
        "publisher": "kokuho",
        "description": (
            "資格確認 (online eligibility check) for Japan's public health insurance. Coverage"
            " and Patient follow JP Core; 記号・番号・枝番 use the JP_Coverage extensions."
        ),
        "kind": "instance",
        "software": {"name": "kokuho", "version": software_version},
        "implementation": {"description": "kokuho eligibility service", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Numbers on a card may be asked for insurance business only"
                    " (告知要求制限, 健康保険法第194条の2)."
                ),
                "security": {
                    "cors": False,
                    "service": [{"text": "Bearer credential"}],
                    "description": (
                        "Every request carries 'Authorization: Bearer <credential>', the"
                        " credential kokuho issued to one 保険医療機関・保険薬局 (医療機関コード)."
                        " A missing or unknown credential is refused with an OperationOutcome"
                        " (code security); a known one asking beyond its rights, with code"
                        " forbidden. The requestor of every answer is the credential's"
                        " institution, whatever the request body says."
                    ),
                },
                "resource": [
                    {
                        "type": REQUEST_TYPE,
                        "interaction": [
                            {
                                "code": "create",
                                "documentation": (
                                    "POST a CoverageEligibilityRequest (purpose validation, a"
                                    " contained Patient with birthDate and a contained JP Core"
                                    " Coverage); the response body is the"
                                    " CoverageEligibilityResponse."
                                ),
                            }
                        ],
                    },
                    {
                        "type": "Coverage",
                        "supportedProfile": [JP_COVERAGE_PROFILE],
                        "interaction": [{"code": "read"}],
                    },
                    {
                        "type": "Patient",
                        "supportedProfile": [JP_PATIENT_PROFILE],
                        "interaction": [{"code": "read"}],
                    },
                ],
            }
        ],
    }
