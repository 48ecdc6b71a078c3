"""How far `gitobs import` got, in `.git/obs/import.json`, replaced atomically after each chunk is in the log.

The cursor is a set of commits whose whole ancestry (from `since` on) has been dealt with: imported, or
found already recorded. Commits are imported parents first, so after each one the set is updated by
adding it and dropping its parents; it stays about as small as the number of branches. A later import
hides these commits from its walk: it walks only history that is new since, and an interrupted one goes on
after the last chunk that reached the log. A chunk in the log but not yet in the cursor (a crash between
the two writes) is walked again and found recorded, so nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from gitobs.core.files import write_atomic

IMPORT_FILE = "import.json"
IMPORT_LOCK = "import.lock"  # one import at a time: two would both find a commit missing and write it
MAX_COVERED = 4096  # beyond this, some are forgotten: more walking next time, never a duplicate
MAX_RUNS = 8


class Coverage(msgspec.Struct):
    since: int | None = None  # seconds since the epoch; None: the whole history
    covered: list[str] = []


class ImportCursor(msgspec.Struct):
    runs: list[Coverage] = []  # one per --since that was used, most recent last


_decoder = msgspec.json.Decoder(ImportCursor)


def load_cursor(obs_root: Path) -> ImportCursor:
    try:
        return _decoder.decode((obs_root / IMPORT_FILE).read_bytes())
    except FileNotFoundError:
        return ImportCursor()
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ImportCursor()  # walked again from the start: what is recorded is still skipped


def covered_for(cursor: ImportCursor, since: int | None) -> set[str]:
    """Commits whose ancestry a walk from `since` on may skip: those of runs that went at least as far back."""
    found: set[str] = set()
    for run in cursor.runs:
        if run.since is None or (since is not None and run.since <= since):
            found.update(run.covered)
    return found


def forget_cursor(obs_root: Path) -> None:
    """Events left the log (a repair took damage out): the next import walks the whole history again and
    writes the commits no event names any more, finding the rest recorded. The caller holds IMPORT_LOCK."""
    (obs_root / IMPORT_FILE).unlink(missing_ok=True)


def save_cursor(obs_root: Path, cursor: ImportCursor, since: int | None, covered: Iterable[str]) -> None:
    """Record `covered` as what a run from `since` has dealt with (it includes what it was allowed to skip)."""
    kept = sorted(covered)[-MAX_COVERED:]
    runs = [run for run in cursor.runs if run.since != since] + [Coverage(since, kept)]
    cursor.runs = runs[-MAX_RUNS:]
    write_atomic(obs_root / IMPORT_FILE, msgspec.json.encode(cursor))


class Frontier:
    """The covered set as a walk (parents before children) extends it."""

    def __init__(self, start: Iterable[str]) -> None:
        self.covered = set(start)

    def advance(self, sha: str, parents: Iterable[str]) -> None:
        self.covered.add(sha)
        self.covered.difference_update(parents)
