"""The columnar fast path of the lake: レセ電 files' bytes into the rows of the lake tables.

No object per record. The files of a batch (one kind) are one NumPy array of bytes; line ends
and commas are found once; every field kokuho checks or keeps is located by arithmetic on those
positions and checked for all the records of a type at once (``_rece_scan``, ``_rece_cells``);
the 1日…31日 fields, mostly empty, are parsed where they hold something. cp932 is checked on
the bytes, and only the text kokuho keeps is decoded. This module turns the checked columns
into the rows of the lake tables, file by file.

The checks are the precise reader's (``_rece_read``), from the same layouts. Anything wrong
raises ``NotClean`` without saying what: the lake then tries the batch's files one by one and
asks the precise reader what is wrong with the one that fails. Tests hold the two paths to the
same verdict and the same values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from kokuho.claims._model import ClaimKind
from kokuho.claims._rece_cells import NotClean, date_array, institution_codes_valid, require
from kokuho.claims._rece_layout import (
    DAYS_FORMS,
    HEADER_TAG,
    INSTITUTION_FIELDS,
    INSURER_SIDE,
    LAST_VOLUME,
    ORAL_SECTION,
    PRESCRIBER_FIELDS,
)
from kokuho.claims._rece_scan import Scan, Values
from kokuho.claims._schema import CLAIM_DIAGNOSES, CLAIM_DRUGS, CLAIM_PROCEDURES, CLAIMS

__all__ = ["FastFile", "NotClean", "fast_columns", "fast_columns_many"]

_NONE: Final = np.iinfo(np.int64).max  # no day of service (for minima)
_NEVER: Final = np.iinfo(np.int64).min  # no day of service (for maxima)


@dataclass(frozen=True, slots=True)
class FastFile:
    kind: ClaimKind
    lines: int
    claims: int
    institution: str
    fee_table: str  # 点数表 of the IR/YK record
    billing_month: dt.date
    tables: dict[str, pa.Table]  # claims, claim_drugs, … (tables without rows left out)


def fast_columns(data: bytes, digest: str) -> FastFile:
    """The lake rows of one file, or ``NotClean``."""
    return fast_columns_many([(data, digest)])[0]


def fast_columns_many(items: Sequence[tuple[bytes, str]]) -> list[FastFile]:
    """The lake rows of several files of one kind (医科 or 調剤), read as one batch; raises
    ``NotClean`` when any of them is wrong (or they are not of one kind)."""
    return _Build(Scan([data for data, _ in items]), [digest for _, digest in items]).files()


def _constant(value: object, count: int, kind: pa.DataType) -> pa.Array:
    return pa.array([value], kind).take(np.zeros(count, dtype=np.int32))


def _masked(values: np.ndarray, present: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(values, type=kind, mask=~present)


def _latest(mask: np.ndarray) -> np.ndarray:
    """For each line, the last line up to it where ``mask`` holds (-1: none)."""
    return np.maximum.accumulate(np.where(mask, np.arange(mask.size), -1))


class _Build:
    def __init__(self, scan: Scan, digests: list[str]) -> None:
        self.scan, self.digests = scan, digests
        self.first = np.full(scan.rid.size, _NONE, dtype=np.int64)
        self._prescriber: pa.Array | None = None
        self.last = np.full(scan.rid.size, _NEVER, dtype=np.int64)

    def files(self) -> list[FastFile]:
        scan, rid, count = self.scan, self.scan.rid, len(self.digests)
        kind, medical = scan.kind, scan.kind == ClaimKind.MEDICAL
        header_id, go_id, re_id = scan.ids[HEADER_TAG[kind]], scan.ids["GO"], scan.ids["RE"]
        last_line = scan.first_line + scan.per_file - 1
        require((rid[scan.first_line] == header_id).all() and (rid == header_id).sum() == count)
        require((rid[last_line] == go_id).all() and (rid == go_id).sum() == count)
        body = (rid != header_id) & (rid != go_id) & (rid != re_id)
        for tag in INSURER_SIDE:  # accepted anywhere between the header and GO
            body &= rid != scan.ids[tag]
        before = _latest(rid == re_id) <= _latest(rid == header_id)
        require(not (body & before).any())  # a body record before its file's first RE
        _, header = scan.values(HEADER_TAG[kind])
        re_rows, re = scan.values("RE")
        self.claim_of = np.cumsum(rid == re_id) - 1
        self.re_rows, self.re, self.n = re_rows, re, int(re_rows.size)
        self.month = re[4][0]
        self.claim_file = scan.line_file[re_rows]
        if self.n:
            scan.line_month = self.month[np.maximum(self.claim_of, 0)]
        receipts = self.claim_file * 10**7 + re[2][0]
        require(np.unique(receipts).size == self.n)  # レセプト番号 unique in each file
        heads = scan.first_line
        self.prefecture, self.fee_table = scan.strings(heads, 3), scan.strings(heads, 4)
        self.institution = scan.strings(heads, 5)
        require(institution_codes_valid(*(header[n][0] for n in INSTITUTION_FIELDS)).all())
        self.billing = header[8 if medical else 7][0]
        # Billed after its 診療年月, for a person born by its end (the reader names the field).
        require((self.month <= self.billing[self.claim_file]).all())
        following = (self.month.astype("datetime64[D]").astype("datetime64[M]") + 1).astype(
            "datetime64[D]"
        )
        self.following = following.astype(np.int64)  # each claim's month's end + 1 day
        born, known = re[7]
        require(not (known & (born >= self.following)).any())
        if medical:  # 入院年月日
            require(not (re[9][1] & (re[9][0] >= self.following)).any())
        self._insurance()
        tables: dict[str, tuple[pa.Table, np.ndarray]] = {}
        if medical:
            tables["claim_diagnoses"] = self._diagnoses()
            tables["claim_procedures"] = self._procedures()
            tables["claim_drugs"] = self._medical_drugs()
        else:
            tables["claim_drugs"] = self._pharmacy_drugs()
        self._mark("JD")
        for tag in scan.ids:  # every record type checked, kept or not
            scan.values(tag)
        self._check_totals(header, medical, last_line)
        tables["claims"] = (self._claims(), self.claim_file)
        return self._split(tables)

    def _check_totals(self, header: Values, medical: bool, last_line: np.ndarray) -> None:
        """GO 総件数, 総合計点数 and マルチボリューム識別情報 of each file."""
        count = len(self.digests)
        _, go = self.scan.values("GO")
        claims = np.bincount(self.claim_file, minlength=count)
        points = np.bincount(self.claim_file, weights=self.points, minlength=count)
        require((go[2][0] == claims).all() and (go[3][0] == np.rint(points)).all())
        volume = self.scan.strings(self.scan.first_line, 9 if medical else 8)
        go_volume = self.scan.strings(last_line, 4)
        require(
            pc.all(pc.or_(pc.equal(go_volume, LAST_VOLUME), pc.equal(go_volume, volume))).as_py()
        )

    def _split(self, tables: dict[str, tuple[pa.Table, np.ndarray]]) -> list[FastFile]:
        scan, out = self.scan, []
        cuts = {
            name: np.searchsorted(owner, np.arange(len(self.digests) + 1))
            for name, (_, owner) in tables.items()
        }
        claims = np.bincount(self.claim_file, minlength=len(self.digests))
        for index in range(len(self.digests)):
            parts = {}
            for name, (table, _) in tables.items():
                start, stop = cuts[name][index], cuts[name][index + 1]
                if stop > start:
                    parts[name] = table.slice(start, stop - start)
            out.append(
                FastFile(
                    kind=scan.kind,
                    lines=int(scan.per_file[index]),
                    claims=int(claims[index]),
                    institution=self.institution[index].as_py(),
                    fee_table=self.fee_table[index].as_py(),
                    billing_month=dt.date(1970, 1, 1) + dt.timedelta(days=int(self.billing[index])),
                    tables=parts,
                )
            )
        return out

    # -- claims ----------------------------------------------------------------------------

    def _insurance(self) -> None:
        scan, claim_of, n = self.scan, self.claim_of, self.n
        ho_rows, ho = scan.values("HO")
        ko_rows, ko = scan.values("KO")
        sn_rows, _ = scan.values("SN")
        require(np.unique(claim_of[ho_rows]).size == ho_rows.size)  # one HO a claim
        ho_of = np.full(n, ho_rows.size, dtype=np.int64)  # ho_rows.size: "no HO"
        ho_of[claim_of[ho_rows]] = np.arange(ho_rows.size)
        with_ho = ho_of < ho_rows.size
        ko_of = np.full(n, ko_rows.size, dtype=np.int64)
        claims, first = np.unique(claim_of[ko_rows], return_index=True)
        ko_of[claims] = first
        require((with_ho | (ko_of < ko_rows.size)).all())  # HO or KO
        ko_days = np.append(ko[5][0], 0)[ko_of]
        ko_points = np.append(ko[6][0], 0)[ko_of]
        self.days = np.where(with_ho, np.append(ho[5][0], 0)[ho_of], ko_days)
        self.points = np.where(with_ho, np.append(ho[6][0], 0)[ho_of], ko_points)
        none = pa.array([""], pa.string())
        self.person = {
            name: pa.concat_arrays([scan.strings(ho_rows, number), none]).take(ho_of)
            for name, number in (("insurer", 2), ("symbol", 3), ("number", 4))
        }
        branch = [""] * n
        if sn_rows.size:  # 枝番: the first SN of 負担者種別 1 that carries one
            payers = scan.strings(sn_rows, 2).to_pylist()
            branches = scan.strings(sn_rows, 7).to_pylist()
            owners = claim_of[sn_rows].tolist()
            for claim, payer, value in zip(owners, payers, branches, strict=True):
                if payer == "1" and value and not branch[claim]:
                    branch[claim] = value
        self.person["branch"] = pa.array(branch, pa.string())
        prefixes = pa.array([f"{digest}:" for digest in self.digests], pa.string())
        self.claim_id = pc.binary_join_element_wise(
            prefixes.take(self.claim_file), pa.array(self.re[2][0]).cast(pa.string()), ""
        )

    def _claims(self) -> pa.Table:
        scan, n, re, rows, owner = self.scan, self.n, self.re, self.re_rows, self.claim_file
        if n:
            first = np.minimum.reduceat(self.first, rows)
            last = np.maximum.reduceat(self.last, rows)
        else:
            first = last = np.zeros(0, dtype=np.int64)
        if scan.kind == ClaimKind.MEDICAL:
            inpatient = (re[3][0] % 2 == 1).astype(np.int32)  # レセプト種別 ending in an odd digit
            setting = pa.DictionaryArray.from_arrays(
                pa.array(inpatient), pa.array(["outpatient", "inpatient"])
            ).cast(pa.string())
            prescriber = _constant("", n, pa.string())
        else:
            setting = _constant("pharmacy", n, pa.string())
            prescriber = self._prescribers()
        index = pa.array(owner)
        columns = {
            "claim_id": self.claim_id,
            "file": pa.array(self.digests, pa.string()).take(index),
            "line": pa.array(rows - scan.first_line[owner] + 1, pa.int32()),
            "kind": _constant(str(scan.kind), n, pa.string()),
            "institution": self.institution.take(index),
            "prefecture": self.prefecture.take(index),
            "billing_month": date_array(self.billing[owner]),
            "service_month": date_array(self.month),
            "receipt_number": pa.array(re[2][0], pa.int32()),
            "receipt_type": scan.strings(rows, 3),
            "setting": setting,
            **self.person,
            "sex": pa.array(re[6][0], pa.int16()),
            "birth_date": date_array(re[7][0]),
            "days": pa.array(self.days, pa.int32()),
            "points": pa.array(self.points, pa.int64()),
            "first_day": date_array(first, first != _NONE),
            "last_day": date_array(last, last != _NEVER),
            "prescriber": prescriber,
        }
        return pa.Table.from_pydict(columns, schema=pa.schema(CLAIMS))

    def _claim_columns(self, claim: np.ndarray, names: list[str]) -> dict[str, pa.Array]:
        """Columns of each claim (``claim``: claim index per row) repeated on its rows."""
        index = pa.array(claim)
        source = {
            "claim_id": self.claim_id,
            "service_month": date_array(self.month),
            "kind": _constant(str(self.scan.kind), self.n, pa.string()),
            **self.person,
        }
        return {name: source[name].take(index) for name in names}

    def _mark(self, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Days of service from the day cells of ``tag``; returns, per line, the sum of the
        cells, the first day with a count (days since 1970) and whether it has one."""
        days, lines = self.scan.days(tag), self.scan.rid.size
        total = np.bincount(days.line, weights=days.value, minlength=lines).astype(np.int64)
        used = days.value != 0
        line, day = days.line[used], days.day[used]
        first = np.zeros(lines, dtype=np.int64)
        has = np.zeros(lines, dtype=bool)
        if line.size:
            starts = np.flatnonzero(np.concatenate(([True], line[1:] != line[:-1])))
            stops = np.concatenate((starts[1:], [line.size])) - 1
            month = self.scan.line_month[line[starts]]
            first[line[starts]] = month + day[starts]
            has[line[starts]] = True
            self.first[line[starts]] = np.minimum(self.first[line[starts]], month + day[starts])
            self.last[line[stops]] = np.maximum(self.last[line[stops]], month + day[stops])
        return total, first, has

    # -- 医科 -------------------------------------------------------------------------------

    def _diagnoses(self) -> tuple[pa.Table, np.ndarray]:
        scan = self.scan
        rows, v = scan.values("SY")
        claim = self.claim_of[rows]
        require(not (v[3][1] & (v[3][0] >= self.following[claim])).any())  # 診療開始日
        names = ["claim_id", "service_month", "insurer", "symbol", "number", "branch"]
        columns = self._claim_columns(claim, names)
        columns |= {
            "code": scan.strings(rows, 2),
            "start": date_array(v[3][0]),
            "outcome": scan.strings(rows, 4),
            "primary": pa.array(v[7][0] == 1),
        }
        table = pa.Table.from_pydict(columns, schema=pa.schema(CLAIM_DIAGNOSES))
        return table, self.claim_file[claim]

    def _procedures(self) -> tuple[pa.Table, np.ndarray]:
        scan = self.scan
        self._mark("TO")
        self._mark("SI")
        rows, v = scan.values("SI")
        claim = self.claim_of[rows]
        columns = self._claim_columns(claim, ["claim_id", "service_month"])
        columns |= {
            "section": scan.strings(rows, 2),
            "code": scan.strings(rows, 4),
            "quantity": _masked(v[5][0].astype(np.float64), v[5][1], pa.float64()),
            "points": _masked(v[6][0], v[6][1], pa.int64()),
            "times": pa.array(v[7][0], pa.int32()),
        }
        table = pa.Table.from_pydict(columns, schema=pa.schema(CLAIM_PROCEDURES))
        return table, self.claim_file[claim]

    def _medical_drugs(self) -> tuple[pa.Table, np.ndarray]:
        scan = self.scan
        total, first, has = self._mark("IY")
        rows, v = scan.values("IY")
        total, first, has = total[rows], first[rows], has[rows]
        units = np.where(total > 0, total, v[7][0])  # 回数 when no day is recorded
        amount = v[5][0].astype(np.float64)
        oral = v[2][1] & (v[2][0] == int(ORAL_SECTION))
        claim = self.claim_of[rows]
        names = ["claim_id", "service_month", "kind", "insurer", "symbol", "number", "branch"]
        columns = self._claim_columns(claim, names)
        where = pc.binary_join_element_wise(self.prefecture, self.fee_table, self.institution, "")
        columns |= {
            "institution": where.take(pa.array(self.claim_file[claim])),
            "code": scan.strings(rows, 4),
            "section": scan.strings(rows, 2),
            "amount": pa.array(amount),
            "units": pa.array(units.astype(np.float64)),
            "quantity": pa.array(amount * units),
            "days_supply": _masked(units, oral, pa.int32()),
            "points": _masked(v[6][0], v[6][1], pa.int64()),
            "first_day": date_array(first, has),
        }
        table = pa.Table.from_pydict(columns, schema=pa.schema(CLAIM_DRUGS))
        return table, self.claim_file[claim]

    # -- 調剤 -------------------------------------------------------------------------------

    def _pharmacy_drugs(self) -> tuple[pa.Table, np.ndarray]:
        """Each IY with each CZ of the run of CZ records before it (see ``_rece_read``)."""
        scan, rid = self.scan, self.scan.rid
        sh_rows, sh = scan.values("SH")
        cz_rows, cz = scan.values("CZ")
        iy_rows, iy = scan.values("IY")
        is_cz = rid == scan.ids["CZ"]
        last_re, last_sh = _latest(rid == scan.ids["RE"]), _latest(rid == scan.ids["SH"])
        last_cz = _latest(is_cz)
        run_start = _latest(is_cz & ~np.concatenate(([False], is_cz[:-1])))
        require((last_sh[cz_rows] > last_re[cz_rows]).all())  # CZ after an SH of its claim
        require((last_sh[iy_rows] > last_re[iy_rows]).all())
        require((last_cz[iy_rows] > last_sh[iy_rows]).all())  # IY after a CZ of its 処方
        self.first[cz_rows] = cz[4][0]
        self.last[cz_rows] = cz[4][0]
        runs = last_cz[iy_rows] - run_start[iy_rows] + 1
        iy_line = np.repeat(iy_rows, runs)
        offset = np.arange(int(runs.sum())) - np.repeat(np.cumsum(runs) - runs, runs)
        position = np.full(rid.size, -1, dtype=np.int64)
        position[cz_rows] = np.arange(cz_rows.size)
        cz_at = position[np.repeat(run_start[iy_rows], runs) + offset]
        position[iy_rows] = np.arange(iy_rows.size)
        iy_at = position[iy_line]
        position[sh_rows] = np.arange(sh_rows.size)
        sh_at = position[last_sh[iy_line]]
        units = cz[6][0][cz_at]
        amount = iy[4][0][iy_at].astype(np.float64)
        by_days = np.isin(sh[3][0][sh_at], [int(f) for f in DAYS_FORMS])
        claim = self.claim_of[iy_line]
        names = ["claim_id", "service_month", "kind", "insurer", "symbol", "number", "branch"]
        columns = self._claim_columns(claim, names)
        columns |= {
            "institution": self._prescribers().take(pa.array(claim)),
            "code": scan.strings(iy_rows, 3).take(pa.array(iy_at)),
            "section": _constant("", iy_line.size, pa.string()),
            "amount": pa.array(amount),
            "units": pa.array(units.astype(np.float64)),
            "quantity": pa.array(amount * units),
            "days_supply": _masked(units, by_days, pa.int32()),
            "points": pa.nulls(iy_line.size, pa.int64()),
            "first_day": date_array(cz[4][0][cz_at]),
        }
        table = pa.Table.from_pydict(columns, schema=pa.schema(CLAIM_DRUGS))
        return table, self.claim_file[claim]

    def _prescribers(self) -> pa.Array:
        """処方医療機関 of each claim: 都道府県 + 点数表 + コード (RE 10–12), "" when unknown;
        each one given must be a valid 10-digit 医療機関コード."""
        if self._prescriber is None:
            rows, re = self.re_rows, self.re
            prefecture, table, code = (re[n] for n in PRESCRIBER_FIELDS)
            valid = (
                prefecture[1] & table[1] & institution_codes_valid(prefecture[0], table[0], code[0])
            )
            require((valid | ~code[1]).all())
            parts = [self.scan.strings(rows, n) for n in PRESCRIBER_FIELDS]
            self._prescriber = pc.if_else(
                pa.array(code[1]), pc.binary_join_element_wise(*parts, ""), ""
            )
        return self._prescriber
