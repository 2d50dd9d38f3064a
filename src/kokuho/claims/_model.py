"""The claims of a レセ電 file as values: what the reader returns and the writer takes.

Field names follow the 記録条件仕様 (see docs/formats.md §7); only what kokuho uses or must
write back is kept as a typed field, the rest of a record travels in ``extra`` so a file read
and written again keeps its content.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class ClaimKind(StrEnum):
    """Which 記録条件仕様 a file follows."""

    MEDICAL = "medical"  # 医科 (IR … GO)
    PHARMACY = "pharmacy"  # 調剤 (YK … GO)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """SY 傷病名レコード."""

    code: str  # 傷病名コード, 7 digits ("0000999" = 未コード化傷病名)
    start: dt.date | None  # 診療開始日
    outcome: str  # 転帰区分 (1 治ゆ・死亡・中止以外, 2 治ゆ, 3 死亡, 4 中止)
    modifiers: str = ""  # 修飾語コード (4 digits × up to 20)
    name: str = ""  # 傷病名称 (only for 未コード化)
    primary: bool = False  # 主傷病 ("01")
    comment: str = ""  # 補足コメント


@dataclass(frozen=True, slots=True)
class Procedure:
    """SI 診療行為レコード (医科)."""

    section: str  # 診療識別 (2 digits)
    burden: str  # 負担区分
    code: str  # 診療行為コード, 9 digits
    quantity: Decimal | None  # 数量データ
    points: int | None  # 点数 (on the last record of an 算定単位 only)
    times: int  # 回数
    days: tuple[int, ...] = ()  # 算定日 1日…31日 (count per day; empty = not recorded)


@dataclass(frozen=True, slots=True)
class Drug:
    """IY 医薬品レコード, of a 医科 claim or of a 調剤 claim's 処方 (with its CZ)."""

    code: str  # 医薬品コード, 9 digits
    amount: Decimal  # 使用量 (per 算定 for 医科, per 調剤単位 for 調剤)
    section: str = ""  # 診療識別 (医科 only: 21 内服, 22 屯服, 23 外用, 31–33 注射 …)
    burden: str = ""  # 負担区分
    points: int | None = None  # 点数 (医科)
    times: int = 0  # 回数 (医科)
    days: tuple[int, ...] = ()  # 算定日 1日…31日 (医科)
    # 調剤: the CZ 調剤情報 the drug was dispensed under.
    dispensed_units: int | None = None  # CZ 調剤数量 (days for 内服, times for 屯服)
    prescribed_on: dt.date | None = None  # CZ 処方月日
    dispensed_on: dt.date | None = None  # CZ 調剤月日
    dosage_form: str = ""  # SH 剤形コード
    rx_number: int | None = None  # SH No (the 処方 this drug belongs to)

    @property
    def quantity(self) -> Decimal:
        """Quantity in 薬価基準 units (使用量 × Σ算定日 for 医科, × 調剤数量 for 調剤).

        When a 医科 record has no day fields, 回数 stands for their sum.
        """
        if self.dispensed_units is not None:
            return self.amount * self.dispensed_units
        return self.amount * (sum(self.days) if self.days else self.times)


@dataclass(frozen=True, slots=True)
class PublicFund:
    """KO 公費レコード."""

    payer: str  # 公費負担者番号
    recipient: str  # 公費受給者番号
    days: int | None = None
    points: int | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """One レセプト: RE with its HO/KO/SN and body records."""

    receipt_number: int  # レセプト番号 (within the file)
    receipt_type: str  # レセプト種別 (4 digits, e.g. 1112 医科・国保・本人外来)
    service_month: dt.date  # 診療年月/調剤年月, as the first day of the month
    name: str  # 氏名 (kanji)
    sex: int  # 男女区分 1 男 2 女
    birth_date: dt.date
    insurer_number: str  # HO 保険者番号 (8 digits, or 6 for 国保)
    symbol: str  # HO 記号
    number: str  # HO 番号
    branch: str = ""  # SN 枝番 ("" when no SN record carries it)
    benefit_ratio: str = ""  # 給付割合
    admission_date: dt.date | None = None  # 入院年月日 (医科 inpatient)
    days: int = 0  # HO 診療実日数 / 処方箋受付回数
    total_points: int = 0  # HO 合計点数
    copayment: int | None = None  # HO 負担金額 / 一部負担金
    kana_name: str = ""  # カタカナ氏名
    prescriber: str = ""  # 調剤: 処方医療機関コード (RE 12), with its 都道府県 RE 10
    prescriber_prefecture: str = ""
    public_funds: tuple[PublicFund, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    drugs: tuple[Drug, ...] = ()
    line: int = 0  # line of the RE record in its file (1-based; 0 when built in memory)


@dataclass(frozen=True, slots=True)
class ClaimFile:
    """One レセ電 file (one volume): IR/YK, the claims, GO."""

    kind: ClaimKind
    reviewer: str  # 審査支払機関 (1 社保, 2 国保連)
    prefecture: str  # 都道府県 (2 digits)
    fee_table: str  # 点数表 (1 医科, 3 歯科, 4 調剤)
    institution_code: str  # 医療機関コード / 薬局コード (7 digits)
    institution_name: str
    billing_month: dt.date  # 請求年月, first day of the month
    volume: str = "00"  # マルチボリューム識別情報
    phone: str = ""
    claims: tuple[Claim, ...] = field(default_factory=tuple)
