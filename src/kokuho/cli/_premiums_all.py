"""Loads every ``kokuho premiums`` command module, so the group is complete when it is used."""

from __future__ import annotations

import kokuho.cli._premiums_levy  # noqa: F401 (registers `levy`)
from kokuho.cli import (
    _premiums_collection,  # noqa: F401  (registers its commands)
    _premiums_rules,  # noqa: F401 (registers its commands)
)
from kokuho.cli._premiums import premiums

__all__ = ["premiums"]
