"""The hesitation section (plugins/hesitation.py) with git's trace2: a `git commit --no-verify` runs neither
pre-commit nor commit-msg, so only its `git.command` tells its attempt and its editor time; a commit the
hooks saw is never counted twice."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest
from conftest import commit_file, git, trace2_enabled
from gitobs_plugins.hesitation import HesitationAnalyzer, HesitationState
from logfactory import LogBuilder, at, block, report

from gitobs.capture.install import install
from gitobs.core.repo import locate
from gitobs.log import schema as s
from gitobs.log.eventlog import EventLog
from gitobs.replay.analysis import Context
from gitobs.upkeep.scan import scan


def facts(found) -> dict:
    return {fact.label: fact.value for fact in found.items}


def commit(editor_s: float | None = None, **fields) -> s.GitCommand:
    return s.GitCommand(command="commit", duration_s=(editor_s or 0.0) + 0.1, editor_s=editor_s, **fields)


def bypass_log(tmp_path: Path) -> EventLog:
    log = LogBuilder(tmp_path / "log")
    # a commit the hooks saw: its attempt and message time are theirs; its command's editor_s adds nothing
    log.add("git.command", commit(12.0), "2026-11-20 10:00:00", src="trace2")
    log.add("commit.attempt", s.CommitAttempt(branch="main"), "2026-11-20 10:00:00")
    log.add("commit.message_edit", s.CommitMessageEdit(seconds=12.0, branch="main"), "2026-11-20 10:00:12")
    log.add("commit.created", s.CommitCreated(sha="a" * 40, branch="main"), "2026-11-20 10:00:12", src="reflog")
    # --no-verify: the hooks see only the reflog's commit; trace2 tells the attempt and the editor's 40 s
    log.add("git.command", commit(40.0, no_verify=True), "2026-11-20 11:00:00", src="trace2")
    log.add("commit.created", s.CommitCreated(sha="b" * 40, branch="main"), "2026-11-20 11:00:40", src="reflog")
    # --no-verify -m: an attempt, no editor; an editor closed at once (--amend keeping the message): none
    log.add("git.command", commit(no_verify=True), "2026-11-20 12:00:00", src="trace2")
    log.add("commit.created", s.CommitCreated(sha="c" * 40, branch="main"), "2026-11-20 12:00:00", src="reflog")
    log.add("git.command", commit(0.05, no_verify=True), "2026-11-20 12:30:00", src="trace2")
    # --no-verify that failed after the editor (an empty message): its editor time, no attempt
    log.add("git.command", commit(7.0, no_verify=True, exit=1), "2026-11-20 13:00:00", src="trace2")
    # a hook's own git commit --no-verify is git's, not the user's; a push --no-verify is no commit
    log.add("git.command", commit(3.0, no_verify=True, nested=True), "2026-11-20 14:00:00", src="trace2")
    log.add("git.command", s.GitCommand(command="push", no_verify=True, editor_s=5.0), "2026-11-20 14:10:00",
            src="trace2")
    # with capture.all_hooks gitobs's prepare-commit-msg shim saw the --no-verify commit: the hooks count it
    log.add("git.command", commit(9.0, no_verify=True, hooks=[s.HookRun("prepare-commit-msg", 0.002, 0)]),
            "2026-11-20 15:00:00", src="trace2")
    log.add("commit.attempt", s.CommitAttempt(branch="main", verify=False), "2026-11-20 15:00:00")
    log.add("commit.message_edit", s.CommitMessageEdit(seconds=9.0, branch="main"), "2026-11-20 15:00:09")
    return log.write()


def test_no_verify_commits_count_their_attempts_and_editor_time_from_trace2(tmp_path):
    built = report(bypass_log(tmp_path), ["hesitation"])
    assert facts(block(built, "hesitation", "summary")) == {
        "attempts": 5, "commits": 3, "aborted": 0, "blocked": 0, "undone": 0, "amended": 0}
    assert facts(block(built, "hesitation", "from_trace2")) == {"attempts": 3, "message edits": 2}
    edits = block(built, "hesitation", "durations").rows[0]
    assert edits[:2] == ["message edit", 4] and edits[4] == 40.0  # 12, 9 (hooks), 40, 7 (trace2), none twice
    rows = {row[0]: row[1:] for row in block(built, "hesitation", "by_branch").rows}
    assert rows == {"main": [2, 3, 0, 0, 0, 0], "(not known)": [3, 0, 0, 0, 0, 0]}
    busy = {row[0]: row[1] for row in block(built, "hesitation", "by_hour").rows if row[1]}
    assert busy == {"10": 1, "11": 1, "12": 2, "15": 1}


def test_without_bypasses_the_section_has_no_trace2_block(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("git.command", commit(12.0), "2026-11-20 10:00:00", src="trace2")
    log.add("commit.attempt", s.CommitAttempt(branch="main"), "2026-11-20 10:00:00")
    built = report(log.write(), ["hesitation"])
    [section] = [found for found in built.sections if found.name == "hesitation"]
    assert [b.id for b in section.blocks] == ["summary", "durations", "stops", "by_branch", "by_hour"]


class Fed:
    """An event as replay hands it to an analyzer: type, ts, t, src and the typed payload."""

    def __init__(self, kind: str, payload: s.Payload, when: str, src: str = "trace2") -> None:
        self.type, self.data, self.src = kind, payload, src
        self.t = at(when) / 1e9
        self.ts = datetime.fromtimestamp(self.t, timezone.utc)


def blocks_of(analyzer: HesitationAnalyzer) -> bytes:
    return msgspec.json.encode(analyzer.result())


def test_two_parts_merged_and_a_kept_state_are_one_instance_fed_everything():
    day_one = [Fed("git.command", commit(30.0 + n, no_verify=True), f"2026-11-20 1{n}:00") for n in range(4)]
    day_one.append(Fed("commit.attempt", s.CommitAttempt(branch="main"), "2026-11-20 15:00", src="hook"))
    day_two = [Fed("git.command", commit(5.0, no_verify=True, exit=n % 2), f"2026-11-21 0{n}:00") for n in range(5)]
    context = Context(now=at("2026-11-30") / 1e9)
    whole = HesitationAnalyzer(context)
    whole.feed(day_one + day_two)
    first, later = HesitationAnalyzer(context), HesitationAnalyzer(context)
    first.feed(day_one)
    later.feed(day_two)
    first.merge(later)
    assert blocks_of(first) == blocks_of(whole)
    assert whole.from_trace2 == [4 + 3, 4 + 5]
    # the report cache: a state saved, encoded, loaded and fed on gives what one instance gives
    kept = HesitationAnalyzer(context)
    kept.feed(day_one)
    loaded = HesitationAnalyzer(context)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(kept.save_state()), type=HesitationState)
    loaded.load_state(state)
    loaded.feed(day_two)
    assert blocks_of(loaded) == blocks_of(whole)


# --- real git: hooks installed, trace2 on, the scan drains both into the log ---


@pytest.fixture
def traced(own_home, tmp_path, monkeypatch) -> Path:
    """A user with trace2 enabled (their own home and XDG homes); returns the slow editor to commit with."""
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(own_home / "gitobs-config"))
    trace2_enabled(own_home)
    editor = tmp_path / "slow-editor"  # a person writing the message: well past the 0.2 s that counts
    editor.write_text('#!/bin/sh\nsleep 0.5\necho "Written in the editor" > "$1"\n')
    editor.chmod(0o755)
    return editor


def watched_repo(path: Path) -> Path:
    git(path.parent, "init", "-q", str(path))
    commit_file(path, "README.md", "hello\n", "initial")
    install(locate(path))
    scan(locate(path).common_dir)
    return path


def hesitation_of(repo: Path):
    scan(locate(repo).common_dir)
    return report(EventLog(locate(repo).obs.log), ["hesitation"], now="2100-01-01")


def test_real_no_verify_commits_are_counted_once(traced, tmp_path):
    repo = watched_repo(tmp_path / "work")
    commit_file(repo, "a.txt", "a\n", "hooks see this one")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", GIT_EDITOR=str(traced))  # the hooks time its editor
    (repo / "c.txt").write_text("c\n")
    git(repo, "add", "c.txt")
    git(repo, "commit", "-q", "--no-verify", GIT_EDITOR=str(traced))  # only trace2 does
    (repo / "d.txt").write_text("d\n")
    git(repo, "add", "d.txt")
    git(repo, "commit", "-q", "-n", "-m", "past the hooks")
    git(repo, "commit", "-q", "--no-verify", "-m", "nothing staged", ok=False)  # fails: no attempt
    built = hesitation_of(repo)
    summary = facts(block(built, "hesitation", "summary"))
    assert (summary["attempts"], summary["commits"]) == (4, 5)  # the commits: README.md's from the reflog too
    assert facts(block(built, "hesitation", "from_trace2")) == {"attempts": 2, "message edits": 1}
    edits = block(built, "hesitation", "durations").rows[0]
    assert edits[1] == 2 and edits[4] >= 0.5  # the hooks' one and trace2's, each once


def test_with_every_hook_the_hooks_count_a_no_verify_commit_and_trace2_adds_nothing(traced, tmp_path):
    config = tmp_path / "user" / "gitobs-config"
    config.mkdir()
    (config / "config.toml").write_text("[capture]\nall_hooks = true\n")
    repo = watched_repo(tmp_path / "work")
    (repo / "c.txt").write_text("c\n")
    git(repo, "add", "c.txt")
    git(repo, "commit", "-q", "--no-verify", GIT_EDITOR=str(traced))  # prepare-commit-msg's shim sees it
    built = hesitation_of(repo)
    summary = facts(block(built, "hesitation", "summary"))
    assert (summary["attempts"], summary["commits"]) == (1, 2)  # README.md's commit: no attempt seen
    assert block(built, "hesitation", "durations").rows[0][1] == 1
    [section] = [found for found in built.sections if found.name == "hesitation"]
    assert "from_trace2" not in [b.id for b in section.blocks]
