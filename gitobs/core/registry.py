"""The repositories gitobs is installed in, kept per user so that `scan --all`, `watch --all` and the
scheduled scan find them all: `<data home>/repos.json`, written by `gitobs install` and `gitobs uninstall`.

The data home is $GITOBS_DATA_HOME, else $XDG_DATA_HOME/gitobs, else ~/.local/share/gitobs. The file is
JSON rather than TOML because paths need not be valid UTF-8 (JSON keeps them, escaped). Every change is
made under a lock and written atomically; a repository moved or deleted since is reported, not fatal, and
dropped by `gitobs repos prune`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from gitobs.core.files import write_atomic
from gitobs.core.homes import data_home
from gitobs.core.lock import exclusive
from gitobs.core.repo import GitobsError, ObsPaths, Repo

FORMAT = 1
LOCK_WAIT_S = 10.0


@dataclass(frozen=True)
class Entry:
    git_dir: str  # the common git dir: where .git/obs/ lives
    work_tree: str | None  # for display; None for a bare repository
    added: str  # UTC, ISO 8601

    @property
    def obs(self) -> ObsPaths:
        return ObsPaths(Path(self.git_dir))

    @property
    def label(self) -> str:
        return self.work_tree or self.git_dir

    def problem(self) -> str | None:
        """Why it cannot be scanned now, if it cannot."""
        if not os.path.isdir(self.git_dir):
            return "gone (moved or deleted)"
        if not self.obs.is_enabled():
            return "gitobs is no longer installed there"
        return None


class Registry:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or data_home()
        self.path = self.directory / "repos.json"

    def entries(self) -> list[Entry]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise GitobsError(f"cannot read the repository list {self.path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("repos"), list):
            raise GitobsError(f"{self.path} is not a gitobs repository list (format {FORMAT})")
        try:
            return [Entry(git_dir=str(item["git_dir"]), work_tree=item.get("work_tree"), added=str(item["added"]))
                    for item in data["repos"]]
        except (KeyError, TypeError, AttributeError):
            raise GitobsError(f"{self.path} has a malformed entry; remove it or fix it by hand") from None

    def add(self, repo: Repo) -> bool:
        """Remember `repo`; False when it was already listed."""
        work_tree = os.fspath(repo.work_tree) if repo.work_tree else None
        entry = Entry(git_dir=os.fspath(repo.common_dir), work_tree=work_tree,
                      added=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        with self._changing() as entries:
            if any(known.git_dir == entry.git_dir for known in entries):
                return False
            entries.append(entry)
            return True

    def remove(self, common_dir: Path) -> bool:
        with self._changing() as entries:
            kept = [entry for entry in entries if entry.git_dir != os.fspath(common_dir)]
            removed = len(kept) != len(entries)
            entries[:] = kept
            return removed

    def prune(self) -> list[tuple[Entry, str]]:
        """Drop the entries that cannot be scanned; returns them with the reason."""
        with self._changing() as entries:
            dropped = [(entry, problem) for entry in entries if (problem := entry.problem())]
            entries[:] = [entry for entry in entries if not entry.problem()]
            return dropped

    @contextmanager
    def _changing(self) -> Iterator[list[Entry]]:
        """`with self._changing() as entries:` edit the list; it is written back, atomically, if it changed."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GitobsError(f"cannot create {exc.filename}: {exc.strerror}") from None
        with exclusive(self.directory / "repos.lock", LOCK_WAIT_S) as held:
            if not held:
                raise GitobsError(f"the repository list {self.path} is locked by another gitobs")
            before = self.entries()
            entries = list(before)
            yield entries
            if entries != before:
                data = {"format": FORMAT, "repos": [asdict(entry) for entry in entries]}
                write_atomic(self.path, (json.dumps(data, indent=1) + "\n").encode())
