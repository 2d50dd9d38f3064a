from __future__ import annotations

import re
from typing import Final

#: Twelve digits, full- or half-width, perhaps grouped: what a My Number looks like in text.
_TWELVE_DIGITS: Final = re.compile(r"(?:[0-9０-９][\s\-‐－]?){11}[0-9０-９]")


def scrub_mynumbers(text: str) -> str:
    """``text`` with anything that looks like a My Number (個人番号) masked to its last four
    digits: for messages that repeat what a file or a caller sent, where a number may have
    been put in the wrong field."""
    return _TWELVE_DIGITS.sub(lambda match: "*" * 8 + match.group(0)[-4:], text)


class InvalidIdentifier(ValueError):
    """A value that is not a valid identifier of its kind; the message says why.

    ``value`` is kept with anything that looks like a My Number masked: this message is what
    every face says back (OQS error files and the agent's log, FHIR OperationOutcome, file
    row errors, the CLI), and a My Number sent in another field's place must not be repeated
    there."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = scrub_mynumbers(value)
        self.reason = reason
        super().__init__(f"{kind} {self.value!r}: {reason}")
