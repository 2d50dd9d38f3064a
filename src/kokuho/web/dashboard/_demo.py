"""Demo accounts for the synthetic prefecture: one for the prefecture's 国民健康保険室 and one
for each 市町村国保. Their passwords are published in docs/dashboard.md: demo use only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from kokuho.registry import tables as registry_tables
from kokuho.web.dashboard._accounts import add_user

PREFECTURE_USER: Final = "pref"
PREFECTURE_PASSWORD: Final = "kagawa-pref-demo"
MUNICIPAL_PASSWORD: Final = "kagawa-city-demo"

#: Sign-in names of the municipal demo accounts, by 全国地方公共団体コード (Kagawa's 17).
ROMAJI: Final[dict[str, str]] = {
    "372013": "takamatsu",
    "372021": "marugame",
    "372030": "sakaide",
    "372048": "zentsuji",
    "372056": "kanonji",
    "372064": "sanuki",
    "372072": "higashikagawa",
    "372081": "mitoyo",
    "373222": "tonosho",
    "373249": "shodoshima",
    "373419": "miki",
    "373648": "naoshima",
    "373869": "utazu",
    "373877": "ayagawa",
    "374032": "kotohira",
    "374041": "tadotsu",
    "374067": "manno",
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    display_name: str
    insurer_number: str | None


def create_demo_accounts(engine: sa.Engine) -> list[DemoAccount]:
    """Creates (or resets) the demo accounts: ``pref`` and one per 市町村国保 in the register
    (``takamatsu``, ``marugame`` …; ``m`` + 団体コード for a municipality not in Kagawa)."""
    i = registry_tables.insurers.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(i.insurer_number, i.name, i.municipality_code)
            .where(i.kind == "kokuho_municipal")
            .order_by(i.municipality_code, i.insurer_number)
        ).all()
    accounts = [
        DemoAccount(
            PREFECTURE_USER, PREFECTURE_PASSWORD, "prefecture", "香川県 国民健康保険室", None
        )
    ]
    for row in rows:
        code = row.municipality_code or row.insurer_number
        name = str(row.name).removesuffix("国民健康保険")
        accounts.append(
            DemoAccount(
                ROMAJI.get(code, f"m{code}"),
                MUNICIPAL_PASSWORD,
                "municipal",
                f"{name} 保険年金課",
                row.insurer_number,
            )
        )
    for account in accounts:
        add_user(
            engine,
            account.username,
            account.password,
            role="prefecture" if account.role == "prefecture" else "municipal",
            display_name=account.display_name,
            insurer_number=account.insurer_number,
            replace=True,
        )
    return accounts
