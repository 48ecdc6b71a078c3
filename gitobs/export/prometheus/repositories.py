"""Prometheus metrics of one or several repositories, as one exposition: what `gitobs export prometheus`
writes, what `gitobs metrics serve` answers a scrape with, and the node_exporter textfile that scans rewrite
when `export.prometheus.textfile` is set in user config.

Each repository is labelled `repo` (redact.repository_label). With export.prometheus.redact (the default,
which only the user's own config can turn off) that is a salted token of its path and branch names are
tokens too, with the exporters' salt from the data home, so series stay continuous from scrape to scrape
and repository to repository.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitobs import __version__
from gitobs.capture.spool import write_note
from gitobs.core.config import load as load_config
from gitobs.core.config import main_work_tree
from gitobs.core.redact import Redactor, export_salt, repository_label
from gitobs.core.registry import Registry, data_home
from gitobs.core.repo import GitobsError, ObsPaths
from gitobs.core.safe_text import inert
from gitobs.export.prometheus import metrics
from gitobs.export.prometheus.exposition import (
    Family,
    Sample,
    merged,
    render,
    write_textfile,
)

TEXTFILE_BUDGET_S = 5.0  # a scan's rewrite of the textfile stops updating repositories after this
SCRAPE_BUDGET_S = 8.0  # within Prometheus's default scrape timeout (10 s)
ERROR_FILE = "prometheus-textfile.error"  # the last textfile error, reported once, not at every scan
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    obs: ObsPaths
    problem: str | None = None  # why it cannot be read (a registered repository moved away)


def registered() -> list[Target]:
    return [Target(entry.obs, entry.problem()) for entry in Registry().entries()]


@dataclass
class Collection:
    """Options of one exposition: how repositories are scanned first if they are (the caller's whole scan,
    gitobs/upkeep/scan.py, which sits above the exporters), how long each update may wait for a repository's
    lock (a scan or gc holding it: its state as last saved is shown), how long updates may go on (the
    repositories after that are shown as last counted), and where warnings go."""

    scan_first: Callable[[ObsPaths], object] | None = None
    lock_wait_s: Callable[[ObsPaths], float] = lambda obs: 2.0
    budget_s: float = SCRAPE_BUDGET_S
    first_count: Callable[[ObsPaths], bool] = lambda obs: True  # may a repository never counted be, now?
    warn: Warn = lambda message: None
    now_s: float | None = None


def exposition(targets: list[Target], options: Collection) -> str:
    deadline = time.monotonic() + options.budget_s
    groups = [[Family("gitobs_build_info", "gauge", "The gitobs that wrote these metrics.",
                      [Sample("gitobs_build_info", (("version", __version__),), 1)])]]
    labels: set[str] = set()
    for target in targets:
        groups.append(_repository(target, options, time.monotonic() < deadline, labels))
    return render(merged(groups))


def _repository(target: Target, options: Collection, in_time: bool, labels: set[str]) -> list[Family]:
    obs, problem = target.obs, target.problem
    try:
        settings = load_config(obs.common_dir, main_work_tree(obs.common_dir))
    except GitobsError as exc:  # a broken file there: shown as not read, named as privately as can be
        settings, problem = None, problem or str(exc)
    salt = export_salt(data_home()) if settings is None or settings["export.prometheus.redact"] else None
    label = _unique(inert(repository_label(obs.common_dir, salt)), obs, labels)
    up = Family("gitobs_repository_up", "gauge", "Whether the repository's metrics could be read this time.")
    if problem is None and not obs.root.is_dir():
        problem = "gitobs is not installed there"
    if problem is None and not metrics.state_path(obs).exists() and not (in_time and options.first_count(obs)):
        problem = "not counted yet"
    found = None if problem is not None else _counted(obs, settings, options, in_time, label, salt)
    if problem is not None:
        options.warn(f"{inert(obs.common_dir)}: {problem}")
    up.samples.append(Sample(up.name, (("repo", label),), int(found is not None)))
    return [*(found or []), up]


def _counted(obs: ObsPaths, settings, options: Collection, fresh: bool, label: str, salt: bytes | None
             ) -> list[Family] | None:
    """The repository's families: scanned and updated when `fresh`, else as last counted; None if unreadable."""
    if fresh and options.scan_first is not None:
        _scan(obs, options)
    try:
        gap, activity = metrics.session_settings(settings["report.options"])
        state = (metrics.update(obs, gap, activity, options.lock_wait_s(obs), options.now_s, options.warn)
                 if fresh else metrics.load(obs))
        branch = Redactor(salt).name if salt is not None else inert
        return metrics.families(state, obs, (("repo", label),), branch)
    except (GitobsError, OSError) as exc:
        options.warn(f"{inert(obs.common_dir)}: {exc}")
        return None


def _unique(label: str, obs: ObsPaths, taken: set[str]) -> str:
    """Two clones with the same directory name (labels in clear) stay two series."""
    if label in taken:
        label += "~" + hashlib.blake2b(os.fsencode(obs.common_dir), digest_size=3).hexdigest()
    taken.add(label)
    return label


def _scan(obs: ObsPaths, options: Collection) -> None:
    if not obs.is_enabled():
        return  # uninstalled: its log is still there to read
    try:
        options.scan_first(obs)
    except Exception as exc:  # noqa: BLE001 - a repository that cannot be scanned is still read
        options.warn(f"{inert(obs.common_dir)}: scan failed: {type(exc).__name__}: {exc}")


# -- the textfile, rewritten after scans ----------------------------------------------------------------------

def textfile_setting() -> Path | None:
    """export.prometheus.textfile, from the user's own config (no repository may set it)."""
    text = load_config()["export.prometheus.textfile"].strip()
    if not text:
        return None
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        raise GitobsError(f"export.prometheus.textfile must be an absolute path, not {text!r}")
    return path


def after_scan(scanned: list[ObsPaths]) -> None:
    """Rewrite the configured textfile: the scanned repositories updated, the other registered ones as last
    counted (updated too while the budget lasts, when no one holds their lock). Never raises: a problem is a
    warning and, once per distinct problem, a gitobs.error event."""
    try:
        path = textfile_setting()
        if path is None:
            return
        fresh = {obs.common_dir for obs in scanned}
        targets = [Target(obs) for obs in scanned]
        try:
            targets += [target for target in registered() if target.obs.common_dir not in fresh]
        except GitobsError as exc:
            _report(scanned, str(exc))
        # the scanned ones have just been let go of; another's lock held means a scan there, which rewrites
        # and a repository never counted is counted by its own scan, not by another's
        options = Collection(lock_wait_s=lambda obs: 2.0 if obs.common_dir in fresh else 0.0,
                             budget_s=TEXTFILE_BUDGET_S, first_count=lambda obs: obs.common_dir in fresh)
        write_textfile(path, exposition(targets, options))
        _forget_error()
    except Exception as exc:  # noqa: BLE001 - a scan never fails for its exporters
        _report(scanned, f"{type(exc).__name__}: {exc}" if not isinstance(exc, GitobsError) else str(exc))


def _report(scanned: list[ObsPaths], message: str) -> None:
    sys.stderr.write(f"gitobs: warning: prometheus textfile: {inert(message)}\n")
    marker = data_home() / ERROR_FILE
    try:
        if marker.read_text(encoding="utf-8", errors="replace") == message:
            return
    except OSError:
        pass
    try:
        data_home().mkdir(parents=True, exist_ok=True)
        marker.write_text(message, encoding="utf-8", errors="replace")
    except OSError:
        pass
    for obs in scanned:
        if obs.is_enabled():
            write_note(obs.spool, "gitobs-error", ["prometheus textfile", message])


def _forget_error() -> None:
    try:
        (data_home() / ERROR_FILE).unlink()
    except FileNotFoundError:
        pass
