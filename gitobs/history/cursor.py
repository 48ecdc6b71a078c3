"""How far `gitobs import` got, in `.git/obs/import.json`, replaced atomically when an import completes.

The cursor is a set of commits whose whole ancestry (from `since` on, by the authors the run took) has
been dealt with: imported, or found already recorded, or left out. A later import hides these commits
from its walk: it walks only history that is new since. An import walks children before parents (renames
first), so it is complete only at its end: an interrupted one walks again, and finds what its chunks put
in the log recorded, so nothing is written twice.

Runs are told apart by `since` and by whose commits they took: a run of everyone's (`authors` None)
covers any later run; a run of some authors covers a later run of the same authors or fewer, so
`--all-authors` after an own-only import walks everything again and adds only the others' commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from gitobs.core.files import write_atomic
from gitobs.core.lock import exclusive
from gitobs.core.repo import GitobsError

IMPORT_FILE = "import.json"
IMPORT_LOCK = "import.lock"  # one import at a time: two would both find a commit missing and write it
MAX_COVERED = 4096  # beyond this, some are forgotten: more walking next time, never a duplicate
MAX_RUNS = 8


class Coverage(msgspec.Struct):
    since: int | None = None  # seconds since the epoch; None: the whole history
    covered: list[str] = []
    authors: list[str] | None = None  # the emails whose commits it took; None: everyone's


class ImportCursor(msgspec.Struct):
    runs: list[Coverage] = []  # one per --since that was used, most recent last


_decoder = msgspec.json.Decoder(ImportCursor)


@contextmanager
def import_lock(obs_root: Path, busy: str) -> Iterator[None]:
    """IMPORT_LOCK held for what follows: by an import, or by what takes events out of the log (an import
    meanwhile would save a cursor that still counts them); GitobsError(`busy`) while an import holds it."""
    with exclusive(obs_root / IMPORT_LOCK, 0) as alone:
        if not alone:
            raise GitobsError(busy)
        yield


def load_cursor(obs_root: Path) -> ImportCursor:
    try:
        return _decoder.decode((obs_root / IMPORT_FILE).read_bytes())
    except FileNotFoundError:
        return ImportCursor()
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ImportCursor()  # walked again from the start: what is recorded is still skipped


def covered_for(cursor: ImportCursor, since: int | None, authors: list[str] | None = None) -> set[str]:
    """Commits whose ancestry a walk from `since` on, of `authors`' commits (None: everyone's), may skip:
    those of runs that went at least as far back and took at least these authors' commits."""
    found: set[str] = set()
    for run in cursor.runs:
        far_enough = run.since is None or (since is not None and run.since <= since)
        took = run.authors is None or (authors is not None and set(authors) <= set(run.authors))
        if far_enough and took:
            found.update(run.covered)
    return found


def forget_cursor(obs_root: Path) -> None:
    """Events left the log (a repair took damage out): the next import walks the whole history again and
    writes the commits no event names any more, finding the rest recorded. The caller holds IMPORT_LOCK."""
    (obs_root / IMPORT_FILE).unlink(missing_ok=True)


def save_cursor(obs_root: Path, cursor: ImportCursor, since: int | None, covered: Iterable[str],
                authors: list[str] | None = None) -> None:
    """Record `covered` as what a run from `since` of `authors`' commits has dealt with (it includes what
    it was allowed to skip)."""
    kept = sorted(covered)[-MAX_COVERED:]
    same = (since, None if authors is None else sorted(authors))
    runs = [run for run in cursor.runs if (run.since, run.authors) != same] + [Coverage(since, kept, same[1])]
    cursor.runs = runs[-MAX_RUNS:]
    write_atomic(obs_root / IMPORT_FILE, msgspec.json.encode(cursor))
