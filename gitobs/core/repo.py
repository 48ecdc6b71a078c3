"""Where a repository keeps things: its git dirs, hooks dir, worktrees and gitobs's own `.git/obs/`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitobs.core.names import recorded

# The `wt` of events in the main worktree; linked worktrees go by their name, which git never makes ".".
MAIN_WORKTREE = "."


def is_null_sha(sha: str) -> bool:
    """git's all-zero object name: "no commit" (a ref created or deleted)."""
    return set(sha) == {"0"}


class GitobsError(Exception):
    """An error meant for the user: printed as one line, never as a traceback."""


class NotARepository(GitobsError):
    pass


@dataclass(frozen=True)
class ObsPaths:
    """The files under `<common git dir>/obs/`, shared by every worktree of the repository."""

    common_dir: Path

    @property
    def root(self) -> Path:
        return self.common_dir / "obs"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "scan.lock"

    @property
    def manifest(self) -> Path:
        return self.root / "install.json"

    @property
    def scan_pending(self) -> Path:
        """Exists while a background scan is queued: the hooks' throttle."""
        return self.root / "scan.pending"

    @property
    def config(self) -> Path:
        """Repository-scope settings (see settings.py)."""
        return self.root / "config.toml"

    @property
    def paused(self) -> Path:
        return self.root / "paused"

    def is_enabled(self) -> bool:
        """Installed here (uninstall removes the manifest and keeps the data), in directories of its own."""
        return self.manifest.is_file() and self.symlinked() is None

    def symlinked(self) -> Path | None:
        """`.git/obs`, or a directory in it that gitobs empties, when it is a symbolic link. gitobs writes and
        deletes only in directories of its own: a repository copied whole brings its `.git`, which could point
        them at any of the user's."""
        return next((path for path in (self.root, self.spool, self.log) if path.is_symlink()), None)

    def check_own(self) -> None:
        """A one-line error when `symlinked`."""
        link = self.symlinked()
        if link is not None:
            raise GitobsError(f"{link} is a symbolic link; gitobs keeps its data only in a directory of its "
                              "own there (replace the link by a directory)")


@dataclass(frozen=True)
class Repo:
    git_dir: Path  # this worktree's own git dir
    common_dir: Path  # shared by all worktrees
    work_tree: Path | None  # None for a bare repository
    hooks_dir: Path  # after core.hooksPath

    @property
    def obs(self) -> ObsPaths:
        return ObsPaths(self.common_dir)

    @property
    def bare(self) -> bool:
        return self.work_tree is None


def untraced_env() -> dict[str, str]:
    """The environment for gitobs's own git processes: git's trace2 event target off (`gitobs trace2
    enable`), so that gitobs does not record itself."""
    return {**os.environ, "GIT_TRACE2_EVENT": "0"}


def run_git(args: list[str], cwd: Path | None = None, check: bool = True) -> str:
    """Run git for the non-hot paths (install, demo); hooks never call this."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, errors="replace", check=False,
            env=untraced_env(),
        )
    except FileNotFoundError as exc:
        raise GitobsError("git is not installed or not on PATH") from exc
    if check and done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise GitobsError(f"git {' '.join(args[:2])} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def locate(start: Path | None = None) -> Repo:
    """The repository containing `start` (default: the current directory)."""
    where = Path(start or Path.cwd())
    if not where.is_dir():
        raise NotARepository(f"not a directory: {where}")
    done = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir",
         "--is-bare-repository", "--git-path", "hooks"],
        # git's own words in English (LC_ALL=C): they tell a refused repository from no repository
        cwd=where, capture_output=True, text=True, errors="replace", check=False,
        env={**untraced_env(), "LC_ALL": "C"},
    )
    if done.returncode != 0:
        raise NotARepository(_refusal(done.stderr, where))
    git_dir, common_dir, bare, hooks = done.stdout.splitlines()[:4]
    work_tree = None
    if bare != "true":
        top = run_git(["rev-parse", "--show-toplevel"], cwd=where, check=False).strip()
        work_tree = Path(top) if top else None
    return Repo(Path(git_dir), Path(common_dir), work_tree, Path(hooks))


def _refusal(stderr: str, where: Path) -> str:
    """Why git takes no repository at `where`, in one line."""
    if "dubious ownership" in stderr:  # git 2.35.2+ refuses a repository another user owns
        return (f"git refuses the repository at {where}: another user owns it (git's safe.directory setting "
                "says which such repositories to trust)")
    return f"not a git repository: {where}"


def worktree_git_dirs(common_dir: Path) -> dict[str, Path]:
    """Worktree name -> its private git dir; the main worktree is MAIN_WORKTREE."""
    dirs = {MAIN_WORKTREE: common_dir}
    linked = common_dir / "worktrees"
    if linked.is_dir():
        for entry in sorted(os.scandir(linked), key=lambda e: e.name):
            if entry.is_dir() and (Path(entry.path) / "HEAD").exists():
                dirs[recorded(entry.name)] = Path(entry.path)  # a name, as events record names
    return dirs
