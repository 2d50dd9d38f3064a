"""Which year's 保険者努力支援制度 scores the pages show, and the note saying from which years'
figures they were computed. Kept apart from _incentives_view so that a page can name the year
without importing the incentives room."""

from __future__ import annotations

from typing import Any

from kokuho.ids import FiscalYear
from kokuho.web.dashboard._sources import IncentivesView


def grant_year(years: list[int], asked: int | None = None) -> int | None:
    """The 交付 year the 交付金 page shows: the one asked for, else the newest rule year. The
    other pages show the scores of this year too, whatever year their own figures are of: a
    year's scores are computed from earlier years' figures, so the two years differ."""
    return asked if asked in years else (years[-1] if years else None)


def figures_years(board: Any) -> tuple[list[int], set[str]]:
    """The fiscal years whose figures the scores were computed from (each indicator has its
    own lag behind the 交付 year), and where those figures came from (FieldValue.origin)."""
    values = [v for u in board.municipalities for v in u.values if v.origin != "aggregate"]
    return sorted({v.year for v in values}), {v.origin for v in values}


_ORIGINS = {
    "derived": "取り込んだデータから算出",
    "file": "入力ファイル",
    "national": "入力ファイル",
}


def scores_note(view: IncentivesView, *, elsewhere: bool = True) -> str:
    """Which year's scores a page shows and from which years' figures (shown beside them);
    ``elsewhere``: on a page other than 交付金, whose year it follows."""
    years, origins = figures_years(view.scoreboard)
    label = FiscalYear(view.fiscal_year).label
    note = f"保険者努力支援制度の得点は{label} ({view.fiscal_year}年度) の配点による得点です"
    if years:
        span = FiscalYear(years[0]).label + (
            f"〜{FiscalYear(years[-1]).label}" if len(years) > 1 else ""
        )
        where = "・".join(dict.fromkeys(_ORIGINS[o] for o in sorted(origins) if o in _ORIGINS))
        note += f" (指標は{span}の実績{f': {where}' if where else ''})"
    return note + ("。交付金のページと同じ年度の得点です。" if elsewhere else "。")


__all__ = ["figures_years", "grant_year", "scores_note"]
