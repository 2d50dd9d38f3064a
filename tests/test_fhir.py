"""The FHIR face: CoverageEligibilityRequest in, CoverageEligibilityResponse out.

Every resource produced is validated with fhir.resources' R4B models (fhir.resources 8 ships
no R4 module; R4B has the same elements for these resources).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from hypothesis import given, settings
from hypothesis import strategies as st

from kokuho.ids import HEALTH_INSURANCE_LAW_CODES, InsuredId, with_check_digit
from kokuho.verify import (
    ConsentCategory,
    CoverageAnswer,
    EligibilityAnswer,
    NumberQuery,
    Validity,
)
from kokuho.verify._fhir import (
    EXT_BRANCH,
    EXT_ELDERLY_COPAY,
    EXT_LIMIT_CATEGORY,
    EXT_LIMIT_CONSENT,
    EXT_NUMBER,
    EXT_SYMBOL,
    EXT_VALIDITY,
    INSTITUTION_SYSTEM,
    INSURER_SYSTEM,
    SUBSCRIBER_ID_SYSTEM,
    FhirInputError,
    capability_statement,
    coverage_resource,
    eligibility_response,
    operation_outcome,
    parse_eligibility_request,
    patient_resource,
)

INSURER = with_check_digit("0637123")  # 組合管掌健康保険, 香川
KOKUHO_INSURER = with_check_digit("37001")  # 市町村国保, 6 digits
INSTITUTION = with_check_digit("371012345")  # 香川 医科
CREATED = dt.datetime(2025, 4, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
JP_EXT = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPerson"


def client_request() -> dict[str, Any]:
    """Written by hand, the way a レセコン would send it: full-width 記号 from the card."""
    return {
        "resourceType": "CoverageEligibilityRequest",
        "identifier": [{"system": "http://clinic.example/eligibility", "value": "REQ-0001"}],
        "extension": [
            {
                "url": "http://kokuho.example/fhir/StructureDefinition/limit-consent",
                "valueBoolean": True,
            }
        ],
        "contained": [
            {"resourceType": "Patient", "id": "pat", "birthDate": "1980-05-17"},
            {
                "resourceType": "Coverage",
                "id": "cov",
                "extension": [
                    {"url": f"{JP_EXT}Symbol", "valueString": "ＡＢ１２"},
                    {"url": f"{JP_EXT}Number", "valueString": "345"},
                    {"url": f"{JP_EXT}SubNumber", "valueString": "01"},
                ],
                "status": "active",
                "beneficiary": {"reference": "#pat"},
                "payor": [
                    {
                        "identifier": {
                            "system": "urn:oid:1.2.392.100495.20.3.61",
                            "value": INSURER,
                        },
                        "display": "かがわ健康保険組合",
                    }
                ],
            },
        ],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#pat"},
        "servicedDate": "2025-04-01",
        "created": "2025-04-01T09:15:00+09:00",
        "provider": {
            "identifier": {
                "system": "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
                "value": INSTITUTION,
            }
        },
        "insurer": {"identifier": {"system": "urn:oid:1.2.392.100495.20.3.61", "value": INSURER}},
        "insurance": [{"focal": True, "coverage": {"reference": "#cov"}}],
    }


# --- requests ------------------------------------------------------------------------------


def test_a_client_request_parses_to_the_number_query() -> None:
    query, ref = parse_eligibility_request(client_request())
    assert query == NumberQuery(
        insurer=INSURER,
        symbol="AB12",
        number="345",
        branch="01",
        birth_date=dt.date(1980, 5, 17),
        date_of_care=dt.date(2025, 4, 1),
        limit_consent=True,
    )
    assert ref == "http://clinic.example/eligibility|REQ-0001"


def test_the_simpler_form_needs_no_insurance_entry() -> None:
    """One contained Coverage, the numbers only in the 被保険者識別子, the 6-digit 国保
    number padded to 8 as JP Core writes it, and no 枝番 (an older card)."""
    request = client_request()
    del request["insurance"], request["identifier"], request["extension"]
    request["id"] = "q1"
    request["insurer"] = {"display": "市町村国保"}
    coverage = request["contained"][1]
    del coverage["extension"], coverage["payor"][0]["identifier"]
    coverage["identifier"] = [
        {"system": SUBSCRIBER_ID_SYSTEM, "value": f"{KOKUHO_INSURER.zfill(8)}:香川:１２３:"}
    ]
    query, ref = parse_eligibility_request(request)
    assert (query.insurer, query.symbol, query.number, query.branch) == (
        KOKUHO_INSURER,
        "香川",
        "123",
        None,
    )
    assert not query.limit_consent
    assert ref == "CoverageEligibilityRequest/q1"


def test_numbers_on_the_identifier_and_a_one_day_period_are_read() -> None:
    """Later JP Core examples put the 記号・番号・枝番 extensions on Coverage.identifier."""
    request = client_request()
    coverage = request["contained"][1]
    coverage["identifier"] = [{"extension": coverage.pop("extension"), "value": "x"}]
    del request["servicedDate"]
    request["servicedPeriod"] = {"start": "2025-04-01", "end": "2025-04-01"}
    query, _ = parse_eligibility_request(request)
    assert (query.symbol, query.number, query.branch) == ("AB12", "345", "01")
    assert query.date_of_care == dt.date(2025, 4, 1)
    request["servicedPeriod"]["end"] = "2025-04-30"
    with pytest.raises(FhirInputError) as caught:
        parse_eligibility_request(request)
    assert caught.value.issues[0][0] == "CoverageEligibilityRequest.servicedPeriod"


def test_the_insurer_may_be_a_contained_organization() -> None:
    request = client_request()
    request["contained"].append(
        {
            "resourceType": "Organization",
            "id": "ins",
            "identifier": [{"system": INSURER_SYSTEM, "value": INSURER}],
        }
    )
    request["insurer"] = {"reference": "#ins"}
    del request["contained"][1]["payor"][0]["identifier"]
    request["contained"][1]["payor"][0]["reference"] = "#ins"
    assert parse_eligibility_request(request)[0].insurer == INSURER


def _without(path: list[str | int]) -> dict[str, Any]:
    request = client_request()
    node: Any = request
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return request


def _with(path: list[str | int], value: object) -> dict[str, Any]:
    request = client_request()
    node: Any = request
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return request


def _wrong_check_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


BAD_INSURER = _wrong_check_digit(INSURER)
BAD_REQUESTS = {
    "missing birthDate": (
        _without(["contained", 0, "birthDate"]),
        "CoverageEligibilityRequest.contained[0].birthDate",
    ),
    "partial birthDate": (
        _with(["contained", 0, "birthDate"], "1980-05"),
        "CoverageEligibilityRequest.contained[0].birthDate",
    ),
    "bad insurer number": (
        _with(["insurer", "identifier", "value"], BAD_INSURER),
        "CoverageEligibilityRequest.insurer.identifier.value",
    ),
    "bad payor number": (
        _with(["contained", 1, "payor", 0, "identifier", "value"], "3900000"),
        "CoverageEligibilityRequest.contained[1].payor[0].identifier.value",
    ),
    "no insurer number": (
        _with(["insurer"], {"display": "?"}) | {"contained": []},
        "CoverageEligibilityRequest.insurer",
    ),
    "purpose without validation": (
        _with(["purpose"], ["benefits"]),
        "CoverageEligibilityRequest.purpose",
    ),
    "wrong resourceType": (_with(["resourceType"], "Coverage"), "resourceType"),
    # The REST face's range, 1900–2099: no year 1 or 9999 reaching date maths.
    "date of care in 9999": (
        _with(["servicedDate"], "9999-12-31"),
        "CoverageEligibilityRequest.servicedDate",
    ),
    "born in year 1": (
        _with(["contained", 0, "birthDate"], "0001-01-01"),
        "CoverageEligibilityRequest.contained[0].birthDate",
    ),
    "date of care in 2100": (
        _with(["servicedDate"], "2100-01-01"),
        "CoverageEligibilityRequest.servicedDate",
    ),
    "no date of care": (_without(["servicedDate"]), "CoverageEligibilityRequest.serviced"),
    "patient not contained": (
        _with(["patient"], {"reference": "Patient/123"}),
        "CoverageEligibilityRequest.patient",
    ),
    "no number": (
        _with(["contained", 1, "extension"], [{"url": f"{JP_EXT}Symbol", "valueString": "A"}]),
        "CoverageEligibilityRequest.contained[1].extension",
    ),
    "bad branch": (
        _with(["contained", 1, "extension", 2, "valueString"], "1"),
        "CoverageEligibilityRequest.contained[1].extension[2].valueString",
    ),
    "numbers disagree": (
        _with(["contained", 1, "dependent"], "02"),
        "CoverageEligibilityRequest.contained[1].extension[2].valueString",
    ),
    "two cards": (
        _with(["insurance"], [{"coverage": {"reference": "#cov"}}] * 2),
        "CoverageEligibilityRequest.insurance[1]",
    ),
    "someone else's card": (
        _with(["contained", 1, "beneficiary"], {"reference": "#other"}),
        "CoverageEligibilityRequest.contained[1].beneficiary",
    ),
    "bad provider code": (
        _with(["provider", "identifier", "value"], _wrong_check_digit(INSTITUTION)),
        "CoverageEligibilityRequest.provider.identifier.value",
    ),
    "cancelled": (_with(["status"], "cancelled"), "CoverageEligibilityRequest.status"),
    "structurally invalid": (_without(["created"]), "CoverageEligibilityRequest.created"),
    "unknown contained type": (
        _with(["contained", 0, "resourceType"], "Basic"),
        "CoverageEligibilityRequest.contained[0]",
    ),
    "modifier extension": (
        _with(["insurance", 0, "modifierExtension"], [{"url": "x", "valueBoolean": True}]),
        "CoverageEligibilityRequest.insurance[0].modifierExtension",
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_name_the_path(case: str) -> None:
    request, path = BAD_REQUESTS[case]
    with pytest.raises(FhirInputError) as caught:
        parse_eligibility_request(copy.deepcopy(request))
    paths = [issue_path for issue_path, _ in caught.value.issues]
    assert path in paths, caught.value.issues
    outcome = caught.value.outcome()
    OperationOutcome.model_validate(outcome)
    assert {"severity": "error", "code": "invalid"}.items() <= outcome["issue"][0].items()


def test_every_problem_is_reported_at_once() -> None:
    request = _with(["purpose"], ["discovery"])
    del request["contained"][0]["birthDate"]
    with pytest.raises(FhirInputError) as caught:
        parse_eligibility_request(request)
    assert len(caught.value.issues) == 2


def test_two_contained_resources_with_one_id_are_refused() -> None:
    """'#pat' must name one contained resource: with two Patients called pat (other birth
    dates) the check answered for one of them, and a client showing the other saw another
    person than the one checked."""
    request = client_request()
    request["contained"].append({"resourceType": "Patient", "id": "pat", "birthDate": "1999-01-01"})
    with pytest.raises(FhirInputError) as caught:
        parse_eligibility_request(request)
    assert caught.value.issues == [
        (
            "CoverageEligibilityRequest.contained[2].id",
            "'pat' is also the id of contained[0]: a reference (#pat) must name one resource",
        )
    ]


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(FhirInputError) as caught:
        parse_eligibility_request([])  # type: ignore[arg-type]
    assert caught.value.issues[0][0] == ""
    assert "expression" not in caught.value.outcome()["issue"][0]


# --- answers -------------------------------------------------------------------------------


def make_coverage(**changes: Any) -> CoverageAnswer:
    values: dict[str, Any] = {
        "insured": InsuredId(INSURER, "AB12", "345", "01"),
        "insurer_name": "かがわ健康保険組合",
        "card_class": "01",
        "relationship": 1,
        "name_kanji": "讃岐 太郎",
        "name_kana": "サヌキ タロウ",
        "sex": 1,
        "birth_date": dt.date(1980, 5, 17),
        "acquired_on": dt.date(2020, 4, 1),
        "lost_on": None,
        "loss_reason": None,
        "copay_percent": 30,
        "elderly_copay_percent": None,
        "specific_disease": None,
        "limit_category": None,
        "reference_number": None,
    }
    return CoverageAnswer(**(values | changes))


def respond(answer: EligibilityAnswer, **options: Any) -> dict[str, Any]:
    response = eligibility_response(
        answer, "CoverageEligibilityRequest/q1", created=CREATED, requestor=INSTITUTION, **options
    )
    CoverageEligibilityResponse.model_validate(response)
    return response


@pytest.mark.parametrize("validity", list(Validity))
def test_each_validity_gives_a_valid_response(validity: Validity) -> None:
    results = [] if validity is Validity.NOT_FOUND else [make_coverage()]
    answer = EligibilityAnswer(validity, dt.date(2025, 4, 1), results)
    response = respond(answer)
    assert response["disposition"] == validity.label
    assert [
        e["valueCoding"]["code"] for e in response["extension"] if e["url"] == EXT_VALIDITY
    ] == [str(int(validity))]
    if validity is Validity.NOT_FOUND:
        assert "insurance" not in response and "contained" not in response
        assert response["error"][0]["code"]["text"] == "該当資格なし"
        assert response["patient"] == {"display": "該当資格なし"}
    else:
        assert [entry["inforce"] for entry in response["insurance"]] == [validity is Validity.VALID]
        assert "error" not in response
        assert response["patient"] == {"reference": "#patient-1"}
    assert response["request"] == {"reference": "CoverageEligibilityRequest/q1"}
    assert response["requestor"]["identifier"] == {
        "system": INSTITUTION_SYSTEM,
        "value": INSTITUTION,
    }


def test_not_found_names_the_asked_insurer_when_given() -> None:
    query, _ = parse_eligibility_request(client_request())
    answer = EligibilityAnswer(Validity.NOT_FOUND, query.date_of_care)
    response = respond(answer, query=query)
    assert response["insurer"]["identifier"]["value"] == INSURER


def test_the_limit_category_appears_only_when_present() -> None:
    def limit_extensions(coverage: CoverageAnswer) -> list[dict[str, Any]]:
        response = respond(EligibilityAnswer(Validity.VALID, dt.date(2025, 4, 1), [coverage]))
        contained = response["contained"][1]
        return [e for e in contained["extension"] if e["url"] == EXT_LIMIT_CATEGORY]

    assert limit_extensions(make_coverage()) == []
    (extension,) = limit_extensions(make_coverage(limit_category="A03"))
    assert extension["valueCoding"]["code"] == "A03"
    assert extension["valueCoding"]["display"] == "ウ"


def test_family_members_without_branch_are_separate_patients() -> None:
    """複数該当: a card without 枝番 matched two people; neither is claimed as the patient."""
    results = [
        make_coverage(),
        make_coverage(
            insured=InsuredId(INSURER, "AB12", "345", "02"),
            relationship=2,
            name_kanji="讃岐 花子",
            name_kana="サヌキ ハナコ",
            sex=2,
        ),
    ]
    response = respond(EligibilityAnswer(Validity.MULTIPLE, dt.date(2025, 4, 1), results))
    kinds = [resource["resourceType"] for resource in response["contained"]]
    assert kinds == ["Patient", "Coverage", "Patient", "Coverage"]
    assert response["patient"] == {"display": "複数該当"}
    assert response["contained"][3]["relationship"]["coding"][0]["code"] == "other"


def test_consents_are_listed() -> None:
    answer = EligibilityAnswer(
        Validity.VALID,
        dt.date(2025, 4, 1),
        [make_coverage()],
        {ConsentCategory.MEDICATION: dt.date(2025, 6, 30)},
    )
    (consent,) = [e for e in respond(answer)["extension"] if e["url"].endswith("/consent")]
    assert [part["url"] for part in consent["extension"]] == ["category", "until"]
    assert consent["extension"][1]["valueDate"] == "2025-06-30"


def test_the_response_refuses_what_it_cannot_say() -> None:
    answer = EligibilityAnswer(Validity.VALID, dt.date(2025, 4, 1), [make_coverage()])
    with pytest.raises(ValueError, match="time zone"):
        eligibility_response(
            answer, "x", created=CREATED.replace(tzinfo=None), requestor=INSTITUTION
        )
    with pytest.raises(ValueError, match="request_ref"):
        eligibility_response(answer, "", created=CREATED, requestor=INSTITUTION)
    with pytest.raises(ValueError):
        eligibility_response(
            answer, "x", created=CREATED, requestor=_wrong_check_digit(INSTITUTION)
        )
    contradiction = EligibilityAnswer(Validity.NOT_FOUND, dt.date(2025, 4, 1), [make_coverage()])
    with pytest.raises(ValueError, match="該当資格なし"):
        eligibility_response(contradiction, "x", created=CREATED, requestor=INSTITUTION)


def test_request_references_by_identifier() -> None:
    answer = EligibilityAnswer(Validity.NOT_FOUND, dt.date(2025, 4, 1))
    _, ref = parse_eligibility_request(client_request())
    response = eligibility_response(answer, ref, created=CREATED, requestor=INSTITUTION)
    assert response["request"] == {
        "identifier": {"system": "http://clinic.example/eligibility", "value": "REQ-0001"}
    }


def test_standalone_resources_validate() -> None:
    coverage = make_coverage(
        lost_on=dt.date(2025, 4, 1),
        loss_reason="03",
        elderly_copay_percent=20,
        specific_disease="1",
        reference_number="K-000123",
        name_kanji="讃岐太郎",
    )
    resource = coverage_resource(coverage, "c-1")
    Coverage.model_validate(resource)
    assert resource["beneficiary"] == {"reference": "Patient/c-1"}
    assert resource["period"] == {"start": "2020-04-01", "end": "2025-03-31"}
    assert resource["identifier"][0]["value"] == f"{INSURER}:AB12:345:01"
    patient = patient_resource(coverage, "c-1", institution=INSTITUTION)
    Patient.model_validate(patient)
    assert patient["identifier"][1] == {
        "system": f"urn:oid:1.2.392.100495.20.3.51.1{INSTITUTION}",
        "value": "K-000123",
    }
    assert patient["name"][0]["family"] == "讃岐太郎" and "given" not in patient["name"][0]
    with pytest.raises(ValueError):
        coverage_resource(coverage, "not an id!")


def test_patient_names_are_marked_kanji_and_kana() -> None:
    patient = patient_resource(make_coverage(sex=2, name_kana="ｻﾇｷ ﾀﾛｳ"), "p")
    Patient.model_validate(patient)
    marks = [(n["extension"][0]["valueCode"], n["family"], n["given"]) for n in patient["name"]]
    assert marks == [("IDE", "讃岐", ["太郎"]), ("SYL", "ｻﾇｷ", ["ﾀﾛｳ"])]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1980-05-17"


# --- round trips ---------------------------------------------------------------------------


@st.composite
def insurer_numbers(draw: st.DrawFn) -> str:
    prefecture = f"{draw(st.integers(1, 47)):02d}"
    serial = f"{draw(st.integers(0, 999)):03d}"
    if draw(st.booleans()):
        return with_check_digit(prefecture + serial)
    law = draw(st.sampled_from(sorted(HEALTH_INSURANCE_LAW_CODES)))
    return with_check_digit(law + prefecture + serial)


CARD_TEXT = st.text(alphabet="ABCXYZ0123456789-香川高松アイ", min_size=1, max_size=8)
DATES = st.dates(dt.date(1930, 1, 1), dt.date(2030, 12, 31))


@st.composite
def coverage_answers(draw: st.DrawFn) -> CoverageAnswer:
    acquired = draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)))
    lost = draw(st.none() | st.integers(1, 4000).map(lambda days: acquired + dt.timedelta(days)))
    return CoverageAnswer(
        insured=InsuredId(
            draw(insurer_numbers()),
            draw(st.just("") | CARD_TEXT),
            draw(CARD_TEXT),
            f"{draw(st.integers(0, 99)):02d}",
        ),
        insurer_name=draw(st.sampled_from(["", "高松市", "かがわ健康保険組合"])),
        card_class=draw(st.sampled_from(["01", "02", "05", "A1"])),
        relationship=draw(st.sampled_from([1, 2])),
        name_kanji=draw(st.sampled_from(["讃岐 太郎", "高松花子", ""])),
        name_kana=draw(st.sampled_from(["サヌキ タロウ", "ﾀｶﾏﾂ ﾊﾅｺ"])),
        sex=draw(st.sampled_from([1, 2, 3])),
        birth_date=draw(DATES),
        acquired_on=acquired,
        lost_on=lost,
        loss_reason=draw(st.sampled_from(["01", "99"])) if lost else None,
        copay_percent=draw(st.sampled_from([10, 20, 30])),
        elderly_copay_percent=draw(st.sampled_from([None, 20, 30])),
        specific_disease=draw(st.sampled_from([None, "1", "3"])),
        limit_category=draw(st.sampled_from([None, "A01", "B10"])),
        reference_number=draw(st.sampled_from([None, "K-1"])),
    )


@st.composite
def answers(draw: st.DrawFn) -> EligibilityAnswer:
    validity = draw(st.sampled_from(list(Validity)))
    results = (
        []
        if validity is Validity.NOT_FOUND
        else draw(st.lists(coverage_answers(), min_size=1, max_size=3))
    )
    consents = draw(st.dictionaries(st.sampled_from(list(ConsentCategory)), DATES, max_size=2))
    return EligibilityAnswer(validity, draw(DATES), results, consents)


def read_back(response: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """What a client reads from the JSON, knowing only the documented URLs."""
    (validity,) = [e for e in response["extension"] if e["url"] == EXT_VALIDITY]
    contained = {f"#{resource['id']}": resource for resource in response.get("contained", [])}
    results = []
    for entry in response.get("insurance", []):
        coverage = contained[entry["coverage"]["reference"]]
        extension = {e["url"]: e for e in coverage["extension"]}
        (payor,) = coverage["payor"]
        assert payor["identifier"]["system"] == INSURER_SYSTEM
        (copay,) = coverage["costToBeneficiary"]
        assert copay["type"]["coding"][0]["code"] == "copaypct"
        period = entry["benefitPeriod"]
        assert period == coverage["period"]
        end = period.get("end")
        results.append(
            {
                "insurer": payor["identifier"]["value"],
                "symbol": extension.get(EXT_SYMBOL, {}).get("valueString", ""),
                "number": extension[EXT_NUMBER]["valueString"],
                "branch": extension[EXT_BRANCH]["valueString"],
                "copay": copay["valueQuantity"]["value"],
                "elderly": extension.get(EXT_ELDERLY_COPAY, {}).get("valueInteger"),
                "acquired": dt.date.fromisoformat(period["start"]),
                "lost": dt.date.fromisoformat(end) + dt.timedelta(days=1) if end else None,
                "inforce": entry["inforce"],
            }
        )
    return int(validity["valueCoding"]["code"]), results


@settings(max_examples=50, deadline=None)
@given(answers())
def test_clients_read_back_what_was_answered(answer: EligibilityAnswer) -> None:
    validity, results = read_back(respond(answer))
    assert validity == int(answer.validity)
    assert results == [
        {
            "insurer": c.insured.insurer,
            "symbol": c.insured.symbol,
            "number": c.insured.number,
            "branch": c.insured.branch,
            "copay": c.copay_percent,
            "elderly": c.elderly_copay_percent,
            "acquired": c.acquired_on,
            "lost": c.lost_on,
            "inforce": answer.validity is Validity.VALID,
        }
        for c in answer.results
    ]


@settings(max_examples=50, deadline=None)
@given(
    insurer=insurer_numbers(),
    symbol=st.just("") | CARD_TEXT,
    number=CARD_TEXT,
    branch=st.none() | st.integers(0, 99).map(lambda n: f"{n:02d}"),
    birth=DATES,
    care=DATES,
    consent=st.booleans(),
)
def test_a_query_survives_the_request_form(
    insurer: str,
    symbol: str,
    number: str,
    branch: str | None,
    birth: dt.date,
    care: dt.date,
    consent: bool,
) -> None:
    request = client_request()
    request["extension"][0]["valueBoolean"] = consent
    request["contained"][0]["birthDate"] = birth.isoformat()
    request["servicedDate"] = care.isoformat()
    request["insurer"]["identifier"]["value"] = insurer
    coverage = request["contained"][1]
    coverage["payor"][0]["identifier"]["value"] = insurer
    coverage["extension"] = [
        {"url": url, "valueString": value}
        for url, value in ((EXT_SYMBOL, symbol), (EXT_NUMBER, number), (EXT_BRANCH, branch))
        if value
    ]
    query, _ = parse_eligibility_request(request)
    assert query == NumberQuery(insurer, symbol, number, branch, birth, care, consent)


# --- outcomes and the capability statement -------------------------------------------------


def test_operation_outcomes_for_auth_and_lookups_validate() -> None:
    outcome = operation_outcome(
        [
            ("error", "security", "no credential", None),
            ("error", "forbidden", "this institution may not ask for 限度額", None),
            ("error", "not-found", "Coverage/x", "Coverage.id"),
        ]
    )
    OperationOutcome.model_validate(outcome)
    assert [issue["code"] for issue in outcome["issue"]] == ["security", "forbidden", "not-found"]
    assert outcome["issue"][2]["expression"] == ["Coverage.id"]
    with pytest.raises(ValueError):
        operation_outcome([])
    with pytest.raises(ValueError):
        operation_outcome([("error", "nope", "x", None)])  # type: ignore[list-item]


def test_the_capability_statement_validates() -> None:
    statement = capability_statement("https://kokuho.example/fhir/", "0.1.0")
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json"]
    (rest,) = statement["rest"]
    assert rest["mode"] == "server"
    interactions = {
        resource["type"]: [i["code"] for i in resource["interaction"]]
        for resource in rest["resource"]
    }
    assert interactions == {
        "CoverageEligibilityRequest": ["create"],
        "Coverage": ["read"],
        "Patient": ["read"],
    }
    assert statement["implementation"]["url"] == "https://kokuho.example/fhir"
    assert "Bearer" in rest["security"]["description"]
    with pytest.raises(ValueError):
        capability_statement("kokuho.example", "0.1.0")


def test_the_limit_consent_extension_url_is_the_documented_one() -> None:
    assert client_request()["extension"][0]["url"] == EXT_LIMIT_CONSENT
