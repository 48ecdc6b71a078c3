"""The branches, hesitation and reverts analyzers: synthetic logs with exact expected numbers, then one run
through real git and `gitobs report`."""

from __future__ import annotations

import json

from conftest import commit_file, git, gitobs
from gitobs_plugins.hesitation import Reservoir
from gitobs_plugins.reverts import DiscardedFiles
from logfactory import LogBuilder, block, report

from gitobs.log import schema


def facts(found) -> dict:
    return {fact.label: fact.value for fact in found.items}


def sha(digit: str) -> str:
    return digit * 40


# --- branches -------------------------------------------------------------------------------------------

def switch(log: LogBuilder, when: str, left: str | None, entered: str | None, dwell: float, *, wt: str = ".") -> None:
    log.add("branch.switch", schema.BranchSwitch(from_=left, to=entered, dwell_s=dwell), when, wt=wt)


def ping_pong_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    switch(log, "2026-11-02 09:00", "main", "feat", 600)
    switch(log, "2026-11-02 09:01", "x", "y", 60, wt="hotfix")  # another worktree's HEAD: its own sequence
    switch(log, "2026-11-02 09:03", "y", "x", 120, wt="hotfix")  # x -> y -> x
    switch(log, "2026-11-02 09:05", "feat", "main", 300)  # main -> feat -> main after 5 min
    switch(log, "2026-11-02 09:30", "main", "feat", 1500)  # feat -> main -> feat after 25 min: outside
    switch(log, "2026-11-02 09:32", "feat", None, 120)  # detached
    switch(log, "2026-11-02 09:35", None, "feat", 180)  # feat -> (detached) -> feat
    switch(log, "2026-11-02 09:40", "feat", "main", 300)
    switch(log, "2026-11-02 09:45", "main", "feat", 300)  # feat -> main -> feat
    switch(log, "2026-11-02 09:50", "feat", "main", 300)  # main -> feat -> main again
    return log.write()


def test_ping_pong_inside_the_window_per_worktree_with_detached_heads(tmp_path):
    built = report(ping_pong_log(tmp_path), only=["branches"])
    assert facts(block(built, "branches", "summary")) == {
        "switches": 10, "days with switches": 1, "ping-pongs": 5, "ping-pong window": 600}
    table = block(built, "branches", "ping_pong")
    assert table.columns == ["branch", "away_on", "count", "first"]
    assert table.rows == [["main", "feat", 2, "2026-11-02T09:00:00Z"],
                          ["x", "y", 1, "2026-11-02T09:01:00Z"],
                          ["feat", "(detached)", 1, "2026-11-02T09:32:00Z"],
                          ["feat", "main", 1, "2026-11-02T09:40:00Z"]]
    assert table.total_rows == 4


def test_a_wider_ping_pong_window_takes_the_slow_return_at_its_edge(tmp_path):
    built = report(ping_pong_log(tmp_path), only=["branches"], options={"branches.ping_pong_window": "25m"})
    assert facts(block(built, "branches", "summary"))["ping-pongs"] == 6
    assert block(built, "branches", "ping_pong").rows[:2] == [["main", "feat", 2, "2026-11-02T09:00:00Z"],
                                                              ["feat", "main", 2, "2026-11-02T09:05:00Z"]]


def test_moving_between_detached_commits_is_no_ping_pong(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for when in ("2026-11-02 09:00", "2026-11-02 09:01", "2026-11-02 09:02"):
        switch(log, when, None, None, 60)  # git checkout <sha> while detached
    built = report(log.write(), only=["branches"])
    assert facts(block(built, "branches", "summary"))["ping-pongs"] == 0
    assert block(built, "branches", "dwell").rows == [["(detached)", 0.05, 1.0, 3]]


def test_dwell_per_branch_left_top_n_and_the_rest(tmp_path):
    built = report(ping_pong_log(tmp_path), only=["branches"], options={"branches.top": "2"})
    dwell = block(built, "branches", "dwell")
    assert dwell.columns == ["branch", "total_h", "median_min", "visits"]
    # main: 600 + 1500 + 300 s; feat: 300 + 120 + 300 + 300 s (median by nearest rank: 300);
    # (other): (detached) 180, x 60, y 120 -> median 120 s
    assert dwell.rows == [["main", 0.667, 10.0, 3], ["feat", 0.283, 5.0, 4], ["(other)", 0.1, 2.0, 3]]
    assert dwell.total_rows == 5
    assert block(built, "branches", "ping_pong").total_rows == 4
    assert len(block(built, "branches", "ping_pong").rows) == 2


def test_switches_per_day_in_local_days_latest_n(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for when in ("2026-11-01 10:00", "2026-11-01 23:30", "2026-11-03 08:00", "2026-11-03 09:00",
                 "2026-11-05 12:00"):
        switch(log, when, "main", "feat", 10)
    built = report(log.write(), only=["branches"], utc_offset_s=3600, options={"branches.days": "2"})
    table = block(built, "branches", "switches_per_day")
    assert table.rows == [["2026-11-03", 2], ["2026-11-05", 1]]  # 23:30 UTC was 00:30 on the 2nd, locally
    assert table.total_rows == 4
    assert facts(block(built, "branches", "summary"))["days with switches"] == 4


def sessions_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    # session 1: main and feat
    log.add("commit.created", schema.CommitCreated(sha=sha("1"), branch="main"), "2026-11-02 09:00")
    log.add("worktree.sample", schema.WorktreeSample(branch="main"), "2026-11-02 09:10", src="worktree")
    switch(log, "2026-11-02 09:20", "main", "feat", 1200)
    log.add("commit.created", schema.CommitCreated(sha=sha("2"), branch="feat"), "2026-11-02 09:40")
    # session 2 (40 min later): activity, no branch touched
    log.add("worktree.sample", schema.WorktreeSample(branch="feat"), "2026-11-02 10:20", src="worktree")
    log.add("index.stage", schema.IndexStage(branch="feat"), "2026-11-02 10:45")
    # session 3 (45 min later): a detached commit, then main (amended), fix and, exactly 30 min on, docs
    log.add("commit.created", schema.CommitCreated(sha=sha("3")), "2026-11-02 11:30")
    switch(log, "2026-11-02 11:35", None, "main", 300)
    log.add("commit.amended", schema.CommitAmended(old=sha("4"), new=sha("5"), branch="main"), "2026-11-02 11:40")
    log.add("stash.push", schema.StashPush(branch="main"), "2026-11-02 11:45")
    switch(log, "2026-11-02 11:50", "main", "fix", 900)
    log.add("commit.created", schema.CommitCreated(sha=sha("6"), branch="fix"), "2026-11-02 11:55")
    log.add("commit.created", schema.CommitCreated(sha=sha("7"), branch="docs"), "2026-11-02 12:25")
    # session 4 (35 min later): a reset touches nothing, a commit on main does; a late write joins it
    log.add("history.reset", schema.HistoryReset(branch="main"), "2026-11-02 13:00")
    log.add("commit.created", schema.CommitCreated(sha=sha("8"), branch="main"), "2026-11-02 13:05")
    log.add("index.stage", schema.IndexStage(branch="main"), "2026-11-02 13:02")
    return log.write()


def test_branches_per_session_split_by_the_idle_gap(tmp_path):
    built = report(sessions_log(tmp_path), only=["branches"])
    # per session: 2, 0, 4, 1 branches
    assert facts(block(built, "branches", "sessions")) == {
        "sessions": 4, "p50": 1, "p90": 4, "max": 4, "idle gap": 1800}


def test_a_longer_idle_gap_makes_one_session(tmp_path):
    built = report(sessions_log(tmp_path), only=["branches"], options={"branches.idle_gap": "1h"})
    assert facts(block(built, "branches", "sessions")) == {
        "sessions": 1, "p50": 5, "p90": 5, "max": 5, "idle gap": 3600}


def test_branches_of_an_empty_log(tmp_path):
    built = report(LogBuilder(tmp_path / "log").write(), only=["branches"])
    assert facts(block(built, "branches", "summary")) == {
        "switches": 0, "days with switches": 0, "ping-pongs": 0, "ping-pong window": 600}
    assert facts(block(built, "branches", "sessions")) == {
        "sessions": 0, "p50": None, "p90": None, "max": None, "idle gap": 1800}
    assert block(built, "branches", "dwell").rows == []


# --- hesitation -----------------------------------------------------------------------------------------

def hesitation_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    add = log.add
    add("commit.attempt", schema.CommitAttempt(branch="main"), "2026-11-02 08:45")  # 14:15 at +05:30
    add("commit.message_edit", schema.CommitMessageEdit(seconds=8.5, branch="main"), "2026-11-02 08:46")
    add("commit.created", schema.CommitCreated(sha=sha("1"), branch="main", staged_s=120.0), "2026-11-02 08:47")
    add("commit.attempt", schema.CommitAttempt(branch="main"), "2026-11-02 09:10")
    add("commit.aborted", schema.CommitAborted(branch="main", stage="editor"), "2026-11-02 09:11")
    add("commit.attempt", schema.CommitAttempt(branch="feat"), "2026-11-02 09:31")  # 15:01
    add("commit.blocked", schema.CommitBlocked(hook="pre-commit", exit=1, branch="feat"), "2026-11-02 09:31:30")
    add("commit.attempt", schema.CommitAttempt(branch="feat"), "2026-11-02 09:35")
    add("commit.message_edit", schema.CommitMessageEdit(seconds=30.25, branch="feat"), "2026-11-02 09:35:40")
    add("commit.created", schema.CommitCreated(sha=sha("2"), branch="feat"), "2026-11-02 09:36")  # no staged_s
    add("commit.amended", schema.CommitAmended(old=sha("2"), new=sha("3"), branch="feat"), "2026-11-02 09:40")
    add("commit.undone", schema.CommitUndone(sha=sha("3"), branch="feat"), "2026-11-02 09:50")
    add("commit.attempt", schema.CommitAttempt(), "2026-11-02 18:30")  # detached, 00:00 local
    add("commit.message_edit", schema.CommitMessageEdit(seconds=2.0), "2026-11-02 18:30:20")
    add("commit.created", schema.CommitCreated(sha=sha("4"), staged_s=5.5), "2026-11-02 18:31")
    add("commit.aborted", schema.CommitAborted(branch="feat", stage="nothing-to-commit"), "2026-11-02 18:29")  # 23:59
    add("commit.aborted", schema.CommitAborted(branch="feat", stage="editor"), "2026-11-02 18:29:30")
    add("commit.blocked", schema.CommitBlocked(hook="commit-msg", exit=1, branch="main"), "2026-11-02 18:29:40")
    return log.write()


def test_hesitation_outcomes_and_durations(tmp_path):
    built = report(hesitation_log(tmp_path), only=["hesitation"], utc_offset_s=19800)
    assert facts(block(built, "hesitation", "summary")) == {
        "attempts": 5, "commits": 3, "aborted": 3, "blocked": 2, "undone": 1, "amended": 1}
    durations = block(built, "hesitation", "durations")
    assert durations.columns == ["measure", "count", "p50_s", "p90_s", "max_s"]
    assert durations.rows == [["message edit", 3, 8.5, 30.25, 30.25], ["stage to commit", 2, 5.5, 120.0, 120.0]]
    assert block(built, "hesitation", "stops").rows == [
        ["aborted", "editor", 2], ["aborted", "nothing-to-commit", 1],
        ["blocked", "commit-msg", 1], ["blocked", "pre-commit", 1]]


def test_hesitation_by_branch_top_n_and_the_rest(tmp_path):
    built = report(hesitation_log(tmp_path), only=["hesitation"], options={"hesitation.top": "2"})
    table = block(built, "hesitation", "by_branch")
    assert table.columns == ["branch", "attempts", "commits", "aborted", "blocked", "undone", "amended"]
    assert table.rows == [["feat", 2, 1, 2, 1, 1, 1], ["main", 2, 1, 1, 1, 0, 0], ["(other)", 1, 1, 0, 0, 0, 0]]
    assert table.total_rows == 3
    everything = report(hesitation_log(tmp_path / "again"), only=["hesitation"])
    assert block(everything, "hesitation", "by_branch").rows[2] == ["(detached)", 1, 1, 0, 0, 0, 0]


def test_hesitation_by_local_hour_at_a_half_hour_offset(tmp_path):
    built = report(hesitation_log(tmp_path), only=["hesitation"], utc_offset_s=19800)
    table = block(built, "hesitation", "by_hour")
    assert [row[0] for row in table.rows] == [f"{hour:02d}" for hour in range(24)]
    busy = {row[0]: row[1:] for row in table.rows if any(row[1:])}
    assert busy == {"00": [1, 1, 0, 0, 0, 0], "14": [2, 1, 1, 0, 0, 0], "15": [2, 1, 0, 1, 1, 1],
                    "23": [0, 0, 2, 1, 0, 0]}


def test_hesitation_by_hour_with_an_offset_of_seconds(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("commit.attempt", schema.CommitAttempt(branch="main"), "2026-11-02 09:59:45")  # 10:00:15 at +30 s
    log.add("commit.attempt", schema.CommitAttempt(branch="main"), "2026-11-02 09:59:29")  # 09:59:59
    built = report(log.write(), only=["hesitation"], utc_offset_s=30)
    busy = {row[0]: row[1] for row in block(built, "hesitation", "by_hour").rows if row[1]}
    assert busy == {"09": 1, "10": 1}


def test_reservoir_is_exact_when_small_and_a_seeded_sample_when_large():
    small = Reservoir(capacity=10)
    for value in (3.0, 1.0, 2.0):
        small.add(value)
    assert (small.count, small.quantile(50), small.quantile(90), small.max) == (3, 2.0, 3.0, 3.0)
    samples = []
    for _ in range(2):
        large = Reservoir(capacity=10)
        for value in range(1000):
            large.add(float(value))
        samples.append(sorted(large.values))
        assert (large.count, large.max, len(large.values)) == (1000, 999.0, 10)
    assert samples[0] == samples[1]
    assert samples[0] != [float(v) for v in range(10)]  # later values were sampled in


def test_a_reservoir_samples_the_same_whatever_the_order_before_it_was_full_and_a_saved_one_loads_sorted():
    kept = []
    for first in ([5.0, 1.0, 3.0, 2.0], [1.0, 2.0, 3.0, 5.0], [3.0, 5.0, 2.0, 1.0]):
        reservoir = Reservoir(capacity=4)
        for value in first:
            reservoir.add(value)
        saved = reservoir.save()
        assert saved.values == sorted(first)  # before sampling, the order counts for nothing: kept sorted
        loaded = Reservoir.load(saved)
        for value in range(10, 40):
            loaded.add(float(value))
        kept.append(loaded.values)
    assert kept[0] == kept[1] == kept[2]  # the same draws replaced the same values, in the same slots


# --- reverts --------------------------------------------------------------------------------------------

def changes(*files: tuple[str, int, int]) -> list[schema.FileChange]:
    return [schema.FileChange(*file) for file in files]


def reverts_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    add, reverted, abandoned, discarded = log.add, schema.CommitReverted, schema.CommitAbandoned, schema.EditDiscarded
    add("commit.reverted", reverted(sha=sha("1"), reverted=sha("2"), age_s=7200.0, branch="main"), "2026-11-02 10:00")
    add("commit.reverted", reverted(sha=sha("3"), reverted=sha("4"), age_s=90.0, branch="feat"), "2026-11-03 09:00")
    add("commit.reverted", reverted(sha=sha("5"), reverted=sha("6")), "2026-11-04 12:00")
    add("commit.reverted", reverted(sha=sha("7"), reverted=sha("8"), age_s=259200.0, branch="main"),
        "2026-11-05 08:00")
    add("commit.abandoned", abandoned(shas=[sha("a"), sha("b")], count=2, branch="main"), "2026-11-02 11:00")
    add("commit.abandoned", abandoned(shas=[sha("c")], count=3, by="rebase", branch="feat"), "2026-11-02 12:00")
    add("commit.abandoned", abandoned(shas=[sha("d")], count=1, branch="main"), "2026-11-03 11:00")
    add("commit.abandoned", abandoned(shas=[sha("e")], count=1, by="rebase"), "2026-11-03 12:00")
    add("commit.abandoned", abandoned(shas=[sha("f"), sha("0")], branch="old"), "2026-11-03 13:00")  # no count
    add("edit.discarded", discarded(how="checkout", branch="main", files=changes(
        ("src/a.py", 3, 1), ("docs/x.md", 0, 2))), "2026-11-02 14:00")
    add("edit.discarded", discarded(how="reset-hard", branch="main", files=changes(
        ("src/a.py", 10, 0), ("src/b.py", 1, 1), ("README.md", 4, 4))), "2026-11-02 15:00")
    add("edit.discarded", discarded(how="sample", branch="feat", files=changes(("src/c.py", 0, 5))),
        "2026-11-02 16:00", src="worktree")
    add("edit.discarded", discarded(how="checkout", branch="main"), "2026-11-02 17:00")  # no files known
    return log.write()


def test_reverted_commits_ages_and_the_latest(tmp_path):
    built = report(reverts_log(tmp_path), only=["reverts"], options={"reverts.top": "3"})
    summary = facts(block(built, "reverts", "summary"))
    assert summary == {"reverted commits": 4, "revert age p50": 2.0, "revert age p90": 72.0, "revert age max": 72.0,
                       "abandoned commits": 9, "discards": 4, "lines discarded": 31}
    recent = block(built, "reverts", "recent_reverts")
    assert recent.columns == ["time", "sha", "reverted", "age_h", "branch"]
    assert recent.rows == [["2026-11-05T08:00:00Z", "7777777", "8888888", 72.0, "main"],
                           ["2026-11-04T12:00:00Z", "5555555", "6666666", None, "(detached)"],
                           ["2026-11-03T09:00:00Z", "3333333", "4444444", 0.025, "feat"]]
    assert recent.total_rows == 4


def test_abandoned_by_reset_and_rebase_and_by_branch(tmp_path):
    built = report(reverts_log(tmp_path), only=["reverts"], options={"reverts.top": "3"})
    assert block(built, "reverts", "abandoned_by").rows == [["reset", 3, 5], ["rebase", 2, 4]]
    by_branch = block(built, "reverts", "abandoned_by_branch")
    assert by_branch.columns == ["branch", "events", "commits"]
    assert by_branch.rows == [["main", 2, 3], ["feat", 1, 3], ["old", 1, 2], ["(other)", 1, 1]]
    assert by_branch.total_rows == 4


def test_discarded_edits_by_file_and_by_how(tmp_path):
    built = report(reverts_log(tmp_path), only=["reverts"], options={"reverts.top": "3"})
    files = block(built, "reverts", "discarded_files")
    assert files.columns == ["path", "lines", "times"]
    assert files.rows == [["src/a.py", 14, 2], ["README.md", 8, 1], ["src/c.py", 5, 1], ["(other)", 4, 2]]
    assert files.total_rows == 5
    assert block(built, "reverts", "discarded_by_how").rows == [
        ["reset-hard", 1, 3, 20], ["checkout", 2, 2, 6], ["sample", 1, 1, 5]]


def test_discarded_edits_under_a_path(tmp_path):
    built = report(reverts_log(tmp_path), only=["reverts"], path="src")
    assert block(built, "reverts", "discarded_files").rows == [
        ["src/a.py", 14, 2], ["src/c.py", 5, 1], ["src/b.py", 2, 1]]
    assert block(built, "reverts", "discarded_by_how").rows == [
        ["reset-hard", 1, 2, 12], ["sample", 1, 1, 5], ["checkout", 1, 1, 4]]


def test_discarded_files_fold_the_smaller_half_when_full():
    held = DiscardedFiles(capacity=4)
    for path, lines in (("a", 10), ("b", 8), ("c", 6), ("d", 4), ("e", 2), ("a", 1)):
        held.add(path, lines)
    assert held.held == {"a": [11, 2], "b": [8, 1], "e": [2, 1]}
    assert (held.folded, held.folded_paths) == ([10, 2], 2)


# --- through real git -----------------------------------------------------------------------------------

def test_report_sections_through_real_git(watched):
    git(watched, "switch", "-q", "-c", "feature")
    commit_file(watched, "a.txt", "a\n", "add a")
    git(watched, "switch", "-q", "main")
    git(watched, "switch", "-q", "feature")
    commit_file(watched, "b.txt", "b\n", "add b")
    git(watched, "revert", "--no-edit", "HEAD")
    git(watched, "reset", "-q", "--hard", "HEAD~1")  # takes the revert back off: undone and abandoned
    (watched / "README.md").write_text("hello\nmore\n")
    gitobs("scan", "-C", str(watched))  # a sample sees the edit ...
    git(watched, "checkout", "--", "README.md")  # ... that this throws away
    git(watched, "switch", "-q", "main")
    done = gitobs("report", "-C", str(watched), "--branches", "--hesitation", "--reverts", "--format", "json",
                  "--now", "2030-01-01", "--utc-offset", "UTC")
    sections = {s["name"]: {b["id"]: b for b in s["blocks"]} for s in json.loads(done.stdout)["sections"]}

    branches = sections["branches"]
    summary = {label: value for label, value, *_ in branches["summary"]["items"]}
    assert summary["switches"] == 4
    assert summary["ping-pongs"] == 3  # main -> feature -> main -> feature -> main
    assert sum(count for _, count in branches["switches_per_day"]["rows"]) == 4
    assert {row[0]: row[3] for row in branches["dwell"]["rows"]} == {"main": 2, "feature": 2}
    assert sorted((row[0], row[1], row[2]) for row in branches["ping_pong"]["rows"]) == [
        ("feature", "main", 1), ("main", "feature", 2)]

    hesitation = sections["hesitation"]
    feature = [row for row in hesitation["by_branch"]["rows"] if row[0] == "feature"]
    # attempts: a and b (`git revert` runs no pre-commit: no attempt with the default hooks); commits: a, b
    # and the revert; the revert undone
    assert feature == [["feature", 2, 3, 0, 0, 1, 0]]
    assert hesitation["durations"]["rows"][1][:2] == ["stage to commit", 2]  # a and b were staged first

    reverts = sections["reverts"]
    summary = {label: value for label, value, *_ in reverts["summary"]["items"]}
    assert (summary["reverted commits"], summary["abandoned commits"]) == (1, 1)
    [recent] = reverts["recent_reverts"]["rows"]
    assert recent[4] == "feature"
    assert reverts["abandoned_by"]["rows"] == [["reset", 1, 1]]
    assert reverts["discarded_files"]["rows"] == [["README.md", 1, 1]]
    assert reverts["discarded_by_how"]["rows"] == [["checkout", 1, 1, 1]]
