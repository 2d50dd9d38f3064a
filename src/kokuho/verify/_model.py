"""What an eligibility check (資格確認) asks and answers, independent of any face.

The REST API, the FHIR face and the OQS file interface all translate to and from these types,
so the three faces give the same answer for the same person by construction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from kokuho.ids import InsuredId


class Validity(IntEnum):
    """資格有効性 (OQS code table OQSCD006)."""

    VALID = 1  # 有効
    INVALID = 2  # 無効
    REPLACED = 3  # 無効（新しい資格あり）
    NOT_FOUND = 4  # 該当資格なし
    MULTIPLE = 5  # 複数該当

    @property
    def label(self) -> str:
        return _VALIDITY_LABELS[self]


_VALIDITY_LABELS = {
    Validity.VALID: "有効",
    Validity.INVALID: "無効",
    Validity.REPLACED: "無効（新しい資格あり）",
    Validity.NOT_FOUND: "該当資格なし",
    Validity.MULTIPLE: "複数該当",
}


class Purpose(StrEnum):
    """Why an institution asks. 告知要求制限 (健康保険法第194条の2): numbers may be asked for
    insurance business only, so every query names one of these and nothing else is served."""

    CARE = "care"  # 保険診療・調剤の受付 (the counter check)
    PRECHECK = "precheck"  # 予約患者の事前確認 (一括照会)
    CLAIM = "claim"  # レセプト請求前の資格確認


class Method(StrEnum):
    NUMBER = "number"  # 被保険者証情報 (ReferenceClassification 2)
    CARD_PIN = "card_pin"  # マイナンバーカード・暗証番号
    CARD_FACE = "card_face"  # マイナンバーカード・顔認証


class ConsentCategory(StrEnum):
    """Data shown only with the person's consent at the terminal."""

    LIMIT = "limit"  # 限度額適用認定証等の情報
    CHECKUP = "checkup"  # 特定健診情報
    MEDICATION = "medication"  # 薬剤情報
    CLINICAL = "clinical"  # 診療情報


@dataclass(frozen=True)
class NumberQuery:
    """A check by the numbers on the card (QualificationConfirmSearchInfo). 枝番 may be
    omitted for cards issued before individual numbers; then several may match."""

    insurer: str
    symbol: str
    number: str
    branch: str | None
    birth_date: dt.date
    date_of_care: dt.date
    limit_consent: bool = False  # LimitApplicationCertificateRelatedConsFlg


@dataclass(frozen=True)
class CoverageAnswer:
    """One ResultOfQualificationConfirmation."""

    insured: InsuredId
    insurer_name: str
    card_class: str  # InsuredCardClassification 01 一般 …
    relationship: int  # PersonalFamilyClassification 1 本人 2 家族
    name_kanji: str
    name_kana: str
    sex: int
    birth_date: dt.date
    acquired_on: dt.date
    lost_on: dt.date | None
    loss_reason: str | None
    copay_percent: int
    elderly_copay_percent: int | None
    specific_disease: str | None
    limit_category: str | None = None  # only within consent
    reference_number: str | None = None  # 照会番号 the asking institution registered


@dataclass(frozen=True)
class EligibilityAnswer:
    validity: Validity
    date_of_care: dt.date
    results: list[CoverageAnswer] = field(default_factory=list)
    # Consents in force for the asking institution: category → last day.
    consents: dict[ConsentCategory, dt.date] = field(default_factory=dict)
