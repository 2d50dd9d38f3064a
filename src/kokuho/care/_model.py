"""The values of a 介護給付費明細書 file (国保連 交換情報 CSV) as kokuho holds them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

#: 要介護状態区分コード → 区分 (docs/formats.md §10; the codes are UNCONFIRMED).
CARE_LEVELS: Final[dict[str, str]] = {
    "12": "要支援1",
    "13": "要支援2",
    "21": "要介護1",
    "22": "要介護2",
    "23": "要介護3",
    "24": "要介護4",
    "25": "要介護5",
}
#: 非該当 (自立): a certification may decide it; no claim carries it.
NOT_ELIGIBLE: Final = "01"
CERTIFICATION_LEVELS: Final[dict[str, str]] = {NOT_ELIGIBLE: "非該当", **CARE_LEVELS}
#: 要支援 (予防給付) as against 要介護 (介護給付).
SUPPORT_LEVELS: Final = frozenset({"12", "13"})


@dataclass(frozen=True, slots=True)
class CareDetail:
    """明細情報: one サービス項目 of a claim. ``service_units`` = ``units`` × ``count``."""

    service_type: str  # サービス種類コード, 2 digits
    item_code: str  # サービス項目コード, 4 digits
    units: int  # 単位数
    count: int  # 日数・回数
    service_units: int  # サービス単位数
    note: str = ""  # 摘要


@dataclass(frozen=True, slots=True)
class CareTotal:
    """集計情報: the totals of one サービス種類 of a claim."""

    service_type: str  # サービス種類コード
    days: int  # サービス実日数
    units: int  # 給付単位数 (the sum of the 明細's サービス単位数 of this 種類)
    unit_price: Decimal  # 単位数単価 (円, two decimals)
    claimed: int  # 保険請求額 (円)
    copay: int  # 利用者負担額 (円)


@dataclass(frozen=True, slots=True)
class CareClaim:
    """One 介護給付費明細書: the 基本情報 with its 明細情報 and 集計情報."""

    service_month: dt.date  # サービス提供年月 (the 1st)
    provider: str  # 事業所番号, 10 digits
    insurer: str  # 証記載保険者番号 (介護保険), 6 digits
    insured: str  # 被保険者番号 (介護保険), 10 digits
    name_kana: str  # 被保険者氏名 (カナ)
    birth_date: dt.date
    sex: int  # 1 男, 2 女
    care_level: str  # 要介護状態区分コード (CARE_LEVELS)
    valid_from: dt.date  # 認定有効期間 開始
    valid_to: dt.date  # 認定有効期間 終了
    benefit_rate: int  # 保険給付率 (%)
    details: tuple[CareDetail, ...]
    totals: tuple[CareTotal, ...]
    exchange_id: str = "7131"  # 交換情報識別番号 (UNCONFIRMED value)


@dataclass(frozen=True, slots=True)
class CareClaimFile:
    """One file: the コントロールレコード's values and the claims in file order."""

    provider: str  # 事業所番号
    prefecture: str  # 都道府県番号, 2 digits
    billing_month: dt.date  # 処理対象年月 (請求年月, the 1st)
    claims: tuple[CareClaim, ...]
    volume: int = 0  # ボリューム通番
    data_kind: str = "711"  # データ種別 (UNCONFIRMED value)
