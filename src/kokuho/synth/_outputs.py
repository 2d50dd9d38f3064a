"""What every part of the synthetic prefecture shares about its output files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Written:
    """What a part's ``write`` added: files (relative to the output folder) and counts."""

    files: list[str]
    counts: dict[str, int]


def clear_earlier(folder: Path, earlier: Sequence[Path], what: str, overwrite: bool) -> None:
    """Refuses to mix with ``earlier`` files of a previous run, or removes them to overwrite;
    ``what`` names them in the refusal ("the claims", "the checkup archives" …)."""
    if earlier and not overwrite:
        raise FileExistsError(
            f"{folder} already holds {what} of a synthetic prefecture ({len(earlier)} files); "
            "choose an empty folder or overwrite"
        )
    for path in earlier:
        path.unlink()
