from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def reading(bind: sa.Engine | sa.Connection) -> Iterator[sa.Connection]:
    """The caller's own connection, or a new one of the engine for the reads inside."""
    if isinstance(bind, sa.Connection):
        yield bind
    else:
        with bind.connect() as connection:
            yield connection
