"""CoverageEligibilityRequest (FHIR R4) → :class:`NumberQuery`.

The models come from ``fhir.resources.R4B``: fhir.resources 8 ships R5 as its default and R4B
(4.3.0) beside it, but no R4 (4.0.1). CoverageEligibilityRequest/Response, Coverage, Patient,
Organization and OperationOutcome have the same elements in R4 and R4B, so an R4 client's JSON
validates unchanged; the R4 specification remains the authority for this face.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from kokuho.ids import (
    InstitutionCode,
    InsurerNumber,
    InvalidIdentifier,
    parse_branch,
    parse_number,
    parse_symbol,
)
from kokuho.verify._fhir_codes import (
    EXT_BRANCH,
    EXT_LIMIT_CONSENT,
    EXT_NUMBER,
    EXT_SYMBOL,
    INSTITUTION_SYSTEMS,
    INSURER_SYSTEMS,
    SUBSCRIBER_ID_SYSTEM,
)
from kokuho.verify._fhir_outcome import FhirInputError
from kokuho.verify._model import NumberQuery

ROOT: Final = "CoverageEligibilityRequest"
#: What a client needs to contain: the person, the card, and organisations named inline.
_CONTAINED_TYPES: Final = frozenset(
    {"Patient", "Coverage", "Organization", "Practitioner", "PractitionerRole", "Location"}
)
_R = TypeVar("_R", bound=Resource)


def parse_eligibility_request(resource: Mapping[str, Any]) -> tuple[NumberQuery, str]:
    """Reads a 資格確認 by 被保険者証の記号・番号 from a CoverageEligibilityRequest.

    The request must be ``status`` active with ``purpose`` including ``validation``, carry the
    date of care (受診日) in ``servicedDate`` (or a one-day ``servicedPeriod``), and contain:

    - the Patient named by ``patient`` (``"#id"``), with a full ``birthDate`` (生年月日);
    - the Coverage (被保険者証), referenced from ``insurance[0].coverage`` or, without
      ``insurance``, as the only contained Coverage. 記号・番号・枝番 come from the JP Core
      extensions JP_Coverage_InsuredPersonSymbol / …Number / …SubNumber (on the Coverage or
      on its identifier), the 被保険者識別子 identifier ``保険者番号:記号:番号:枝番``, or
      ``dependent`` for the 枝番; every source given must agree;
    - the 保険者番号 as an identifier with system ``urn:oid:1.2.392.100495.20.3.61`` on
      ``Coverage.payor`` or ``insurer`` (directly or on a contained Organization).

    ``provider``, when it carries a 医療機関コード, must be a valid one; the web face decides
    who asks from the credential, not from the body. The kokuho extension ``limit-consent``
    (valueBoolean) says the person agreed to show 限度額 information.

    Returns the query and a reference to the request for :func:`eligibility_response`: the
    first identifier as ``system|value`` (or ``value``), else ``CoverageEligibilityRequest/id``,
    else "" (then the caller names the stored request). Raises :class:`FhirInputError` listing
    every problem found, each with its FHIRPath.
    """
    issues = list(_precheck(resource))
    if issues:
        raise FhirInputError(issues)
    try:
        request = CoverageEligibilityRequest.model_validate(dict(resource))
    except ValidationError as error:
        raise FhirInputError(_pydantic_issues(error)) from None
    except (KeyError, TypeError, ValueError) as error:
        # fhir.resources raises plain errors for some shapes it cannot dispatch.
        raise FhirInputError([(ROOT, f"not a valid {ROOT}: {error}")]) from None
    return _Reader(request).read()


def _precheck(resource: object) -> Iterator[tuple[str, str]]:
    if not isinstance(resource, Mapping):
        yield "", "the body must be a JSON object (a FHIR resource)"
        return
    kind = resource.get("resourceType")
    if kind != ROOT:
        yield "resourceType", f"must be {ROOT}, not {kind!r}"
        return
    contained = resource.get("contained")
    if isinstance(contained, list):
        ids: dict[str, int] = {}
        for index, item in enumerate(contained):
            kind = item.get("resourceType") if isinstance(item, Mapping) else None
            if not isinstance(kind, str) or kind not in _CONTAINED_TYPES:
                yield (
                    f"{ROOT}.contained[{index}]",
                    f"{kind!r} is not accepted here; contain {', '.join(sorted(_CONTAINED_TYPES))}",
                )
                continue
            # Contained resources share one id space (FHIR references, "#id"): with two of one
            # id, which the check reads and which a client shows could differ.
            name = item.get("id")
            if isinstance(name, str) and name in ids:
                yield (
                    f"{ROOT}.contained[{index}].id",
                    f"{name[:64]!r} is also the id of contained[{ids[name]}]: a reference "
                    f"(#{name[:64]}) must name one resource",
                )
            elif isinstance(name, str):
                ids[name] = index
    # A modifier extension may change the meaning of what it sits on; FHIR requires a
    # receiver that does not know it to refuse rather than answer a different question.
    for path in _modifier_extensions(resource, ROOT):
        yield path, "modifier extensions are not understood here"


def _modifier_extensions(node: object, path: str) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "modifierExtension" and value:
                yield f"{path}.modifierExtension"
            else:
                yield from _modifier_extensions(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _modifier_extensions(value, f"{path}[{index}]")


def _pydantic_issues(error: ValidationError) -> list[tuple[str, str]]:
    issues = []
    for detail in error.errors():
        path = ROOT
        for part in detail["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part != "root":  # pydantic's name for "the value itself"
                path += f".{part}"
        issues.append((path, str(detail["msg"]).splitlines()[0]))
    return issues


def _day(value: object) -> dt.date | None:
    """A full date in 1900–2099 (the REST face's range: no year 1 or 9999 reaching date
    maths), or None."""
    # datetime is a date too: test it first. Partial dates stay strings in fhir.resources.
    day = value.date() if isinstance(value, dt.datetime) else value
    if isinstance(day, dt.date) and 1900 <= day.year <= 2099:
        return day
    return None


class _Candidates:
    """Values one field received from several places, each with its path."""

    def __init__(self) -> None:
        self.values: list[tuple[str, str]] = []

    def add(self, path: str, value: str | None) -> None:
        if value:
            self.values.append((path, value))


class _Reader:
    def __init__(self, request: CoverageEligibilityRequest) -> None:
        self.request = request
        self.issues: list[tuple[str, str]] = []
        self.contained: dict[str, tuple[int, Resource]] = {
            resource.id: (index, resource)
            for index, resource in enumerate(request.contained or [])
            if resource.id
        }

    def fail(self, path: str, message: str) -> None:
        self.issues.append((f"{ROOT}.{path}" if path else ROOT, message))

    def read(self) -> tuple[NumberQuery, str]:
        self._check_status_and_purpose()
        date_of_care = self._date_of_care()
        patient = self._patient()
        birth_date = self._birth_date(patient)
        coverage = self._coverage(patient)
        subscriber_ids = list(self._subscriber_ids(coverage)) if coverage else []
        numbers = self._numbers(coverage, subscriber_ids) if coverage else None
        insurer = self._insurer(coverage, subscriber_ids)
        self._check_provider()
        limit_consent = self._limit_consent()
        if self.issues or not (birth_date and date_of_care and numbers and insurer):
            # Every path that leaves a value unset records an issue; the fallback is defensive.
            raise FhirInputError(self.issues or [(ROOT, "the request is incomplete")])
        symbol, number, branch = numbers
        query = NumberQuery(
            insurer=insurer,
            symbol=symbol,
            number=number,
            branch=branch,
            birth_date=birth_date,
            date_of_care=date_of_care,
            limit_consent=limit_consent,
        )
        return query, self._request_ref()

    # --- the envelope ------------------------------------------------------------------------

    def _check_status_and_purpose(self) -> None:
        if self.request.status != "active":
            self.fail("status", f"must be active, not {self.request.status!r}")
        if "validation" not in (self.request.purpose or []):
            self.fail("purpose", "must include 'validation' (資格確認); nothing else is answered")

    def _date_of_care(self) -> dt.date | None:
        request = self.request
        if request.servicedDate is not None:
            day = _day(request.servicedDate)
            if day is None:
                self.fail("servicedDate", "must be a full date (YYYY-MM-DD) in 1900–2099")
            return day
        if request.servicedPeriod is not None:
            start = _day(request.servicedPeriod.start)
            if start is not None and start == _day(request.servicedPeriod.end):
                return start
            self.fail("servicedPeriod", "must cover one day; send servicedDate (受診日)")
            return None
        self.fail("serviced", "servicedDate (the date of care, 受診日) is required")
        return None

    def _limit_consent(self) -> bool:
        consent = False
        for index, extension in enumerate(self.request.extension or []):
            if extension.url == EXT_LIMIT_CONSENT:
                if not isinstance(extension.valueBoolean, bool):
                    self.fail(f"extension[{index}]", "limit-consent needs valueBoolean")
                else:
                    consent = extension.valueBoolean
        return consent

    def _request_ref(self) -> str:
        for identifier in self.request.identifier or []:
            if identifier.value:
                system = identifier.system
                return f"{system}|{identifier.value}" if system else identifier.value
        return f"{ROOT}/{self.request.id}" if self.request.id else ""

    # --- references ---------------------------------------------------------------------------

    def _resolve(
        self, reference: Reference | None, kind: type[_R], path: str
    ) -> tuple[int, _R] | None:
        target = reference.reference if reference else None
        if not target or not target.startswith("#"):
            self.fail(path, f'must reference a contained {kind.__name__} ("#id")')
            return None
        found = self.contained.get(target[1:])
        if found is None:
            self.fail(path, f"{target} names no contained resource")
            return None
        index, resource = found
        if not isinstance(resource, kind):
            self.fail(path, f"{target} is a {type(resource).__name__}, not a {kind.__name__}")
            return None
        return index, resource

    def _identifiers(
        self, reference: Reference | None, path: str
    ) -> Iterator[tuple[str, Identifier]]:
        """The identifiers a reference carries itself or through a contained Organization."""
        if reference is None:
            return
        if reference.identifier is not None:
            yield f"{path}.identifier", reference.identifier
        target = reference.reference or ""
        index, organization = self.contained.get(target[1:], (-1, None))
        if target.startswith("#") and isinstance(organization, Organization):
            for position, identifier in enumerate(organization.identifier or []):
                yield f"contained[{index}].identifier[{position}]", identifier

    # --- the person and the card -------------------------------------------------------------

    def _patient(self) -> tuple[int, Patient] | None:
        return self._resolve(self.request.patient, Patient, "patient")

    def _birth_date(self, patient: tuple[int, Patient] | None) -> dt.date | None:
        if patient is None:
            return None
        index, resource = patient
        if resource.birthDate is None:
            self.fail(f"contained[{index}].birthDate", "生年月日 (birthDate) is required")
            return None
        day = _day(resource.birthDate)
        if day is None:
            self.fail(
                f"contained[{index}].birthDate", "must be a full date (YYYY-MM-DD) in 1900–2099"
            )
        return day

    def _coverage(self, patient: tuple[int, Patient] | None) -> tuple[int, Coverage] | None:
        insurance = self.request.insurance or []
        found: tuple[int, Coverage] | None
        if len(insurance) > 1:
            self.fail("insurance[1]", "one insurance (one 被保険者証) per request")
        if insurance:
            found = self._resolve(insurance[0].coverage, Coverage, "insurance[0].coverage")
        else:
            coverages = [
                (index, resource)
                for index, resource in enumerate(self.request.contained or [])
                if isinstance(resource, Coverage)
            ]
            if len(coverages) != 1:
                self.fail("insurance", "required: insurance[0].coverage must reference the card")
                return None
            found = coverages[0]
        if found and patient:
            index, coverage = found
            expected = f"#{patient[1].id}"
            # "beneficiary": null passes the model (a null element is an absent one) although
            # R4 requires it: refuse it here like a missing or wrong reference.
            beneficiary = coverage.beneficiary.reference if coverage.beneficiary else None
            if beneficiary != expected:
                self.fail(f"contained[{index}].beneficiary", f"must reference {expected}")
        return found

    def _extensions(self, coverage: Coverage, base: str) -> Iterator[tuple[str, Extension]]:
        for index, extension in enumerate(coverage.extension or []):
            yield f"{base}.extension[{index}]", extension
        for position, identifier in enumerate(coverage.identifier or []):
            for index, extension in enumerate(identifier.extension or []):
                yield f"{base}.identifier[{position}].extension[{index}]", extension

    def _subscriber_ids(self, found: tuple[int, Coverage]) -> Iterator[tuple[str, list[str]]]:
        index, coverage = found
        base = f"contained[{index}]"
        for position, identifier in enumerate(coverage.identifier or []):
            if identifier.system == SUBSCRIBER_ID_SYSTEM and identifier.value:
                path = f"{base}.identifier[{position}].value"
                parts = identifier.value.split(":")
                if len(parts) != 4:
                    self.fail(path, "must be 保険者番号:記号:番号:枝番 (four fields)")
                    continue
                yield path, parts

    def _numbers(
        self, found: tuple[int, Coverage], subscriber_ids: list[tuple[str, list[str]]]
    ) -> tuple[str, str, str | None] | None:
        index, coverage = found
        base = f"contained[{index}]"
        fields = {EXT_SYMBOL: _Candidates(), EXT_NUMBER: _Candidates(), EXT_BRANCH: _Candidates()}
        for path, extension in self._extensions(coverage, base):
            if extension.url in fields:
                if not extension.valueString:
                    self.fail(path, "needs valueString")
                fields[extension.url].add(f"{path}.valueString", extension.valueString)
        for path, parts in subscriber_ids:
            fields[EXT_SYMBOL].add(path, parts[1])
            fields[EXT_NUMBER].add(path, parts[2])
            fields[EXT_BRANCH].add(path, parts[3])
        fields[EXT_BRANCH].add(f"{base}.dependent", coverage.dependent)

        if not fields[EXT_NUMBER].values:
            self.fail(
                f"{base}.extension", "被保険者証番号 (JP_Coverage_InsuredPersonNumber) is required"
            )
        symbol = self._agree("記号", fields[EXT_SYMBOL], parse_symbol)
        number = self._agree("番号", fields[EXT_NUMBER], parse_number)
        branch = self._agree("枝番", fields[EXT_BRANCH], parse_branch)
        if number is None:
            return None
        return symbol or "", number, branch

    def _agree(
        self, label: str, candidates: _Candidates, parse: Callable[[str], str]
    ) -> str | None:
        parsed: dict[str, str] = {}
        for path, raw in candidates.values:
            try:
                parsed.setdefault(parse(raw), path)
            except InvalidIdentifier as error:
                self.fail(path, str(error))
        if len(parsed) > 1:
            where = ", ".join(f"{value!r} at {path}" for value, path in parsed.items())
            self.fail(candidates.values[0][0], f"{label} differs between sources: {where}")
            return None
        return next(iter(parsed), None)

    def _insurer(
        self, found: tuple[int, Coverage] | None, subscriber_ids: list[tuple[str, list[str]]]
    ) -> str | None:
        candidates = _Candidates()
        sources: list[tuple[str, Identifier]] = []
        if found:
            index, coverage = found
            for position, payor in enumerate(coverage.payor):
                sources += self._identifiers(payor, f"contained[{index}].payor[{position}]")
        for path, parts in subscriber_ids:
            # 被保険者識別子 pads 国保's 6 digits to 8 with zeros; InsurerNumber undoes it.
            candidates.add(path, parts[0])
        sources += self._identifiers(self.request.insurer, "insurer")
        for path, identifier in sources:
            if identifier.system in INSURER_SYSTEMS:
                candidates.add(f"{path}.value", identifier.value)
        if not candidates.values:
            self.fail(
                "insurer",
                "保険者番号 is required: an identifier with system urn:oid:1.2.392.100495.20.3.61"
                " on Coverage.payor or on insurer",
            )
            return None
        return self._agree("保険者番号", candidates, lambda raw: InsurerNumber.parse(raw).value)

    def _check_provider(self) -> None:
        for path, identifier in self._identifiers(self.request.provider, "provider"):
            if identifier.system in INSTITUTION_SYSTEMS and identifier.value:
                try:
                    InstitutionCode.parse(identifier.value)
                except InvalidIdentifier as error:
                    self.fail(f"{path}.value", str(error))
