"""Columns of the claims lake tables (Parquet, partitioned by 診療年月 ``service_month=YYYY-MM``).

Layout under the lake root (the same root as the checkup lake, ``$KOKUHO_HOME/lake``)::

    claims_manifest.json                                  files ingested (the commit record)
    claims/service_month=YYYY-MM/<sha256>.parquet         one row per レセプト
    claim_drugs/service_month=YYYY-MM/<sha256>.parquet    one row per IY (with its CZ)
    claim_diagnoses/service_month=YYYY-MM/<sha256>.parquet one row per SY
    claim_procedures/service_month=YYYY-MM/<sha256>.parquet one row per SI
    drug_master/drugs.parquet                             医薬品マスター + MHLW 後発 list

``<sha256>`` is the digest of the レセ電 file the rows came from; ``claim_id`` is
``<sha256>:<receipt_number>`` and joins the four claim tables.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

CLAIMS: Final[dict[str, pa.DataType]] = {
    "claim_id": pa.string(),
    "file": pa.string(),  # sha256 of the レセ電 file
    "line": pa.int32(),  # line of the RE record
    "kind": pa.string(),  # "medical" | "pharmacy"
    "institution": pa.string(),  # 医療機関コード / 薬局コード (7 digits)
    "prefecture": pa.string(),  # 都道府県 of the institution
    "billing_month": pa.date32(),  # 請求年月 (first day)
    "service_month": pa.date32(),  # 診療年月 / 調剤年月 (first day)
    "receipt_number": pa.int32(),
    "receipt_type": pa.string(),  # レセプト種別
    "setting": pa.string(),  # "inpatient" | "outpatient" | "pharmacy" (from レセプト種別)
    "insurer": pa.string(),  # HO 保険者番号
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),  # "" when the claim carries no 枝番
    "sex": pa.int16(),
    "birth_date": pa.date32(),
    "days": pa.int32(),  # 診療実日数 / 処方箋受付回数
    "points": pa.int64(),  # HO 合計点数 (1 点 = 10 円)
    "first_day": pa.date32(),  # earliest day of service the claim records (null: unknown)
    "last_day": pa.date32(),  # latest day of service the claim records (null: unknown)
    "prescriber": pa.string(),  # 調剤: 処方医療機関 (都道府県 + 点数表 + コード); "" otherwise
}

CLAIM_DRUGS: Final[dict[str, pa.DataType]] = {
    "claim_id": pa.string(),
    "service_month": pa.date32(),
    "kind": pa.string(),
    "institution": pa.string(),  # the prescribing institution (the 処方医療機関 for 調剤)
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "code": pa.string(),  # 医薬品コード (9 digits)
    "section": pa.string(),  # 診療識別 (医科) or "" (調剤)
    "amount": pa.float64(),  # 使用量
    "units": pa.float64(),  # Σ算定日 (医科) or 調剤数量 (調剤)
    "quantity": pa.float64(),  # amount × units: 薬価基準 units
    "days_supply": pa.int32(),  # days supplied for 内服 (調剤数量 of an 内服 処方; 医科 Σ days)
    "points": pa.int64(),  # null when the record carries none
    "first_day": pa.date32(),  # first 算定日 / 調剤月日
}

CLAIM_DIAGNOSES: Final[dict[str, pa.DataType]] = {
    "claim_id": pa.string(),
    "service_month": pa.date32(),
    "insurer": pa.string(),
    "symbol": pa.string(),
    "number": pa.string(),
    "branch": pa.string(),
    "code": pa.string(),  # 傷病名コード (7 digits)
    "start": pa.date32(),  # 診療開始日
    "outcome": pa.string(),  # 転帰区分
    "primary": pa.bool_(),
}

CLAIM_PROCEDURES: Final[dict[str, pa.DataType]] = {
    "claim_id": pa.string(),
    "service_month": pa.date32(),
    "section": pa.string(),
    "code": pa.string(),  # 診療行為コード (9 digits)
    "quantity": pa.float64(),
    "points": pa.int64(),
    "times": pa.int32(),
}

DRUG_MASTER: Final[dict[str, pa.DataType]] = {
    "code": pa.string(),  # 医薬品コード (y-master col 3)
    "name": pa.string(),  # 漢字名称 (col 5)
    "unit": pa.string(),  # 単位 漢字名称 (col 10)
    "price": pa.float64(),  # 新又は現金額 (col 12)
    "generic_flag": pa.string(),  # 後発品 (col 17)
    "yakka_code": pa.string(),  # 薬価基準収載医薬品コード (col 32), 12 characters
    "efficacy": pa.string(),  # 薬効分類: the first 4 characters of yakka_code
    # MHLW 「各先発医薬品の後発医薬品の有無に関する情報」: "1", "2", "☆", "3", "★" or "" (not
    # listed). How each value counts is in data/generic_classes.yaml.
    "generic_class": pa.string(),
    "ingredient": pa.string(),  # 成分名 from the MHLW list ("" when not listed)
}
