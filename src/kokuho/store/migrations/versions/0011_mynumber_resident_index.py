"""An index on person_mynumbers.resident_id (the premiums' household read joins by resident).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_index(
        op.f("ix_person_mynumbers_resident_id"),
        "person_mynumbers",
        ["resident_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_person_mynumbers_resident_id"), table_name="person_mynumbers")
