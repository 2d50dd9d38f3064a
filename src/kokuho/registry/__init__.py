"""The shared eligibility register (資格情報の一元管理): insurers, persons, coverages with full
history, the change-feed import, overlaps, the resident register and My Number linkage."""

from kokuho.registry import _tables as tables

__all__ = ["tables"]
