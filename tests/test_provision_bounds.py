"""What an application may ask for and an approval may grant: a data period in order, over by
the day it is applied for or reviewed, no longer than ``longest_period_days``; an approval that
approves at least one item, in the review and in its stored form. Before, an empty approval
``{}`` was read as "every requested item", and any period was accepted (1900-01-01 …
9999-12-31, or months still to come)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    CATALOGUE_FILE,
    Catalogue,
    ProvisionError,
    catalogue,
    extract,
    load_sources,
    provision_detail,
    provisions,
    review,
)
from kokuho.store import data_path
from tests.clihome import invoke, sqlite_home
from tests.provisioncases import ON, SOURCE, TERM, applied, approved, build_register

D = dt.date
APPLY = (
    "provision", "apply", "--basis", "third_party", "--applicant", "研究者 甲",
    "--organisation", "香川大学", "--purpose", "連結解析", "--public-interest", "介護予防",
    "--place", "香川県高松市", "--user", "研究者 甲", "--item", "persons.sex", "--on", "2024-05-01",
)  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("1900-01-01", "9999-12-31", "period: ends on 9999-12-31, after 2024-05-01"),
        ("2024-04-01", "2024-06-30", "period: ends on 2024-06-30, after 2024-05-01"),
        ("2024-04-01", "2023-04-01", "period: the start is after the end"),
        # 2014-04-01 … 2024-03-31 is 3653 days: the bound; a day more is refused.
        ("2014-03-31", "2024-03-31", "period: 2014-03-31..2024-03-31 is 3654 days, longer than "
                                     "3653 \\(longest_period_days\\)"),
    ],
)  # fmt: skip
def test_the_command_line_refuses_an_unbounded_or_future_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str, end: str, message: str
) -> None:
    sqlite_home(tmp_path, monkeypatch)[1].dispose()
    refused = invoke(*APPLY, "--from", start, "--to", end)
    assert refused.exit_code == 1
    assert message.replace("\\", "") in refused.output
    listed = invoke("provision", "list")
    assert listed.exit_code == 0 and listed.output.strip() == "none"
    longest = invoke(*APPLY, "--from", "2014-04-01", "--to", "2024-03-31")
    assert longest.exit_code == 0, longest.output


def test_a_period_stored_before_the_bound_is_refused_at_the_review(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit
) -> None:
    pid = applied(engine, cat, audit)
    with engine.begin() as connection:  # as an application recorded before the bound was
        connection.execute(provisions.update().values(period_from=D(1900, 1, 1)))
    with pytest.raises(ProvisionError, match="longer than 3653"):
        review(engine, cat, pid, reviewer="委員 丙", decision="approve", minutes="承認", on=ON,
               term_until=TERM, audit=audit)  # fmt: skip
    assert provision_detail(engine, pid).state == "applied"
    # A rejection needs no period check: nothing is provided.
    done = review(engine, cat, pid, reviewer="委員 丙", decision="reject", minutes="不承認",
                  on=ON, audit=audit)  # fmt: skip
    assert done.state == "rejected"


def test_an_empty_approval_is_refused_not_read_as_everything(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit
) -> None:
    pid = applied(engine, cat, audit)
    for decision in ("approve", "conditions"):
        with pytest.raises(ProvisionError, match="approved: approves no table"):
            review(engine, cat, pid, reviewer="委員 丙", decision=decision, minutes="承認",
                   conditions="条件", on=ON, approved={}, term_until=TERM,
                   audit=audit)  # fmt: skip
    state = provision_detail(engine, pid)
    assert (state.state, state.approved) == ("applied", None)


@pytest.mark.parametrize("stored", ["{}", '{"persons": []}'])
def test_an_empty_stored_approval_gives_no_extract(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, stored: str
) -> None:
    build_register(engine)
    pid = approved(engine, cat, audit)
    with engine.begin() as connection:  # written by hand, or by a review before the fix
        connection.execute(provisions.update().values(approved=stored))
    with pytest.raises(ProvisionError, match=f"{pid}: its approval approves no item"):
        extract(engine, cat, pid, load_sources(engine), out=tmp_path / "out", by="事務局",
                on=ON, audit=audit, source_key=SOURCE, key_folder=tmp_path / "keys")  # fmt: skip
    assert not (tmp_path / "out").exists()
    assert provision_detail(engine, pid).extracts == 0


def test_a_bad_period_bound_in_a_local_catalogue_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert catalogue().longest_period_days == 3653
    text = data_path(CATALOGUE_FILE).read_text(encoding="utf-8")
    home = tmp_path / "home"
    monkeypatch.setenv("KOKUHO_HOME", str(home))
    copy = home / "data" / "provision" / "catalogue.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_text(text.replace("value: 3653", "value: 0"), encoding="utf-8")
    with pytest.raises(ValueError, match="longest_period_days.value: must be a whole number"):
        catalogue()


def test_a_period_approved_before_the_bound_gives_no_extract(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path
) -> None:
    build_register(engine)
    pid = approved(engine, cat, audit)
    with engine.begin() as connection:  # as an approval recorded before the bound was
        connection.execute(provisions.update().values(period_from=D(1900, 1, 1)))
    with pytest.raises(ProvisionError, match="period: 1900-01-01..2024-03-31 is .* longer than"):
        extract(engine, cat, pid, load_sources(engine), out=tmp_path / "out", by="事務局",
                on=ON, audit=audit, source_key=SOURCE, key_folder=tmp_path / "keys")  # fmt: skip
    assert not (tmp_path / "out").exists()
    assert provision_detail(engine, pid).extracts == 0
