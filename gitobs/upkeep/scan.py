"""`gitobs scan` of one repository, whole: under its lock, a rollup cut short is finished, what is new is
ingested (gitobs/capture/ingest.py: first git's trace2 directory is drained into the spools of the
repositories it concerns, gitobs/capture/trace2_spool.py) and retention applied when the log is over its cap; after the lock, the
Prometheus textfile is rewritten where the user's config sets one. Every caller that scans comes here."""

from __future__ import annotations

from pathlib import Path

from gitobs.capture import trace2_spool
from gitobs.capture.ingest import ScanResult, ingest_locked
from gitobs.core.lock import exclusive
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.prometheus import repositories
from gitobs.upkeep import retention


def scan(common_dir: Path, wait_s: float = 30.0, discard: bool = False, export: bool = True) -> ScanResult:
    """Ingest what is new. With `discard`, record none of it (see ingest_locked). With `export`, the
    Prometheus textfile is rewritten afterwards when one is configured (scan --all does it once)."""
    obs = ObsPaths(common_dir)
    if not obs.is_enabled():
        raise GitobsError(f"gitobs is not installed in {common_dir} (run gitobs install)")
    with exclusive(obs.lock, wait_s) as held:
        if not held:
            return ScanResult(skipped=True)
        retention.recover(obs)
        trace2_spool.drain()  # never raises: the files of this repository, and of others, to their spools
        result = ingest_locked(obs, discard)
        settings = result.settings
        if not discard and settings is not None and retention.over_budget(obs, settings.max_bytes):
            try:
                retention.collect_locked(obs, result.now_ns / 1e9, settings.max_age, settings.max_bytes)
            except retention.DamagedLog:
                pass  # reports and status warn of the damage; the first scan after doctor --repair collects
    if export and not discard:
        repositories.after_scan([obs])  # never raises
    return result
