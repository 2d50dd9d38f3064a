from __future__ import annotations


class InvalidIdentifier(ValueError):
    """A value that is not a valid identifier of its kind; the message says why."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        super().__init__(f"{kind} {value!r}: {reason}")
