"""Put the sh shim in front of each recorded hook, and take it away again exactly.

A hook that was already there moves aside to `<hook>.gitobs-chained` (a rename: same inode, bytes, mode
and mtime), and the shim runs it. Uninstall renames it back. Other hook managers are chained, not fought:
GitButler's managed pre-commit/post-checkout keep their place and the shim takes the `<hook>-user` slot they
run; a shim that pre-commit moved to `<hook>.legacy` or GitButler to `<hook>-user` still counts as installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gitobs import __version__
from gitobs.capture.interpreter import isolation_flags
from gitobs.capture.spool import write_note
from gitobs.core import config
from gitobs.core.repo import GitobsError, Repo, untraced_env

# Every hook the shim can record, in the order they are installed.
RECORDED_HOOKS = (
    "post-checkout", "pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-merge",
    "post-rewrite", "pre-rebase", "pre-push", "post-index-change", "reference-transaction",
)
# The default: hooks git runs at most once per command, whatever number of refs or commits it touches.
# Left out: reference-transaction (per ref update: a fetch of 4000 branches), prepare-commit-msg and
# post-commit (per commit a rebase or cherry-pick replays), post-index-change (every `git status`) and
# pre-rebase (nothing to record). What they told is derived from the hooks kept and the reflogs.
LEAN_HOOKS = ("post-checkout", "pre-commit", "commit-msg", "post-merge", "post-rewrite", "pre-push")
ALL_HOOKS_KEY = "capture.all_hooks"  # user scope: true installs RECORDED_HOOKS
SHIM_MARKER = b"# gitobs-shim "
CHAINED_SUFFIX = ".gitobs-chained"
GITBUTLER_MARKER = b"# GITBUTLER_MANAGED_HOOK_V1"
GITBUTLER_MANAGED = ("pre-commit", "post-checkout")
# Where another manager may have moved our shim while still running it: GitButler, pre-commit.
SHIM_ALIASES = ("", "-user", ".legacy")


@dataclass
class HookStatus:
    name: str
    shim: Path | None  # where our shim sits, if anywhere
    chained: Path | None  # the hook it runs, if any
    current: bool  # the shim is the one this gitobs would write
    problem: str = ""


@dataclass
class InstallReport:
    hooks_dir: Path
    changed: dict[str, str] = field(default_factory=dict)  # hook -> what happened
    problems: list[str] = field(default_factory=list)


def render_shim(executable: str | None = None, flags: tuple[str, ...] | None = None) -> bytes:
    """The shim for `executable` (this interpreter by default), started with `flags` (probed by default)."""
    exe = executable or sys.executable
    if flags is None:
        flags = isolation_flags(exe)
    template = resources.files("gitobs_shim").joinpath("gitobs-hook.sh").read_text(encoding="utf-8")
    text = template.replace("@GITOBS_EXE@", exe.replace("'", "'\\''")).replace("@GITOBS_EXE_FLAGS@", " ".join(flags))
    return text.encode("utf-8")


def _current_shims(executable: str | None = None) -> set[bytes]:
    """What a current shim may hold: either flag choice (probing the interpreter costs a process start)."""
    return {render_shim(executable, ("-I",)), render_shim(executable, ())}


def is_shim(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return SHIM_MARKER in head


def is_gitbutler_managed(path: Path) -> bool:
    try:
        return GITBUTLER_MARKER in path.read_bytes()[:4096]
    except OSError:
        return False


def find_shim(hooks_dir: Path, name: str) -> Path | None:
    for suffix in SHIM_ALIASES:
        candidate = hooks_dir / f"{name}{suffix}"
        if is_shim(candidate):
            return candidate
    return None


def chosen_hooks() -> tuple[str, ...]:
    """The hooks to install: the lean set, or every one where the user's own config asks for it."""
    return RECORDED_HOOKS if config.load()[ALL_HOOKS_KEY] else LEAN_HOOKS


def inspect(hooks_dir: Path, shim: bytes | None = None, hooks: tuple[str, ...] | None = None) -> list[HookStatus]:
    """Each hook of `hooks` (those install would put in place), then any other shim left by an older gitobs."""
    wanted = {shim} if shim is not None else _current_shims()
    hooks = chosen_hooks() if hooks is None else hooks
    statuses = []
    for name in RECORDED_HOOKS:
        if name not in hooks:
            leftover = find_shim(hooks_dir, name)
            if leftover is not None:
                statuses.append(HookStatus(name, leftover, None, False,
                                           "not recorded now, its shim left over (run gitobs install)"))
            continue
        location = find_shim(hooks_dir, name)
        chained = hooks_dir / f"{name}{CHAINED_SUFFIX}"
        status = HookStatus(name, location, chained if os.path.lexists(chained) else None, False)
        if location is None:
            status.problem = "not installed" if status.chained is None else f"shim missing, {chained.name} left behind"
        else:
            status.current = location.read_bytes() in wanted
            if not os.access(location, os.X_OK):
                status.problem = "shim is not executable"
            elif not status.current:
                status.problem = "shim is outdated (run gitobs install)"
            elif status.chained is not None and is_shim(status.chained):
                status.problem = f"{chained.name} is a gitobs shim itself, never run (remove it)"
        statuses.append(status)
    return statuses


def install(repo: Repo, executable: str | None = None, hooks: tuple[str, ...] | None = None) -> InstallReport:
    """Put the shim in front of `hooks` (by default the chosen set); a shim an older install left in front of
    another hook is taken away, its chained hook restored."""
    hooks = chosen_hooks() if hooks is None else hooks
    shim = render_shim(executable)
    hooks_dir = repo.hooks_dir
    report = InstallReport(hooks_dir)
    shown = _shown_by_git_status(repo, hooks)
    if shown:
        report.problems.append(
            f"{', '.join(shown)}: not installed, {hooks_dir} is in the work tree and git does not ignore "
            "them there: the shim would show in git status and be committed by git commit -a "
            "(add the hooks directory to .git/info/exclude to install there)")
        hooks = tuple(name for name in hooks if name not in shown)
    created_dir = not hooks_dir.exists() and bool(hooks)
    try:
        if hooks:
            hooks_dir.mkdir(parents=True, exist_ok=True)
        for sub in (repo.obs.spool, repo.obs.log):
            sub.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitobsError(f"cannot create {exc.filename}: {exc.strerror}") from exc
    for name in RECORDED_HOOKS:
        if name not in hooks:
            try:
                outcome = _uninstall_one(hooks_dir, name) if find_shim(hooks_dir, name) else ""
            except OSError as exc:
                report.problems.append(f"{name}: {exc.strerror} ({exc.filename})")
                continue
            if outcome:
                report.changed[name] = f"no longer recorded: {outcome}"
            continue
        try:
            outcome = _install_one(hooks_dir, name, shim)
        except _HookConflict as conflict:
            report.problems.append(str(conflict))
            continue
        except OSError as exc:
            report.problems.append(f"{name}: {exc.strerror} ({exc.filename})")
            continue
        if outcome:
            report.changed[name] = outcome
    _write_manifest(repo, created_dir, executable or sys.executable, hooks)
    if report.changed:
        write_note(repo.obs.spool, "gitobs-install", [str(hooks_dir), __version__])
    return report


def _shown_by_git_status(repo: Repo, hooks: tuple[str, ...]) -> list[str]:
    """The hooks whose files (the shim, the chained hook) `git status` would show: core.hooksPath inside the
    work tree, neither file ignored (a tracked file never is)."""
    if repo.work_tree is None:
        return []
    hooks_dir, top = repo.hooks_dir.resolve(), repo.work_tree.resolve()
    if not hooks_dir.is_relative_to(top) or any(
            hooks_dir.is_relative_to(git_dir.resolve()) for git_dir in (repo.git_dir, repo.common_dir)):
        return []
    relative = hooks_dir.relative_to(top).as_posix()
    paths = [f"{relative}/{name}{suffix}" for name in hooks for suffix in ("", CHAINED_SUFFIX)]
    try:
        done = subprocess.run(["git", "check-ignore", "-z", "--stdin"], cwd=top, input="\0".join(paths) + "\0",
                              capture_output=True, text=True, errors="surrogateescape", env=untraced_env())
    except OSError as exc:
        raise GitobsError(f"cannot run git check-ignore: {exc.strerror}") from exc
    ignored = set(done.stdout.split("\0"))
    return [name for name in hooks
            if not {f"{relative}/{name}", f"{relative}/{name}{CHAINED_SUFFIX}"} <= ignored]


class _HookConflict(Exception):
    pass


def _install_one(hooks_dir: Path, name: str, shim: bytes) -> str:
    existing = find_shim(hooks_dir, name)
    if existing is not None:
        if existing.read_bytes() == shim and os.access(existing, os.X_OK):
            return ""
        _write_executable(existing, shim)
        return "updated"
    target = hooks_dir / name
    if name in GITBUTLER_MANAGED and is_gitbutler_managed(target):
        target = hooks_dir / f"{name}-user"  # GitButler's hook runs this slot first
    chained = hooks_dir / f"{name}{CHAINED_SUFFIX}"
    if os.path.lexists(chained):
        if os.path.lexists(target) and _same_bytes(target, chained):
            os.unlink(chained)  # a stale copy of what is in place now
        elif os.path.lexists(target):
            raise _HookConflict(
                f"{name}: both {target.name} and {chained.name} exist and differ; "
                f"move one of them out of {hooks_dir} and run gitobs install again"
            )
    if os.path.lexists(target):
        _link_aside(target, chained)
        _write_executable(target, shim)
        return f"installed, chaining the existing {target.name}"
    _write_executable(target, shim)
    return "installed" if target.name == name else f"installed as {target.name}"


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        if a.is_symlink() or b.is_symlink():
            return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def _link_aside(target: Path, chained: Path) -> None:
    """Give the old hook its second name before the shim replaces the first: no moment without it."""
    try:
        os.link(target, chained, follow_symlinks=False)
    except OSError:
        os.rename(target, chained)


def _write_executable(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.gitobs-tmp")
    _write_new(tmp, content, 0o755)
    os.replace(tmp, path)


def _write_new(tmp: Path, content: bytes, mode: int) -> None:
    """A fresh file at `tmp`, never through what was there: a hooks directory in the work tree (core.hooksPath)
    may hold a committed symlink of that name pointing at any file of the user's."""
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        os.fchmod(handle.fileno(), mode)  # exactly `mode`, whatever the umask


def uninstall(repo: Repo) -> InstallReport:
    dirs = [repo.hooks_dir]
    manifest = _read_manifest(repo)
    recorded = Path(manifest["hooks_dir"]) if manifest.get("hooks_dir") else None
    if recorded is not None and recorded != repo.hooks_dir:
        dirs.append(recorded)  # core.hooksPath changed since install: clean where we wrote
    report = InstallReport(repo.hooks_dir)
    for hooks_dir in dirs:
        if not hooks_dir.is_dir():
            continue
        for name in RECORDED_HOOKS:
            try:
                outcome = _uninstall_one(hooks_dir, name)
            except OSError as exc:
                report.problems.append(f"{name}: {exc.strerror} ({exc.filename})")
                continue
            if outcome:
                report.changed[name] = outcome
        if manifest.get("created_hooks_dir") and hooks_dir == recorded:
            try:
                hooks_dir.rmdir()
            except OSError:
                pass  # not empty: something else lives there now
    try:
        repo.obs.manifest.unlink()
    except FileNotFoundError:
        pass
    return report


def _uninstall_one(hooks_dir: Path, name: str) -> str:
    shim = find_shim(hooks_dir, name)
    chained = hooks_dir / f"{name}{CHAINED_SUFFIX}"
    has_chained = os.path.lexists(chained)
    if shim is None:
        if has_chained and not os.path.lexists(hooks_dir / name):
            os.rename(chained, hooks_dir / name)
            return f"restored {name} (the shim was already gone)"
        return ""
    if has_chained:
        os.replace(chained, shim)
        return f"restored {shim.name}"
    os.unlink(shim)
    return f"removed {shim.name}"


def _write_manifest(repo: Repo, created_dir: bool, executable: str, hooks: tuple[str, ...]) -> None:
    previous = _read_manifest(repo)
    manifest = {
        "hooks_dir": str(repo.hooks_dir),
        "created_hooks_dir": bool(previous.get("created_hooks_dir")) or created_dir,
        "executable": executable,
        "hooks": [name for name in RECORDED_HOOKS if name in hooks],
        # when this install began: git's trace2 files of processes that ended before it are not this repository's
        # to record (gitobs was not there), a re-install keeps it
        "since_ns": previous.get("since_ns") if isinstance(previous.get("since_ns"), int) else time.time_ns(),
    }
    tmp = repo.obs.manifest.with_suffix(".tmp")
    _write_new(tmp, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"), 0o644)
    os.replace(tmp, repo.obs.manifest)


def recording_since_ns(obs_manifest: Path) -> int:
    """When gitobs was installed here (0 for a manifest older than the field: since ever)."""
    since = _manifest_at(obs_manifest).get("since_ns")
    return since if isinstance(since, int) and not isinstance(since, bool) else 0


def installed_hooks(obs_manifest: Path) -> tuple[str, ...]:
    """The hooks the manifest says were installed (every recorded hook for a manifest older than the lean set)."""
    hooks = _manifest_at(obs_manifest).get("hooks")
    return tuple(name for name in RECORDED_HOOKS if isinstance(hooks, list) and name in hooks)


def _read_manifest(repo: Repo) -> dict:
    return _manifest_at(repo.obs.manifest)


def _manifest_at(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}
