"""A bulk check's row keeps the number of checks asked, not the queries: a 番号 typed by the
clinic may be the patient's My Number, which must not be kept in clear. Rows written before
keep only their count from now on (``bulk_jobs.queries`` holds a JSON integer).

Revision ID: 0014
Revises: 0013
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

_JOBS = sa.table(
    "bulk_jobs", sa.column("reception_number", sa.String), sa.column("queries", sa.Text)
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_JOBS.c.reception_number, _JOBS.c.queries)).all()
    for reception, queries in rows:
        value = json.loads(queries)
        if isinstance(value, list):
            bind.execute(
                _JOBS.update()
                .where(_JOBS.c.reception_number == reception)
                .values(queries=json.dumps(len(value)))
            )


def downgrade() -> None:
    """The queries are gone for good: an older release reads the count as an empty list."""
    bind = op.get_bind()
    bind.execute(_JOBS.update().values(queries="[]"))
