"""The operational database: engine set-up and migrations. Contexts own their tables."""

from kokuho.store._bulk import bulk_insert
from kokuho.store._engine import connect, metadata, upgrade
from kokuho.store._keys import chunks, key_table

__all__ = ["bulk_insert", "chunks", "connect", "key_table", "metadata", "upgrade"]
