"""The register's append-only record of person merges on a verified My Number
(同一人の名寄せ: two person records whose five items were each verified against the same
個人番号 become one).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "person_merges",
        sa.Column("merge_id", sa.Integer(), nullable=False),
        sa.Column("absorbed_person_id", sa.Integer(), nullable=False),
        sa.Column("into_person_id", sa.Integer(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("coverage_ids", sa.Text(), nullable=False),
        sa.Column("absorbed_items", sa.Text(), nullable=False),
        sa.Column("replaced_items", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["absorbed_person_id"],
            ["persons.person_id"],
            name=op.f("fk_person_merges_absorbed_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["into_person_id"],
            ["persons.person_id"],
            name=op.f("fk_person_merges_into_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("merge_id", name=op.f("pk_person_merges")),
        sa.UniqueConstraint("absorbed_person_id", name=op.f("uq_person_merges_absorbed_person_id")),
    )
    op.create_index(
        op.f("ix_person_merges_into_person_id"), "person_merges", ["into_person_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_person_merges_into_person_id"), table_name="person_merges")
    op.drop_table("person_merges")
