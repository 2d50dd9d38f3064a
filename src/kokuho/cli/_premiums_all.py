"""Loads every ``kokuho premiums`` command module, so the group is complete when it is used."""

from __future__ import annotations

import kokuho.cli._premiums_households  # noqa: F401  (incomes import, households)
from kokuho.cli._premiums import premiums

__all__ = ["premiums"]
