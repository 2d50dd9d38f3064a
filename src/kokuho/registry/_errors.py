from __future__ import annotations

from dataclasses import dataclass

from kokuho.ids import scrub_mynumbers
from kokuho.store import shown_text

#: Masks anything that looks like a My Number (個人番号), so that no message repeats one (a
#: value put in the wrong column would otherwise be echoed by that column's error).
scrub = scrub_mynumbers


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row or file problem: where it is and why. ``line`` 0 means the whole file.

    ``field`` and ``reason`` are scrubbed of anything that looks like a My Number: every file
    reader's errors pass here, and a file's text can put a number anywhere (a file without its
    header line names its first row's values as unknown columns)."""

    file: str
    line: int
    field: str
    reason: str

    def __post_init__(self) -> None:
        # Frozen: the scrubbed values replace the given ones before anyone can read them.
        object.__setattr__(self, "field", scrub(self.field))
        object.__setattr__(self, "reason", scrub(self.reason))

    def __str__(self) -> str:
        # File name, field and reason come from outside (a sender's name, a file's header or
        # value): shown with what a terminal would act on escaped.
        file, field, reason = shown_text(self.file), shown_text(self.field), shown_text(self.reason)
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {field}: {reason}" if field else f"{where}: {reason}"


class FileRejected(Exception):
    """A file that changed nothing because of the errors it carries."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        first = errors[0] if errors else "no details"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first}{more}")
