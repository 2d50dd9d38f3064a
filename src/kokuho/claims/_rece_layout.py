"""The record layouts of the レセ電 記録条件仕様 (医科 and 調剤) as kokuho reads and writes them.

One table drives the three users: the precise reader (``_rece_read``), the columnar fast path
of the lake (``_rece_fast``) and the writer (``_rece_write``). Each record type has its field
names (項目名, for error messages), the field counts accepted, and the fields kokuho checks,
with their form. Fields not listed are free text. Sources and what is UNCONFIRMED:
docs/formats.md §7 and /work/shared/domain/codes-masters-formats.md §3.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from kokuho.claims._model import ClaimKind


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A checked field. ``form`` is one of

    - ``digits``: ASCII digits, of one of ``lengths``;
    - ``int``: 1 to ``lengths[0]`` ASCII digits, read as an integer;
    - ``decimal``: ``整数部5桁、小数部5桁``: 1–5 digits, optionally ``.`` and 1–5 digits;
    - ``gyymm`` / ``gyymmdd``: a 和暦 month / day (年号区分 1 明治 … 5 令和);
    - ``monthday``: a day of (or up to a year before) the service month: ``DD``, ``MMDD`` or
      ``GYYMMDD`` (CZ 処方月日・調剤月日; the form is UNCONFIRMED);
    - ``modifiers``: 修飾語コード, 4 digits × up to 20;
    - ``code``: one ASCII letter or digit (負担区分);
    - ``primary``: empty or ``01`` (主傷病);
    - ``sex``: ``1`` or ``2``;
    - ``insurer``: a 保険者番号 (6 or 8 digits) whose 検証番号 holds (``kokuho.ids.InsurerNumber``).
    """

    form: str
    required: bool = False
    lengths: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordLayout:
    tag: str
    names: tuple[str, ...]  # names[n - 1] is field n; len(names) == max_fields
    min_fields: int
    checked: dict[int, FieldSpec] = field(default_factory=dict)

    @property
    def max_fields(self) -> int:
        return len(self.names)

    def name(self, number: int) -> str:
        return self.names[number - 1] if 1 <= number <= len(self.names) else f"項目{number}"


def _req(form: str, *lengths: int) -> FieldSpec:
    return FieldSpec(form, True, lengths)


def _opt(form: str, *lengths: int) -> FieldSpec:
    return FieldSpec(form, False, lengths)


_ID = "レコード識別情報"
_DAYS = tuple(f"{d}日の情報" for d in range(1, 32))
_COMMENTS = tuple(name for n in (1, 2, 3) for name in (f"コメントコード{n}", f"文字データ{n}"))
#: 1日…31日 counts (SI, IY, TO): up to 3 digits each.
_DAY_COUNTS = {n: _opt("int", 3) for n in range(14, 45)}

_POINTS = 9  # 点数: up to 9 digits
_COUNT = 5  # 回数, 日数, 件数
_RECEIPT = 6  # レセプト番号

# 医科 -----------------------------------------------------------------------------------

_IR = RecordLayout(
    "IR",
    (_ID, "審査支払機関", "都道府県", "点数表", "医療機関コード", "予備", "医療機関名称",
     "請求年月", "マルチボリューム識別情報", "電話番号"),
    10,
    {2: _req("digits", 1), 3: _req("digits", 2), 4: _req("digits", 1), 5: _req("digits", 7),
     8: _req("gyymm"), 9: _req("digits", 2)},
)  # fmt: skip

_DEPARTMENT = ("診療科名", "人体の部位等", "性別等", "医学的処置", "特定疾病")
_RE_MEDICAL = RecordLayout(
    "RE",
    (_ID, "レセプト番号", "レセプト種別", "診療年月", "氏名", "男女区分", "生年月日", "給付割合",
     "入院年月日", "病棟区分", "一部負担金・食事療養費・生活療養費標準負担額区分",
     "レセプト特記事項", "病床数", "カルテ番号等", "割引点数単価", "予備", "予備", "予備",
     "検索番号", "記録条件仕様年月情報", "請求情報",
     *(f"{name}{n}" for n in (1, 2, 3) for name in _DEPARTMENT),
     "カタカナ(氏名)", "患者の状態"),
    38,
    {2: _req("int", _RECEIPT), 3: _req("digits", 4), 4: _req("gyymm"), 6: _req("sex"),
     7: _req("gyymmdd"), 8: _opt("int", 3), 9: _opt("gyymmdd")},
)  # fmt: skip

_HO_MEDICAL = RecordLayout(
    "HO",
    (_ID, "保険者番号", "被保険者証等の記号", "被保険者証等の番号", "診療実日数", "合計点数",
     "予備", "食事療養・生活療養 回数", "食事療養・生活療養 合計金額", "職務上の事由",
     "証明書番号", "負担金額 医療保険", "減免区分", "減額割合", "減額金額"),
    14,  # 減額金額 (15) is UNCONFIRMED for 医科: 14 or 15 fields
    {2: _req("insurer", 6, 8), 4: FieldSpec("text", True), 5: _req("int", _COUNT),
     6: _req("int", _POINTS), 12: _opt("int", _POINTS)},
)  # fmt: skip

_KO_MEDICAL = RecordLayout(
    "KO",
    (_ID, "公費負担者番号", "公費受給者番号", "任意給付区分", "診療実日数", "合計点数",
     "公費負担金額", "公費給付対象外来一部負担金", "公費給付対象入院一部負担金", "予備",
     "食事療養・生活療養 回数", "食事療養・生活療養 合計金額"),
    12,
    {2: _req("digits", 8), 3: _opt("digits", 7), 5: _opt("int", _COUNT),
     6: _opt("int", _POINTS)},
)  # fmt: skip

_SN = RecordLayout(
    "SN",
    (_ID, "負担者種別", "確認区分", "保険者番号等", "被保険者証記号", "被保険者証番号", "枝番",
     "受給者番号", "予備"),
    9,
    {2: _req("digits", 1), 3: _req("digits", 2), 7: _opt("digits", 2)},
)  # fmt: skip

_JD = RecordLayout(
    "JD", (_ID, "負担者種別", *_DAYS), 33,
    {2: _req("digits", 1), **{n: _opt("digits", 1) for n in range(3, 34)}},
)  # fmt: skip

# 予備 ×31 in one explainer, ×28 in another implementation: 30 to 33 fields (UNCONFIRMED).
_MF = RecordLayout(
    "MF", (_ID, "窓口負担額区分", *(f"予備{n}" for n in range(1, 32))), 30,
    {2: _req("digits", 2)},
)  # fmt: skip

_SY = RecordLayout(
    "SY",
    (_ID, "傷病名コード", "診療開始日", "転帰区分", "修飾語コード", "傷病名称", "主傷病",
     "補足コメント"),
    8,
    {2: _req("digits", 7), 3: _req("gyymmdd"), 4: _req("digits", 1), 5: _opt("modifiers"),
     7: _opt("primary")},
)  # fmt: skip

_SI = RecordLayout(
    "SI",
    (_ID, "診療識別", "負担区分", "診療行為コード", "数量データ", "点数", "回数", *_COMMENTS,
     *_DAYS),
    44,
    {2: _opt("digits", 2), 3: _req("code"), 4: _req("digits", 9), 5: _opt("decimal"),
     6: _opt("int", _POINTS), 7: _req("int", _COUNT), **_DAY_COUNTS},
)  # fmt: skip

_IY_MEDICAL = RecordLayout(
    "IY",
    (_ID, "診療識別", "負担区分", "医薬品コード", "使用量", "点数", "回数", *_COMMENTS, *_DAYS),
    44,
    {2: _opt("digits", 2), 3: _req("code"), 4: _req("digits", 9), 5: _req("decimal"),
     6: _opt("int", _POINTS), 7: _req("int", _COUNT), **_DAY_COUNTS},
)  # fmt: skip

_TO_MEDICAL = RecordLayout(
    "TO",
    (_ID, "診療識別", "負担区分", "特定器材コード", "使用量", "点数", "回数", "単位コード", "単価",
     "予備", "商品名及び規格又はサイズ", *_COMMENTS, *_DAYS),
    48,
    {2: _opt("digits", 2), 3: _req("code"), 4: _req("digits", 9), 5: _opt("decimal"),
     6: _opt("int", _POINTS), 7: _req("int", _COUNT),
     **{n: _opt("int", 3) for n in range(18, 49)}},
)  # fmt: skip

_CO_MEDICAL = RecordLayout(
    "CO", (_ID, "診療識別", "負担区分", "コメントコード", "文字データ"), 5,
    {4: _req("digits", 9)},
)  # fmt: skip

_SJ = RecordLayout("SJ", (_ID, "症状詳記区分", "症状詳記データ"), 3)

_GO = RecordLayout(
    "GO", (_ID, "総件数", "総合計点数", "マルチボリューム識別情報"), 4,
    {2: _req("int", _COUNT + 2), 3: _req("int", _POINTS + 3), 4: _req("digits", 2)},
)  # fmt: skip

# 調剤 -----------------------------------------------------------------------------------

_YK = RecordLayout(
    "YK",
    (_ID, "審査支払機関", "都道府県", "点数表", "薬局コード", "薬局名称", "請求年月",
     "マルチボリューム識別情報", "電話番号"),
    9,
    {2: _req("digits", 1), 3: _req("digits", 2), 4: _req("digits", 1), 5: _req("digits", 7),
     7: _req("gyymm"), 8: _req("digits", 2)},
)  # fmt: skip

_RE_PHARMACY = RecordLayout(
    "RE",
    (_ID, "レセプト番号", "レセプト種別", "調剤年月", "氏名", "男女区分", "生年月日", "給付割合",
     "レセプト特記事項", "処方医療機関 都道府県", "処方医療機関 点数表", "処方医療機関コード",
     "処方医療機関名称", "処方医療機関所在地", *(f"保険医氏名{n}" for n in range(1, 21)),
     "麻薬免許番号", "調剤録番号等", "予備", "検索番号", "記録条件仕様年月情報", "請求情報",
     "一部負担金区分", "カタカナ(氏名)"),
    42,
    {2: _req("int", _RECEIPT), 3: _req("digits", 4), 4: _req("gyymm"), 6: _req("sex"),
     7: _req("gyymmdd"), 8: _opt("int", 3), 10: _opt("digits", 2), 11: _opt("digits", 1),
     12: _opt("digits", 7)},
)  # fmt: skip

_HO_PHARMACY = RecordLayout(
    "HO",
    (_ID, "保険者番号", "被保険者証等の記号", "被保険者証等の番号", "処方箋受付回数", "合計点数",
     "予備", "職務上の事由", "証明書番号", "一部負担金", "予備", "減免区分", "減額割合",
     "減額金額"),
    14,
    {2: _req("insurer", 6, 8), 4: FieldSpec("text", True), 5: _req("int", _COUNT),
     6: _req("int", _POINTS), 10: _opt("int", _POINTS)},
)  # fmt: skip

_KO_PHARMACY = RecordLayout(
    "KO",
    (_ID, "公費負担者番号", "公費受給者番号", "任意給付区分", "処方箋受付回数", "合計点数",
     "予備", "一部負担金額", "予備", "公費給付対象一部負担金"),
    10,
    {2: _req("digits", 8), 3: _opt("digits", 7), 5: _opt("int", _COUNT),
     6: _opt("int", _POINTS)},
)  # fmt: skip

_SH = RecordLayout(
    "SH",
    (_ID, "処方No", "剤形コード", "用法コード", "特別指示", "単位薬剤料",
     *(f"第{n}公費 単位薬剤料" for n in ("一", "二", "三", "四"))),
    10,
    {2: _req("int", 3), 3: _req("digits", 1), 6: _opt("int", _POINTS)},
)  # fmt: skip

# 1–54 as in the older jiki_t01 (uke-parser); 55–71 as one implementer transcribes the R6
# spec (UNCONFIRMED). Both counts are accepted.
_CZ = RecordLayout(
    "CZ",
    (_ID, "医師番号", "処方月日", "調剤月日", "処方箋受付回", "調剤数量", "負担区分(調剤料)",
     "算定区分", "算定先No", "コード(調剤料)", "点数(調剤料)", "分割区分", "前回までの数量",
     "点数(薬剤料)", "予備",
     *(f"加算料{n} {part}" for n in range(1, 11) for part in ("負担区分", "コード", "点数")),
     "一包化日数", "分割調剤種類", "前回までの一包化日数", "医師指示分割 コード",
     "医師指示分割 分割区分", "医師指示分割 分割対象調剤数量", "医師指示分割 分割対象一包化日数",
     "包括管理料等", "他医療機関受診に係る処方箋受付",
     "外来服薬支援料2 負担区分", "外来服薬支援料2 コード", "外来服薬支援料2 点数",
     "調剤管理料 負担区分", "調剤管理料 算定区分", "調剤管理料 算定先No", "調剤管理料 コード",
     "調剤管理料 点数", "時間外等加算 負担区分", "時間外等加算 コード", "時間外等加算 点数",
     "薬剤料減算区分", "薬剤料減算 合計点数",
     *(f"薬剤料減算 第{n}公費点数" for n in ("一", "二", "三", "四"))),
    54,
    {3: _req("monthday"), 4: _req("monthday"), 6: _req("int", _COUNT)},
)  # fmt: skip

_IY_PHARMACY = RecordLayout(
    "IY",
    (_ID, "負担区分", "医薬品コード", "使用量", "予備", "予備", "混合区分コード", "枝",
     "配合不適区分", "1回用量"),
    10,
    {2: _req("code"), 3: _req("digits", 9), 4: _req("decimal")},
)  # fmt: skip

_TO_PHARMACY = RecordLayout(
    "TO", (_ID, "負担区分", "特定器材コード", "使用量", "単位コード", "単価", "予備"), 7,
    {2: _req("code"), 3: _req("digits", 9), 4: _opt("decimal")},
)  # fmt: skip

_CO_PHARMACY = RecordLayout("CO", (_ID, "コメントコード", "文字データ"), 3)
_TK = RecordLayout("TK", (_ID, "コメントコード", "文字データ"), 3)
# 基本料・薬学管理料 and 分割技術料: kokuho keeps neither; their layouts are UNCONFIRMED, so
# any field count up to the R6 transcription's (114 and 16) is accepted.
_KI = RecordLayout("KI", (_ID, *(f"項目{n}" for n in range(2, 115))), 2)
_ST = RecordLayout(
    "ST",
    (_ID, "医師番号", "処方月日", "調剤月日", "処方箋受付回", "分割指示回数",
     *(f"{payer} {part}" for payer in ("保険", "第一公費", "第二公費", "第三公費", "第四公費")
       for part in ("分割対象点数", "分割後点数"))),
    2,
)  # fmt: skip

# 保険者向け ---------------------------------------------------------------------------

# レセプト管理 (MN): the 審査支払機関 adds it to each レセプト of the files it sends to insurers
# (国保連 → 保険者). Its fields are UNCONFIRMED (the 保険者向け 記録条件仕様 was not available), so
# kokuho accepts any field count, checks nothing in it and keeps nothing of it
# (docs/formats.md §7).
_MN = RecordLayout("MN", (_ID, *(f"項目{n}" for n in range(2, 101))), 1)

#: Record types of the insurer-side files that are accepted anywhere between the header and GO
#: and not kept.
INSURER_SIDE: Final = frozenset({"MN"})

LAYOUTS: Final[dict[ClaimKind, dict[str, RecordLayout]]] = {
    ClaimKind.MEDICAL: {
        r.tag: r
        for r in (_IR, _RE_MEDICAL, _HO_MEDICAL, _KO_MEDICAL, _SN, _JD, _MF, _SY, _SI,
                  _IY_MEDICAL, _TO_MEDICAL, _CO_MEDICAL, _SJ, _GO, _MN)
    },
    ClaimKind.PHARMACY: {
        r.tag: r
        for r in (_YK, _RE_PHARMACY, _HO_PHARMACY, _KO_PHARMACY, _SN, _JD, _MF, _SH, _CZ,
                  _IY_PHARMACY, _TO_PHARMACY, _CO_PHARMACY, _TK, _KI, _ST, _GO, _MN)
    },
}  # fmt: skip

#: The first record of a file says which 記録条件仕様 it follows.
HEADER: Final = {"IR": ClaimKind.MEDICAL, "YK": ClaimKind.PHARMACY}
HEADER_TAG: Final = {kind: tag for tag, kind in HEADER.items()}
#: The header's 都道府県, 点数表 and 医療機関コード (薬局コード) fields: together the 10-digit
#: 医療機関コード whose 検証番号 is checked (``kokuho.ids.InstitutionCode.from_claim``).
INSTITUTION_FIELDS: Final = (3, 4, 5)
#: 調剤 RE 処方医療機関 都道府県, 点数表 and コード: checked the same way when the コード is given.
PRESCRIBER_FIELDS: Final = (10, 11, 12)

#: The 1日…31日 fields of each record type that has them (first, last field number).
DAY_FIELDS: Final[dict[ClaimKind, dict[str, tuple[int, int]]]] = {
    ClaimKind.MEDICAL: {"SI": (14, 44), "IY": (14, 44), "TO": (18, 48), "JD": (3, 33)},
    ClaimKind.PHARMACY: {"JD": (3, 33)},
}

#: GO マルチボリューム識別情報 of the last (or only) volume of a set (UNCONFIRMED).
LAST_VOLUME: Final = "99"

ENCODING: Final = "cp932"

#: 剤形コード (SH) whose 調剤数量 is a number of days (内服, 内滴).
DAYS_FORMS: Final = frozenset({"1", "2"})
#: 診療識別 (医科) of 内服 drugs.
ORAL_SECTION: Final = "21"


def setting_of(kind: ClaimKind | str, receipt_type: str) -> str:
    """``inpatient``, ``outpatient`` or ``pharmacy``: a 医科 レセプト種別 ending in an odd digit
    is 入院 (1111 本人入院, 1112 本人入院外 …)."""
    if kind == ClaimKind.PHARMACY:
        return "pharmacy"
    return "inpatient" if receipt_type[-1:] in ("1", "3", "5", "7", "9") else "outpatient"


def month_day(raw: str, service_month: dt.date) -> dt.date:
    """CZ 処方月日 / 調剤月日 → a date (UNCONFIRMED form): ``DD`` is a day of the service month,
    ``MMDD`` a day of the twelve months up to it, ``GYYMMDD`` a 和暦 day. Raises ValueError."""
    from kokuho.ids import parse_gyymmdd

    if len(raw) == 7:
        return parse_gyymmdd(raw)
    if len(raw) == 2:
        return dt.date(service_month.year, service_month.month, int(raw))
    if len(raw) == 4:
        month = int(raw[:2])
        year = service_month.year - (month > service_month.month)
        return dt.date(year, month, int(raw[2:]))
    raise ValueError("must be DD, MMDD or GYYMMDD")


def format_month_day(day: dt.date, service_month: dt.date) -> str:
    """The inverse of ``month_day``: ``DD`` inside the service month, ``MMDD`` up to eleven
    months before it; anything else cannot be written."""
    if (day.year, day.month) == (service_month.year, service_month.month):
        return f"{day.day:02d}"
    months_before = (service_month.year - day.year) * 12 + service_month.month - day.month
    if 0 < months_before < 12:
        return f"{day.month:02d}{day.day:02d}"
    raise ValueError(f"{day} is not within the 12 months up to {service_month:%Y-%m}")
