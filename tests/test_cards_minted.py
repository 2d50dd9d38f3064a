"""Cards made ahead (``mint_cards``, the demo's second process) and registered later by
``issue_cards``: the same register, index and card files as issuing them in one go."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.registry import import_changes, load_insurers
from kokuho.registry import tables as r
from kokuho.verify import CardAuthority, issue_cards, mint_cards
from kokuho.verify._cards import authority_issuer
from kokuho.verify._pki import VerifiedCertificate, certificate_code
from kokuho.verify._pki_sim import Card
from kokuho.verify._tables import card_certificates
from tests.cardholders import link_my_number
from tests.feedfiles import acquire, write_changes, write_insurers

KEY = b"s" * 32
NOW = dt.datetime.now(dt.UTC)


def _register(engine: sa.Engine, tmp_path: Path) -> None:
    """Two persons with a verified My Number link (Taro and Hanako)."""
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    hanako = {
        "name_kanji": "讃岐 花子",
        "name_kana": "サヌキ ハナコ",
        "birth_date": "1982-02-02",
        "sex": "2",
        "address": "香川県高松市番町1-1-1",
    }
    rows = [acquire("K1", "2020-04-01"), acquire("K2", "2020-04-01", number="2002", person=hanako)]
    import_changes(engine, write_changes(tmp_path / "c.csv", rows))
    link_my_number(engine, "1001", NOW)
    with engine.begin() as connection:
        person = connection.scalar(
            sa.select(r.coverages.c.person_id).where(r.coverages.c.number == "2002")
        )
        connection.execute(
            r.person_mynumbers.insert().values(
                person_id=person, mynumber_hmac="b" * 64, resident_id="00000000002",
                verified_at=NOW, request_id=2,
            )
        )  # fmt: skip


@pytest.mark.parametrize("ahead", [0, 1, 2, 4])
def test_minted_cards_are_given_out_and_spares_removed(
    engine: sa.Engine, tmp_path: Path, ahead: int
) -> None:
    _register(engine, tmp_path)
    ca, folder = tmp_path / "ca", tmp_path / "cards"
    minted = mint_cards(ca, folder, NOW, ahead)
    assert len(minted) == ahead and len(list(folder.glob("*.pem"))) == ahead
    issued = issue_cards(engine, KEY, ca, folder, NOW, minted=minted)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(card_certificates.c.code, card_certificates.c.person_id)
        ).all()
    assert issued.issued == len(rows) == 2
    # Every registered code is a card file's, the minted ones first; no spare file is left.
    files = sorted(folder.glob("*.pem"))
    assert len(files) == 2
    issuer = authority_issuer(CardAuthority.load(ca))
    codes = {
        certificate_code(
            VerifiedCertificate(card.serial, card.not_after, "", issuer), KEY
        ): path.name
        for path in files
        for card in [Card.load(path)]
    }
    assert {code for code, _ in rows} == set(codes)
    kept = [m.file_name for m in minted[:2]]
    assert set(kept) <= {path.name for path in files}
    with (folder / "index.csv").open(encoding="utf-8") as handle:
        index = list(csv.DictReader(handle))
    assert sorted(r["card_file"] for r in index) == sorted(codes.values())
    # A second run issues nothing more.
    assert issue_cards(engine, KEY, ca, folder, NOW).issued == 0
