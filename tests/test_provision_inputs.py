"""Hostile values in the provision workflow's parameters: control characters (NUL, ESC,
line breaks in a name) are refused naming the field, and a day at the end of the calendar is
refused, not an internal error."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    ProvisionError,
    Sources,
    UnknownProvision,
    add_reviewer,
    apply,
    catalogue,
    confirm_deletion,
    extract,
    list_provisions,
    new_provision_key,
    provision_detail,
    review,
)
from tests.provisioncases import ON, application, applied


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("applicant", "研究者\x00甲", "applicant: a control character"),
        ("applicant", "x\x1b[31mRED", "applicant: a control character"),
        ("organisation", "大学\n病院", "organisation: a control character"),
        ("purpose", "研究\x07", "purpose: a control character"),
        ("public_interest", "公益\x00", r"public interest \(相当の公益性\): a control character"),
        ("place", "香川県\x1b[2J", r"place \(利用場所\): a control character"),
        ("users", ("研究者\x00甲",), "users: a control character"),
        # Bidi controls: "田中\u202e長課" shows as "田中課長" on a page.
        ("applicant", "田中\u202e長課", "applicant: a bidi control"),
        ("purpose", "研究\u200f", "purpose: a bidi control"),
        ("users", ("研究者\u2066甲",), "users: a bidi control"),
    ],
)
def test_control_characters_are_refused_by_field(
    engine: sa.Engine, audit: ServiceAudit, field: str, value: object, message: str
) -> None:
    app = dataclasses.replace(application(), **{field: value})
    with pytest.raises(ProvisionError, match=message):
        apply(engine, catalogue(), app, on=ON, audit=audit)
    assert list_provisions(engine) == []


def test_line_breaks_are_allowed_in_a_purpose(engine: sa.Engine, audit: ServiceAudit) -> None:
    app = dataclasses.replace(application(), purpose="第一に…\n第二に…\r\n\t以上")
    assert apply(engine, catalogue(), app, on=ON, audit=audit) == "P000001"


def test_a_reviewer_or_a_deletion_by_with_a_control_character_is_refused(
    engine: sa.Engine, audit: ServiceAudit
) -> None:
    with pytest.raises(ProvisionError, match="reviewer: a control character"):
        add_reviewer(engine, "委員\x1b丙", on=ON, actor="事務局", audit=audit)
    with pytest.raises(ProvisionError, match="by: a control character"):
        confirm_deletion(engine, "P000001", by="x\x00", method="消去", on=ON, audit=audit)
    with pytest.raises(ProvisionError, match="reviewer: a bidi control"):
        add_reviewer(engine, "委員\u061c丙", on=ON, actor="事務局", audit=audit)


def test_a_review_on_the_last_day_of_the_calendar_is_refused_not_an_internal_error(
    engine: sa.Engine, audit: ServiceAudit
) -> None:
    cat = catalogue()
    pid = applied(engine, cat, audit)
    with pytest.raises(ProvisionError, match="term: must end after 9999-12-31"):
        review(engine, cat, pid, reviewer="委員 丙", decision="approve", minutes="承認",
               on=dt.date.max, term_until=dt.date.max, audit=audit)  # fmt: skip


def test_an_extract_by_a_control_character_or_a_huge_name_is_refused(
    engine: sa.Engine, audit: ServiceAudit, tmp_path: Path
) -> None:
    for by, message in (("x\x00", "by: a control character"), ("x" * 101, "by: at most 100")):
        with pytest.raises(ProvisionError, match=message):
            extract(engine, catalogue(), "P000001", Sources(()), out=tmp_path, by=by, on=ON,
                    audit=audit, source_key=b"s" * 32, key_folder=tmp_path)  # fmt: skip


def test_an_id_with_a_trailing_line_break_is_refused_as_malformed(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # re's $ matches before a final \n: "P000001\n" passed the id checks and reached the
    # database and the key file name (provision-P000001\n.key).
    with pytest.raises(UnknownProvision, match="an id is P and six digits"):
        provision_detail(engine, "P000001\n")
    keys = tmp_path / "keys"
    with pytest.raises(ValueError, match="letters, digits"):
        new_provision_key("P000001\n", folder=keys)
    assert not keys.exists()
