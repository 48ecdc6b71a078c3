"""GitButler's state read from real repositories built by fixtures/repos/gitbutler-*.sh: the baseline each
format gives, then each change GitButler makes (rewritten TOML, moved refs, new snapshots), once each."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import msgspec
import pygit2
import pytest
from conftest import git, gitobs, last_seq, new_events

from gitobs.capture import gitbutler, gitbutler_toml
from gitobs.capture.enrich import Enricher
from gitobs.capture.gitbutler import GitButlerMemory, parse_snapshot_message
from gitobs.capture.gitbutler_toml import (
    Branch,
    PartialFile,
    Stack,
    parse_virtual_branches,
)
from gitobs.capture.install import install
from gitobs.core.files import write_atomic
from gitobs.core.repo import locate
from gitobs.log.schema import (
    VBranch,
    VBranchRenamed,
    VBranchUpdated,
    format_ts,
    parse_ts,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "repos"
VB_TYPES = ("vbranch.created", "vbranch.deleted", "vbranch.applied", "vbranch.unapplied", "vbranch.renamed",
            "vbranch.updated")
OP = ("gitbutler.op",)
# Stack ids written by the fixtures.
LANE_FIX, LANE_SPIKE = "0f5a3c3e-9d61-4b2f-8a57-1c7e0b3f9a11", "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
API, DOCS, SPIKE = ("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091")
FEATURE, EXPERIMENT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"


# -- building and changing the repositories ----------------------------------------------------------


def build(tmp_path: Path, era: str, name: str = "") -> Path:
    path = tmp_path / (name or f"gb{era}")
    subprocess.run(["sh", str(FIXTURES / f"gitbutler-{era}.sh"), str(path)], check=True, capture_output=True)
    return path


def watched_fixture(tmp_path: Path, era: str) -> Path:
    path = build(tmp_path, era)
    install(locate(path))
    return path


def storage(repo: Path) -> Path:
    return repo / ".git" / "gitbutler"


def edit_toml(repo: Path, old: str, new: str) -> None:
    """Replace text in virtual_branches.toml the way GitButler writes: a new file renamed over the old one."""
    path = storage(repo) / "virtual_branches.toml"
    text = path.read_text()
    assert old in text
    write_atomic(path, text.replace(old, new).encode())


def set_in_workspace(path: Path, stack: str, applied: bool) -> None:
    """Apply or unapply a stack: its first in_workspace key after its header is its own."""
    text = path.read_text()
    key = text.index("in_workspace = ", text.index(f"[branches.{stack}]\n"))
    end = text.index("\n", key)
    write_atomic(path, (text[:key] + f"in_workspace = {str(applied).lower()}" + text[end:]).encode())


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).stdout.strip()


def commit_on(repo: Path, branch: str, count: int = 1) -> str:
    """Commits on `branch` made the way GitButler makes them: no checkout, the ref moved directly."""
    tip = rev(repo, branch)
    for number in range(count):
        tip = git(repo, "commit-tree", "-p", tip, "-m", f"step {number}", f"{tip}^{{tree}}").stdout.strip()
    git(repo, "update-ref", f"refs/heads/{branch}", tip)
    return tip


def oplog_head(repo: Path) -> str:
    text = (storage(repo) / "operations-log.toml").read_text()
    return text.split('"')[1]


def snapshot(repo: Path, parent: str, message: str, with_toml: bool = True) -> str:
    tree = rev(repo, "HEAD^{tree}")
    if with_toml:
        blob = git(repo, "hash-object", "-w", str(storage(repo) / "virtual_branches.toml")).stdout.strip()
        tree = git(repo, "mktree", input=f"100644 blob {blob}\tvirtual_branches.toml\n").stdout.strip()
    return git(repo, "commit-tree", "-p", parent, "-m", message, tree, GIT_AUTHOR_NAME="GitButler",
               GIT_AUTHOR_EMAIL="gitbutler@gitbutler.com").stdout.strip()


def set_oplog_head(repo: Path, sha: str) -> None:
    write_atomic(storage(repo) / "operations-log.toml",
                 f'head_sha = "{sha}"\n\n[modified_at]\nsecs_since_epoch = 1\nnanos_since_epoch = 0\n'.encode())


def vb(stack: str, branch: str, tip: str, position: int = 0, applied: bool = True) -> dict:
    """A vbranch.created/deleted/applied/unapplied payload as the log holds it."""
    return msgspec.to_builtins(VBranch(stack=stack, branch=branch, tip=tip, position=position, applied=applied))


def changes(events) -> list[tuple[str, dict]]:
    return [(event.type, event.data) for event in events]


def ops(events) -> list[tuple[str, dict]]:
    return [(event.data["operation"], event.data.get("trailers", {})) for event in events]


def chain(repo: Path, head: str) -> list[str]:
    return git(repo, "rev-list", "--reverse", "--first-parent", head).stdout.split()


# -- the baseline: the first scan reports what is there ----------------------------------------------


def test_2025_stacks_baseline_every_branch_and_operation(tmp_path):
    repo = watched_fixture(tmp_path, "2025")
    assert changes(new_events(repo, types=VB_TYPES)) == [
        ("vbranch.created", vb(API, "old-refactor", rev(repo, "old-refactor"))),
        ("vbranch.created", vb(API, "api-types", rev(repo, "api-types"), position=1)),
        ("vbranch.created", vb(API, "api-client", rev(repo, "api-client"), position=2)),
        ("vbranch.created", vb(DOCS, "docs-tweak", rev(repo, "docs-tweak"))),
        ("vbranch.created", vb(SPIKE, "spike-cache", rev(repo, "spike-cache"), applied=False)),
    ]
    logged = new_events(repo, types=OP)
    assert ops(logged) == [
        ("CreateBranch", {"name": "api-types"}),
        ("CreateCommit", {"sha": rev(repo, "api-types")}),  # its `message` trailer is dropped
        ("CreateDependentBranch", {"name": "api-client"}),
        ("AmendCommit", {}),  # `error` dropped
        ("UnapplyBranch", {"branch": "spike-cache"}),
        ("OnDemandSnapshot", {}),  # the body and the unknown `Foo` dropped
    ]
    assert [event.data["sha"] for event in logged] == chain(repo, oplog_head(repo))
    first = pygit2.Repository(str(repo / ".git")).get(logged[0].data["sha"])
    assert logged[0].ts == format_ts(first.commit_time * 10**9) and logged[0].src == "gitbutler"
    everything = json.dumps([event.data for event in new_events(repo)])
    for private in ("private beta", "token=abc123", "risky rebase", "Foo", "Applied stacks"):
        assert private not in everything
    assert new_events(repo, last_seq(repo)) == []


def test_2024_lanes_baseline(tmp_path):
    repo = watched_fixture(tmp_path, "2024")
    fix, spike = rev(repo, "refs/gitbutler/fix-login-redirect"), rev(repo, "refs/gitbutler/spike-new-cache")
    assert changes(new_events(repo, types=VB_TYPES)) == [
        ("vbranch.created", vb(LANE_FIX, "fix login redirect", fix)),
        ("vbranch.created", vb(LANE_SPIKE, "spike: new cache", spike, applied=False)),
    ]
    assert ops(new_events(repo, types=OP)) == [
        ("CreateBranch", {"name": "Lane"}),
        ("UpdateBranchName", {"before": "Lane", "after": "fix login redirect"}),
        ("CreateCommit", {"sha": fix}),
        ("UnapplyBranch", {"name": "refs/gitbutler/spike-new-cache"}),
    ]
    assert new_events(repo, last_seq(repo)) == []


def test_2024_oldest_shape_applied_only_and_oplog_toml(tmp_path):
    """0.11.5-0.11.7: no in_workspace yet (only `applied`), and the oplog head in oplog.toml."""
    repo = build(tmp_path, "2024")
    edit_toml(repo, "in_workspace = true\n", "")
    edit_toml(repo, "in_workspace = false\n", "")
    (storage(repo) / "operations-log.toml").rename(storage(repo) / "oplog.toml")
    install(locate(repo))
    assert changes(new_events(repo, types=VB_TYPES)) == [
        ("vbranch.created", vb(LANE_FIX, "fix login redirect", rev(repo, "refs/gitbutler/fix-login-redirect"))),
        ("vbranch.created", vb(LANE_SPIKE, "spike: new cache", rev(repo, "refs/gitbutler/spike-new-cache"),
                               applied=False)),
    ]
    assert len(new_events(repo, types=OP)) == 4


def test_2026_current_format_names_come_from_heads(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    assert changes(new_events(repo, types=VB_TYPES)) == [  # the stack without heads yet is not reported
        ("vbranch.created", vb(FEATURE, "feature-base", rev(repo, "feature-base"))),
        ("vbranch.created", vb(FEATURE, "feature-top", rev(repo, "feature-top"), position=1)),
        ("vbranch.created", vb(EXPERIMENT, "experiment", rev(repo, "experiment"), applied=False)),
    ]
    undo = chain(repo, oplog_head(repo))[3]
    date = "2026-08-10T09:00:00Z"  # the undone commit, made again as the fixture made it
    undone = git(repo, "commit-tree", "-p", "feature-top", "-m", "Half-done idea", "feature-top^{tree}",
                 GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date).stdout.strip()
    assert ops(new_events(repo, types=OP)) == [
        ("CreateBranch", {"name": "refs/heads/feature-base"}),
        ("CreateCommit", {}),
        ("CreateBranch", {"name": "refs/heads/feature-top"}),
        ("UndoCommit", {"sha": undone}),
        ("RestoreFromSnapshotViaUndo", {"restored_from": undo, "restored_operation": "UndoCommit",
                                        "restored_date": "1786358400000"}),
        ("UnapplyBranch", {"branch": "experiment"}),
    ]
    assert new_events(repo, last_seq(repo)) == []


def test_fixtures_make_the_same_shas_every_run(tmp_path):
    for era in ("2024", "2025", "2026"):
        first, second = build(tmp_path, era, f"{era}-a"), build(tmp_path, era, f"{era}-b")
        assert git(first, "for-each-ref").stdout == git(second, "for-each-ref").stdout
        assert oplog_head(first) == oplog_head(second)


# -- changes after the baseline ----------------------------------------------------------------------


def test_unapply_then_apply_again_one_event_per_stack(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    start = last_seq(repo)
    top = rev(repo, "feature-top")
    set_in_workspace(storage(repo) / "virtual_branches.toml", FEATURE, False)
    mtime = (storage(repo) / "virtual_branches.toml").stat().st_mtime_ns
    [unapplied] = new_events(repo, start, types=VB_TYPES)
    assert (unapplied.type, unapplied.data) == ("vbranch.unapplied", vb(FEATURE, "feature-top", top, 1, False))
    assert unapplied.ts == format_ts(mtime)
    start = last_seq(repo)
    set_in_workspace(storage(repo) / "virtual_branches.toml", FEATURE, True)
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.applied", vb(FEATURE, "feature-top", top, 1, True))]
    assert new_events(repo, last_seq(repo)) == []


def test_commit_on_a_stack_branch_is_seen_from_its_ref_before_the_toml(tmp_path):
    repo = watched_fixture(tmp_path, "2025")
    start = last_seq(repo)
    old = rev(repo, "api-client")
    new = commit_on(repo, "api-client")  # the TOML's CommitId still names `old`
    assert changes(new_events(repo, start, types=VB_TYPES)) == [("vbranch.updated", msgspec.to_builtins(
        VBranchUpdated(stack=API, branch="api-client", from_sha=old, to_sha=new, commits=1)))]
    start = last_seq(repo)
    edit_toml(repo, old, new)  # GitButler catches up: the tip it names is the one already reported
    assert new_events(repo, start, types=VB_TYPES) == []
    docs = rev(repo, "docs-tweak")
    newer = commit_on(repo, "docs-tweak", count=2)
    assert changes(new_events(repo, start, types=VB_TYPES)) == [("vbranch.updated", msgspec.to_builtins(
        VBranchUpdated(stack=DOCS, branch="docs-tweak", from_sha=docs, to_sha=newer, commits=2)))]
    assert new_events(repo, last_seq(repo)) == []


def test_packed_refs_are_read_and_packing_is_no_change(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    start = last_seq(repo)
    old = rev(repo, "feature-top")
    new = commit_on(repo, "feature-top")  # the TOML still names `old`
    assert changes(new_events(repo, start, types=VB_TYPES)) == [("vbranch.updated", msgspec.to_builtins(
        VBranchUpdated(stack=FEATURE, branch="feature-top", from_sha=old, to_sha=new, commits=1)))]
    start = last_seq(repo)
    git(repo, "pack-refs", "--all")  # the loose ref files go; the tips are read from packed-refs
    assert not (repo / ".git" / "refs" / "heads" / "feature-top").exists()
    assert new_events(repo, start, types=VB_TYPES) == []
    set_in_workspace(storage(repo) / "virtual_branches.toml", FEATURE, False)  # the TOML read again
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.unapplied", vb(FEATURE, "feature-top", new, 1, False))]


def test_branch_renamed_in_its_stack(tmp_path):
    repo = watched_fixture(tmp_path, "2025")
    start = last_seq(repo)
    git(repo, "branch", "-m", "docs-tweak", "docs-polish")
    edit_toml(repo, 'name = "docs-tweak"', 'name = "docs-polish"')
    assert changes(new_events(repo, start, types=VB_TYPES)) == [("vbranch.renamed", msgspec.to_builtins(
        VBranchRenamed(stack=DOCS, from_="docs-tweak", to="docs-polish")))]
    assert new_events(repo, last_seq(repo)) == []


def test_lane_renamed_and_moved(tmp_path):
    repo = watched_fixture(tmp_path, "2024")
    start = last_seq(repo)
    old = rev(repo, "refs/gitbutler/fix-login-redirect")
    new = git(repo, "commit-tree", "-p", old, "-m", "again", f"{old}^{{tree}}").stdout.strip()
    edit_toml(repo, 'name = "fix login redirect"', 'name = "fix login loop"')
    edit_toml(repo, f'head = "{old}"', f'head = "{new}"')
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.renamed", msgspec.to_builtins(VBranchRenamed(stack=LANE_FIX, from_="fix login redirect",
                                                               to="fix login loop"))),
        ("vbranch.updated", msgspec.to_builtins(VBranchUpdated(stack=LANE_FIX, branch="fix login loop",
                                                               from_sha=old, to_sha=new, commits=1))),
    ]


def test_deleted_branch_and_stack(tmp_path):
    repo = watched_fixture(tmp_path, "2025")
    start = last_seq(repo)
    text = (storage(repo) / "virtual_branches.toml").read_text()
    spike_stack = text[text.index(f"[branches.{SPIKE}]"):]
    types_head = text[text.index(f'[[branches.{API}.heads]]\nname = "api-types"'):
                      text.index(f'[[branches.{API}.heads]]\nname = "api-client"')]
    text = text.replace(spike_stack, "").replace(types_head, "")
    write_atomic(storage(repo) / "virtual_branches.toml", text.encode())
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.deleted", vb(API, "api-types", rev(repo, "api-types"), position=1)),
        ("vbranch.deleted", vb(SPIKE, "spike-cache", rev(repo, "spike-cache"), applied=False)),
    ]
    assert new_events(repo, last_seq(repo)) == []


def test_new_snapshots_reported_oldest_first_with_safe_trailers(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    start = last_seq(repo)
    head = oplog_head(repo)
    moved = snapshot(repo, head, "MoveCommit (2)\n\nVersion: 3\nOperation: MoveCommit")
    other = snapshot(repo, moved, "not a snapshot: no virtual_branches.toml", with_toml=False)
    created = snapshot(repo, other, "CreateCommit\n\nVersion: 3\nOperation: CreateCommit\n"
                                    f"message: fix the secret\\nsauce\nsha: {'c' * 40}\n"
                                    "error: failed for alice@example\n")
    garbled = snapshot(repo, created, "title\n\nbody line\n\nVersion: 3\nOperation: Not A Kind!\n"
                                      "branch: one\nbranch: two\nfile: src/a b.py\nVersion: 9")
    set_oplog_head(repo, garbled)
    logged = new_events(repo, start, types=OP)
    assert ops(logged) == [
        ("MoveCommit", {}),
        ("CreateCommit", {"sha": "c" * 40}),  # after free text only a commit id is trusted
        ("Unknown", {"branch": "one two", "file": "src/a b.py"}),
    ]
    assert [event.data["sha"] for event in logged] == [moved, created, garbled]
    assert "secret" not in json.dumps([event.data for event in logged])
    assert new_events(repo, last_seq(repo)) == []


def test_snapshot_message_parsing():
    assert parse_snapshot_message("CreateCommit") == ("Unknown", {})  # no trailer paragraph
    assert parse_snapshot_message("T\n\nVersion: 3\nname: x") == ("Unknown", {"name": "x"})
    assert parse_snapshot_message("T\n\nbody\n\nVersion: 3\nOperation: MoveHunk\nname: a\\nb\nprevious_name: c\n"
                                  "message: hi\nsecret: s") == ("MoveHunk", {"name": "a\nb", "previous_name": "c"})


def test_torn_files_are_retried_and_never_reported(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    start = last_seq(repo)
    toml = storage(repo) / "virtual_branches.toml"
    set_in_workspace(toml, EXPERIMENT, True)
    whole = toml.read_text()
    write_atomic(toml, whole[:whole.index("CommitId") + 14].encode())  # cut mid-line: not TOML
    assert new_events(repo, start) == []
    cut_after_header = whole[:whole.index(f"[branches.{EXPERIMENT}]\n") + len(f"[branches.{EXPERIMENT}]\n")]
    write_atomic(toml, cut_after_header.encode())  # valid TOML, but a stack without its id: cut short
    assert new_events(repo, start) == []
    head = oplog_head(repo)
    write_atomic(storage(repo) / "operations-log.toml", b'head_sha = "' + head[:7].encode())
    assert new_events(repo, start) == []

    write_atomic(toml, whole.encode())
    newer = snapshot(repo, head, "ApplyBranch\n\nVersion: 3\nOperation: ApplyBranch\nbranch: experiment")
    set_oplog_head(repo, newer)
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.applied", vb(EXPERIMENT, "experiment", rev(repo, "experiment")))]
    assert changes(new_events(repo, start, types=OP)) == [
        ("gitbutler.op", {"operation": "ApplyBranch", "sha": newer, "trailers": {"branch": "experiment"}})]
    assert len(new_events(repo, start)) == 2  # nothing else: the torn files left no trace


def test_unchanged_state_is_not_parsed_and_opens_nothing(tmp_path, monkeypatch):
    repo = build(tmp_path, "2026")
    common = repo / ".git"
    memory, seen = GitButlerMemory(), []

    def emit(event_type, payload, **_):
        seen.append(event_type)

    def roundtrip(memory):  # the scanner saves the memory as JSON between scans
        return msgspec.json.decode(msgspec.json.encode(memory), type=GitButlerMemory)

    gitbutler.observe(common, memory, emit, time.time_ns())
    assert seen.count("vbranch.created") == 3 and seen.count("gitbutler.op") == 6
    parsed = []
    monkeypatch.setattr(gitbutler_toml, "parse_virtual_branches", lambda data: parsed.append(data))
    monkeypatch.setattr(gitbutler_toml, "parse_oplog_head", lambda data: parsed.append(data))
    monkeypatch.setattr(pygit2, "Repository", _forbidden)
    monkeypatch.setattr(pygit2, "Config", _forbidden)
    seen.clear()
    memory = roundtrip(memory)
    gitbutler.observe(common, memory, emit, time.time_ns())
    assert seen == [] and parsed == []

    monkeypatch.undo()  # a moved branch needs its commits counted, still without parsing the TOML
    monkeypatch.setattr(gitbutler_toml, "parse_virtual_branches", lambda data: parsed.append(data))
    commit_on(repo, "feature-base")
    gitbutler.observe(common, roundtrip(memory), emit, time.time_ns())
    assert seen == ["vbranch.updated"] and parsed == []


def _forbidden(*args, **kwargs):
    raise AssertionError("opened on a scan where nothing changed")


def test_repository_without_gitbutler_costs_no_open(repo, monkeypatch):
    memory, seen = GitButlerMemory(), []
    gitbutler.observe(repo / ".git", memory, lambda *a, **k: seen.append(a), 0)
    monkeypatch.setattr(pygit2, "Repository", _forbidden)
    monkeypatch.setattr(pygit2, "Config", _forbidden)
    monkeypatch.setattr(subprocess, "run", _forbidden)
    gitbutler.observe(repo / ".git", memory, lambda *a, **k: seen.append(a), 0)
    assert seen == [] and memory.stacks is None


def test_watched_repository_without_gitbutler_has_no_gitbutler_events(watched):
    assert [event for event in new_events(watched) if event.src == "gitbutler"] == []


def test_storage_moved_by_git_config(tmp_path):
    repo = build(tmp_path, "2026")
    common = repo / ".git"
    (common / "gitbutler").rename(common / "gitbutler-alt")
    git(repo, "config", "gitbutler.storagePath", "gitbutler-alt")  # relative: inside the git dir
    install(locate(repo))
    assert len(new_events(repo, types=VB_TYPES)) == 3

    # Outside the git dir GitButler uses one subdirectory per project, named after the git dir.
    outside = tmp_path / "store"
    handle = base64.urlsafe_b64encode(os.fsencode(os.path.realpath(common))).rstrip(b"=").decode()
    outside.mkdir()
    (common / "gitbutler-alt").rename(outside / handle)
    git(repo, "config", "gitbutler.storagePath", str(outside))
    start = last_seq(repo)
    toml = outside / handle / "virtual_branches.toml"
    set_in_workspace(toml, EXPERIMENT, True)
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.applied", vb(EXPERIMENT, "experiment", rev(repo, "experiment")))]


# -- GitButler's own commits are not the user's ------------------------------------------------------


def test_workspace_and_snapshot_commits_are_not_user_commits(tmp_path):
    repo = watched_fixture(tmp_path, "2025")
    user = {rev(repo, name) for name in ("main", "main~1", "api-types", "api-client", "docs-tweak", "spike-cache")}
    assert {event.data["sha"] for event in new_events(repo, types=("commit.created",))} == user
    workspace = rev(repo, "gitbutler/workspace")
    assert workspace in {event.data.get("to_sha") for event in new_events(repo, types=("ref.update",))}

    start = last_seq(repo)
    snapshot_sha = oplog_head(repo)  # a branch line saying "commit:" whose HEAD twin was missed
    git(repo, "update-ref", "-m", "commit: snapshot", "refs/heads/scratch", snapshot_sha)
    assert new_events(repo, start, types=("commit.created",)) == []
    assert [event.data["to_sha"] for event in new_events(repo, start, types=("ref.update",))] == [snapshot_sha]

    enricher = Enricher(repo / ".git")
    assert enricher.commit(workspace).synthetic and enricher.commit(snapshot_sha).synthetic
    assert not enricher.commit(rev(repo, "api-client")).synthetic


def test_integration_commit_of_2024_is_not_a_user_commit(tmp_path):
    repo = watched_fixture(tmp_path, "2024")
    integration = rev(repo, "gitbutler/integration")
    assert [event.data["sha"] for event in new_events(repo, types=("commit.created",))] == [rev(repo, "main")]
    assert Enricher(repo / ".git").commit(integration).synthetic


# -- the formats, parsed directly --------------------------------------------------------------------

SHA_A, SHA_B = "a" * 40, "b" * 40


def test_parse_early_stacking_format_with_target_and_change_id():
    """0.13.0-0.13.13: `target` instead of `head`, and ChangeId (no commit); `applied` beside in_workspace."""
    document = f"""
[branches.s1]
id = "s1"
name = "Lane 1"
applied = true
in_workspace = false
order = 3
[[branches.s1.heads]]
name = "first"
[branches.s1.heads.target]
CommitId = "{SHA_A}"
[[branches.s1.heads]]
name = "second"
[branches.s1.heads.target]
ChangeId = "8a1b2c"
[branches.lane]
id = "lane"
name = "old lane"
head = "{SHA_B.upper()}"
[branches.fresh]
id = "fresh"
name = ""
head = "0000000000000000000000000000000000000000"
"""
    assert parse_virtual_branches(document.encode()) == {
        "s1": Stack(order=3, applied=False, branches=[Branch("first", SHA_A), Branch("second", "")]),
        "lane": Stack(lane=True, branches=[Branch("old lane", SHA_B)]),
    }


def test_parse_rejects_cut_files():
    with pytest.raises(PartialFile):
        parse_virtual_branches(b'[branches.s1]\nname = "x"\n')  # no id: the file was cut after the header
    with pytest.raises(PartialFile):
        parse_virtual_branches(b'[branches.s1]\nid = "s1"\n[[branches.s1.heads]]\narchived = false\n')
    with pytest.raises(ValueError):
        parse_virtual_branches(b'[branches.s1]\nid = "s1')
    assert parse_virtual_branches(b"[branches]\n") == {}


# -- issue 21: GitButler's real states, its upgrades, and but.sqlite ---------------------------------

FIX, SPIKE_LANE = "1a2b3c4d-0000-4000-8000-000000000001", "1a2b3c4d-0000-4000-8000-000000000002"
NEW_TYPES = VB_TYPES + ("vbranch.moved", "vbranch.archived", "vbranch.review", "vbranch.files")


def upgrade(repo: Path, stage: str) -> None:
    """Take the repository of fixtures/repos/gitbutler-upgrade.sh to `stage` (0.11, 0.12, 0.13, sqlite)."""
    subprocess.run(["sh", str(FIXTURES / "gitbutler-upgrade.sh"), str(repo), stage], check=True,
                   capture_output=True)


def upgraded(tmp_path: Path, *stages: str) -> Path:
    repo = tmp_path / "up"
    for stage in stages:
        upgrade(repo, stage)
    install(locate(repo))
    return repo


def tips(repo: Path) -> tuple[str, str]:
    fix, spike = (repo / ".git" / "upgrade-tips").read_text().split()
    return fix, spike


def test_upgrade_path_0_11_to_0_12_to_0_13_to_sqlite_reports_only_what_changed(tmp_path):
    repo = upgraded(tmp_path, "0.11")
    fix, spike = tips(repo)
    assert changes(new_events(repo, types=NEW_TYPES)) == [
        ("vbranch.created", vb(FIX, "fix: tabs", fix)),
        ("vbranch.created", vb(SPIKE_LANE, "spike", spike, applied=False)),
    ]
    assert ops(new_events(repo, types=OP)) == [("UnapplyBranch", {"name": "spike"})]

    start = last_seq(repo)
    upgrade(repo, "0.12")  # defect 1: `applied = false` beside the default `in_workspace = true`
    assert new_events(repo, start, types=NEW_TYPES) == []
    logged = new_events(repo, start, types=OP)  # defect 7: 0.11.8's unescaped commit message
    assert ops(logged) == [("CreateCommit", {"sha": fix})]
    assert "hunter2" not in json.dumps([event.data for event in new_events(repo)])
    assert "the-secret-plan" not in json.dumps([event.data for event in new_events(repo)])

    start = last_seq(repo)
    upgrade(repo, "0.13")  # defect 3: lanes become stacks whose heads GitButler named (one by a ChangeId)
    assert new_events(repo, start, types=NEW_TYPES) == []

    start = last_seq(repo)
    upgrade(repo, "sqlite")  # read from but.sqlite now: the same stacks, and what only the database knows
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [
        ("vbranch.files", {"stack": FIX, "owned_files": 2, "files": [["NOTES.md", 0, 0], ["table.txt", 0, 0]]})]
    assert new_events(repo, last_seq(repo)) == []

    start = last_seq(repo)
    new = commit_on(repo, "fix-tabs")  # the tip still moves the same way, seen from the ref
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [("vbranch.updated", msgspec.to_builtins(
        VBranchUpdated(stack=FIX, branch="fix-tabs", from_sha=fix, to_sha=new, commits=1)))]


def sql(repo: Path, *statements: str) -> None:
    import sqlite3

    connection = sqlite3.connect(storage(repo) / "but.sqlite", isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        for statement in statements:
            connection.execute(statement)
        connection.execute("COMMIT")
    finally:
        connection.close()


def test_sqlite_is_preferred_while_it_is_as_new_as_the_toml(tmp_path):
    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    _, spike = tips(repo)
    start = last_seq(repo)
    sql(repo, f"UPDATE vb_stacks SET in_workspace = 1 WHERE id = '{SPIKE_LANE}'",
        f"UPDATE vb_stack_heads SET pr_number = 12 WHERE stack_id = '{FIX}'",
        "DELETE FROM hunk_assignments WHERE path = 'NOTES.md'")  # the TOML untouched: GitButler's mirror
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [
        ("vbranch.review", {"stack": FIX, "branch": "fix-tabs", "number": 12}),
        ("vbranch.files", {"stack": FIX, "owned_files": 1, "files": [["table.txt", 0, 0]]}),
        ("vbranch.applied", vb(SPIKE_LANE, "spike-1", spike)),
    ]
    start = last_seq(repo)
    sql(repo, f"INSERT INTO hunk_assignments(hunk_header, path, path_bytes, stack_id) VALUES "
              f"('@@ -1,0 +1,2 @@', 'NOTES.md', CAST('NOTES.md' AS BLOB), '{FIX}')")
    sql(repo, f"UPDATE vb_stacks SET in_workspace = 1 WHERE id = '{SPIKE_LANE}'")  # a write that changes nothing
    [files] = new_events(repo, start, types=NEW_TYPES)  # back to 2: a new event, not taken for the first one
    assert (files.type, files.data) == ("vbranch.files", {"stack": FIX, "owned_files": 2,
                                                          "files": [["NOTES.md", 0, 0], ["table.txt", 0, 0]]})
    start = last_seq(repo)  # as many files as before, other ones: a new event
    sql(repo, "UPDATE hunk_assignments SET path = 'src/new.py', path_bytes = CAST('src/new.py' AS BLOB) "
              "WHERE path = 'NOTES.md'")
    [files] = new_events(repo, start, types=NEW_TYPES)
    assert files.data == {"stack": FIX, "owned_files": 2, "files": [["src/new.py", 0, 0], ["table.txt", 0, 0]]}
    # A TOML edited after GitButler last synced it is what GitButler imports next: it wins until then.
    start = last_seq(repo)
    set_in_workspace(storage(repo) / "virtual_branches.toml", SPIKE_LANE, True)
    set_in_workspace(storage(repo) / "virtual_branches.toml", FIX, False)
    [unapplied] = new_events(repo, start, types=NEW_TYPES)
    assert (unapplied.type, unapplied.data["stack"]) == ("vbranch.unapplied", FIX)


def test_lane_files_keep_no_hunk_and_follow_path_privacy(tmp_path):
    """vbranch.files names a lane's files, never their hunk ranges; capture.paths=false hashes the names as
    every files list (and a name not in UTF-8 is recorded as names are)."""
    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    gitobs("config", "set", "capture.paths", "false", cwd=repo)
    start = last_seq(repo)
    sql(repo, "UPDATE hunk_assignments SET path_bytes = X'6e6f7465e92e6d64' WHERE path = 'NOTES.md'",
        f"INSERT INTO hunk_assignments(hunk_header, path, path_bytes, stack_id) VALUES "
        f"('@@ -9,0 +9,1 @@', 'secret-plan.md', CAST('secret-plan.md' AS BLOB), '{FIX}')")
    [files] = new_events(repo, start, types=("vbranch.files",))
    assert files.data["owned_files"] == 3 and len(files.data["files"]) == 3
    everything = msgspec.json.encode(new_events(repo)).decode()  # whole events, envelopes too
    for private in ("secret-plan", "table.txt", "note", "@@"):
        assert private not in everything
    gitobs("config", "unset", "capture.paths", cwd=repo)
    start = last_seq(repo)
    sql(repo, "DELETE FROM hunk_assignments WHERE path = 'table.txt'")
    [files] = new_events(repo, start, types=("vbranch.files",))
    assert files.data["files"] == [["note\\xe9.md", 0, 0], ["secret-plan.md", 0, 0]]


def test_vbranches_section_lists_each_lanes_files(tmp_path):
    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    assert changes(new_events(repo, types=("vbranch.files",))) == [  # the first look: a stack's files too
        ("vbranch.files", {"stack": FIX, "owned_files": 2, "files": [["NOTES.md", 0, 0], ["table.txt", 0, 0]]})]
    sql(repo, f"UPDATE hunk_assignments SET stack_id = '{SPIKE_LANE}' WHERE path = 'NOTES.md'")
    last_seq(repo)
    done = json.loads(gitobs("report", "--vbranches", "--since", "3650d", "--format", "json", cwd=repo).stdout)
    [section] = [s for s in done["sections"] if s["name"] == "vbranches"]
    [table] = [b for b in section["blocks"] if b["id"] == "lane_files"]
    assert table["columns"] == ["stack", "branches", "file"]
    assert sorted(table["rows"]) == [[FIX[:8], "fix-tabs", "table.txt"], [SPIKE_LANE[:8], "spike-1", "NOTES.md"]]


def test_sqlite_being_written_during_a_scan(tmp_path):
    import sqlite3

    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    fix, _ = tips(repo)
    start = last_seq(repo)
    writer = sqlite3.connect(storage(repo) / "but.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # GitButler mid-write: a write lock held, rows not yet committed
    writer.execute("INSERT INTO vb_stacks(id, sort_order, in_workspace) VALUES ('s3', 2, 1)")
    writer.execute("INSERT INTO vb_stack_heads(stack_id, position, name, head_sha) "
                   f"VALUES ('s3', 0, 'b3', '{fix}')")
    began = time.perf_counter()
    assert new_events(repo, start, types=NEW_TYPES) == []  # the last committed state: nothing new
    assert time.perf_counter() - began < 5
    writer.execute("COMMIT")  # gitobs held no lock: GitButler's commit goes through
    writer.execute("INSERT INTO vb_stack_heads(stack_id, position, name, head_sha) VALUES ('s3', 1, 'b4', "
                   f"'{fix}')")  # autocommit, into the WAL
    writer.close()
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [
        ("vbranch.created", vb("s3", "b3", fix)), ("vbranch.created", vb("s3", "b4", fix, position=1))]
    assert not (storage(repo) / "but.sqlite-journal").exists()


def test_branch_replaced_at_the_same_position_is_not_a_rename(tmp_path):
    """Defect 2: a branch deleted and another created in its place keep neither name nor tip."""
    repo = watched_fixture(tmp_path, "2025")
    start = last_seq(repo)
    docs = rev(repo, "docs-tweak")
    git(repo, "branch", "docs-other", "main")
    edit_toml(repo, 'name = "docs-tweak"\narchived', 'name = "docs-other"\narchived')
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [
        ("vbranch.deleted", vb(DOCS, "docs-tweak", docs)),
        ("vbranch.created", vb(DOCS, "docs-other", rev(repo, "main"))),
    ]
    # A rename with a commit on top between two scans: the reflog says it was renamed.
    start = last_seq(repo)
    git(repo, "branch", "-m", "docs-other", "docs-final")
    new = commit_on(repo, "docs-final")
    edit_toml(repo, 'name = "docs-other"', 'name = "docs-final"')
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [
        ("vbranch.renamed", msgspec.to_builtins(VBranchRenamed(stack=DOCS, from_="docs-other", to="docs-final"))),
        ("vbranch.updated", msgspec.to_builtins(VBranchUpdated(stack=DOCS, branch="docs-final",
                                                               from_sha=rev(repo, "main"), to_sha=new,
                                                               commits=1))),
    ]


def test_branch_shared_by_two_stacks_is_updated_once(tmp_path):
    """Defect 4: GitButler lists a shared segment in several stacks; one ref move is one update."""
    repo = build(tmp_path, "2026")
    base = rev(repo, "feature-base")
    edit_toml(repo, f'[[branches.{EXPERIMENT}.heads]]', f'[[branches.{EXPERIMENT}.heads]]\nname = "feature-base"\n'
              f'archived = false\n[branches.{EXPERIMENT}.heads.head]\nCommitId = "{base}"\n\n'
              f'[[branches.{EXPERIMENT}.heads]]')
    install(locate(repo))
    start = last_seq(repo)
    new = commit_on(repo, "feature-base", count=2)
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [("vbranch.updated", msgspec.to_builtins(
        VBranchUpdated(stack=FEATURE, branch="feature-base", from_sha=base, to_sha=new, commits=2)))]


def test_state_in_a_linked_worktree_git_dir(tmp_path):
    """Defect 5: `but` run in a linked worktree keeps its state under that worktree's git dir."""
    repo = build(tmp_path, "2026")
    git(repo, "worktree", "add", "-q", str(tmp_path / "side"), "-b", "side", "main")
    private = repo / ".git" / "worktrees" / "side" / "gitbutler"
    private.mkdir()
    side = rev(repo, "side")
    (private / "virtual_branches.toml").write_text(
        f'[branches.w1]\nid = "w1"\norder = 0\nin_workspace = true\n\n[[branches.w1.heads]]\nname = "side"\n'
        f'[branches.w1.heads.head]\nCommitId = "{side}"\n')
    install(locate(repo))
    found = [event for event in new_events(repo, types=NEW_TYPES) if event.wt == "side"]
    assert changes(found) == [("vbranch.created", vb("w1", "side", side))]
    start = last_seq(repo)
    new = commit_on(repo, "side")
    [updated] = new_events(repo, start, types=NEW_TYPES)
    assert (updated.type, updated.wt, updated.data["to_sha"]) == ("vbranch.updated", "side", new)


def test_storage_path_set_through_include_if(tmp_path):
    """Defect 6: git resolves includes and includeIf; so does gitobs, and it notices the included file change."""
    repo = build(tmp_path, "2026")
    common = repo / ".git"
    (common / "gitbutler").rename(common / "gitbutler-inc")
    included = tmp_path / "gitbutler.inc"
    included.write_text("[gitbutler]\n\tstoragePath = gitbutler-elsewhere\n")
    git(repo, "config", f"includeIf.gitdir:{os.path.realpath(common)}.path", str(included))
    (common / "gitbutler-inc").rename(common / "gitbutler-elsewhere")
    install(locate(repo))
    assert len(new_events(repo, types=VB_TYPES)) == 3
    start = last_seq(repo)
    (common / "gitbutler-elsewhere").rename(common / "gitbutler-inc")
    included.write_text("[gitbutler]\n\tstoragePath = gitbutler-inc\n")
    set_in_workspace(common / "gitbutler-inc" / "virtual_branches.toml", EXPERIMENT, True)
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.applied", vb(EXPERIMENT, "experiment", rev(repo, "experiment")))]


def test_unescaped_message_of_0_11_8_keeps_no_text():
    """Defect 7: only a paragraph starting with Version is trailers; after free text, only a commit id."""
    body = "Fix it\n\nVersion: 1\nOperation: CreateCommit\nmessage: Fix it\n\nname: x\nbefore: password=1\n"
    assert parse_snapshot_message(body) == ("CreateCommit", {})
    assert parse_snapshot_message(body + f"sha: {'e' * 40}") == ("CreateCommit", {"sha": "e" * 40})
    one_paragraph = f"T\n\nVersion: 1\nOperation: CreateCommit\nmessage: a\nbefore: password=1\nsha: {'d' * 40}"
    assert parse_snapshot_message(one_paragraph) == ("CreateCommit", {"sha": "d" * 40})
    note = "OnDemandSnapshot\n\nname: my own note\n\nVersion: 3\nOperation: OnDemandSnapshot"
    assert parse_snapshot_message(note) == ("OnDemandSnapshot", {})


def test_empty_or_tableless_toml_is_a_partial_write(tmp_path):
    """Defect 8: GitButler rejects and rewrites these; they are not "every stack deleted"."""
    repo = watched_fixture(tmp_path, "2025")
    start = last_seq(repo)
    toml = storage(repo) / "virtual_branches.toml"
    whole = toml.read_bytes()
    for broken in (b"", b"\n", b"branches = 1\n", b'last_pushed_base = "x"\n'):
        write_atomic(toml, broken)
        assert new_events(repo, start) == []
    write_atomic(toml, whole)
    assert new_events(repo, start) == []
    with pytest.raises(PartialFile):
        parse_virtual_branches(b"")
    assert parse_virtual_branches(b"[branches]\n") == {}


def test_names_lose_nul_bytes_and_are_capped():
    long = "x" * 5000
    stacks = parse_virtual_branches(
        f'[branches.s]\nid = "s"\n[[branches.s.heads]]\nname = "a\\u0000b"\n[[branches.s.heads]]\n'
        f'name = "{long}"\n'.encode())
    assert [branch.name for branch in stacks["s"].branches] == ["ab", "x" * gitbutler_toml.MAX_NAME]


# -- the events GitButler's users asked for ----------------------------------------------------------


def new_stack(stack: str, order: int, name: str, sha: str, extra: str = "") -> str:
    """A stack table in the current format with one branch."""
    return (f'\n[branches.{stack}]\nid = "{stack}"\norder = {order}\nin_workspace = true\nname = ""\n'
            f'\n[[branches.{stack}.heads]]\nname = "{name}"\n{extra}archived = false\n'
            f'[branches.{stack}.heads.head]\nCommitId = "{sha}"\n')


def test_branch_torn_off_into_a_new_stack_and_moved_back(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    start = last_seq(repo)
    top = rev(repo, "feature-top")
    toml = storage(repo) / "virtual_branches.toml"
    text = toml.read_text()
    head = text.index(f'[[branches.{FEATURE}.heads]]\nname = "feature-top"')
    own = text[head:text.index(f"[branches.{EXPERIMENT}]")]
    write_atomic(toml, (text.replace(own, "") + new_stack("torn", 3, "feature-top", top, "pr_number = 7\n")).encode())
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [("vbranch.moved", {
        "branch": "feature-top", "from_stack": FEATURE, "to_stack": "torn", "tip": top})]
    start = last_seq(repo)
    write_atomic(toml, text.encode())  # and back on top of feature-base: the torn-off stack is gone
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [("vbranch.moved", {
        "branch": "feature-top", "from_stack": "torn", "to_stack": FEATURE, "position": 1, "tip": top})]


def test_replay_into_rebuilds_a_branch_where_it_moved(tmp_path):
    """share/rebuild.py follows vbranch.moved: the torn-off branch is in its new stack in the rebuilt TOML."""
    repo = watched_fixture(tmp_path, "2026")
    start = last_seq(repo)
    top = rev(repo, "feature-top")
    toml = storage(repo) / "virtual_branches.toml"
    text = toml.read_text()
    head = text.index(f'[[branches.{FEATURE}.heads]]\nname = "feature-top"')
    own = text[head:text.index(f"[branches.{EXPERIMENT}]")]
    write_atomic(toml, (text.replace(own, "") + new_stack("torn", 3, "feature-top", top)).encode())
    assert [e.type for e in new_events(repo, start, types=NEW_TYPES)] == ["vbranch.moved"]
    bundle, scratch = tmp_path / "bug.zip", tmp_path / "scratch"
    gitobs("bundle", "-o", str(bundle), "--no-redact", cwd=repo)
    gitobs("replay", str(bundle), "--into", str(scratch), cwd=tmp_path)
    install(locate(scratch))

    def lanes(where: Path) -> set[tuple[str, str]]:
        """(stack, branch) of every branch GitButler's state holds now."""
        stacks = gitbutler_toml.parse_virtual_branches((storage(where) / "virtual_branches.toml").read_bytes())
        return {(stack_id, branch.name) for stack_id, stack in stacks.items() for branch in stack.branches}

    assert ("torn", "feature-top") in lanes(scratch) and (FEATURE, "feature-top") not in lanes(scratch)
    assert lanes(scratch) == lanes(repo)
    assert [e.data["stack"] for e in new_events(scratch, types=("vbranch.created",))
            if e.data["branch"] == "feature-top"] == ["torn"]


def test_archived_with_its_lifetime_and_review_opened(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    toml = storage(repo) / "virtual_branches.toml"
    start = last_seq(repo)
    git(repo, "branch", "fresh", "main")
    write_atomic(toml, (toml.read_text() + new_stack("s4", 4, "fresh", rev(repo, "main"))).encode())
    [created] = new_events(repo, start, types=NEW_TYPES)
    start = last_seq(repo)
    edit_toml(repo, 'name = "fresh"\narchived = false', 'name = "fresh"\npr_number = 31\narchived = false')
    [review] = new_events(repo, start, types=NEW_TYPES)
    assert review.type == "vbranch.review" and review.data["number"] == 31
    assert review.data["after_s"] == pytest.approx(parse_ts(review.ts) - parse_ts(created.ts), abs=0.01)
    start = last_seq(repo)
    edit_toml(repo, 'pr_number = 31\narchived = false', 'pr_number = 31\narchived = true')
    edit_toml(repo, 'name = "feature-base"\narchived = false', 'name = "feature-base"\narchived = true')
    archived = new_events(repo, start, types=NEW_TYPES)
    assert [(event.type, event.data["branch"], event.data.get("lifetime_s") is not None) for event in archived] == [
        ("vbranch.archived", "feature-base", False),  # it predates gitobs: no lifetime
        ("vbranch.archived", "fresh", True)]
    assert archived[1].data["lifetime_s"] == pytest.approx(parse_ts(archived[1].ts) - parse_ts(created.ts),
                                                           abs=0.01)
    everything = json.dumps([event.data for event in new_events(repo)])
    assert "title" not in everything


def conflicted_commit(repo: Path, parent: str) -> str:
    """A commit as GitButler writes one that carries a conflict: the gitbutler-conflicted header."""
    tree = rev(repo, f"{parent}^{{tree}}")
    raw = (f"tree {tree}\nparent {parent}\nauthor Demo Developer <dev@example.invalid> 1786400000 +0000\n"
           f"committer Demo Developer <dev@example.invalid> 1786400000 +0000\ngitbutler-headers-version 2\n"
           f"gitbutler-conflicted 1\n\nRebased onto the new base\n")
    return git(repo, "hash-object", "-t", "commit", "-w", "--stdin", input=raw).stdout.strip()


def test_unapplied_by_the_user_or_by_gitbutler_on_a_conflict(tmp_path):
    repo = watched_fixture(tmp_path, "2026")
    toml = storage(repo) / "virtual_branches.toml"
    start = last_seq(repo)
    set_oplog_head(repo, snapshot(repo, oplog_head(repo), "UnapplyBranch\n\nVersion: 3\nOperation: UnapplyBranch\n"
                                                          "branch: feature-base\nbranch: feature-top"))
    set_in_workspace(toml, FEATURE, False)
    [unapplied] = new_events(repo, start, types=NEW_TYPES)
    assert unapplied.data["by"] == "user"

    start = last_seq(repo)
    set_in_workspace(toml, FEATURE, True)
    new_events(repo, start)
    start = last_seq(repo)
    top = rev(repo, "feature-top")
    conflicted = conflicted_commit(repo, top)
    git(repo, "update-ref", "refs/heads/feature-top", conflicted)
    other = snapshot(repo, oplog_head(repo), "UnapplyBranch\n\nVersion: 3\nOperation: UnapplyBranch\n"
                                             "branch: experiment")  # another stack's: not this one's cause
    set_oplog_head(repo, snapshot(repo, other, "UpdateWorkspaceBase\n\nVersion: 3\nOperation: UpdateWorkspaceBase"))
    set_in_workspace(toml, FEATURE, False)
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [
        ("vbranch.updated", msgspec.to_builtins(VBranchUpdated(stack=FEATURE, branch="feature-top", from_sha=top,
                                                               to_sha=conflicted, commits=1, conflicted=1))),
        ("vbranch.unapplied", {**vb(FEATURE, "feature-top", conflicted, 1, False), "by": "conflict"}),
    ]


def test_ci_state_counted_from_sqlite_never_its_text(tmp_path):
    repo = upgraded(tmp_path, "0.11", "0.12", "0.13", "sqlite")
    start = last_seq(repo)
    sql(repo, "CREATE TABLE ci_checks(id BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
              "output_summary TEXT NOT NULL, status_type TEXT NOT NULL, status_conclusion TEXT, "
              "head_sha TEXT NOT NULL, reference TEXT NOT NULL)",
        "CREATE TABLE forge_reviews(number BIGINT NOT NULL PRIMARY KEY, title TEXT NOT NULL, "
        "source_branch TEXT NOT NULL, closed_at TIMESTAMP)",
        "INSERT INTO forge_reviews VALUES (44, 'Secret launch plan', 'fix-tabs', NULL)",
        "INSERT INTO ci_checks VALUES (1, 'lint', 'token leaked', 'Queued', NULL, 'x', 'fix-tabs'), "
        "(2, 'test', '', 'InProgress', NULL, 'x', 'fix-tabs')")
    assert changes(new_events(repo, start, types=NEW_TYPES + ("vbranch.ci",))) == [
        ("vbranch.review", {"stack": FIX, "branch": "fix-tabs", "number": 44}),
        ("vbranch.ci", {"stack": FIX, "branch": "fix-tabs", "pending": 2})]
    start = last_seq(repo)
    sql(repo, "UPDATE ci_checks SET status_type = 'Complete', status_conclusion = 'Success' WHERE id = 1",
        "UPDATE ci_checks SET status_type = 'Complete', status_conclusion = 'Failure' WHERE id = 2")
    assert changes(new_events(repo, start, types=("vbranch.ci",))) == [
        ("vbranch.ci", {"stack": FIX, "branch": "fix-tabs", "passed": 1, "failed": 1})]
    # The TOML edited by hand is read until GitButler syncs it again: what only the database knows stands.
    start = last_seq(repo)
    toml = storage(repo) / "virtual_branches.toml"
    write_atomic(toml, toml.read_bytes())
    assert new_events(repo, start, types=NEW_TYPES + ("vbranch.ci",)) == []
    sql(repo, f"UPDATE vb_state SET toml_last_seen_mtime_ns = {toml.stat().st_mtime_ns}")
    assert new_events(repo, start, types=NEW_TYPES + ("vbranch.ci",)) == []
    everything = json.dumps([event.data for event in new_events(repo)])
    for private in ("Secret", "lint", "token"):
        assert private not in everything


def test_applied_false_beside_in_workspace_true_is_out_of_the_workspace():
    """Defect 1: 0.12.8-0.12.24 kept `applied = false` of a lane unapplied before the upgrade."""
    def applied(flags: str) -> bool:
        [stack] = parse_virtual_branches(f'[branches.s]\nid = "s"\nname = "lane"\n{flags}'.encode()).values()
        return stack.applied

    assert not applied("applied = false\nin_workspace = true\n")
    assert not applied("applied = true\nin_workspace = false\n")
    assert applied("applied = true\nin_workspace = true\n")
    assert not applied("applied = false\n") and not applied("in_workspace = false\n") and applied("")


def test_sqlite_read_while_gitbutler_commits_and_checkpoints(tmp_path):
    """A writer with no patience at all (busy timeout 0) commits and checkpoints while scans read: it is
    never refused a lock, every read sees a committed state, and the last one sees the last commit."""
    import sqlite3
    import threading

    repo = tmp_path / "up"
    for stage in ("0.11", "0.12", "0.13", "sqlite"):
        upgrade(repo, stage)
    common = repo / ".git"
    memory, seen, errors = GitButlerMemory(), [], []
    gitbutler.observe(common, memory, lambda *a, **k: None, time.time_ns())
    done = threading.Event()

    def write() -> None:
        writer = sqlite3.connect(storage(repo) / "but.sqlite", timeout=0, isolation_level=None)
        writer.execute("PRAGMA wal_autocheckpoint = 2")  # checkpoints all the time, as a busy GitButler's do
        try:
            for number in range(1, 201):
                writer.execute(f"UPDATE vb_stack_heads SET pr_number = {number} WHERE stack_id = '{FIX}'")
        except sqlite3.Error as error:
            errors.append(error)
        finally:
            writer.close()
            done.set()

    def emit(event_type, payload, **_):
        if event_type == "vbranch.review":
            seen.append(payload.number)

    thread = threading.Thread(target=write)
    thread.start()
    while not done.is_set():
        gitbutler.observe(common, memory, emit, time.time_ns())
    thread.join()
    gitbutler.observe(common, memory, emit, time.time_ns())
    assert errors == []
    assert seen == sorted(seen) and seen[-1] == 200


def test_unreadable_or_foreign_database_falls_back_to_the_toml(tmp_path):
    import sqlite3

    repo = build(tmp_path, "2026")
    db = storage(repo) / "but.sqlite"
    db.write_bytes(b"not a database at all" * 100)
    install(locate(repo))
    assert len(new_events(repo, types=VB_TYPES)) == 3  # the TOML's stacks
    start = last_seq(repo)
    db.unlink()
    connection = sqlite3.connect(db)  # 0.14.27-0.19.3: a database without the mirror tables
    connection.execute("CREATE TABLE hunk_assignments(path TEXT)")
    connection.execute("CREATE TABLE vb_state(id INTEGER, initialized TEXT)")  # a foreign shape
    connection.commit()
    connection.close()
    set_in_workspace(storage(repo) / "virtual_branches.toml", EXPERIMENT, True)
    assert changes(new_events(repo, start, types=VB_TYPES)) == [
        ("vbranch.applied", vb(EXPERIMENT, "experiment", rev(repo, "experiment")))]


def test_upgrade_fixture_makes_the_same_state_every_run(tmp_path):
    first, second = upgraded(tmp_path / "a", "0.11", "0.12", "0.13", "sqlite"), tmp_path / "b" / "up"
    for stage in ("0.11", "0.12", "0.13", "sqlite"):
        upgrade(second, stage)
    assert git(first, "for-each-ref").stdout == git(second, "for-each-ref").stdout
    assert oplog_head(first) == oplog_head(second)
    for repo in (first, second):  # the TOML's mtime as the database recorded it: the database is current
        assert (storage(repo) / "virtual_branches.toml").stat().st_mtime_ns == 1_772_000_000 * 10**9


def test_unchanged_database_is_not_opened(tmp_path, monkeypatch):
    repo = tmp_path / "up"
    for stage in ("0.11", "0.12", "0.13", "sqlite"):
        upgrade(repo, stage)
    memory, seen = GitButlerMemory(), []
    gitbutler.observe(repo / ".git", memory, lambda *a, **k: seen.append(a[0]), time.time_ns())
    assert seen.count("vbranch.created") == 2
    monkeypatch.setattr(gitbutler.gitbutler_db, "read", _forbidden)
    monkeypatch.setattr(pygit2, "Repository", _forbidden)
    seen.clear()
    gitbutler.observe(repo / ".git", memory, lambda *a, **k: seen.append(a[0]), time.time_ns())
    assert seen == []


def test_lanes_turned_into_stacks_by_0_13_are_no_rename_and_no_move(tmp_path):
    """Defect 3: 0.13 named each lane's new head after the lane, normalised, one by a ChangeId."""
    repo = upgraded(tmp_path, "0.11", "0.12")
    fix, _ = tips(repo)
    new_events(repo)
    start = last_seq(repo)
    upgrade(repo, "0.13")
    assert [event for event in new_events(repo, start, types=NEW_TYPES)
            if event.type in ("vbranch.renamed", "vbranch.updated")] == []
    start = last_seq(repo)  # the branch goes on under its new name, from the lane's tip
    new = git(repo, "commit-tree", "-p", fix, "-m", "again", f"{fix}^{{tree}}").stdout.strip()
    edit_toml(repo, 'ChangeId = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"', f'CommitId = "{new}"')  # no refs yet
    assert changes(new_events(repo, start, types=NEW_TYPES)) == [("vbranch.updated", msgspec.to_builtins(
        VBranchUpdated(stack=FIX, branch="fix-tabs", from_sha=fix, to_sha=new, commits=1)))]
