"""GitButler's virtual branches and operations log, observed from its files: vbranch.* and gitbutler.op events.

GitButler changes branches without running git hooks and often with empty reflog messages, but it keeps
its state in files: stacks of branches in `<storage>/virtual_branches.toml`, and a log of its operations as
a chain of snapshot commits whose newest one `<storage>/operations-log.toml` names. Each scan compares
them with what the previous scan saw (GitButlerMemory) and reports the differences.

This runs on every scan of every repository, so it reads as little as it can: without GitButler it costs
a few stats; with GitButler and nothing changed, a few more (stamps of the files and of the tracked
branches' refs) and no parse, no pygit2, no subprocess. docs/gitbutler.md describes the events.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pygit2

from gitobs.capture import gitbutler_toml
from gitobs.capture.gitbutler_toml import Branch, Stack
from gitobs.capture.memory import GitButlerMemory
from gitobs.core.files import stamp
from gitobs.core.names import decoded
from gitobs.log.schema import (
    Emit,
    GitButlerOp,
    Payload,
    VBranch,
    VBranchRenamed,
    VBranchUpdated,
)

MAX_OPS = 1000  # snapshot commits walked per scan; beyond that the older new ones are not reported
MAX_COUNTED = 10_000  # commits counted for one vbranch.updated
MAX_TRAILER = 1024  # characters kept of one trailer value
# Checked in this order: the release channel's key first.
STORAGE_KEYS = ("gitbutler.storagePath", "gitbutler.nightly.storagePath", "gitbutler.dev.storagePath")
# Trailers that hold a ref, a sha, a path, a number or an operation name, never free text: `message`
# (a commit message), `error`, the title, the body and any unknown key are dropped.
SAFE_TRAILERS = frozenset({"name", "previous_name", "branch", "sha", "before", "after", "restored_from",
                           "restored_operation", "restored_date", "file"})
# Errors of reading a file GitButler is writing, or a repository pygit2 cannot read: retried next scan.
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, pygit2.GitError)
SRC = "gitbutler"
WT = "."  # GitButler's state belongs to the repository, reported as the main worktree's


def observe(common_dir: Path, memory: GitButlerMemory, emit: Emit, now_ns: int) -> None:
    """Emit vbranch.* and gitbutler.op events for what changed since `memory`; update `memory` in place.

    A file that cannot be read or parsed (GitButler is writing it) leaves its part of `memory` as it was,
    so the next scan tries again; nothing is emitted for it.
    """
    common = os.fspath(common_dir)  # plain strings: pathlib would cost more than the stats themselves
    try:
        storage = _storage_dir(common, memory)
    except READ_ERRORS:
        return
    if storage is None:
        return
    repo = _LazyRepo(common)
    try:
        _observe_stacks(common, storage, memory, repo, emit, now_ns)
    except READ_ERRORS:
        pass
    try:
        _observe_oplog(storage, memory, repo, emit)
    except READ_ERRORS:
        pass


# -- where GitButler keeps its files -----------------------------------------------------------------


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _storage_dir(common: str, memory: GitButlerMemory) -> str | None:
    """GitButler's storage dir, None when there is none: then GitButler has never run here."""
    files = _config_files(common)
    stamps = [stamp(path) for path in files]
    if stamps != memory.config:  # git config is read only when one of its files changed
        memory.storage = _configured_storage(common, [path for path, stamp in zip(files, stamps) if stamp])
        memory.config = stamps
    storage = memory.storage or os.path.join(common, "gitbutler")
    return storage if os.path.isdir(storage) else None


def _config_files(common: str) -> list[str]:
    """The repository's config, then the user's global and XDG ones (highest priority first)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or f"{home}/.config"
    return [f"{common}/config", os.environ.get("GIT_CONFIG_GLOBAL") or f"{home}/.gitconfig", f"{xdg}/git/config"]


def _configured_storage(common: str, files: list[str]) -> str:
    """Where `gitbutler.storagePath` puts the storage dir (0.19.6+), "" when it is not set."""
    value = _config_value(files, STORAGE_KEYS)
    if not value:
        return ""
    path = Path(os.path.normpath(os.path.join(common, os.path.expanduser(value))))  # relative: to the git dir
    real_git_dir = os.path.realpath(common)
    if path.is_relative_to(common) or path.is_relative_to(real_git_dir):
        return str(path)
    # Outside the git dir GitButler keeps one subdirectory per project, named by its "project handle":
    # the git dir's real path in unpadded URL-safe base64.
    handle = base64.urlsafe_b64encode(os.fsencode(real_git_dir)).rstrip(b"=").decode()
    return str(path / handle)


def _config_value(files: list[str], keys: tuple[str, ...]) -> str:
    configs = []
    for path in files:
        try:
            configs.append(pygit2.Config(path))
        except pygit2.GitError:  # a config git itself cannot parse: as if absent
            continue
    for key in keys:
        for config in configs:
            if key in config:
                return config[key]
    return ""


# -- stacks and branches -----------------------------------------------------------------------------


def _observe_stacks(common: str, storage: str, memory: GitButlerMemory, repo: _LazyRepo, emit: Emit,
                    now_ns: int) -> None:
    toml = os.path.join(storage, "virtual_branches.toml")
    # REFRESH (0.20.1+) is touched after every metadata write; the TOML itself is replaced on each change.
    toml_stamps = [stamp(os.path.join(storage, "REFRESH")), stamp(toml)]
    toml_changed = toml_stamps != memory.toml
    if toml_changed:
        stacks = gitbutler_toml.parse_virtual_branches(_read(toml))  # stamped first: a newer file is reread
    elif memory.stacks is None:
        return
    else:
        stacks = _without_tips(memory.stacks)
    ref_stamps = _ref_stamps(common, stacks)  # stamped before the refs are read, likewise
    if not toml_changed and ref_stamps == memory.refs:
        return
    _resolve_tips(common, stacks)
    report = _Report(stamps=[toml_stamps, sorted(ref_stamps.items())],
                     ts_ns=_changed_at(toml_stamps[1], ref_stamps, memory) or now_ns)
    _diff(memory.stacks or {}, stacks, report, repo)
    report.send(emit)
    memory.stacks, memory.toml, memory.refs = stacks, toml_stamps, ref_stamps


def _without_tips(stacks: dict[str, Stack]) -> dict[str, Stack]:
    """A copy of the remembered stacks whose live tips are to be read again."""
    return {stack_id: msgspec.structs.replace(stack, branches=[Branch(b.name, b.stored) for b in stack.branches])
            for stack_id, stack in stacks.items()}


def _changed_at(toml_stamp: list[int], ref_stamps: dict[str, list[int]], memory: GitButlerMemory) -> int:
    """When the change happened: the newest mtime among the TOML and the refs that changed (0: unknown)."""
    changed = [stamp for ref, stamp in ref_stamps.items() if memory.refs.get(ref) != stamp]
    if not memory.toml or memory.toml[1] != toml_stamp:
        changed.append(toml_stamp)
    return max((stamp[2] for stamp in changed if stamp), default=0)


def _tracked_refs(stacks: dict[str, Stack]) -> Iterator[str]:
    """refs/heads/<name> of every stacked branch: since 0.14.9 each is a real git branch."""
    for stack in stacks.values():
        if not stack.lane:
            for branch in stack.branches:
                if _safe_ref_name(branch.name):
                    yield f"refs/heads/{branch.name}"


def _safe_ref_name(name: str) -> bool:
    """A name that can only point inside refs/heads (the TOML is data, not a path to trust)."""
    return bool(name) and not name.startswith("/") and ".." not in name and "\0" not in name


def _ref_stamps(common: str, stacks: dict[str, Stack]) -> dict[str, list[int]]:
    stamps = {ref: stamp(f"{common}/{ref}") for ref in _tracked_refs(stacks)}
    if stamps:
        stamps["packed-refs"] = stamp(os.path.join(common, "packed-refs"))
    return stamps


def _resolve_tips(common: str, stacks: dict[str, Stack]) -> None:
    """Each branch's live tip: its ref (which GitButler moves without rewriting the TOML), else the TOML's."""
    refs = _RefReader(common)
    for stack in stacks.values():
        for branch in stack.branches:
            live = "" if stack.lane or not _safe_ref_name(branch.name) else refs.tip(branch.name)
            branch.tip = live or branch.stored


class _RefReader:
    """Branch tips read from the files-backend ref store: no pygit2 open for a few small reads."""

    def __init__(self, common: str) -> None:
        self.common = common
        self._packed: dict[str, str] | None = None

    def tip(self, name: str) -> str:
        try:
            text = _read(f"{self.common}/refs/heads/{name}").decode("ascii").strip()
        except (OSError, ValueError):
            return self.packed().get(name, "")
        return text if not text.startswith("ref:") else ""  # a symbolic ref is not a stack branch

    def packed(self) -> dict[str, str]:
        if self._packed is None:
            self._packed = {}
            try:
                lines = decoded(_read(os.path.join(self.common, "packed-refs"))).splitlines()
            except OSError:
                lines = []
            for line in lines:
                sha, _, ref = line.partition(" ")
                if ref.startswith("refs/heads/"):
                    self._packed[ref[len("refs/heads/"):]] = sha
        return self._packed


@dataclass
class _Report:
    """vbranch events of one observation, emitted together once all of them are known.

    Their provenance carries a digest of the stamps read (not the time of the scan), so a scan rerun after
    a crash regenerates the same ids.
    """

    stamps: list
    ts_ns: int
    pending: list[tuple[str, Payload, str]] = field(default_factory=list)

    def add(self, event_type: str, payload: Payload, key: str) -> None:
        self.pending.append((event_type, payload, key))

    def send(self, emit: Emit) -> None:
        digest = hashlib.blake2b(msgspec.json.encode(self.stamps), digest_size=8).hexdigest()
        for event_type, payload, key in self.pending:
            emit(event_type, payload, ts_ns=self.ts_ns, src=SRC, wt=WT,
                 provenance=f"gitbutler-vb:{key}:{digest}")


def _diff(before: dict[str, Stack], after: dict[str, Stack], report: _Report, repo: _LazyRepo) -> None:
    """Compare two snapshots. With no snapshot before (the first look), everything present is created."""
    for stack_id in sorted(after, key=lambda sid: (after[sid].order, sid)):
        old = before.get(stack_id)
        if old is None:
            for position in range(len(after[stack_id].branches)):
                _branch_event(report, "vbranch.created", stack_id, after[stack_id], position)
        else:
            _diff_stack(stack_id, old, after[stack_id], report, repo)
    for stack_id in sorted(set(before) - set(after)):
        for position in range(len(before[stack_id].branches)):
            _branch_event(report, "vbranch.deleted", stack_id, before[stack_id], position)


def _diff_stack(stack_id: str, old: Stack, new: Stack, report: _Report, repo: _LazyRepo) -> None:
    old_by_name = {branch.name: branch for branch in old.branches}
    renamed = _renames(old, new)
    renamed_from = {branch.name for branch in renamed.values()}
    new_names = {branch.name for branch in new.branches}
    for position, branch in enumerate(old.branches):
        if branch.name not in new_names and branch.name not in renamed_from:
            _branch_event(report, "vbranch.deleted", stack_id, old, position)
    for position, branch in enumerate(new.branches):
        previous = renamed[branch.name] if branch.name in renamed else old_by_name.get(branch.name)
        if previous is None:
            _branch_event(report, "vbranch.created", stack_id, new, position)
            continue
        if previous.name != branch.name:
            report.add("vbranch.renamed", VBranchRenamed(stack=stack_id, from_=previous.name, to=branch.name),
                       f"{stack_id}:{previous.name}:{branch.name}")
        if previous.tip != branch.tip:
            report.add("vbranch.updated", VBranchUpdated(
                stack=stack_id, branch=branch.name, from_sha=previous.tip, to_sha=branch.tip,
                commits=repo.count_new(previous.tip, branch.tip)), f"{stack_id}:{branch.name}:{branch.tip}")
    if old.applied != new.applied:
        _branch_event(report, "vbranch.applied" if new.applied else "vbranch.unapplied", stack_id, new,
                      len(new.branches) - 1)


def _renames(old: Stack, new: Stack) -> dict[str, Branch]:
    """New name -> old branch, for a branch gone and another come at the same position of the same stack."""
    old_names = {branch.name for branch in old.branches}
    new_names = {branch.name for branch in new.branches}
    renamed = {}
    for position, branch in enumerate(new.branches):
        if branch.name not in old_names and position < len(old.branches):
            candidate = old.branches[position]
            if candidate.name not in new_names:
                renamed[branch.name] = candidate
    return renamed


def _branch_event(report: _Report, event_type: str, stack_id: str, stack: Stack, position: int) -> None:
    """One branch of `stack`; vbranch.applied/unapplied name the stack by its top branch."""
    branch = stack.branches[position]
    report.add(event_type, VBranch(stack=stack_id, branch=branch.name, tip=branch.tip, position=position,
                                   applied=stack.applied), f"{stack_id}:{branch.name}")


# -- operations log ----------------------------------------------------------------------------------


def _observe_oplog(storage: str, memory: GitButlerMemory, repo: _LazyRepo, emit: Emit) -> None:
    paths = [os.path.join(storage, "operations-log.toml"), os.path.join(storage, "oplog.toml")]  # 0.11.5-7
    stamps = [stamp(path) for path in paths]
    if stamps == memory.oplog:
        return
    path = paths[0] if stamps[0] else paths[1]
    head = gitbutler_toml.parse_oplog_head(_read(path)) if any(stamps) else ""
    if head and head != memory.op_head:
        snapshots = _new_snapshots(repo.get(), head, memory.op_head, memory.op_time)
        entries = [(commit.commit_time, _op_payload(commit)) for commit in snapshots]  # all read before any emit
        head_commit = repo.get().get(head)
        for commit_time, payload in entries:
            emit("gitbutler.op", payload, ts_ns=commit_time * 10**9, src=SRC, wt=WT,
                 provenance=f"gitbutler-op:{payload.sha}")
        memory.op_head = head
        memory.op_time = head_commit.commit_time if isinstance(head_commit, pygit2.Commit) else 0
    memory.oplog = stamps


def _new_snapshots(repo: pygit2.Repository, head: str, last_head: str, last_time: int) -> list[pygit2.Commit]:
    """Snapshot commits from `head` back to the last one reported, oldest first, at most MAX_OPS walked.

    The first look at a repository has no last one: it reports the newest MAX_OPS, as the reflog scanner
    reports what happened before gitobs was installed. A chain GitButler rewrote (not containing the last
    head) stops at commits older than it, already reported.
    """
    found: list[pygit2.Commit] = []
    sha = head
    for _ in range(MAX_OPS):
        if not sha or sha == last_head:
            break
        commit = repo.get(sha)
        if not isinstance(commit, pygit2.Commit) or commit.commit_time < last_time:
            break
        if "virtual_branches.toml" in commit.tree:  # GitButler's own test for a snapshot commit
            found.append(commit)
        sha = str(commit.parent_ids[0]) if commit.parent_ids else ""
    return found[::-1]


def _op_payload(commit: pygit2.Commit) -> GitButlerOp:
    # The raw message: its names (branch, file) as events record names, where pygit2 would drop odd bytes.
    message = decoded(commit.raw_message) if commit.message_encoding is None else commit.message
    operation, trailers = parse_snapshot_message(message or "")
    return GitButlerOp(operation=operation, sha=str(commit.id), trailers=trailers)


def parse_snapshot_message(message: str) -> tuple[str, dict[str, str]]:
    """The Operation and the safe trailers of a snapshot commit's message.

    The format (GitButler's SnapshotDetails): title, blank line, optional body, then a last paragraph of
    `Key: value` lines with `Version` and `Operation` first and newlines in values escaped as `\\n`.
    Repeated keys (one `branch` per branch of an unapplied stack) are joined with a space, which no ref
    name or sha contains. `Version` is dropped: it describes the snapshot's format, not the operation.
    """
    paragraphs = _paragraphs(message)
    if len(paragraphs) < 2:
        return "Unknown", {}
    operation = ""
    trailers: dict[str, str] = {}
    for line in paragraphs[-1]:
        key, colon, value = line.partition(":")
        if not colon:
            continue
        key, value = key.strip(), value.strip().replace("\\n", "\n")[:MAX_TRAILER]
        if key == "Operation" and not operation:
            operation = value if value.isascii() and value.isalnum() and len(value) <= 64 else "Unknown"
        elif key in SAFE_TRAILERS:
            trailers[key] = f"{trailers[key]} {value}" if key in trailers else value
    return operation or "Unknown", trailers


def _paragraphs(message: str) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in message.splitlines():
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


# -- the object store --------------------------------------------------------------------------------


class _LazyRepo:
    """pygit2 opened only when a commit must be read: a changed tip to count, new snapshots to walk."""

    def __init__(self, common: str) -> None:
        self.common = common
        self._repo: pygit2.Repository | None = None

    def get(self) -> pygit2.Repository:
        if self._repo is None:
            self._repo = pygit2.Repository(self.common)
        return self._repo

    def count_new(self, old: str, new: str) -> int:
        """Commits reachable from `new` and not from `old`, up to MAX_COUNTED; 0 when either is unknown."""
        if not old or not new:
            return 0
        try:
            walker = self.get().walk(new, pygit2.GIT_SORT_NONE)
            walker.hide(old)
            return sum(1 for _, _ in zip(range(MAX_COUNTED), walker))
        except (KeyError, ValueError, pygit2.GitError):
            return 0
