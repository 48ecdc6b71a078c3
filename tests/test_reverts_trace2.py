"""The reverts section with git's trace2 on: a path checkout or a restore both the post-checkout hook and
trace2 saw is one discard, and one with the hooks bypassed (core.hooksPath elsewhere) is one too, from trace2
alone. Real git, real hooks, real trace2 files drained by the real scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import commit_file, git, trace2_enabled
from logfactory import block, report

from gitobs.capture.install import install
from gitobs.core.repo import locate
from gitobs.log.eventlog import EventLog
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan


@pytest.fixture
def traced(own_home) -> None:
    """A user of their own (home, XDG homes) with trace2 enabled."""
    trace2_enabled(own_home)


def discards_of(repo: Path) -> tuple[dict, list[tuple[str, str]]]:
    """The reverts summary, and each edit.discarded's (src, how) in the log."""
    scan(locate(repo).common_dir)
    found = [(e.src, e.data["how"]) for e in read_events(locate(repo).obs, lambda m: None)
             if e.type == "edit.discarded"]
    built = report(EventLog(locate(repo).obs.log), ["reverts"], now="2100-01-01")
    return {fact.label: fact.value for fact in block(built, "reverts", "summary").items}, found


def test_a_discard_the_hooks_and_trace2_both_saw_is_counted_once(traced, tmp_path):
    repo = tmp_path / "work"
    git(tmp_path, "init", "-q", str(repo))
    commit_file(repo, "a.txt", "one\n", "initial")
    commit_file(repo, "b.txt", "two\n", "second")
    install(locate(repo))
    scan(locate(repo).common_dir)
    (repo / "a.txt").write_text("one\nlost\n")
    git(repo, "checkout", "-q", "--", "a.txt")  # post-checkout runs (flag 0) and trace2 records it
    summary, found = discards_of(repo)
    assert summary["discards"] == 1 and found == [("hook", "checkout")]
    (repo / "b.txt").write_text("two\nlost\n")
    git(repo, "restore", "b.txt")  # restore is checkout's path mode: post-checkout runs for it too
    summary, found = discards_of(repo)
    assert summary["discards"] == 2 and found == [("hook", "checkout")] * 2
    elsewhere = tmp_path / "no-hooks"
    elsewhere.mkdir()
    (repo / "a.txt").write_text("one\nlost again\n")
    git(repo, "-c", f"core.hooksPath={elsewhere}", "restore", "a.txt")  # no hook runs: trace2 alone tells it
    summary, found = discards_of(repo)
    assert summary["discards"] == 3 and found == [("hook", "checkout")] * 2 + [("trace2", "checkout")]
