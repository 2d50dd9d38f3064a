"""The boundary room's tables for double-payment cases and 報告徴収. Append-only: a case's
steps and a request's answers are added, never edited; a later decision supersedes an
earlier one by naming it. Only kokuho.boundary writes them."""

from __future__ import annotations

import sqlalchemy as sa

from kokuho.store import metadata


def _reservation() -> list[sa.Column[object]]:
    """The step a run has reserved and is doing (_cases_reserve.py): set under the write lock
    before the step changes anything, cleared in the transaction that records it."""
    return [
        sa.Column("busy_step", sa.String(12)),
        sa.Column("busy_by", sa.String(100)),
        sa.Column("busy_since", sa.DateTime(timezone=True)),
        sa.Column("busy_token", sa.String(32)),
    ]


#: One 二重払い case: a 国保 coverage overlapping an employee coverage filed retroactively.
boundary_cases = sa.Table(
    "boundary_cases",
    metadata,
    sa.Column("case_id", sa.Integer, primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("kokuho_coverage_id", sa.Integer, nullable=False),
    sa.Column("employee_coverage_id", sa.Integer, nullable=False),
    sa.Column("employee_insurer", sa.String(8), nullable=False),
    # The employee side's 資格取得日 (the 国保 喪失日) and 資格決定日/確認日 (判明).
    sa.Column("employee_acquired_on", sa.Date, nullable=False),
    sa.Column("employee_decided_on", sa.Date),
    # The first and last day both covered, as the register showed when the case was opened.
    sa.Column("overlap_from", sa.Date, nullable=False),
    sa.Column("overlap_until", sa.Date),
    # overlap (found in the register) | report (a 報告徴収 answer)
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("opened_by", sa.String(100), nullable=False),
    # JSON: per fiscal year the household id, 調定, paid and the premium of the months.
    sa.Column("premiums", sa.Text, nullable=False),
    *_reservation(),
    sa.UniqueConstraint("kokuho_coverage_id", "employee_coverage_id"),
    sa.Index("ix_boundary_cases_municipality", "municipality"),
)

#: One recorded step of a case: loss (①), judgement (②), reduction (③), refund_claim.
boundary_case_steps = sa.Table(
    "boundary_case_steps",
    metadata,
    sa.Column("step_id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("boundary_cases.case_id"), nullable=False),
    sa.Column("step", sa.String(12), nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
    # A judgement that replaces an earlier one names it (no edit in place).
    sa.Column("supersedes", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_boundary_case_steps_case", "case_id"),
)

#: 報告徴収 (国保法 §113): a request for a report on one member's 資格の得喪.
boundary_reports = sa.Table(
    "boundary_reports",
    metadata,
    sa.Column("report_id", sa.Integer, primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("kokuho_coverage_id", sa.Integer, nullable=False),
    sa.Column("other_coverage_id", sa.Integer, nullable=False),
    sa.Column("addressee", sa.String(200), nullable=False),
    sa.Column("requested_on", sa.Date, nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
    # The answer a run has reserved (busy_step: confirmed | denied).
    *_reservation(),
    sa.UniqueConstraint("kokuho_coverage_id", "other_coverage_id"),
    sa.Index("ix_boundary_reports_municipality", "municipality"),
)

#: The answer to a 報告徴収 and its result (append-only; a later answer supersedes).
boundary_report_answers = sa.Table(
    "boundary_report_answers",
    metadata,
    sa.Column("answer_id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("boundary_reports.report_id"), nullable=False),
    sa.Column("answered_on", sa.Date, nullable=False),
    sa.Column("answer", sa.String(500), nullable=False),
    # confirmed (the other coverage stands: the 国保 is lost from its 取得日) | denied
    sa.Column("result", sa.String(10), nullable=False),
    sa.Column("acquired_on", sa.Date),
    sa.Column("case_id", sa.Integer),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
)
