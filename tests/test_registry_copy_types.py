"""The binary COPY types of the change feed's new rows (``_feed_write._copy_types``): a column
whose type has none is named, table and column, instead of failing with a bare KeyError."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kokuho.registry._feed_write import _copy_types
from kokuho.registry._tables import persons


def test_the_feed_tables_columns_have_their_copy_types() -> None:
    columns = ("person_id", "name_kanji", "birth_date", "sex")
    assert _copy_types(persons, columns) == ["int4", "text", "date", "int2"]


@pytest.mark.parametrize("column_type", [sa.Numeric(), sa.BigInteger(), sa.Text()])
def test_a_column_type_without_copy_type_is_named_with_its_table_and_column(
    column_type: sa.types.TypeEngine[object],
) -> None:
    # BigInteger and Text subclass Integer and String, but their own wire format is not
    # guessed from their base class (int4 data into a bigint column fails the COPY).
    table = sa.Table(
        "t", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("amount", column_type)
    )
    with pytest.raises(TypeError, match=r"^t\.amount: column type \w+ has no binary COPY type"):
        _copy_types(table, ("id", "amount"))
