"""The boundary room: 資格決定日 on coverages, double-payment cases (国保法 §110-2(2)) with
their append-only steps, and 報告徴収 requests with their answers.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("coverages") as batch:
        batch.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
    op.create_table(
        "boundary_cases",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kokuho_coverage_id", sa.Integer(), nullable=False),
        sa.Column("employee_coverage_id", sa.Integer(), nullable=False),
        sa.Column("employee_insurer", sa.String(length=8), nullable=False),
        sa.Column("employee_acquired_on", sa.Date(), nullable=False),
        sa.Column("employee_decided_on", sa.Date(), nullable=True),
        sa.Column("overlap_from", sa.Date(), nullable=False),
        sa.Column("overlap_until", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("premiums", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_boundary_cases")),
        sa.UniqueConstraint(
            "kokuho_coverage_id",
            "employee_coverage_id",
            name=op.f("uq_boundary_cases_kokuho_coverage_id"),
        ),
    )
    op.create_index(
        "ix_boundary_cases_municipality", "boundary_cases", ["municipality"], unique=False
    )
    op.create_table(
        "boundary_case_steps",
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=12), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["boundary_cases.case_id"],
            name=op.f("fk_boundary_case_steps_case_id_boundary_cases"),
        ),
        sa.PrimaryKeyConstraint("step_id", name=op.f("pk_boundary_case_steps")),
    )
    op.create_index("ix_boundary_case_steps_case", "boundary_case_steps", ["case_id"], unique=False)
    op.create_table(
        "boundary_reports",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kokuho_coverage_id", sa.Integer(), nullable=False),
        sa.Column("other_coverage_id", sa.Integer(), nullable=False),
        sa.Column("addressee", sa.String(length=200), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_boundary_reports")),
        sa.UniqueConstraint(
            "kokuho_coverage_id",
            "other_coverage_id",
            name=op.f("uq_boundary_reports_kokuho_coverage_id"),
        ),
    )
    op.create_index(
        "ix_boundary_reports_municipality", "boundary_reports", ["municipality"], unique=False
    )
    op.create_table(
        "boundary_report_answers",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("answer", sa.String(length=500), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["boundary_reports.report_id"],
            name=op.f("fk_boundary_report_answers_report_id_boundary_reports"),
        ),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_boundary_report_answers")),
    )


def downgrade() -> None:
    op.drop_table("boundary_report_answers")
    op.drop_index("ix_boundary_reports_municipality", table_name="boundary_reports")
    op.drop_table("boundary_reports")
    op.drop_index("ix_boundary_case_steps_case", table_name="boundary_case_steps")
    op.drop_table("boundary_case_steps")
    op.drop_index("ix_boundary_cases_municipality", table_name="boundary_cases")
    op.drop_table("boundary_cases")
    with op.batch_alter_table("coverages") as batch:
        batch.drop_column("decided_on")
