"""Jinja templates (shipped in kokuho/web/templates) and the filters the pages use: 和暦 and
西暦 dates, 年度, percentages, yen."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2

from kokuho.ids import FiscalYear, wareki_label
from kokuho.web.dashboard._tabular import display, sort_key


def _date(value: dt.date | None) -> str:
    if value is None:
        return "—"
    return f"{wareki_label(value)} ({value.isoformat()})"


def _fiscal(year: int) -> str:
    return f"{FiscalYear(year).label} ({year}年度)"


def _percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _yen(value: float | None) -> str:
    return "—" if value is None else f"{round(value):,}円"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kokuho.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        wareki=_date,
        fiscal=_fiscal,
        percent=_percent,
        yen=_yen,
        number=_number,
        cell=display,
        sortkey=sort_key,
    )
    return env


def render(env: jinja2.Environment, name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)
