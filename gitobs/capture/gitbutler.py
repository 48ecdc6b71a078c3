"""GitButler's virtual branches and operations log, observed from its files: vbranch.* and gitbutler.op events.

GitButler changes branches without running git hooks and often with empty reflog messages, but it keeps
its state in files: stacks of branches in `<storage>/virtual_branches.toml`, mirrored since 0.19.4 in
`<storage>/but.sqlite` (read read-only by gitbutler_db.py, preferred while it is as new as the TOML), and a
log of its operations as a chain of snapshot commits whose newest one `<storage>/operations-log.toml`
names. Each scan compares them with what the previous scan saw (GitButlerMemory) and reports the
differences.

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

from gitobs.capture import gitbutler_db, gitbutler_toml
from gitobs.capture.gitbutler_toml import Stack
from gitobs.capture.memory import GitButlerMemory
from gitobs.core.files import stamp
from gitobs.core.names import decoded, recorded
from gitobs.log.schema import (
    Emit,
    FileChange,
    GitButlerOp,
    Payload,
    VBranch,
    VBranchArchived,
    VBranchCi,
    VBranchFiles,
    VBranchMoved,
    VBranchRenamed,
    VBranchReview,
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
FREE_TEXT_TRAILERS = frozenset({"message", "error"})  # 0.11.8 wrote these unescaped: what follows may be text
MAX_INCLUDES = 16  # config files followed through include.path / includeIf.*.path
# Operations after which GitButler itself unapplies a stack that no longer applies cleanly.
BASE_UPDATES = frozenset({"UpdateWorkspaceBase", "MergeUpstream", "SyncWorkspace", "SetBaseBranch"})
# Errors of reading a file GitButler is writing, or a repository pygit2 cannot read: retried next scan.
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, pygit2.GitError)
SRC = "gitbutler"
WT = "."  # GitButler's state belongs to the repository, reported as the main worktree's


def observe(common_dir: Path, memory: GitButlerMemory, emit: Emit, now_ns: int) -> None:
    """Emit vbranch.* and gitbutler.op events for what changed since `memory`; update `memory` in place.

    A file that cannot be read or parsed (GitButler is writing it) leaves its part of `memory` as it was,
    so the next scan tries again; nothing is emitted for it. `but` run inside a linked worktree keeps its
    state in that worktree's git dir (`<common>/worktrees/<name>/gitbutler`): each is observed the same way,
    with its events named after the worktree.
    """
    common = os.fspath(common_dir)  # plain strings: pathlib would cost more than the stats themselves
    repo = _LazyRepo(common)
    try:
        storage = _storage_dir(common, memory)
    except READ_ERRORS:
        storage = None
    if storage is not None:
        _observe_storage(common, storage, memory, repo, emit, now_ns, WT)
    _observe_worktrees(common, memory, repo, emit, now_ns)


def _observe_storage(common: str, storage: str, memory: GitButlerMemory, repo: _LazyRepo, emit: Emit,
                     now_ns: int, wt: str) -> None:
    try:
        oplog = _read_oplog(storage, memory, repo)
    except READ_ERRORS:
        oplog = None
    operations = [payload for _, payload in oplog.entries] if oplog else []
    try:
        _observe_stacks(common, storage, memory, repo, emit, now_ns, operations, wt)
    except READ_ERRORS:
        pass
    if oplog is not None:
        oplog.send(memory, emit, wt)


def _observe_worktrees(common: str, memory: GitButlerMemory, repo: _LazyRepo, emit: Emit, now_ns: int) -> None:
    """GitButler's state in linked worktrees' git dirs: one listing of <common>/worktrees, a stat each."""
    try:
        entries = sorted(os.scandir(f"{common}/worktrees"), key=lambda entry: entry.name)
    except OSError:
        entries = []
    seen = set()
    for entry in entries:
        storage = f"{entry.path}/gitbutler"
        if not os.path.isdir(storage):
            continue
        wt = recorded(entry.name)
        seen.add(wt)
        _observe_storage(common, storage, memory.worktrees.setdefault(wt, GitButlerMemory()), repo, emit,
                         now_ns, wt)
    for gone in set(memory.worktrees) - seen:
        del memory.worktrees[gone]


# -- where GitButler keeps its files -----------------------------------------------------------------


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _storage_dir(common: str, memory: GitButlerMemory) -> str | None:
    """GitButler's storage dir, None when there is none: then GitButler has never run here."""
    stamps = [stamp(path) for path in _config_files(common) + memory.config_files]
    if stamps != memory.config:  # git config is read only when one of its files changed
        memory.storage = _configured_storage(common)
        memory.config_files = _included(common)
        memory.config = [stamp(path) for path in _config_files(common) + memory.config_files]
    storage = memory.storage or os.path.join(common, "gitbutler")
    return storage if os.path.isdir(storage) else None


def _config_files(common: str) -> list[str]:
    """The repository's config, then the user's global and XDG ones (highest priority first)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or f"{home}/.config"
    return [f"{common}/config", os.environ.get("GIT_CONFIG_GLOBAL") or f"{home}/.gitconfig", f"{xdg}/git/config"]


def _included(common: str) -> list[str]:
    """Files the config files include (include.path, includeIf.<condition>.path), followed a few levels:
    their stamps too tell when the storage path may have changed."""
    found: list[str] = []
    pending = [path for path in _config_files(common) if os.path.isfile(path)]
    while pending and len(found) < MAX_INCLUDES:
        path = pending.pop(0)
        try:
            entries = list(pygit2.Config(path))
        except pygit2.GitError:
            continue
        for entry in entries:
            lower = entry.name.lower()
            if lower == "include.path" or (lower.startswith("includeif.") and lower.endswith(".path")):
                target = os.path.join(os.path.dirname(path), os.path.expanduser(entry.value or ""))
                if target not in found and len(found) < MAX_INCLUDES:
                    found.append(target)
                    pending.append(target)
    return found


def _configured_storage(common: str) -> str:
    """Where `gitbutler.storagePath` puts the storage dir (0.19.6+), "" when it is not set.

    Asked of the repository's whole config as git resolves it (includes and `includeIf` conditions too)."""
    value = _config_value(common, STORAGE_KEYS)
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


def _config_value(common: str, keys: tuple[str, ...]) -> str:
    try:
        config = pygit2.Repository(common).config
    except pygit2.GitError:  # a config git itself cannot parse: as if absent
        return ""
    for key in keys:
        try:
            if key in config:
                return config[key]
        except (pygit2.GitError, ValueError):
            continue
    return ""


# -- stacks and branches -----------------------------------------------------------------------------


def _observe_stacks(common: str, storage: str, memory: GitButlerMemory, repo: _LazyRepo, emit: Emit,
                    now_ns: int, operations: list[GitButlerOp], wt: str) -> None:
    toml, db = os.path.join(storage, "virtual_branches.toml"), os.path.join(storage, "but.sqlite")
    # REFRESH (0.20.1+) is touched after every metadata write; the TOML itself is replaced on each change;
    # but.sqlite (0.19.4+ mirrors the TOML) is written through its -wal, whose stamp moves on every commit.
    toml_stamps = [stamp(os.path.join(storage, "REFRESH")), stamp(toml), stamp(db), stamp(f"{db}-wal")]
    toml_changed = toml_stamps != memory.toml
    if toml_changed:
        stacks = _read_stacks(toml, db, toml_stamps)  # stamped first: a newer file is reread
        wal = stamp(f"{db}-wal")
        if toml_stamps[2] and not toml_stamps[3] and wal and wal[1] == 0:
            toml_stamps[3] = wal  # the empty -wal SQLite made for our read: no data, nothing to reread
    elif memory.stacks is None:
        return
    else:
        stacks = _without_tips(memory.stacks)
    ref_stamps = _ref_stamps(common, stacks)  # stamped before the refs are read, likewise
    if not toml_changed and ref_stamps == memory.refs:
        return
    _resolve_tips(common, stacks)
    report = _Report(stamps=[toml_stamps, sorted(ref_stamps.items())],
                     ts_ns=_changed_at(toml_stamps, ref_stamps, memory) or now_ns, wt=wt)
    _diff(memory.stacks, stacks, report, repo, operations, common)
    report.send(emit)
    memory.stacks, memory.toml, memory.refs = stacks, toml_stamps, ref_stamps


def _read_stacks(toml: str, db: str, stamps: list[list[int]]) -> dict[str, Stack]:
    """The stacks from but.sqlite where it mirrors them and is as new as the TOML, else from the TOML.

    GitButler records in the database the TOML's mtime and SHA-256 when it last synced the two: a TOML newer
    than that (edited by hand, or by an older GitButler) is what GitButler imports next, so it wins here too.
    """
    state = gitbutler_db.read(db) if stamps[2] else None
    if state is not None and _db_is_current(state, toml, stamps[1]):
        for stack_id, stack in state.stacks.items():
            stack.files = state.files.get(stack_id, 0)
            stack.paths = state.paths.get(stack_id, [])
            for branch in stack.branches:
                branch.review = branch.review or state.reviews.get(branch.name, 0)
                branch.ci = state.ci.get(branch.name, [0, 0, 0])
        return state.stacks
    return gitbutler_toml.parse_virtual_branches(_read(toml))


def _db_is_current(state: gitbutler_db.DbState, toml: str, toml_stamp: list[int]) -> bool:
    if not toml_stamp:  # no TOML: GitButler regenerates it from the database
        return True
    if state.toml_mtime_ns is None or toml_stamp[2] != state.toml_mtime_ns:
        return toml_stamp[2] < (state.toml_mtime_ns or 0)
    return hashlib.sha256(_read(toml)).hexdigest() == state.toml_sha256


def _without_tips(stacks: dict[str, Stack]) -> dict[str, Stack]:
    """A copy of the remembered stacks whose live tips are to be read again."""
    return {stack_id: msgspec.structs.replace(stack, branches=[
        msgspec.structs.replace(branch, tip="") for branch in stack.branches]) for stack_id, stack in stacks.items()}


def _changed_at(toml_stamps: list[list[int]], ref_stamps: dict[str, list[int]], memory: GitButlerMemory) -> int:
    """When the change happened: the newest mtime among the TOML, the database's files and the refs that
    changed (0: unknown)."""
    changed = [stamp for ref, stamp in ref_stamps.items() if memory.refs.get(ref) != stamp]
    for index in (1, 2, 3):  # the TOML, but.sqlite, its -wal
        if len(memory.toml) <= index or memory.toml[index] != toml_stamps[index]:
            changed.append(toml_stamps[index])
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
    wt: str = WT
    pending: list[tuple[str, Payload, str]] = field(default_factory=list)
    updated: set[tuple[str, str]] = field(default_factory=set)  # (branch, new tip) already reported

    def add(self, event_type: str, payload: Payload, key: str) -> None:
        self.pending.append((event_type, payload, key))

    def send(self, emit: Emit) -> None:
        digest = hashlib.blake2b(msgspec.json.encode(self.stamps), digest_size=8).hexdigest()
        for event_type, payload, key in self.pending:
            emit(event_type, payload, ts_ns=self.ts_ns, src=SRC, wt=self.wt,
                 provenance=f"gitbutler-vb:{key}:{digest}" if self.wt == WT else
                 f"gitbutler-vb:{self.wt}:{key}:{digest}")


def _diff(before: dict[str, Stack] | None, after: dict[str, Stack], report: _Report, repo: _LazyRepo,
          operations: list[GitButlerOp], common: str) -> None:
    """Compare two snapshots. With no snapshot before (the first look), everything present is created."""
    baseline = before is None
    before = before or {}
    moves = _moves(before, after)
    moved_in = {(stack_id, name) for name, (_, stack_id) in moves.items()}
    moved_out = {(stack_id, name) for name, (stack_id, _) in moves.items()}
    for stack_id in sorted(after, key=lambda sid: (after[sid].order, sid)):
        old, new = before.get(stack_id), after[stack_id]
        for branch in new.branches:
            branch.seen_ns = 0 if baseline else report.ts_ns
        if old is None:
            for position, branch in enumerate(new.branches):
                if (stack_id, branch.name) in moved_in:
                    _moved(report, moves, before, stack_id, new, position, repo)
                else:
                    _branch_event(report, "vbranch.created", stack_id, new, position)
            _files(report, stack_id, Stack(), new)
        else:
            _diff_stack(stack_id, old, new, report, repo, operations, common, before, moves, moved_in, moved_out)
    for stack_id in sorted(set(before) - set(after)):
        for position, branch in enumerate(before[stack_id].branches):
            if (stack_id, branch.name) not in moved_out:
                _branch_event(report, "vbranch.deleted", stack_id, before[stack_id], position)


def _moves(before: dict[str, Stack], after: dict[str, Stack]) -> dict[str, tuple[str, str]]:
    """Branch name -> (stack it left, stack it came to): gone from one stack and come into another.

    A branch GitButler lists in several stacks at once (a shared segment) moves nowhere."""
    old_names = {sid: {b.name for b in stack.branches} for sid, stack in before.items()}
    new_names = {sid: {b.name for b in stack.branches} for sid, stack in after.items()}
    gone = {}
    for sid in sorted(before):
        for name in old_names[sid] - new_names.get(sid, set()):
            gone.setdefault(name, sid)
    moves = {}
    for sid in sorted(after, key=lambda s: (after[s].order, s)):
        for name in new_names[sid] - old_names.get(sid, set()):
            if name in gone and name not in moves and before[gone[name]].lane is False and not after[sid].lane:
                moves[name] = (gone[name], sid)
    return moves


def _moved(report: _Report, moves: dict[str, tuple[str, str]], before: dict[str, Stack], stack_id: str,
           new: Stack, position: int, repo: _LazyRepo) -> None:
    branch = new.branches[position]
    from_stack = moves[branch.name][0]
    previous = next(b for b in before[from_stack].branches if b.name == branch.name)
    branch.tip = branch.tip or previous.tip
    branch.seen_ns = previous.seen_ns
    report.add("vbranch.moved", VBranchMoved(branch=branch.name, from_stack=from_stack, to_stack=stack_id,
                                             position=position, tip=branch.tip),
               f"{from_stack}:{stack_id}:{branch.name}")
    _changes(report, stack_id, previous, branch, repo)


def _diff_stack(stack_id: str, old: Stack, new: Stack, report: _Report, repo: _LazyRepo,
                operations: list[GitButlerOp],
                common: str, before: dict[str, Stack], moves: dict, moved_in: set, moved_out: set) -> None:
    old_by_name = {branch.name: branch for branch in old.branches}
    renamed = _renames(old, new, common, moved_in | moved_out, stack_id)
    renamed_from = {branch.name for branch in renamed.values()}
    new_names = {branch.name for branch in new.branches}
    for position, branch in enumerate(old.branches):
        if branch.name not in new_names and branch.name not in renamed_from \
                and (stack_id, branch.name) not in moved_out:
            _branch_event(report, "vbranch.deleted", stack_id, old, position)
    for position, branch in enumerate(new.branches):
        if (stack_id, branch.name) in moved_in:
            _moved(report, moves, before, stack_id, new, position, repo)
            continue
        previous = renamed[branch.name] if branch.name in renamed else old_by_name.get(branch.name)
        if previous is None:
            _branch_event(report, "vbranch.created", stack_id, new, position)
            continue
        branch.seen_ns = previous.seen_ns
        if previous.name != branch.name and not (old.lane and not new.lane):  # 0.13 named the lane's branch
            report.add("vbranch.renamed", VBranchRenamed(stack=stack_id, from_=previous.name, to=branch.name),
                       f"{stack_id}:{previous.name}:{branch.name}")
        _changes(report, stack_id, previous, branch, repo)
    if old.applied != new.applied:
        top = len(new.branches) - 1
        by = "" if new.applied else _unapplied_by(new, operations, repo)
        _branch_event(report, "vbranch.applied" if new.applied else "vbranch.unapplied", stack_id, new, top, by)
    _files(report, stack_id, old, new)


def _files(report: _Report, stack_id: str, old: Stack, new: Stack) -> None:
    """vbranch.files when the files a stack owns hunks in changed (a new stack: when it has any)."""
    if new.files < 0:  # read from the TOML: the database's files are still the last known
        new.files, new.paths = old.files, old.paths
    elif (new.files, new.paths) != (old.files, old.paths) and (old.files >= 0 or new.files > 0):
        owned = [FileChange(path, 0, 0) for path in new.paths]  # paths only: hunk ranges are never read
        report.add("vbranch.files", VBranchFiles(stack=stack_id, owned_files=new.files, files=owned),
                   f"{stack_id}:files:{new.files}")  # no path in the provenance: capture.paths=false hashes them


def _changes(report: _Report, stack_id: str, previous: gitbutler_toml.Branch, branch: gitbutler_toml.Branch,
             repo: _LazyRepo) -> None:
    """vbranch.updated, .archived and .review for one branch seen before (under this name or another)."""
    if not branch.tip:  # a ChangeId, a null sha, a ref not written yet: unknown, not moved
        branch.tip = previous.tip
    if previous.tip != branch.tip and (branch.name, branch.tip) not in report.updated:
        report.updated.add((branch.name, branch.tip))  # one ref move, however many stacks list the branch
        commits, conflicted = repo.count_new(previous.tip, branch.tip)
        report.add("vbranch.updated", VBranchUpdated(
            stack=stack_id, branch=branch.name, from_sha=previous.tip, to_sha=branch.tip, commits=commits,
            conflicted=conflicted), f"{stack_id}:{branch.name}:{branch.tip}")
    lived = round(max(report.ts_ns - branch.seen_ns, 0) / 1e9, 3) if branch.seen_ns else None
    if branch.archived and not previous.archived:
        report.add("vbranch.archived", VBranchArchived(stack=stack_id, branch=branch.name, tip=branch.tip,
                                                       lifetime_s=lived), f"{stack_id}:{branch.name}:archived")
    if not branch.review:  # none, or one only the database knows while the TOML is read: no event either way
        branch.review = previous.review
    elif branch.review != previous.review:
        report.add("vbranch.review", VBranchReview(stack=stack_id, branch=branch.name, number=branch.review,
                                                   after_s=lived), f"{stack_id}:{branch.name}:{branch.review}")
    if not branch.ci:  # read from the TOML: the database's counts are still the last known
        branch.ci = previous.ci
    elif branch.ci != previous.ci and (previous.ci or any(branch.ci)):
        pending, passed, failed = branch.ci
        report.add("vbranch.ci", VBranchCi(stack=stack_id, branch=branch.name, pending=pending, passed=passed,
                                           failed=failed), f"{stack_id}:{branch.name}:ci:{branch.ci}")


def _unapplied_by(stack: Stack, operations: list[GitButlerOp], repo: _LazyRepo) -> str:
    """Who took a stack out of the workspace: the user (an UnapplyBranch operation logged since the last
    scan that names one of its branches, or names none), GitButler on a conflict (its top commit marked
    conflicted, or a base update), else "" (not known: the operations log said nothing)."""
    names = {branch.name for branch in stack.branches}
    for op in operations:
        if op.operation == "UnapplyBranch":
            named = {value.removeprefix("refs/heads/") for key in ("branch", "name")
                     for value in op.trailers.get(key, "").split()}
            if not named or named & names or stack.lane:  # a lane's trailer names its refs/gitbutler/ ref
                return "user"
    kinds = {op.operation for op in operations}
    if repo.conflicted(stack.branches[-1].tip) or BASE_UPDATES & kinds:
        return "conflict"
    return ""



def _renames(old: Stack, new: Stack, common: str, moving: set, stack_id: str) -> dict[str, gitbutler_toml.Branch]:
    """New name -> old branch, for a branch gone and another come at the same position of the same stack,
    when it is a rename: the tip kept, a lane (the stack is the lane), or a reflog saying so. A branch
    deleted and another created in its place between two scans is not one."""
    old_names = {branch.name for branch in old.branches}
    new_names = {branch.name for branch in new.branches}
    renamed = {}
    for position, branch in enumerate(new.branches):
        if branch.name in old_names or position >= len(old.branches) or (stack_id, branch.name) in moving:
            continue
        candidate = old.branches[position]
        if candidate.name in new_names or (stack_id, candidate.name) in moving:
            continue
        if old.lane or new.lane or (candidate.tip and candidate.tip == (branch.tip or branch.stored)) \
                or _reflog_renamed(common, candidate.name, branch.name):
            renamed[branch.name] = candidate
    return renamed


def _reflog_renamed(common: str, old: str, new: str) -> bool:
    """The new branch's reflog says it was renamed: git's `Branch: renamed refs/heads/<old> to ...`, or
    GitButler's `rename branch`. Only its last few KiB are read."""
    if not _safe_ref_name(new):
        return False
    try:
        with open(f"{common}/logs/refs/heads/{new}", "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    return f"renamed refs/heads/{old} to refs/heads/{new}" in tail or "\trename branch" in tail


def _branch_event(report: _Report, event_type: str, stack_id: str, stack: Stack, position: int,
                  by: str = "") -> None:
    """One branch of `stack`; vbranch.applied/unapplied name the stack by its top branch."""
    branch = stack.branches[position]
    report.add(event_type, VBranch(stack=stack_id, branch=branch.name, tip=branch.tip, position=position,
                                   applied=stack.applied, by=by), f"{stack_id}:{branch.name}")


# -- operations log ----------------------------------------------------------------------------------


@dataclass
class _Oplog:
    """New snapshots read from the operations log, emitted after the stacks they explain."""

    stamps: list[list[int]]
    head: str = ""
    head_time: int = 0
    entries: list[tuple[int, GitButlerOp]] = field(default_factory=list)  # (commit time, payload)

    def send(self, memory: GitButlerMemory, emit: Emit, wt: str) -> None:
        for commit_time, payload in self.entries:
            emit("gitbutler.op", payload, ts_ns=commit_time * 10**9, src=SRC, wt=wt,
                 provenance=f"gitbutler-op:{payload.sha}")
        if self.head:
            memory.op_head, memory.op_time = self.head, self.head_time
        memory.oplog = self.stamps


def _read_oplog(storage: str, memory: GitButlerMemory, repo: _LazyRepo) -> _Oplog | None:
    """What is new in the operations log, None when its files did not change."""
    paths = [os.path.join(storage, "operations-log.toml"), os.path.join(storage, "oplog.toml")]  # 0.11.5-7
    stamps = [stamp(path) for path in paths]
    if stamps == memory.oplog:
        return None
    found = _Oplog(stamps)
    path = paths[0] if stamps[0] else paths[1]
    head = gitbutler_toml.parse_oplog_head(_read(path)) if any(stamps) else ""
    if head and head != memory.op_head:
        snapshots = _new_snapshots(repo.get(), head, memory.op_head, memory.op_time)
        found.entries = [(commit.commit_time, _op_payload(commit)) for commit in snapshots]  # all read first
        head_commit = repo.get().get(head)
        found.head = head
        found.head_time = head_commit.commit_time if isinstance(head_commit, pygit2.Commit) else 0
    return found


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

    The format (GitButler's SnapshotDetails): title, blank line, optional body, then a paragraph of
    `Key: value` lines that starts with `Version` and `Operation`, newlines in values escaped as `\\n`
    since 0.12.0. Only that paragraph is trusted: 0.11.8 wrote a `message` trailer unescaped, so a commit
    message's own paragraphs can follow it, and within the paragraph the lines after a free-text trailer
    (`message`, `error`) may be that text: of those only a `sha` holding a commit id is kept (0.11.8's
    CreateCommit wrote `sha` after `message`, so it may also be the message's very last line). Repeated
    keys (one `branch` per branch of an unapplied stack) are joined with a space, which no ref name or sha
    contains. `Version` is dropped: it describes the snapshot's format, not the operation.
    """
    paragraphs = _paragraphs(message)[1:]  # never the title
    blocks = [paragraph for paragraph in paragraphs if paragraph[0].startswith("Version:")]
    if not blocks:
        return "Unknown", {}
    unescaped = blocks[-1] is not paragraphs[-1]  # text followed the trailers: a multi-paragraph message
    operation = ""
    trailers: dict[str, str] = {}
    in_text = False
    for line in blocks[-1]:
        key, colon, value = line.partition(":")
        if not colon:
            continue
        key, value = key.strip(), value.strip().replace("\\n", "\n")[:MAX_TRAILER]
        if key in FREE_TEXT_TRAILERS:
            in_text = True
        elif in_text and (unescaped or key != "sha" or not gitbutler_toml.commit_id(value)):
            continue
        elif key == "Operation" and not operation:
            operation = value if value.isascii() and value.isalnum() and len(value) <= 64 else "Unknown"
        elif key in SAFE_TRAILERS:
            trailers[key] = f"{trailers[key]} {value}" if key in trailers else value
    if in_text and unescaped:  # the message ran on past the block: 0.11.8's `sha` is the last line
        key, _, value = paragraphs[-1][-1].partition(":")
        if key == "sha" and gitbutler_toml.commit_id(value.strip()) and "sha" not in trailers:
            trailers["sha"] = value.strip()
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

    def count_new(self, old: str, new: str) -> tuple[int, int]:
        """Commits reachable from `new` and not from `old`, up to MAX_COUNTED, and how many of them GitButler
        marked conflicted; (0, 0) when either is unknown."""
        if not old or not new:
            return 0, 0
        try:
            walker = self.get().walk(new, pygit2.GIT_SORT_NONE)
            walker.hide(old)
            commits = [commit for _, commit in zip(range(MAX_COUNTED), walker)]
            return len(commits), sum(1 for commit in commits if _conflicted(commit))
        except (KeyError, ValueError, pygit2.GitError):
            return 0, 0

    def conflicted(self, sha: str) -> bool:
        """The commit carries GitButler's `gitbutler-conflicted` header."""
        try:
            commit = self.get().get(sha) if sha else None
            return isinstance(commit, pygit2.Commit) and _conflicted(commit)
        except (KeyError, ValueError, pygit2.GitError):
            return False


def _conflicted(commit: pygit2.Commit) -> bool:
    raw = commit.read_raw()
    return b"\ngitbutler-conflicted " in raw[:raw.find(b"\n\n")]
