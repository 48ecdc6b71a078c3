"""What a scan reads of the layered configuration (gitobs/config.py): how to interpret records, and which
capture categories are on. Recording paused (`gitobs pause`) turns every category off until it ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitobs import config
from gitobs.pause import Pause


@dataclass(frozen=True)
class ScanSettings:
    undo_window: float = 30 * 60  # a reset off a commit younger than this undoes it (commit.undone)
    stage_burst_gap: float = 30.0  # index writes closer than this are one index.stage burst
    hooks: bool = True  # capture categories: off means read and dropped, never stored
    skip_hooks: frozenset[str] = frozenset()
    reflog: bool = True
    worktree: bool = True
    gitbutler: bool = True
    paths: bool = True  # off: file paths are stored as salted hashes
    paused: bool = False
    max_age: float = 90 * 86400.0  # retention (gitobs/rollup.py)
    max_bytes: int = 64 << 20

    @classmethod
    def load(cls, common_dir: Path, pause: Pause | None, now_s: float) -> ScanSettings:
        """The settings in force at `now_s`, given the pause file as the scan read it."""
        found = config.load(common_dir, config.main_work_tree(common_dir))
        paused = pause is not None and pause.active(now_s)
        return cls(undo_window=found["scan.undo_window"], stage_burst_gap=found["scan.stage_burst_gap"],
                   hooks=found["capture.hooks"] and not paused, skip_hooks=frozenset(found["capture.skip_hooks"]),
                   reflog=found["capture.reflog"] and not paused, worktree=found["capture.worktree"] and not paused,
                   gitbutler=found["capture.gitbutler"] and not paused, paths=found["capture.paths"], paused=paused,
                   max_age=found["retention.max_age"], max_bytes=found["retention.max_bytes"])
