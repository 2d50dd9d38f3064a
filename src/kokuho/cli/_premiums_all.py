"""Loads every ``kokuho premiums`` command module, so the group is complete when it is used."""

from __future__ import annotations

from kokuho.cli import (  # noqa: F401  (each registers its commands on the group)
    _premiums_assess,
    _premiums_collection,
    _premiums_grounds,
    _premiums_households,
    _premiums_levy,
    _premiums_prescription,
    _premiums_rules,
)
from kokuho.cli._premiums import premiums

__all__ = ["premiums"]
