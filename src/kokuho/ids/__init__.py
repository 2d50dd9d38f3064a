"""Identifiers every context shares: insurer and institution numbers, My Number, the
individual insured number, the 世帯番号, 和暦 and ISO dates, fiscal years and ages. Pure
values, no I/O."""

from kokuho.ids._checkdigit import luhn_2_1, mynumber_check
from kokuho.ids._dates import iso_date
from kokuho.ids._errors import InvalidIdentifier, scrub_mynumbers
from kokuho.ids._fiscal import FiscalYear, age_at_fiscal_year_end, age_on
from kokuho.ids._household import HOUSEHOLD_ID_RULE, MAX_HOUSEHOLD_ID_LENGTH, parse_household_id
from kokuho.ids._institution import SCORE_TABLES, InstitutionCode
from kokuho.ids._insured import (
    MAX_SYMBOL_LENGTH,
    InsuredId,
    parse_branch,
    parse_number,
    parse_symbol,
)
from kokuho.ids._insurer import HEALTH_INSURANCE_LAW_CODES, InsurerNumber, with_check_digit
from kokuho.ids._mynumber import MyNumber
from kokuho.ids._text import half_width_number
from kokuho.ids._wareki import (
    ERAS,
    Era,
    era_of,
    parse_gyymm,
    parse_gyymmdd,
    to_gyymm,
    to_gyymmdd,
    wareki_label,
)

__all__ = [
    "ERAS",
    "HEALTH_INSURANCE_LAW_CODES",
    "HOUSEHOLD_ID_RULE",
    "SCORE_TABLES",
    "Era",
    "FiscalYear",
    "InstitutionCode",
    "InsuredId",
    "MAX_HOUSEHOLD_ID_LENGTH",
    "MAX_SYMBOL_LENGTH",
    "InsurerNumber",
    "InvalidIdentifier",
    "MyNumber",
    "age_at_fiscal_year_end",
    "age_on",
    "era_of",
    "half_width_number",
    "iso_date",
    "luhn_2_1",
    "mynumber_check",
    "parse_branch",
    "parse_gyymm",
    "parse_gyymmdd",
    "parse_household_id",
    "parse_number",
    "parse_symbol",
    "scrub_mynumbers",
    "to_gyymm",
    "to_gyymmdd",
    "wareki_label",
    "with_check_digit",
]
