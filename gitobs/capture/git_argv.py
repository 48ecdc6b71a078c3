"""The few facts gitobs takes from a git command line (trace2's `start` argv), and nothing else of it:
where the command's own arguments start, whether hooks were skipped (--no-verify), and the files a
`checkout -- PATH` / `restore PATH` threw away. Messages, remotes, revisions and options are never kept.
"""

from __future__ import annotations

import os
import stat

MAX_PATHS = 500  # per discard, as for a commit's files (capture/enrich.py)
MAX_CANDIDATES = 2000  # argv items looked at as paths: a huge argv costs a bounded number of lstat calls

# git's own options before the command that take the next item as their value.
_GIT_VALUED = frozenset(("-c", "-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix",
                         "--config-env", "--list-cmds", "--attr-source"))
# Per command: short options whose value follows (attached or as the next item), short options whose
# value can only be attached, and long options whose value may be the next item.
_VALUED = {
    "commit": ("mFcCt", "Su", ("--message", "--file", "--author", "--date", "--reuse-message", "--reedit-message",
                               "--fixup", "--squash", "--template", "--cleanup", "--trailer",
                               "--pathspec-from-file")),
    "merge": ("mFsX", "S", ("--message", "--file", "--strategy", "--strategy-option", "--into-name")),
    "push": ("o", "", ("--repo", "--receive-pack", "--exec", "--push-option")),
    "checkout": ("bB", "", ("--orphan", "--pathspec-from-file", "--conflict")),
    "restore": ("s", "", ("--source", "--pathspec-from-file", "--conflict")),
}
_NO_VERIFY_SHORT = {"commit": "n"}  # push -n is --dry-run; merge has no short form


def command_args(argv: object) -> list[str]:
    """The items after the command's name: `git -c a=b commit -m x` -> ["-m", "x"]."""
    if not isinstance(argv, list):
        return []
    items = iter(argv[1:])
    for item in items:
        if not isinstance(item, str):
            return []
        if item in _GIT_VALUED:
            next(items, None)
        elif not item.startswith("-"):
            return [arg for arg in items if isinstance(arg, str)]
    return []


def split_args(command: str, args: list[str]) -> tuple[list[str], list[str], bool]:
    """(options, operands, "--" seen), the values of valued options left out of both."""
    short_next, short_attached, long_valued = _VALUED.get(command, ("", "", ()))
    options: list[str] = []
    operands: list[str] = []
    items = iter(args)
    for item in items:
        if item == "--":
            operands.extend(items)
            return options, operands, True
        if item.startswith("--"):
            options.append(item)
            if "=" not in item and item in long_valued:
                next(items, None)
        elif item.startswith("-") and len(item) > 1:
            options.append(item)
            if _takes_next(item[1:], short_next, short_attached):
                next(items, None)
        else:
            operands.append(item)
    return options, operands, False


def _takes_next(cluster: str, short_next: str, short_attached: str) -> bool:
    """Whether a short-option cluster (`-qam`) ends in an option whose value is the next item."""
    for index, letter in enumerate(cluster):
        if letter in short_attached:
            return False
        if letter in short_next:
            return index == len(cluster) - 1
    return False


def short_flags(cluster: str, command: str) -> str:
    """The option letters of a cluster, up to one whose value is attached (`-qam msg` -> "qam")."""
    short_next, short_attached, _ = _VALUED.get(command, ("", "", ()))
    letters = ""
    for letter in cluster:
        letters += letter
        if letter in short_next or letter in short_attached:
            break
    return letters


def no_verify(command: str, args: list[str]) -> bool:
    """--no-verify (or a unique abbreviation of it) on commit, push and merge; commit's -n; the last wins."""
    if command not in ("commit", "push", "merge"):
        return False
    options, _, _ = split_args(command, args)
    skipped = False
    for option in options:
        if option.startswith("--"):
            name = option.split("=")[0]
            if len(name) >= len("--no-veri") and "--no-verify".startswith(name):
                skipped = True
            elif name == "--verify":
                skipped = False
        elif _NO_VERIFY_SHORT.get(command, "_") in short_flags(option[1:], command):
            skipped = True
    return skipped


def discarded_paths(command: str, args: list[str], worktree: str | None) -> list[str] | None:
    """The files a path checkout or a restore of the working tree named, relative to the worktree's top;
    None when the command discards nothing in the working tree (`restore --staged`)."""
    options, operands, _ = split_args(command, args)
    if command == "restore" and _staged_only(options):
        return None
    if worktree is None:
        return []
    paths: list[str] = []
    for operand in operands[:MAX_CANDIDATES]:
        path = _file_in(worktree, operand)
        if path is not None and path not in paths:
            paths.append(path)
            if len(paths) == MAX_PATHS:
                break
    return paths


def _staged_only(options: list[str]) -> bool:
    staged = worktree = False
    for option in options:
        name = option.split("=")[0]
        letters = short_flags(option[1:], "restore") if not option.startswith("--") else ""
        staged = staged or name == "--staged" or "S" in letters
        worktree = worktree or name == "--worktree" or "W" in letters
    return staged and not worktree


def _file_in(worktree: str, operand: str) -> str | None:
    """`operand` as a path from the top of `worktree` when it names a file there now (a pathspec that is a
    directory, a glob, magic like `:/`, a revision, or a path given from a subdirectory names none)."""
    if not operand or operand.startswith(":") or "\0" in operand:
        return None
    top = os.path.normpath(worktree)
    full = os.path.normpath(os.path.join(top, operand))
    if not full.startswith(top + os.sep):
        return None
    try:
        found = os.lstat(full)
    except (OSError, ValueError):
        return None
    if not (stat.S_ISREG(found.st_mode) or stat.S_ISLNK(found.st_mode)):
        return None
    return os.path.relpath(full, top).replace(os.sep, "/")
