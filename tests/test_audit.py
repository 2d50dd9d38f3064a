"""The hash-chained audit log: group commit from many threads, tamper detection."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.verify._audit import AuditRecord, AuditWriter, append, verify_chain
from kokuho.verify._tables import audit_log


def _record(n: int, person: int | None = 7) -> AuditRecord:
    return AuditRecord(
        actor=f"kc_{n % 3}", purpose="care", action="check_number", outcome="1",
        institution_code="3710112345", person_id=person, detail={"n": n, "名前": "讃岐"},
    )  # fmt: skip


def _fill(engine: sa.Engine, count: int) -> None:
    with engine.begin() as connection:
        append(connection, [_record(n) for n in range(count)])


def test_chain_verifies_and_reports_head(engine: sa.Engine) -> None:
    _fill(engine, 5)
    report = verify_chain(engine)
    assert report.ok and report.records == 5
    assert verify_chain(engine, expect_head=report.head).ok


def test_group_commit_from_threads_keeps_one_chain(engine: sa.Engine) -> None:
    writer = AuditWriter(engine, max_batch=16)
    seqs: list[int] = []
    lock = threading.Lock()

    def work(base: int) -> None:
        for n in range(25):
            seq = writer.write(_record(base + n))
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert sorted(seqs) == list(range(1, 101))
    assert verify_chain(engine).ok


def test_write_many_commits_the_records_in_order(engine: sa.Engine) -> None:
    writer = AuditWriter(engine, max_batch=16)
    writer.write(_record(0))
    seqs = writer.write_many([_record(n, person=n) for n in range(1, 41)])
    writer.close()
    assert seqs == list(range(2, 42))  # more than one batch, still in the order given
    with engine.connect() as connection:
        people = connection.execute(
            sa.select(audit_log.c.person_id).where(audit_log.c.seq > 1).order_by(audit_log.c.seq)
        ).scalars()
        assert list(people) == list(range(1, 41))
    assert verify_chain(engine).ok


@pytest.mark.parametrize(
    ("tamper", "problem", "seq"),
    [
        (audit_log.update().where(audit_log.c.seq == 3).values(outcome="4"), "altered", 3),
        (audit_log.update().where(audit_log.c.seq == 2).values(person_id=8), "altered", 2),
        (audit_log.update().where(audit_log.c.seq == 4).values(detail='{"n": 99}'), "altered", 4),
        (audit_log.delete().where(audit_log.c.seq == 3), "record 3 is missing", 4),
        (audit_log.update().where(audit_log.c.seq == 5).values(prev_hash="0" * 64), "link", 5),
    ],
)
def test_tampering_is_detected(
    engine: sa.Engine, tamper: sa.Executable, problem: str, seq: int
) -> None:
    _fill(engine, 6)
    with engine.begin() as connection:
        connection.execute(tamper)
    report = verify_chain(engine)
    assert not report.ok
    assert problem in (report.problem or "") and report.seq == seq


def test_recomputed_rewrite_is_caught_by_the_anchor(engine: sa.Engine) -> None:
    _fill(engine, 4)
    anchor = verify_chain(engine).head
    with engine.begin() as connection:
        connection.execute(audit_log.delete().where(audit_log.c.seq == 4))
    # Deleting the newest record leaves a valid chain: only the anchor tells.
    assert verify_chain(engine).ok
    report = verify_chain(engine, expect_head=anchor)
    assert not report.ok and "expected head" in (report.problem or "")


def test_anomalies_flag_a_burst_against_the_institutions_own_pattern(engine: sa.Engine) -> None:
    import datetime as dt

    from kokuho.verify._audit_reports import access_history, anomalies

    start = dt.datetime(2021, 1, 1, 9, tzinfo=dt.UTC)
    records = []
    for day in range(30):
        at = start + dt.timedelta(days=day)
        busy_a = 200 if day == 29 else 10
        for n in range(busy_a):
            records.append(
                AuditRecord("kc_a", "care", "check_number", "1", "3710112347", n, {}, at)
            )
        for n in range(100):  # a large pharmacy, steady
            records.append(
                AuditRecord("kc_b", "care", "check_card_pin", "1", "3740112341", n, {}, at)
            )
    with engine.begin() as connection:
        append(connection, records)
    found = anomalies(engine, since=dt.date(2021, 1, 20), until=dt.date(2021, 1, 30))
    assert [(a.institution_code, a.day, a.persons, a.usual) for a in found] == [
        ("3710112347", dt.date(2021, 1, 30), 200, 10)
    ]
    history = access_history(engine, 7)
    assert len(history) == 60 and history[0].at >= history[-1].at
    assert {h.institution_code for h in history} == {"3710112347", "3740112341"}


def _count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(audit_log)) or 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"outcome": "downloaded:" + "x" * 30}, "outcome"),
        ({"outcome": "downloaded:<script>'; DROP TABLE audit_log; --"}, "outcome"),
        ({"outcome": "refused:Other Insurer"}, "outcome"),
        ({"actor": "kc_1\x00"}, "actor"),
        ({"actor": "dashboard:" + "u" * 31}, "actor"),
        ({"actor": "dashboard:名前"}, "actor"),
        ({"actor": ""}, "actor"),
        ({"purpose": "marketing"}, "purpose"),
        ({"action": "check"}, "action"),
        ({"institution_code": "37101123\x00"}, "institution_code"),
        ({"institution_code": "371011234567"}, "institution_code"),
        ({"person_id": 2**31}, "person_id"),
        ({"person_id": -1}, "person_id"),
        ({"detail": {"format": "x" * 5000}}, "detail"),
        ({"detail": {"n": float("nan")}}, "detail"),
    ],
)
def test_a_bad_record_is_refused_to_its_own_caller_and_nothing_is_written(
    engine: sa.Engine, change: dict[str, object], field: str
) -> None:
    from dataclasses import replace

    from kokuho.verify import AuditRecordError

    writer = AuditWriter(engine)
    try:
        with pytest.raises(AuditRecordError, match=field):
            writer.write_many([_record(1), replace(_record(2), **change)])  # type: ignore[arg-type]
        assert writer.write(_record(3)) == 1  # the writer goes on; the good one's batch too
    finally:
        writer.close()
    assert _count(engine) == 1 and verify_chain(engine).ok


def _poison(connection: sa.Connection) -> None:
    """A trigger that refuses one actor's rows: a record that passes every check but that the
    database still refuses."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
            "IF NEW.actor = 'kc_poison' THEN RAISE EXCEPTION 'poisoned'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER poison BEFORE INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION poison()"
        )
    else:
        connection.exec_driver_sql(
            # In the audit file beside the register (a trigger lives in its table's file).
            "CREATE TRIGGER audit.poison BEFORE INSERT ON audit_log WHEN NEW.actor = 'kc_poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )


def _hold_the_chain(connection: sa.Connection) -> None:
    """Takes the lock the writer needs, so that records queue up into one batch."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(0x61756474)))
    else:
        connection.execute(audit_log.update().where(sa.false()).values(seq=audit_log.c.seq))


def test_a_record_the_database_refuses_fails_only_its_own_caller(engine: sa.Engine) -> None:
    from dataclasses import replace

    with engine.begin() as connection:
        _poison(connection)
    writer = AuditWriter(engine)
    outcomes: dict[str, object] = {}

    def write(name: str, record: AuditRecord) -> None:
        try:
            outcomes[name] = writer.write(record, timeout=30)
        except RuntimeError as error:
            outcomes[name] = error

    holder = engine.connect()
    transaction = holder.begin()
    _hold_the_chain(holder)
    first = threading.Thread(target=write, args=("first", _record(0)))
    first.start()
    time.sleep(0.3)  # the writer now waits for the lock with "first"; the rest queue up
    others = [
        threading.Thread(target=write, args=(name, record))
        for name, record in [
            ("good1", _record(1)),
            ("poison", replace(_record(2), actor="kc_poison")),
            ("good2", _record(3)),
        ]
    ]
    for thread in others:
        thread.start()
    time.sleep(0.3)
    transaction.rollback()
    holder.close()
    for thread in [first, *others]:
        thread.join(timeout=60)
    writer.close()
    assert isinstance(outcomes["poison"], RuntimeError)
    assert sorted(v for k, v in outcomes.items() if k != "poison") == [1, 2, 3]  # type: ignore[type-var]
    assert _count(engine) == 3 and verify_chain(engine).ok


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_audit_history_names_the_actor_of_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    import json

    from click.testing import CliRunner

    from kokuho.cli import main
    from kokuho.registry import import_changes, load_insurers
    from kokuho.store import connect
    from tests.feedfiles import KOKUHO, acquire, write_changes, write_insurers

    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path))
    monkeypatch.delenv("KOKUHO_DATABASE_URL", raising=False)
    engine = connect(f"sqlite:///{tmp_path / 'kokuho.db'}")
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    import_changes(engine, write_changes(tmp_path / "c.csv", [acquire("K1", "2020-04-01")]))
    with engine.connect() as connection:
        person = connection.scalar(sa.text("SELECT person_id FROM persons"))
    with engine.begin() as connection:
        append(connection, [
            AuditRecord("kc_reception1", "care", "check_number", "1", "3710112347", person),
            AuditRecord("dashboard:tk-staff", "insurer", "dashboard_list", "downloaded:csv",
                        None, person, {"list": "overlaps", "insurer": KOKUHO}),
        ])  # fmt: skip
    engine.dispose()
    args = ["audit", "history", KOKUHO, "12", "1001", "01"] + (["--json"] if as_json else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    if as_json:
        entries = json.loads(result.output)["entries"]
        assert [e["actor"] for e in entries] == ["dashboard:tk-staff", "kc_reception1"]
        assert entries[1]["who"] == "3710112347 [kc_reception1]"
    else:
        lines = result.output.splitlines()
        assert len(lines) == 2
        assert "dashboard:tk-staff" in lines[0] and "downloaded:csv" in lines[0]
        assert "3710112347 [kc_reception1]" in lines[1] and "check_number" in lines[1]


@pytest.mark.parametrize(
    ("purpose", "reason"),
    [("care", "card_attestation_other_institution"), ("x" * 5000, "purpose_not_allowed")],
)
def test_every_refusal_is_recorded_within_the_columns(
    engine: sa.Engine, purpose: str, reason: str
) -> None:
    import json

    from kokuho.verify import EligibilityService
    from kokuho.verify._access import AccessDenied

    service = EligibilityService(engine, b"k" * 32)
    try:
        service.refuse(None, purpose, "check_card_face", AccessDenied(reason, "x" * 5000))
    finally:
        service.close()
    with engine.connect() as connection:
        row = connection.execute(sa.select(audit_log)).one()
    assert row.purpose == ("care" if purpose == "care" else "invalid")
    assert row.outcome == f"refused:{reason}"[:40]
    assert json.loads(row.detail)["reason"] == reason
    assert verify_chain(engine).ok
