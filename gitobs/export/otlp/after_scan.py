"""Continuous OTLP export after a scan, when the user's own config has `export.otlp.endpoint`.

It runs after the scans that the hooks, `gitobs scan`, `scan --all` and `gitobs watch` make, once the scan
has released the repository's lock, within a time budget and trying each request once: what it could not
send waits in the export queue for the next scan. It never fails the scan. The scans that reading commands
make first (`gitobs report`, `events`, ...) do not export, so that a collector that is slow to answer
never holds a report up. (The Prometheus textfile, local and cheap, is rewritten after every scan, by
scan.scan itself: gitobs/export/prometheus/repositories.py.)"""

from __future__ import annotations

from pathlib import Path

from gitobs.capture.spool import write_note
from gitobs.core import config
from gitobs.core.repo import GitobsError, ObsPaths

BUDGET_S = 5.0  # a scan's export stops after this; the next scan goes on where it stopped


def after_scan(common_dir: Path) -> None:
    try:
        if not config.load(common_dir, config.main_work_tree(common_dir))["export.otlp.endpoint"]:
            return
        from gitobs.export.otlp.delivery import (  # only then: HTTP is a tenth of a scan's start-up
            OtlpSettings,
            export,
        )
        from gitobs.export.otlp.send import Retry

        # wait_s=0: if another process is exporting this repository, it sends what this scan added too
        export(common_dir, OtlpSettings.load(common_dir), Retry(attempts=1), budget_s=BUDGET_S, wait_s=0)
    except (GitobsError, OSError) as exc:  # a collector that is down is not this: it waits in the queue
        _note(common_dir, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug in an exporter must not stop scans
        _note(common_dir, f"{type(exc).__name__}: {exc}")


def _note(common_dir: Path, message: str) -> None:
    try:
        write_note(ObsPaths(common_dir).spool, "gitobs-error", ["export", message])
    except OSError:
        pass
