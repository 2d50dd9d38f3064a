"""The body of a 特定健診 document: every ``observation`` under ``component/structuredBody``
into an :class:`Observation` keyed by its 17-character 健診項目コード (what is read and checked
is described in ``_v08_document``'s docstring; a PQ value is bounded by its item's format,
``_v08_ranges``).

The hottest loop of the ingest (13–40 observations a document, thousands of documents a
second): observations of the usual shape (``<code/>`` then ``<value/>``, nothing else) are
taken by index instead of by a loop over their children, and the usual decimal is recognised
before ``is_number``'s full check. Both give the same elements and the same answer as the
general path.
"""

from __future__ import annotations

import re
from typing import Final

from lxml import etree

from kokuho.checkups._model import Observation
from kokuho.checkups._v08_common import (
    FAST_DIGITS,
    V3,
    XSI_TYPE,
    BlanksDropped,
    Problems,
    is_number,
)
from kokuho.checkups._v08_ranges import load_item_formats
from kokuho.store import quoted

_OBSERVATION: Final = f"{{{V3}}}observation"
_CODE: Final = f"{{{V3}}}code"
_VALUE: Final = f"{{{V3}}}value"
_CODED: Final = frozenset(("CD", "CO"))
#: A CD/CO code (an HL7 token): '²' or '٢' pass str.isdigit, and the rules read codes as
#: numbers (メタボ判定, 保健指導レベル, 尿蛋白).
_CODE_VALUE: Final = re.compile(r"[0-9A-Za-z._-]{1,64}")

_Key = tuple[str, str, str | None, str | None, str | None, bool, str | None]

# Identical observations (a 問診 answer, a 未実施 item) recur in every document: sharing one
# frozen instance per distinct content saves building it again. Bounded, so a stream of
# distinct values cannot grow it without limit.
_SHARED: dict[_Key, Observation] = {}
_SHARED_MAX: Final = 100_000


def shared_observation(key: _Key) -> Observation:
    """The observation of these fields (code, kind, value, unit, code_system, not_done,
    null_flavor), shared as ``read_observations`` shares them."""
    item = _SHARED.get(key)
    if item is None:
        item = Observation(*key)
        if len(_SHARED) < _SHARED_MAX:
            _SHARED[key] = item
    return item


def read_observations(
    body: etree._Element, problems: Problems, blanks_dropped: bool = False
) -> dict[str, Observation]:
    """The observations under ``body``; each bad one is left out and added to ``problems``.
    ``blanks_dropped``: ``body`` was parsed by ``parse_lean``, which dropped blank text; an ST
    value with child elements then raises ``BlanksDropped`` (its text may have begun with
    blanks)."""
    found: dict[str, Observation] = {}
    shared = _SHARED
    item_formats = load_item_formats()
    formats, default = item_formats.items, item_formats.default
    for obs in body.iter(_OBSERVATION):
        code_el: etree._Element | None
        value_el: etree._Element | None
        # One slice makes the children's proxies once (indexing twice made each twice).
        children = obs[:]
        if len(children) == 2 and children[0].tag == _CODE and children[1].tag == _VALUE:
            code_el, value_el = children
        else:
            # The first code and the first value, wherever they are among the children.
            code_el = value_el = None
            for child in children:
                tag = child.tag
                if tag == _CODE:
                    if code_el is None:
                        code_el = child
                elif tag == _VALUE and value_el is None:
                    value_el = child
        code = code_el.get("code") if code_el is not None else None
        if not code:
            problems.add(
                f"observation at line {obs.sourceline}", "has no code@code (健診項目コード)"
            )
            continue
        if len(code) != 17:
            problems.add(f"observation {code}", f"item code {quoted(code)} is not 17 characters")
            continue
        not_done = obs.get("negationInd") == "true"
        null_flavor = obs.get("nullFlavor")
        value = unit = code_system = None
        if value_el is None:
            kind = ""
            if not (not_done or null_flavor):
                problems.add(
                    f"observation {code}",
                    "has no value and is neither 未実施 (negationInd) nor nullFlavor",
                )
                continue
        else:
            kind = value_el.get(XSI_TYPE) or ""
            if ":" in kind:
                kind = kind.rpartition(":")[2]
            null_flavor = value_el.get("nullFlavor") or null_flavor
            if kind == "PQ":
                value = value_el.get("value")
                unit = value_el.get("unit")
                if (
                    value is not None
                    # is_number's own fast path, without the call
                    and not (
                        len(value) <= FAST_DIGITS
                        and value.isascii()
                        and value.replace(".", "", 1).isdigit()
                    )
                    and not is_number(value)
                ):
                    problems.add(f"observation {code}", f"value {quoted(value)} is not a number")
                    continue
                if value is not None:
                    # is_number has passed: a finite float. Its item's format bounds it.
                    number = float(value)
                    if number < 0:
                        reason = f"value {quoted(value)} is negative (a 健診 measurement is not)"
                        problems.add(f"observation {code}", reason)
                        continue
                    item_format = formats.get(code, default)
                    if number > item_format.largest:
                        problems.add(f"observation {code}", item_format.refusal(quoted(value)))
                        continue
            elif kind in _CODED:
                value = value_el.get("code")
                code_system = value_el.get("codeSystem")
                if (
                    value is not None
                    # ASCII letters and digits alone always match _CODE_VALUE: no regex.
                    and not (len(value) <= 64 and value.isascii() and value.isalnum())
                    and not _CODE_VALUE.fullmatch(value)
                ):
                    reason = (
                        f"code {quoted(value)} is not a code "
                        "(ASCII letters, digits, '.', '-' or '_')"
                    )
                    problems.add(f"observation {code}", reason)
                    continue
            elif kind == "ST":
                if blanks_dropped and len(value_el):
                    raise BlanksDropped
                value = value_el.text
            else:
                problems.add(f"observation {code}", f"value type {kind!r} is not PQ, CD, CO or ST")
                continue
            if value is None and not (not_done or null_flavor):
                problems.add(
                    f"observation {code}",
                    f"{kind} value is empty and is neither 未実施 nor nullFlavor",
                )
                continue
        if code in found:
            problems.add(f"observation {code}", "item code appears more than once in the document")
            continue
        key = (code, kind, value, unit, code_system, not_done, null_flavor)
        item = shared.get(key)
        if item is None:
            item = Observation(code, kind, value, unit, code_system, not_done, null_flavor)
            if len(shared) < _SHARED_MAX:
                shared[key] = item
        found[code] = item
    return found
