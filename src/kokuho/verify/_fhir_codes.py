"""Systems, extension URLs and code tables of the FHIR face (FHIR R4, JP Core).

Everything here was read in JP Core (``jami-fhir-jp-wg/jp-core-v1x``: the JP_Coverage,
JP_Organization and JP_Patient profiles, their notes, ``aliases-jpcore.fsh`` and the
NamingSystem definitions) or in the HL7 terminology, except the block marked UNCONFIRMED.

NamingSystems seen but not used here: 被保険者証記号 ``urn:oid:1.2.392.100495.20.3.62`` and
被保険者証番号 ``urn:oid:1.2.392.100495.20.3.63``; JP Core names the extension URLs below as
their preferred URIs, so the extensions are what this face writes and reads.
"""

from __future__ import annotations

from typing import Final

# --- JP Core -------------------------------------------------------------------------------

JP_CORE: Final = "http://jpfhir.jp/fhir/core"
JP_COVERAGE_PROFILE: Final = f"{JP_CORE}/StructureDefinition/JP_Coverage"
JP_PATIENT_PROFILE: Final = f"{JP_CORE}/StructureDefinition/JP_Patient"

#: 被保険者証 記号・番号・枝番 (JP_Coverage extensions, context Coverage, value[x] string).
EXT_SYMBOL: Final = f"{JP_CORE}/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol"
EXT_NUMBER: Final = f"{JP_CORE}/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber"
EXT_BRANCH: Final = f"{JP_CORE}/Extension/StructureDefinition/JP_Coverage_InsuredPersonSubNumber"

#: 保険者番号. JP_Organization fixes ``identifier[insurerNumber].system`` to the OID; the later
#: NamingSystem lists the http URI as an equivalent, so both are read and the OID is written.
INSURER_SYSTEM: Final = "urn:oid:1.2.392.100495.20.3.61"
INSURER_SYSTEM_URI: Final = f"{JP_CORE}/mhlw/IdSystem/InsurerNumber"
INSURER_SYSTEMS: Final = frozenset({INSURER_SYSTEM, INSURER_SYSTEM_URI})

#: 医療機関コード（10桁）: JP_Organization ``identifier[medicalInstitutionCode]``. Older JP Core
#: releases wrote ``…/fhir/Common/IdSystem/…``; it is still read.
INSTITUTION_SYSTEM: Final = f"{JP_CORE}/IdSystem/insurance-medical-institution-no"
INSTITUTION_SYSTEMS: Final = frozenset(
    {INSTITUTION_SYSTEM, "http://jpfhir.jp/fhir/Common/IdSystem/insurance-medical-institution-no"}
)

#: 被保険者識別子: ``{保険者番号 8桁}:{記号}:{番号}:{枝番}`` (JP_Coverage insuranceIdentifier).
SUBSCRIBER_ID_SYSTEM: Final = f"{JP_CORE}/Idsystem/JP_Insurance_SubscriberID"

#: 被保険者区分 (MHLW 別表12: 1 被保険者, 2 被扶養者), named by JP_Coverage.relationship.
INSURED_CATEGORY_SYSTEM: Final = "urn:oid:1.2.392.100495.20.2.62"

#: 漢字 (IDE) and カナ (SYL) names, the way JP_Patient tells them apart.
NAME_REPRESENTATION: Final = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

# --- HL7 terminology -----------------------------------------------------------------------

SUBSCRIBER_RELATIONSHIP: Final = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
COPAY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM: Final = "http://unitsofmeasure.org"

# --- UNCONFIRMED ---------------------------------------------------------------------------
# Not confirmed against a primary source; revisit before production.
# - KOKUHO_FHIR: kokuho has no registered canonical domain yet. ``.example`` is reserved
#   (RFC 2606), so these URLs can never collide with someone else's definitions; every kokuho
#   extension and code system below hangs off it and moves with it.
# - LOCAL_PATIENT_ID_PREFIX: the 院内患者ID system "urn:oid:1.2.392.100495.20.3.51.1" followed
#   by the 10-digit 医療機関コード appears in JP Core Patient examples and search examples
#   (e.g. …20.3.51.11312345670), but no normative rule text was found.
KOKUHO_FHIR: Final = "http://kokuho.example/fhir"
LOCAL_PATIENT_ID_PREFIX: Final = "urn:oid:1.2.392.100495.20.3.51.1"

# --- kokuho extensions and code systems (under the UNCONFIRMED base above) ------------------


def _ext(name: str) -> str:
    return f"{KOKUHO_FHIR}/StructureDefinition/{name}"


def _cs(name: str) -> str:
    return f"{KOKUHO_FHIR}/CodeSystem/{name}"


EXT_VALIDITY: Final = _ext("qualification-validity")  # 資格有効性 1–5 (OQSCD006)
EXT_CONSENT: Final = _ext("consent")  # complex: category (code) + until (date)
EXT_LIMIT_CONSENT: Final = _ext("limit-consent")  # request: 限度額情報の提供に同意 (boolean)
EXT_CARD_CLASS: Final = _ext("card-class")  # 被保険者証区分
EXT_ELDERLY_COPAY: Final = _ext("elderly-copay-percent")  # 高齢受給者 負担割合
EXT_LIMIT_CATEGORY: Final = _ext("limit-category")  # 限度額適用区分 (consent-gated)
EXT_SPECIFIC_DISEASE: Final = _ext("specific-disease")  # 特定疾病
EXT_LOSS_REASON: Final = _ext("loss-reason")  # 資格喪失事由

CS_VALIDITY: Final = _cs("qualification-validity")
CS_CONSENT: Final = _cs("consent-category")
CS_CARD_CLASS: Final = _cs("card-class")
CS_LIMIT_CATEGORY: Final = _cs("limit-category")
CS_SPECIFIC_DISEASE: Final = _cs("specific-disease")
CS_LOSS_REASON: Final = _cs("loss-reason")

# --- code tables (OQS; eligibility.md §1, taken from client code written against 別紙) ------

#: InsuredCardClassification.
CARD_CLASSES: Final[dict[str, str]] = {
    "01": "一般",
    "02": "退職",
    "03": "短期一般",
    "04": "短期退職",
    "05": "資格証明書",
    "06": "特例退職",
    "07": "自衛官診療証",
    "A1": "医療扶助",
}

#: LimitApplicationCertificateRelatedInfo …ClassificationFlag: A (under 70), B (70 and over).
LIMIT_CATEGORIES: Final[dict[str, str]] = {
    "A01": "ア",
    "A02": "イ",
    "A03": "ウ",
    "A04": "エ",
    "A05": "オ",
    "A06": "オ（境）",
    "B01": "現役並みⅢ",
    "B02": "現役並みⅡ",
    "B03": "現役並みⅠ",
    "B04": "一般",
    "B05": "低所得Ⅱ",
    "B06": "低所得Ⅰ",
    "B07": "低所得Ⅰ（老福）",
    "B08": "低所得Ⅰ（境）",
    "B09": "一般Ⅱ",
    "B10": "一般Ⅰ",
}

#: OQSCD013.
SPECIFIC_DISEASES: Final[dict[str, str]] = {
    "1": "人工透析を要する慢性腎不全",
    "2": "血友病",
    "3": "血液凝固因子製剤の投与に起因するHIV感染症",
}
