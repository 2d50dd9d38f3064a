"""A statutory request names its providing insurer (提供元の保険者番号): the 市町村's 国保 or the
広域連合 whose members and claims alone the extract may hold (docs/provision.md §6).
Requests recorded before have none and are refused an extract (apply again).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    with op.batch_alter_table("provisions") as batch:
        batch.add_column(sa.Column("provider_insurer", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provisions") as batch:
        batch.drop_column("provider_insurer")
