"""What a specific health checkup (特定健康診査) and a guidance record (特定保健指導) hold,
independent of the V08 file they came in and of the lake they land in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final


@dataclass(frozen=True, slots=True)
class Observation:
    """One ``entry/observation`` of the CDA body, keyed by its 17-character item code.

    ``kind`` is the ``xsi:type`` of its value: PQ (number with ``unit``), CD or CO (a code
    with ``code_system``), ST (text). ``not_done`` is ``negationInd="true"`` (未実施);
    ``null_flavor`` marks a value that could not be measured (測定不能).
    """

    code: str
    kind: str
    value: str | None = None
    unit: str | None = None
    code_system: str | None = None
    not_done: bool = False
    null_flavor: str | None = None

    @property
    def number(self) -> float | None:
        """The numeric value of a PQ observation that was measured, else None."""
        if self.kind != "PQ" or self.value is None or self.not_done or self.null_flavor:
            return None
        return float(self.value)

    @property
    def coded(self) -> str | None:
        """The code of a CD/CO observation that was answered, else None."""
        if self.kind not in ("CD", "CO") or self.not_done or self.null_flavor:
            return None
        return self.value


@dataclass(frozen=True, slots=True)
class Checkup:
    """One 特定健診 document (``DATA/h*.xml``)."""

    document: str  # the file name inside the archive
    insurer: str  # 保険者番号
    symbol: str  # 記号
    number: str  # 番号
    branch: str | None  # 枝番, when the file carries it
    sex: int  # 1 male, 2 female
    birth_date: dt.date
    exam_date: dt.date
    institution: str  # 健診機関番号 (10 digits)
    observations: Mapping[str, Observation] = field(default_factory=dict)
    ticket: str | None = None  # 受診券番号

    def first(self, *codes: str) -> Observation | None:
        """The first of ``codes`` present (items have one code per measuring method)."""
        for code in codes:
            found = self.observations.get(code)
            if found is not None:
                return found
        return None


class GuidanceLevel(IntEnum):
    """保健指導レベル (item 9N506, OID 1.2.392.200119.6.3001)."""

    INTENSIVE = 1  # 積極的支援
    MOTIVATIONAL = 2  # 動機付け支援
    NONE = 3  # なし (情報提供)
    UNDETERMINED = 4  # 判定不能


class Metabolic(IntEnum):
    """メタボリックシンドローム判定 (item 9N501, OID 1.2.392.200119.6.1008)."""

    MEETS = 1  # 基準該当
    PRE = 2  # 予備群該当
    NO = 3  # 非該当
    UNDETERMINED = 4  # 判定不能


@dataclass(frozen=True, slots=True)
class Guidance:
    """One 特定保健指導 record (``DATA/g*.xml``): who, which support, when it started and
    whether it was completed (実績評価 done: the 終了者 of the guidance rate)."""

    document: str
    insurer: str
    symbol: str
    number: str
    branch: str | None
    sex: int
    birth_date: dt.date
    institution: str
    level: GuidanceLevel  # INTENSIVE or MOTIVATIONAL
    started_on: dt.date  # 初回面接
    evaluated_on: dt.date | None  # 実績評価; None while not completed


# Item codes (V08; checkups-claims.md §2.3). Where an item has one code per measuring
# method, the tuple lists them all; a document carries one of them.
class Items:
    HEIGHT: Final = ("9N001000000000001",)
    WEIGHT: Final = ("9N006000000000001",)
    BMI: Final = ("9N011000000000001",)
    VISCERAL_FAT_AREA: Final = ("9N021000000000001",)
    WAIST: Final = ("9N016160100000001", "9N016160200000001", "9N016160300000001")
    SBP: Final = ("9A755000000000001", "9A752000000000001", "9A751000000000001")
    DBP: Final = ("9A765000000000001", "9A762000000000001", "9A761000000000001")
    TG_FASTING: Final = ("3F015000002327101", "3F015000002327201", "3F015000002399901")
    TG_RANDOM: Final = ("3F015129902327101", "3F015129902327201", "3F015129902399901")
    HDL: Final = ("3F070000002327101", "3F070000002327201", "3F070000002399901")
    LDL: Final = ("3F077000002327101", "3F077000002327201", "3F077000002399901")
    GLUCOSE_FASTING: Final = (
        "3D010000001926101",
        "3D010000002227101",
        "3D010000001927201",
        "3D010000001999901",
    )
    GLUCOSE_RANDOM: Final = (
        "3D010129901926101",
        "3D010129902227101",
        "3D010129901927201",
        "3D010129901999901",
    )
    HBA1C: Final = (
        "3D046000001906202",
        "3D046000001920402",
        "3D046000001927102",
        "3D046000001999902",
    )
    EGFR: Final = ("8A065000002391901",)
    CREATININE: Final = ("3C015000002399901", "3C015000002327101")
    URINE_PROTEIN: Final = ("1A010000000191111", "1A010000000190111")
    URINE_SUGAR: Final = ("1A020000000191111", "1A020000000190111")
    BLOOD_DRAW_TIMING: Final = (
        "9N141000000000011",
    )  # 採血時間(食後): 2 ≥10 h, 3 3.5–10 h, 4 <3.5 h
    MEDICATION_BP: Final = ("9N701000000000011",)
    MEDICATION_GLUCOSE: Final = ("9N706000000000011",)
    MEDICATION_LIPID: Final = ("9N711000000000011",)
    SMOKING: Final = ("9N736000000000011",)  # 1 はい, 2 以前は吸っていた, 3 いいえ
    METABOLIC: Final = ("9N501000000000011",)  # as reported by the checkup institution
    GUIDANCE_LEVEL: Final = ("9N506000000000011",)  # as reported by the checkup institution
