"""The operational database: engine set-up and migrations. Contexts own their tables."""

from kokuho.store._engine import connect, metadata, upgrade

__all__ = ["connect", "metadata", "upgrade"]
