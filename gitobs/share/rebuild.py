"""`gitobs replay BUNDLE --into DIR`: a scratch repository that goes through what the bundle recorded, for
a maintainer to reproduce a situation with their own tool.

Each event of a kind git can redo is redone with plain git, at the event's time (author, committer and
reflog dates): commits (with synthetic contents: each file gets the recorded number of lines added and
deleted, under its recorded name or token), amends, branch creations and switches, resets, reverts (a
commit whose message says which commit it reverts), merges, stash pushes and pops. Installing gitobs
there and scanning reads those from the reflogs: the same event types in the same order. GitButler's
stacks are written as the bundle leaves them (`virtual_branches.toml` in the current format, a branch ref
for each): their final state, not every step. Everything else is left out and counted.

A bundle is untrusted: a path that is absolute, has `..` or `.git` in it (in any case or form a
case-insensitive disk takes for it), goes down more than MAX_PATH_PARTS directories, or cannot be written as a
file is skipped, so nothing is ever written outside DIR; git runs without hooks and without the user's or the
system's git config. A few kB can ask for files of 99,999 lines, commit after commit, so what the commits
write is capped (MAX_FILES, MAX_LINES, MAX_BYTES; a commit's files are checked before any is written): past a
cap the replay is refused and what it built is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.core.repo import GitobsError, is_null_sha

REBUILT = ("commit.created", "commit.amended", "branch.created", "branch.switch", "history.reset",
           "history.merge", "stash.push", "stash.pop")
DEFAULT_BRANCH = "main"
# What the recorded commits may write (a heavy year of work, ~5,000 commits, writes ~2,500 files, ~350,000
# lines at once and ~320 MB in all: each commit rewrites its files whole).
MAX_FILES = 100_000  # files in the work tree
MAX_LINES = 2_000_000  # lines in the work tree at once
MAX_BYTES = 1 << 30  # bytes written to files, in all
_LINE_TEXT = len("line  of \n")  # a file's line n is "line {n} of {path}\n"
MAX_PATH_PARTS = 256  # directories a written path may go down: deeper, mkdir recurses past Python's limit


@dataclass
class Rebuilt:
    done: Counter = field(default_factory=Counter)  # event type -> redone
    left_out: Counter = field(default_factory=Counter)  # event type -> not redone
    skipped_paths: int = 0


class TooBig(GitobsError):
    """The bundle's commits would write past a cap."""


class _Scratch:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.shas: dict[str, str] = {}  # recorded sha -> the scratch repository's
        self.lines: dict[str, int] = {}  # path -> lines it has now
        self.tree_lines = 0  # sum of self.lines
        self.written = 0  # bytes written to files so far
        self.result = Rebuilt()
        self.dirty = 0

    def git(self, *args: str, when: str | None = None, check: bool = True) -> str:
        env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
        env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="gitobs replay",
                   GIT_AUTHOR_EMAIL="replay@gitobs.invalid", GIT_COMMITTER_NAME="gitobs replay",
                   GIT_COMMITTER_EMAIL="replay@gitobs.invalid")
        if when:
            env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
        done = subprocess.run(["git", "-c", "core.hooksPath=" + os.devnull, *args], cwd=self.root, env=env,
                              capture_output=True, text=True, errors="replace", check=False)
        if check and done.returncode != 0:
            raise _Skip(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git failed")
        return done.stdout.strip()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD", check=False)

    def branch(self) -> str:
        return self.git("branch", "--show-current", check=False)

    def exists(self, branch: str) -> bool:
        return bool(self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False))

    def mapped(self, sha: object) -> str | None:
        return self.shas.get(sha) if isinstance(sha, str) else None

    def write_files(self, files: object) -> None:
        planned = self._planned(files)
        self._check_caps(planned)
        for path, target, have in planned:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("".join(f"line {n} of {path}\n" for n in range(have)), encoding="utf-8",
                                  errors="surrogateescape")
            except OSError:
                self.result.skipped_paths += 1
                continue
            self.tree_lines += have - self.lines.get(path, 0)
            self.written += _text_bytes(path, have)
            self.lines[path] = have

    def _planned(self, files: object) -> list[tuple[str, Path, int]]:
        """(path, where, lines it will have) for each file of a commit that can be written safely."""
        planned: list[tuple[str, Path, int]] = []
        after: dict[str, int] = {}  # a path listed twice: the second change applies to the first's result
        for item in files if isinstance(files, list) else []:
            if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)):
                continue
            path, added, deleted = item[0], _count(item[1]), _count(item[2])
            target = _inside(self.root, path)
            if target is None:
                self.result.skipped_paths += 1
                continue
            have = after[path] = max(0, after.get(path, self.lines.get(path, 0)) - deleted) + added
            planned.append((path, target, have))
        return planned

    def _check_caps(self, planned: list[tuple[str, Path, int]]) -> None:
        final = {path: have for path, _, have in planned}
        files = len(self.lines) + sum(path not in self.lines for path in final)
        lines = self.tree_lines + sum(have - self.lines.get(path, 0) for path, have in final.items())
        written = self.written + sum(_text_bytes(path, have) for path, _, have in planned)
        for count, cap, what in ((files, MAX_FILES, "write more than {:,} files"),
                                 (lines, MAX_LINES, "leave more than {:,} lines in the work tree"),
                                 (written, MAX_BYTES, "write more than {:,} bytes")):
            if count > cap:
                raise TooBig(f"{self.root}: the bundle's commits would {what.format(cap)} (a cap of replay "
                             "--into); refused, and what was built there removed")


class _Skip(Exception):
    pass


def _text_bytes(path: str, lines: int) -> int:
    """The size of a file of `lines` lines as write_files writes it, worked out without making it."""
    digits, width, start = 0, 1, 0  # the characters of the numbers 0 .. lines - 1
    while start < lines:
        end = min(lines, 10 ** width)
        digits += (end - start) * width
        start, width = end, width + 1
    return lines * (_LINE_TEXT + len(path.encode("utf-8", "surrogateescape"))) + digits


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 100_000 else 0


def _inside(root: Path, path: str) -> Path | None:
    """Where `path` goes under `root`, or None when it must not be written (absolute, `..`, `.git`, odd, or
    deeper than MAX_PATH_PARTS)."""
    parts = path.split("/")
    if not path or path.startswith("/") or len(parts) > MAX_PATH_PARTS or any(
            part in ("", ".", "..") or _is_dot_git(part) or "\\" in part or "\0" in part for part in parts):
        return None
    try:
        path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate JSON allows: no file name has it
        return None
    target = root.joinpath(*parts)
    try:
        target.parent.resolve().relative_to(root.resolve())  # no symlink made by us, but be sure
    except (ValueError, OSError):
        return None
    return target


def _is_dot_git(part: str) -> bool:
    """`.git` as a case-insensitive disk (macOS, Windows) may take it: any case, trailing dots and spaces,
    characters HFS+ ignores (format controls such as U+200C), the short name GIT~1 (as git's own checks)."""
    name = "".join(c for c in part if unicodedata.category(c) != "Cf").casefold().rstrip(". ")
    return name == ".git" or name.startswith("git~")


def rebuild(events: list[bytes], root: Path) -> Rebuilt:
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise GitobsError(f"{root} is not an empty directory: name a new one for --into")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    scratch = _Scratch(root)
    try:
        _redo(scratch, events)
    except TooBig:
        _remove_built(root, created)
        raise
    return scratch.result


def _decoded(events: list[bytes]) -> Iterator[dict]:
    """Each event, decoded one at a time: decoded all at once, a bundle's events may take twenty times their
    bytes."""
    for line in events:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("data"), dict) and isinstance(event.get("type"), str):
            yield event


def _redo(scratch: _Scratch, events: list[bytes]) -> None:
    first = next((e["data"].get("branch") or e["data"].get("from") for e in _decoded(events)
                  if e["type"] in ("commit.created", "branch.switch")), None)
    scratch.git("init", "-q", "-b", first if isinstance(first, str) and _ref_ok(first) else DEFAULT_BRANCH)
    stacks: dict[str, dict] = {}
    for event in _decoded(events):
        kind, data, when = event["type"], event["data"], _git_date(event.get("ts"))
        if kind.startswith("vbranch."):
            _stack(stacks, kind, data)
            scratch.result.done[kind] += 1
            continue
        step = STEPS.get(kind)
        if step is None:
            scratch.result.left_out[kind] += 1
            continue
        try:
            step(scratch, data, when)
            scratch.result.done[kind] += 1
        except _Skip:
            scratch.result.left_out[kind] += 1
    if stacks:
        _write_stacks(scratch, stacks)


def _remove_built(root: Path, created: bool) -> None:
    """Everything in `root`, which was empty or new (rebuild's first check): all of it was built here."""
    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _git_date(ts: object) -> str | None:
    # git gets it in its environment: printable ASCII only (a NUL or a lone surrogate would not go there)
    ok = isinstance(ts, str) and ts[:4].isdigit() and ts.isascii() and ts.isprintable()
    return ts.replace("Z", "+00:00") if ok else None


def _ref_ok(name: str) -> bool:
    """Whether git takes `name` as a branch (git check-ref-format --branch): a recorded name that it refuses
    would fail `git init -b` and the first commit."""
    parts = name.split("/")
    return bool(name) and name not in ("@", "HEAD") and not name.startswith("-") and ".." not in name and (
        "@{" not in name and not name.endswith(".")) and all(
        part and not part.startswith(".") and not part.endswith(".lock") for part in parts) and all(
        c.isprintable() and c not in " ~^:?*[\\" for c in name)


def _commit(scratch: _Scratch, data: dict, when: str | None) -> None:
    if data.get("via") == "merge" and scratch.head():  # made by `git merge`: its history.merge came first
        if isinstance(data.get("sha"), str):
            scratch.shas[data["sha"]] = scratch.head()
        return
    branch = data.get("branch")
    if isinstance(branch, str) and _ref_ok(branch) and scratch.branch() != branch:
        if scratch.head() and scratch.exists(branch):
            scratch.git("switch", "-q", branch, when=when)
        elif not scratch.head():
            scratch.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
    scratch.write_files(data.get("files"))
    scratch.git("add", "-A")
    message = "replayed commit"
    reverted = scratch.mapped(data.get("reverts"))
    if data.get("revert") and reverted:
        message = f'Revert "replayed commit"\n\nThis reverts commit {reverted}.'
    parents = data.get("parents") if isinstance(data.get("parents"), list) else []
    other = scratch.mapped(parents[1]) if data.get("merge") and len(parents) > 1 else None
    if other:
        scratch.git("merge", "--no-ff", "--no-commit", "-s", "ours", other, when=when, check=False)
    scratch.git("commit", "-q", "--allow-empty", "-m", message, when=when)
    if isinstance(data.get("sha"), str):
        scratch.shas[data["sha"]] = scratch.head()


def _amend(scratch: _Scratch, data: dict, when: str | None) -> None:
    if not scratch.head():
        raise _Skip("nothing to amend")
    scratch.git("commit", "-q", "--amend", "--allow-empty", "-m", "replayed commit, amended", when=when)
    if isinstance(data.get("new"), str):
        scratch.shas[data["new"]] = scratch.head()


def _branch(scratch: _Scratch, data: dict, when: str | None) -> None:
    name = data.get("branch")
    if not (isinstance(name, str) and _ref_ok(name)) or scratch.exists(name) or not scratch.head():
        raise _Skip("no branch to make")
    scratch.git("branch", name, scratch.mapped(data.get("sha")) or "HEAD", when=when)


def _switch(scratch: _Scratch, data: dict, when: str | None) -> None:
    target, start = data.get("to"), scratch.mapped(data.get("to_sha"))
    if not scratch.head():
        raise _Skip("nothing to switch from")
    if not isinstance(target, str):
        scratch.git("switch", "-q", "--detach", start or "HEAD", when=when)
    elif not _ref_ok(target):
        raise _Skip("not a branch name git takes")
    elif scratch.exists(target):
        scratch.git("switch", "-q", target, when=when)
    else:
        scratch.git("switch", "-q", "-c", target, *([start] if start else []), when=when)


def _reset(scratch: _Scratch, data: dict, when: str | None) -> None:
    target = scratch.mapped(data.get("to_sha"))
    if target is None:
        parent = scratch.git("rev-parse", "--verify", "--quiet", "HEAD~1", check=False)
        to_sha = data.get("to_sha")
        if (isinstance(to_sha, str) and to_sha and is_null_sha(to_sha)) or not parent:
            raise _Skip("no commit to reset to")
        target = parent
    scratch.git("reset", "-q", "--hard", target, when=when)


def _merge(scratch: _Scratch, data: dict, when: str | None) -> None:
    merged = data.get("merged")
    if not (isinstance(merged, str) and _ref_ok(merged) and scratch.exists(merged)):
        raise _Skip("nothing to merge")
    strategy = ["--ff-only"] if data.get("fast_forward") else ["--no-ff", "-s", "ours", "-m", "replayed merge"]
    scratch.git("merge", "-q", *strategy, merged, when=when)
    if isinstance(data.get("sha"), str):
        scratch.shas[data["sha"]] = scratch.head()


def _stash_push(scratch: _Scratch, data: dict, when: str | None) -> None:
    if not scratch.head():
        raise _Skip("nothing to stash on")
    scratch.dirty += 1
    (scratch.root / "stashed-work.txt").write_text(f"work in progress {scratch.dirty}\n")
    scratch.git("stash", "push", "-q", "--include-untracked", when=when)


def _stash_pop(scratch: _Scratch, data: dict, when: str | None) -> None:
    scratch.git("stash", "pop", "-q", when=when)


STEPS = {"commit.created": _commit, "commit.amended": _amend, "branch.created": _branch,
         "branch.switch": _switch, "history.reset": _reset, "history.merge": _merge,
         "stash.push": _stash_push, "stash.pop": _stash_pop}


def _stack(stacks: dict[str, dict], kind: str, data: dict) -> None:
    if kind == "vbranch.moved":
        _move(stacks, data)
        return
    stack_id, branch = data.get("stack"), data.get("branch")
    if not isinstance(stack_id, str):
        return
    stack = stacks.setdefault(stack_id, {"heads": {}, "applied": True})
    if kind == "vbranch.renamed":
        old, new = data.get("from"), data.get("to")
        if isinstance(old, str) and isinstance(new, str) and old in stack["heads"]:
            stack["heads"][new] = stack["heads"].pop(old)
        return
    if not isinstance(branch, str):
        return
    if kind == "vbranch.deleted":
        stack["heads"].pop(branch, None)
        return
    position = data.get("position") if isinstance(data.get("position"), int) else 0
    stack["heads"][branch] = position
    if kind in ("vbranch.created", "vbranch.applied", "vbranch.unapplied"):
        stack["applied"] = kind != "vbranch.unapplied" and data.get("applied", True) is not False


def _move(stacks: dict[str, dict], data: dict) -> None:
    """A branch gone from one stack into another (a new one when torn off); the stack it left, if now
    empty, is not written."""
    branch, source, target = data.get("branch"), data.get("from_stack"), data.get("to_stack")
    if not all(isinstance(value, str) for value in (branch, source, target)):
        return
    if source in stacks:
        stacks[source]["heads"].pop(branch, None)
    position = data.get("position") if isinstance(data.get("position"), int) else 0
    stacks.setdefault(target, {"heads": {}, "applied": True})["heads"][branch] = position


def _write_stacks(scratch: _Scratch, stacks: dict[str, dict]) -> None:
    """GitButler's current format: a stack per [branches.<id>], its branches under `heads`, each a ref."""
    head = scratch.head()
    if not head:
        return
    lines = [f'last_pushed_base = "{head}"', ""]
    for order, (stack_id, stack) in enumerate(sorted(stacks.items())):
        if not stack["heads"] or not _ref_ok(stack_id):
            continue
        lines += [f"[branches.{json.dumps(stack_id)}]", f"id = {json.dumps(stack_id)}", f"order = {order}",
                  f"in_workspace = {str(stack['applied']).lower()}", 'name = ""', ""]
        for name, _ in sorted(stack["heads"].items(), key=lambda item: item[1]):
            if not _ref_ok(name):
                continue
            if not scratch.exists(name):
                scratch.git("branch", name, head, check=False)
            lines += [f"[[branches.{json.dumps(stack_id)}.heads]]", f"name = {json.dumps(name)}",
                      "archived = false", f"[branches.{json.dumps(stack_id)}.heads.head]",
                      f'CommitId = "{scratch.git("rev-parse", f"refs/heads/{name}", check=False) or head}"', ""]
    storage = scratch.root / ".git" / "gitbutler"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "virtual_branches.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (storage / "REFRESH").write_text("")
