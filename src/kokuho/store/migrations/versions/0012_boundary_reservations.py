"""The step (or 報告徴収 answer) a run has reserved on a case or request, so that two runs at
once cannot both do their work: boundary_cases and boundary_reports get busy_* columns.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

_TABLES = ("boundary_cases", "boundary_reports")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("busy_step", sa.String(length=12), nullable=True))
            batch.add_column(sa.Column("busy_by", sa.String(length=100), nullable=True))
            batch.add_column(sa.Column("busy_since", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("busy_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            for column in ("busy_token", "busy_since", "busy_by", "busy_step"):
                batch.drop_column(column)
