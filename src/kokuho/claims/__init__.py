"""Claims (レセプト): レセ電 files, masters, the claims lake and the indicators built on them
(後発医薬品使用割合, 重複・多剤, 医療費, 資格過誤)."""

from kokuho.claims._model import (
    Claim,
    ClaimFile,
    ClaimKind,
    Diagnosis,
    Drug,
    Procedure,
    PublicFund,
)

__all__ = ["Claim", "ClaimFile", "ClaimKind", "Diagnosis", "Drug", "Procedure", "PublicFund"]
