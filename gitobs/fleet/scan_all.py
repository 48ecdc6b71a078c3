"""Scanning many repositories: each one on its own (a failure is reported and the others go on); the
record of the run is gitobs/fleet/last_run.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitobs.capture.ingest import ScanResult
from gitobs.capture.spool import write_note
from gitobs.core.registry import Entry
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.export.otlp.after_scan import after_scan
from gitobs.export.prometheus import repositories
from gitobs.upkeep.scan import scan


@dataclass
class Outcome:
    label: str  # the repository, as the user knows it
    result: ScanResult | None = None
    error: str | None = None


def scan_one(obs: ObsPaths, label: str, scanner: Callable[[Path], ScanResult] = scan) -> Outcome:
    """Scan one repository; whatever goes wrong there is returned (and kept in its log when possible)."""
    try:
        outcome = Outcome(label, result=scanner(obs.common_dir))
        after_scan(obs.common_dir)
        return outcome
    except GitobsError as exc:
        error = str(exc)
    except OSError as exc:
        error = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    except Exception as exc:  # noqa: BLE001 - one repository's trouble never stops the others
        error = f"{type(exc).__name__}: {exc}"
    if obs.is_enabled():
        try:
            write_note(obs.spool, "gitobs-error", ["scan --all", error])
        except OSError:
            pass
    return Outcome(label, error=error)


def scan_entries(entries: list[Entry]) -> list[Outcome]:
    outcomes = []
    for entry in entries:
        problem = entry.problem()
        outcomes.append(Outcome(entry.label, error=problem) if problem else scan_one(entry.obs, entry.label,
                                                                                     _scan_for_all))
    repositories.after_scan([entry.obs for entry, outcome in zip(entries, outcomes) if outcome.result])
    return outcomes


def _scan_for_all(common_dir: Path) -> ScanResult:
    return scan(common_dir, export=False)  # the Prometheus textfile is rewritten once, for all of them
