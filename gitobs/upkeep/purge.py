"""`gitobs purge`: delete everything gitobs recorded in a repository, so that none of it comes back.

First a scan that records nothing moves every reflog cursor past what is there (otherwise the next scan
would read the whole history again); then, under the scan lock, the log, the spool's records and every
remembered detail of the state (samples, attempts, GitButler's stacks, times), the metrics' counts and
the export queues are deleted. What is kept:
the cursors, the stash's stamp and `seq` (so that event numbers keep rising), and the hooks, unless asked
to uninstall too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gitobs.capture.state import ScanState, load_state, save_state
from gitobs.core.lock import exclusive
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.otlp import delivery
from gitobs.export.prometheus import metrics
from gitobs.log.eventlog import EventLog
from gitobs.replay import cache as replay_cache
from gitobs.upkeep.scan import scan


@dataclass
class Purged:
    segments: int
    bytes: int
    spool_files: int


def purge(obs: ObsPaths, wait_s: float = 30.0) -> Purged:
    if obs.is_enabled():
        scan(obs.common_dir, wait_s, discard=True)
    with exclusive(obs.lock, wait_s) as held:
        if not held:
            raise GitobsError("a scan is running and kept the lock; try again in a moment")
        log = EventLog(obs.log)
        segments = log.segments()
        purged = Purged(len(segments), log.size_bytes(), _clear(obs.spool))
        _remove(obs.log)
        _remove(log.damaged_dir)  # what repairs took out of the log goes too
        replay_cache.drop(obs.log)  # and the analyzers' states made of it
        metrics.forget(obs)  # the Prometheus counts go with the events
        delivery.forget(obs)  # and so do requests still waiting for a collector
        obs.log.mkdir(parents=True, exist_ok=True)
        old = load_state(obs.state)
        kept = ScanState(seq=max(old.seq, 0), cursors=old.cursors, stash=old.stash, stash_stamp=old.stash_stamp,
                         last_scan_ns=old.last_scan_ns)
        kept.log_end = EventLog(obs.log).end_mark()
        save_state(obs.state, kept)
    return purged


def _remove(directory: Path) -> None:
    """Deleted whole, or OSError: a purge that leaves events behind must not say it purged them."""
    try:
        shutil.rmtree(directory)
    except FileNotFoundError:
        pass


def _clear(directory) -> int:
    count = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        try:
            os.unlink(directory / name)
            count += 1
        except (FileNotFoundError, IsADirectoryError):
            pass
    return count
