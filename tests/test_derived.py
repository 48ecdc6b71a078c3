"""Derived events from the scripted session of fixtures/repos/session.sh: each scenario's exact events,
each once, with the right timings, and nothing new on a rescan or a replay after a crash."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, gitobs, last_seq, new_events

from gitobs.capture.install import RECORDED_HOOKS, install
from gitobs.core.repo import locate
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan

SESSION = Path(__file__).parent.parent / "fixtures" / "repos" / "session.sh"


@pytest.fixture
def session(tmp_path):
    """play(scenario) runs one scenario of session.sh in a fresh, installed repository; returns its events."""
    repo = tmp_path / "session"
    subprocess.run(["sh", str(SESSION), str(repo), "base"], check=True, capture_output=True)
    install(locate(repo))
    runner = tmp_path / "gitobs"
    runner.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitobs "$@"\n')
    runner.chmod(0o755)

    def play(scenario: str, config: str = "") -> list:
        if config:
            locate(repo).obs.config.write_text(config)
        start = last_seq(repo)
        subprocess.run(["sh", str(SESSION), str(repo), scenario], check=True, capture_output=True,
                       env={**_env(), "GITOBS": str(runner)})
        events = new_events(repo, start)
        assert new_events(repo, last_seq(repo)) == []  # a rescan adds nothing
        return events

    play.repo = repo
    return play


def _env() -> dict:
    import os

    return dict(os.environ)


def types_of(events) -> list[str]:
    return [event.type for event in events]


def sha(repo: Path, rev: str) -> str:
    return git(repo, "rev-parse", rev).stdout.strip()


def without_hook_runs(events) -> tuple[list, list]:
    """(the events other than hook.ran, the hook.ran events): the chained hooks' own costs."""
    return [e for e in events if e.type != "hook.ran"], [e for e in events if e.type == "hook.ran"]


def test_commit_hesitation(session):
    events, hook_runs = without_hook_runs(session("hesitation"))
    # the user's pre-commit and commit-msg hooks run on every verified attempt; two refused
    assert {(e.data["hook"], e.data.get("exit", 0)) for e in hook_runs} == {
        ("pre-commit", 0), ("pre-commit", 3), ("commit-msg", 0), ("commit-msg", 4)}
    assert all(e.data.get("seconds", 0.0) >= 0 for e in hook_runs)
    assert types_of(events) == [
        "index.stage", "commit.attempt", "commit.message_edit", "commit.created",  # editor open ~1 s
        "index.stage", "commit.attempt", "commit.blocked",  # pre-commit refused
        "commit.attempt", "commit.blocked",  # commit-msg refused
        "commit.attempt", "commit.aborted",  # the editor failed
        "commit.attempt", "commit.created",
        "commit.attempt", "commit.amended",
        "commit.attempt", "commit.created", "history.reset", "commit.undone", "commit.abandoned",
        "commit.attempt", "commit.created"]
    edit, blocked_pre, blocked_msg, aborted, amended, undone, abandoned = (
        events[i] for i in (2, 6, 8, 10, 14, 18, 19))
    assert 1.0 <= edit.data["seconds"] < 3.0
    assert (blocked_pre.data["hook"], blocked_pre.data["exit"]) == ("pre-commit", 3)
    assert (blocked_msg.data["hook"], blocked_msg.data["exit"]) == ("commit-msg", 4)
    assert aborted.data["stage"] == "editor"
    assert 1.0 <= amended.data["since_s"] < 3.0
    regretted = events[16].data["sha"]
    assert undone.data["sha"] == regretted and undone.data.get("commits", 1) == 1 and 0 <= undone.data["age_s"] < 5
    assert undone.data["to_sha"] == amended.data["new"]
    assert abandoned.data == {"shas": [regretted], "count": 1, "branch": "main"}  # by: reset (the default)
    # staged ~1 s before the slow commit; the commit after the blocked ones counts from that staging too
    assert events[3].data["staged_s"] >= 1.0
    assert events[12].data["staged_s"] > 0
    assert "staged_s" not in events[16].data  # commit -a: nothing staged beforehand


def test_reverts_resets_and_rebase_drops(session):
    events, _ = without_hook_runs(session("rework"))
    kinds = [t for t in types_of(events) if t not in ("index.stage", "commit.attempt")]
    assert kinds == [
        "commit.created", "commit.created", "commit.reverted",
        "commit.created", "commit.created", "history.reset", "commit.undone", "commit.abandoned",
        "commit.created", "commit.created", "commit.created", "history.rebase", "commit.abandoned"]
    created = [e for e in events if e.type == "commit.created"]
    guide, revert, one, two, keep, drop, also = (e.data["sha"] for e in created)
    [reverted] = [e for e in events if e.type == "commit.reverted"]
    assert (reverted.data["sha"], reverted.data["reverted"]) == (revert, guide)
    assert 0 <= reverted.data["age_s"] < 5
    [undone] = [e for e in events if e.type == "commit.undone"]
    assert (undone.data["sha"], undone.data["to_sha"], undone.data["commits"]) == (two, revert, 2)
    by_reset, by_rebase = [e.data for e in events if e.type == "commit.abandoned"]
    assert by_reset == {"shas": [two, one], "count": 2, "branch": "main"}
    # the rebase rewrote "also" and dropped "drop": only the dropped one is abandoned
    assert by_rebase == {"shas": [drop], "count": 1, "by": "rebase", "branch": "main"}
    assert sha(session.repo, "HEAD~1") == keep


def test_discarded_edits_name_the_files_lost(session):
    events = session("discards")
    discarded = [e for e in events if e.type == "edit.discarded"]
    assert [(e.data["how"], e.data.get("files")) for e in discarded] == [
        ("checkout", [["src/app.py", 1, 0]]),
        ("reset-hard", [["README.md", 2, 0]]),  # the second reset --hard, on a clean tree, lost nothing
        ("sample", [["docs/notes.md", 1, 0]]),
    ]
    # post-checkout times the checkout; the reset is HEAD's reflog line (no post-index-change by default)
    assert [e.src for e in discarded] == ["hook", "reflog", "worktree"]
    samples = [e.data.get("files", []) for e in events if e.type == "worktree.sample"]
    assert samples == [[["src/app.py", 1, 0]], [["README.md", 2, 0]], [["docs/notes.md", 1, 0]], []]


def test_switches_carry_dwell_time_and_detached_heads(session):
    events = session("switches")
    switches = [e.data for e in events if e.type == "branch.switch"]
    assert [(s.get("from"), s.get("to")) for s in switches] == [
        ("main", "feature"), ("feature", "main"), ("main", None), (None, "feature")]
    assert 1.0 <= switches[1]["dwell_s"] < 3.0  # the sleep on feature
    assert all(s["dwell_s"] < 1.0 for s in switches[2:])
    assert switches[0]["dwell_s"] > 0  # on main since the first commit


def test_staging_bursts_and_stage_to_commit_latency(session):
    events, _ = without_hook_runs(session("staging", config='[scan]\nstage_burst_gap = "1s"\n'))
    assert types_of(events) == ["index.stage", "index.stage", "commit.attempt", "commit.created"]
    first, second, _, created = events
    assert first.data["count"] == 2 and second.data.get("count", 1) == 1
    assert 2.0 <= created.data["staged_s"] < 4.0  # from the first `git add`, before the sleep


def test_undo_window_is_configurable(watched):
    locate(watched).obs.config.write_text('[scan]\nundo_window = "1s"\n')
    start = last_seq(watched)
    git(watched, "commit", "-q", "--allow-empty", "-m", "old enough",
        GIT_COMMITTER_DATE="2020-01-01T00:00:00Z")
    git(watched, "reset", "-q", "--soft", "HEAD~1")
    events = new_events(watched, start)
    assert "commit.undone" not in types_of(events)
    assert "commit.abandoned" in types_of(events)  # thrown away all the same


def test_bad_setting_is_a_one_line_error(watched):
    locate(watched).obs.config.write_text('[scan]\nundo_window = "soon"\n')
    done = gitobs("scan", cwd=watched, ok=False)
    assert done.returncode == 2
    assert "scan.undo_window must be a duration" in done.stderr and "Traceback" not in done.stderr


def test_replay_after_a_crash_adds_nothing(session, tmp_path):
    """A scan that crashed after writing the log but before saving its state is replayed from the same
    spool files and state: every derived event comes back with the same id and is skipped."""
    repo = session.repo
    session("hesitation")
    obs = locate(repo).obs
    subprocess.run(["sh", str(SESSION), str(repo), "rework"], check=True, capture_output=True)
    (repo / "src" / "app.py").write_text("dirty\n")
    saved = tmp_path / "saved"
    shutil.copytree(obs.spool, saved / "spool")
    shutil.copy(obs.state, saved / "state.json")
    first = scan(obs.common_dir)
    assert first.events > 10
    shutil.rmtree(obs.spool)
    shutil.copytree(saved / "spool", obs.spool)
    shutil.copy(saved / "state.json", obs.state)
    assert scan(obs.common_dir).events == 0


def test_a_commit_another_branch_keeps_is_not_abandoned(watched):
    git(watched, "commit", "-q", "--allow-empty", "-m", "kept elsewhere")
    git(watched, "branch", "keeper")
    start = last_seq(watched)
    git(watched, "reset", "-q", "--soft", "HEAD~1")
    events = new_events(watched, start)
    assert types_of(events) == ["history.reset", "commit.undone"]


def test_identical_reflog_lines_get_distinct_ids(watched):
    start = last_seq(watched)
    git(watched, "reset", "-q", "--hard")
    git(watched, "reset", "-q", "--hard")  # same shas, same second, same message: same reflog line
    resets = new_events(watched, start, types=("history.reset",))
    assert len(resets) == 2 and resets[0].id != resets[1].id


def test_background_scan_reports_a_bad_setting(watched):
    obs = locate(watched).obs
    obs.config.write_text("[scan]\nundo_window = []\n")
    gitobs("scan", "--background", "--git-dir", str(obs.common_dir))
    obs.config.unlink()
    scan(obs.common_dir)
    [error] = [e for e in read_events(obs, lambda m: None) if e.type == "gitobs.error"]
    assert "undo_window" in error.data["message"]


def test_stash_helpers_are_neither_staging_nor_a_reset(watched):
    install(locate(watched), hooks=RECORDED_HOOKS)  # process grouping: the full hook set's post-index-change
    (watched / "README.md").write_text("stashed away\n")
    scan(locate(watched).common_dir)  # a sample sees the edit
    start = last_seq(watched)
    git(watched, "stash", "-q")  # runs an index update and a `reset --hard` in child git processes
    git(watched, "stash", "pop", "-q")
    events = new_events(watched, start)
    assert [e.type for e in events if e.type != "worktree.sample"] == ["stash.push", "stash.pop"]
