"""Text from outside (a file name a sender chose, a value read from a file) made safe to print
on an operator's terminal: every character a terminal would act on is shown as an escape."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

#: The characters of Unicode's Bidi_Control property: the Arabic letter mark (U+061C), the
#: left-to-right and right-to-left marks (U+200E, U+200F), the embeddings and overrides
#: (U+202A–U+202E: LRE, RLE, PDF, LRO, RLO) and the isolates (U+2066–U+2069: LRI, RLI, FSI,
#: PDI). Invisible, they reorder the text around them: a name holding an RLO reads otherwise
#: on a page or in a log than what was recorded.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: The same set as a regular expression's character class.
BIDI_CLASS: Final = "".join(sorted(BIDI_CONTROLS))
# C0 controls (\n, \r, \t, ESC …), DEL and the C1 controls (U+0080–U+009F: a terminal may read
# U+009B as CSI), every bidi control (BIDI_CONTROLS: the marks, embeddings, overrides and
# isolates reorder what is around them, so a name can show another name), and lone surrogates
# (bytes of a file name that were not UTF-8, kept by surrogateescape: an output stream refuses
# them).
_ACTED_ON: Final = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CLASS}\ud800-\udfff]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def shown_text(value: str) -> str:
    """``value`` as printed on a terminal: C0 and C1 controls, DEL, bidi controls and lone
    surrogates escaped visibly (``\\x1b``, ``\\n``, ``\\u202e``, a byte that
    was not UTF-8 as ``\\xff``); ordinary text, Japanese and spaces included, unchanged. The
    backslash itself is kept, so escaping twice changes nothing."""
    return _ACTED_ON.sub(_escape, value)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (Unicode category Cc: C0, DEL, C1) or a bidi
    control (``BIDI_CONTROLS``), which a name, label, staff member or free text written into a
    record must not. Not ``str.isprintable``: it refuses the full-width space (U+3000) of
    Japanese names."""
    return any(c in BIDI_CONTROLS or unicodedata.category(c) == "Cc" for c in text)


#: How much of a value a problem quotes.
QUOTED_CHARACTERS: Final = 40


def quoted(raw: str) -> str:
    """``raw`` as a problem quotes it: its repr, cut to :data:`QUOTED_CHARACTERS` characters
    with the length said when longer (a value of 5,000 digits is not a line of 5,000)."""
    if len(raw) <= QUOTED_CHARACTERS:
        return repr(raw)
    return f"{raw[:QUOTED_CHARACTERS]!r}… ({len(raw):,} characters)"
