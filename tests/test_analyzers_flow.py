"""The flow analyzers: GitButler stacks (vbranches), sessions and recurring patterns (patterns), and what hooks
cost (hooks). Synthetic logs with exact expected blocks, and one report through real git."""

from __future__ import annotations

import json

import pytest
from conftest import commit_file, git, gitobs, user_hook
from gitobs_plugins import patterns as patterns_module
from gitobs_plugins.patterns import PATTERNS, Pattern, PatternsAnalyzer, Step
from logfactory import LogBuilder, block, report

from gitobs.log import schema as s
from gitobs.log.read import matches

MAIN = "main"
SHA = "a" * 40


def facts(built, section: str, block_id: str) -> dict:
    return {fact.label: fact.value for fact in block(built, section, block_id).items}


def rows(built, section: str, block_id: str) -> list:
    return block(built, section, block_id).rows


def sequences(built) -> dict:
    return {name: (count, first) for name, count, first, _ in rows(built, "patterns", "sequences")}


def created(branch: str | None = MAIN) -> s.CommitCreated:
    return s.CommitCreated(sha=SHA, branch=branch)


def switch() -> s.BranchSwitch:
    return s.BranchSwitch(from_=MAIN, to="feature")


# -- patterns: sessions and focus ------------------------------------------------------------------------

def session_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    # Saturday 23:30 UTC, Sunday 00:30 at +01:00: 3 events, 10 min, 1 switch
    log.add("commit.attempt", s.CommitAttempt(branch=MAIN), "2026-10-31 23:30")
    log.add("branch.switch", switch(), "2026-10-31 23:35")
    log.add("hook.ran", s.HookRan(hook="pre-commit", seconds=0.1), "2026-10-31 23:40")
    # Monday: 4 events over 20 min, no switch
    log.add("commit.created", created(), "2026-11-02 09:00")
    log.add("index.stage", s.IndexStage(), "2026-11-02 09:05")
    log.add("worktree.sample", s.WorktreeSample(branch=MAIN), "2026-11-02 09:14")
    log.add("commit.created", created(), "2026-11-02 09:20")
    # gitobs's own work is not the developer's: it must not bridge the 11 minutes between 09:20 and 09:31
    log.add("gitobs.scan", s.GitobsScan(records=1, reflog_entries=0, events=1, seconds=0.01), "2026-11-02 09:25",
            src="gitobs")
    log.add("branch.switch", switch(), "2026-11-02 09:31")
    log.add("branch.switch", switch(), "2026-11-02 09:32")
    return log.write()


def test_sessions_split_at_a_custom_idle_gap(tmp_path):
    built = report(session_log(tmp_path), only=["patterns"], utc_offset_s=3600,
                   options={"patterns.idle_gap": "10m"})
    assert facts(built, "patterns", "sessions") == {
        "sessions": 3, "idle gap": 600.0, "duration p50": 600.0, "duration p90": 1200.0, "duration max": 1200.0,
        "events p50": 3, "events p90": 4, "events max": 4}
    assert rows(built, "patterns", "sessions_by_weekday") == [
        ["Mon", 2, 0.35], ["Tue", 0, 0.0], ["Wed", 0, 0.0], ["Thu", 0, 0.0], ["Fri", 0, 0.0], ["Sat", 0, 0.0],
        ["Sun", 1, 0.167]]
    assert facts(built, "patterns", "focus") == {
        "switches p50": 1, "switches p90": 2, "switches max": 2, "sessions without a switch": 1,
        "share without a switch": 33.333}


def test_sessions_with_the_default_gap_and_utc_weekdays(tmp_path):
    built = report(session_log(tmp_path), only=["patterns"])
    # 09:20 -> 09:31 is within 30 min: Monday is one session of 6 events from 09:00 to 09:32
    assert facts(built, "patterns", "sessions") == {
        "sessions": 2, "idle gap": 1800.0, "duration p50": 600.0, "duration p90": 1920.0, "duration max": 1920.0,
        "events p50": 3, "events p90": 6, "events max": 6}
    weekdays = {day: (count, hours) for day, count, hours in rows(built, "patterns", "sessions_by_weekday")}
    assert weekdays["Sat"] == (1, 0.167) and weekdays["Sun"] == (0, 0.0) and weekdays["Mon"] == (1, 0.533)
    assert facts(built, "patterns", "focus")["share without a switch"] == 0.0


def test_a_late_event_joins_the_open_session_without_moving_it(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("commit.created", created(), "2026-11-02 09:00")
    log.add("commit.created", created(), "2026-11-02 09:10")
    log.add("gitbutler.op", s.GitButlerOp(operation="CreateCommit"), "2026-11-02 08:00", src="gitbutler")
    log.add("commit.created", created(), "2026-11-02 09:20")
    built = report(log.write(), only=["patterns"])
    found = facts(built, "patterns", "sessions")
    assert (found["sessions"], found["duration max"], found["events max"]) == (1, 1200.0, 4)


def test_patterns_consume_every_type_but_gitobs_own():
    # gitobs's own life and its daily rollups (sessions need raw events) are not work, nor is a git process by
    # itself (an editor's background `git status` every few seconds would make one endless session)
    for event_type in [*s.PAYLOADS, "x.myplugin.thing"]:
        own = event_type.startswith(("gitobs.", "rollup.", "git."))
        assert matches(event_type, PatternsAnalyzer.consumes) == (not own), event_type


# -- patterns: recurring sequences ---------------------------------------------------------------------------

def rebase(branch: str = MAIN, outcome: str = "finish", **steps: int) -> s.HistoryRebase:
    return s.HistoryRebase(branch=branch, outcome=outcome, steps=steps or {"pick": 1})


def push(force: bool) -> s.Push:
    return s.Push(remote="origin", refs=["refs/heads/main"], force=force)


def undone(branch: str) -> s.CommitUndone:
    return s.CommitUndone(sha=SHA, branch=branch)


def amended(branch: str) -> s.CommitAmended:
    return s.CommitAmended(old=SHA, new="b" * 40, branch=branch)


BLOCKED = s.CommitBlocked(hook="pre-commit", exit=1, branch=MAIN)
STASH = s.StashPush(branch=MAIN, sha=SHA)
POP = s.StashRemoved(sha=SHA)

# (pattern, events as (type, payload, "HH:MM" on 2026-11-02), count, first seen): each log holds matches and
# near-misses of one pattern, and nothing that another pattern would count.
SEQUENCE_CASES = [
    ("commit -> amend", [
        ("commit.created", created(), "09:00"), ("commit.amended", amended(MAIN), "09:05"),  # match
        ("commit.created", created("feature"), "09:10"), ("commit.amended", amended(MAIN), "09:12"),  # other branch
        ("commit.created", created(), "09:20"), ("commit.amended", amended(MAIN), "09:35"),  # 15 min: too late
        ("commit.created", created(), "09:40"), ("commit.created", created(), "09:41"),
        ("commit.amended", amended(MAIN), "09:42"),  # match
    ], 2, "2026-11-02T09:00:00Z"),
    ("stash -> switch -> stash pop", [
        ("stash.push", STASH, "09:00"), ("branch.switch", switch(), "09:01"), ("branch.switch", switch(), "09:02"),
        ("stash.pop", POP, "09:03"),  # match
        ("stash.push", STASH, "09:10"), ("stash.pop", POP, "09:11"), ("branch.switch", switch(), "09:12"),
        ("stash.pop", POP, "09:13"),  # popped before the switch
        ("stash.push", STASH, "09:20"), ("branch.switch", switch(), "09:21"),
        ("stash.pop", POP, "10:00"),  # a new session
    ], 1, "2026-11-02T09:00:00Z"),
    ("WIP commits -> squash", [
        ("commit.created", created("feat"), "09:00"), ("commit.created", created("feat"), "09:05"),
        ("history.rebase", rebase("feat", squash=1, pick=1), "09:10"),  # match
        ("commit.created", created("feat"), "09:20"), ("history.rebase", rebase("feat", fixup=1), "09:25"),  # one
        ("commit.created", created("feat"), "09:30"), ("commit.created", created("feat"), "09:31"),
        ("history.rebase", rebase("feat", pick=2), "09:32"),  # no squash
        ("history.rebase", rebase("feat", squash=1), "09:33"),  # the commits were rebased already
        ("commit.created", created("feat"), "09:40"), ("commit.created", created("other"), "09:41"),
        ("history.rebase", rebase("feat", squash=1), "09:42"),  # one commit on feat
    ], 1, "2026-11-02T09:00:00Z"),
    ("rebase -> force push", [
        ("history.rebase", rebase(), "09:00"), ("push", push(True), "09:01"),  # match
        ("history.rebase", rebase(), "09:10"), ("push", push(False), "09:11"), ("push", push(True), "09:12"),
        ("history.rebase", rebase(outcome="abort"), "09:20"), ("push", push(True), "09:21"),  # nothing rewritten
        ("history.rebase", rebase(), "09:30"), ("push", push(True), "10:10"),  # new session
    ], 1, "2026-11-02T09:00:00Z"),
    ("commit -> undo", [
        ("commit.created", created(), "09:00"), ("commit.undone", undone(MAIN), "09:01"),  # match
        ("commit.created", created("feature"), "09:10"), ("commit.undone", undone(MAIN), "09:11"),  # other branch
        ("commit.created", created(), "09:20"), ("commit.undone", undone(MAIN), "10:00"),  # new session
    ], 1, "2026-11-02T09:00:00Z"),
    ("blocked -> retry", [
        ("commit.blocked", BLOCKED, "09:00"), ("commit.created", created(), "09:01"),  # match
        ("commit.blocked", BLOCKED, "09:05"), ("commit.created", created("feature"), "09:06"),  # other branch
        ("commit.blocked", BLOCKED, "09:10"), ("commit.created", created(), "09:50"),  # new session
        ("commit.created", created(), "09:51"),
    ], 1, "2026-11-02T09:00:00Z"),
]


@pytest.mark.parametrize(("name", "events", "count", "first"), SEQUENCE_CASES, ids=[c[0] for c in SEQUENCE_CASES])
def test_each_sequence_matches_and_its_near_misses_do_not(tmp_path, name, events, count, first):
    log = LogBuilder(tmp_path / "log")
    for event_type, payload, when in events:
        log.add(event_type, payload, f"2026-11-02 {when}")
    found = sequences(report(log.write(), only=["patterns"]))
    assert found == {pattern.name: (count, first) if pattern.name == name else (0, None) for pattern in PATTERNS}


def test_sequence_table_order_scope_and_window_option(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for event_type, payload, when in SEQUENCE_CASES[0][1]:
        log.add(event_type, payload, f"2026-11-02 {when}")
    log.add("commit.blocked", BLOCKED, "2026-11-02 09:50")
    log.add("commit.created", created(), "2026-11-02 09:51")
    built = report(log.write(), only=["patterns"], options={"patterns.amend_window": "20m"})
    assert rows(built, "patterns", "sequences") == [
        ["commit -> amend", 3, "2026-11-02T09:00:00Z", "same branch, within 20 min"],  # 09:20 -> 09:35 now counts
        ["blocked -> retry", 1, "2026-11-02T09:50:00Z", "same branch, same session"],
        ["WIP commits -> squash", 0, None, "same branch, same session"],
        ["commit -> undo", 0, None, "same branch, same session"],
        ["rebase -> force push", 0, None, "same session"],
        ["stash -> switch -> stash pop", 0, None, "same session"],
    ]


def test_a_new_pattern_is_one_line_of_the_table(tmp_path, monkeypatch):
    staged_twice = Pattern("switch -> stage twice -> commit", (
        Step("branch.switch"), Step("index.stage", at_least=2), Step("commit.created")))
    back_to_work = Pattern("commit -> switch -> commit", (
        Step("commit.created"), Step("branch.switch"), Step("commit.created")))
    monkeypatch.setattr(patterns_module, "PATTERNS", (staged_twice, back_to_work))
    log = LogBuilder(tmp_path / "log")
    for when, event_type, payload in [
            ("08:58", "commit.created", created()), ("08:59", "commit.created", created()),  # the latest start wins
            ("09:00", "branch.switch", switch()), ("09:01", "index.stage", s.IndexStage()),
            ("09:02", "commit.created", created()),  # commit -> switch -> commit; staged once: no
            ("09:10", "branch.switch", switch()), ("09:11", "index.stage", s.IndexStage()),
            ("09:12", "index.stage", s.IndexStage()), ("09:13", "index.stage", s.IndexStage()),
            ("09:14", "commit.created", created())]:  # staged twice and more
        log.add(event_type, payload, f"2026-11-02 {when}")
    assert rows(report(log.write(), only=["patterns"]), "patterns", "sequences") == [
        ["commit -> switch -> commit", 1, "2026-11-02T08:59:00Z", "same session"],
        ["switch -> stage twice -> commit", 1, "2026-11-02T09:10:00Z", "same session"]]


# -- patterns: what follows what -------------------------------------------------------------------------

def test_what_follows_what_skips_samples_and_session_breaks(tmp_path):
    log = LogBuilder(tmp_path / "log")
    attempt, ran = s.CommitAttempt(branch=MAIN), s.HookRan(hook="pre-commit")
    for when, event_type, payload in [
            ("09:00", "commit.attempt", attempt), ("09:01", "worktree.sample", s.WorktreeSample()),
            ("09:02", "hook.ran", ran), ("09:03", "commit.created", created()),
            ("09:04", "gitobs.scan", s.GitobsScan(records=1, reflog_entries=0, events=1, seconds=0.01)),
            ("09:05", "commit.attempt", attempt), ("09:06", "hook.ran", ran), ("09:07", "commit.created", created()),
            # a new session: nothing follows 09:07's commit
            ("10:00", "commit.attempt", attempt), ("10:01", "hook.ran", ran), ("10:02", "stash.push", STASH),
            ("10:03", "stash.pop", POP)]:
        log.add(event_type, payload, f"2026-11-02 {when}")
    written = log.write()
    built = report(written, only=["patterns"])
    assert block(built, "patterns", "what_follows").total_rows == 5
    assert rows(built, "patterns", "what_follows") == [
        ["commit.attempt", "hook.ran", 3], ["hook.ran", "commit.created", 2],
        ["commit.created", "commit.attempt", 1], ["hook.ran", "stash.push", 1], ["stash.push", "stash.pop", 1]]
    top_two = report(written, only=["patterns"], options={"patterns.top": "2"})
    assert rows(top_two, "patterns", "what_follows") == [
        ["commit.attempt", "hook.ran", 3], ["hook.ran", "commit.created", 2]]


# -- vbranches ----------------------------------------------------------------------------------------------

STACK_A = "aaaaaaaa-1111-4111-8111-111111111111"
STACK_B = "bbbbbbbb-2222-4222-8222-222222222222"


def gitbutler_log(tmp_path):
    log = LogBuilder(tmp_path / "log")

    def add(event_type: str, payload: s.Payload, when: str) -> None:
        log.add(event_type, payload, when, src="gitbutler")

    add("vbranch.created", s.VBranch(stack=STACK_A, branch="api", position=0), "2026-11-02 10:00")
    add("vbranch.created", s.VBranch(stack=STACK_A, branch="api-client", position=1), "2026-11-02 10:00")
    add("vbranch.updated", s.VBranchUpdated(stack=STACK_A, branch="api-client", commits=2), "2026-11-02 10:05")
    add("vbranch.updated", s.VBranchUpdated(stack=STACK_A, branch="api", commits=3), "2026-11-02 10:10")
    add("vbranch.renamed", s.VBranchRenamed(stack=STACK_A, from_="api-client", to="api-v2"), "2026-11-02 10:20")
    add("vbranch.unapplied", s.VBranch(stack=STACK_A, branch="api-v2", position=1, applied=False),
        "2026-11-02 11:00")
    add("vbranch.applied", s.VBranch(stack=STACK_A, branch="api-v2", position=1), "2026-11-03 09:00")
    # Sunday 23:30 UTC is Monday 00:30 at +01:00: the next week
    add("vbranch.created", s.VBranch(stack=STACK_B, branch="spike", applied=False), "2026-11-08 23:30")
    add("vbranch.applied", s.VBranch(stack=STACK_B, branch="spike"), "2026-11-10 09:00")
    add("vbranch.unapplied", s.VBranch(stack=STACK_A, branch="api-v2", position=1, applied=False),
        "2026-11-10 10:00")
    add("vbranch.deleted", s.VBranch(stack=STACK_A, branch="api", applied=False), "2026-11-10 10:00")
    add("vbranch.deleted", s.VBranch(stack=STACK_A, branch="api-v2", position=1, applied=False),
        "2026-11-10 10:00")
    for operation, when in [("CreateCommit", "10:05"), ("UndoCommit", "10:06"), ("CreateCommit", "10:07"),
                            ("UnapplyBranch", "11:00"), ("AmendCommit", "11:05"), ("CreateCommit", "11:10")]:
        add("gitbutler.op", s.GitButlerOp(operation=operation, sha=SHA), f"2026-11-02 {when}")
    log.add("commit.created", created(), "2026-11-02 12:00")  # not GitButler's
    return log.write()


def test_stacks_over_time_and_operation_mix(tmp_path):
    built = report(gitbutler_log(tmp_path), only=["vbranches"], utc_offset_s=3600)
    assert facts(built, "vbranches", "summary") == {
        "stacks": 2, "applied at the end": 1, "commits on stacks": 5, "renames": 1, "operations": 6,
        "branch moves": 0, "unapplied on a conflict": 0, "conflicted commits": 0, "branches reviewed": 0,
        "median hours to review": None, "branches archived": 0, "median lifetime hours": None, "CI failures": 0}
    stacks = block(built, "vbranches", "stacks")
    assert stacks.columns == ["stack", "branches", "state", "created", "applied", "unapplied", "deleted", "renames",
                              "commits", "first_seen", "last_seen", "moves", "conflicts", "files"]
    assert stacks.rows == [
        ["aaaaaaaa", "api, api-v2", "deleted", 2, 1, 2, 2, 1, 5, "2026-11-02T10:00:00Z", "2026-11-10T10:00:00Z", 0, 0,
         None],
        ["bbbbbbbb", "spike", "applied", 1, 1, 0, 0, 0, 0, "2026-11-08T23:30:00Z", "2026-11-10T09:00:00Z", 0, 0,
         None]]
    assert rows(built, "vbranches", "per_week") == [["2026-11-02", 1, 1], ["2026-11-09", 1, 1]]
    assert rows(built, "vbranches", "operations") == [
        ["CreateCommit", 3], ["AmendCommit", 1], ["UnapplyBranch", 1], ["UndoCommit", 1]]
    in_utc = report(gitbutler_log(tmp_path / "utc"), only=["vbranches"])
    assert rows(in_utc, "vbranches", "per_week") == [["2026-11-02", 2, 1], ["2026-11-09", 0, 1]]


def test_lanes_lifetimes_moves_conflicts_and_reviews(tmp_path):
    log = LogBuilder(tmp_path / "log")

    def add(event_type: str, payload: s.Payload, when: str) -> None:
        log.add(event_type, payload, when, src="gitbutler")

    add("vbranch.created", s.VBranch(stack=STACK_A, branch="api", position=0), "2026-11-02 10:00")
    add("vbranch.created", s.VBranch(stack=STACK_A, branch="ui", position=1), "2026-11-02 10:00")
    add("vbranch.files", s.VBranchFiles(stack=STACK_A, owned_files=3), "2026-11-02 10:30")
    add("vbranch.review", s.VBranchReview(stack=STACK_A, branch="api", number=12, after_s=7200.0),
        "2026-11-02 12:00")
    add("vbranch.ci", s.VBranchCi(stack=STACK_A, branch="api", pending=1), "2026-11-02 12:01")
    add("vbranch.ci", s.VBranchCi(stack=STACK_A, branch="api", failed=1), "2026-11-02 12:10")
    add("vbranch.moved", s.VBranchMoved(branch="ui", from_stack=STACK_A, to_stack=STACK_B), "2026-11-02 13:00")
    add("vbranch.updated", s.VBranchUpdated(stack=STACK_B, branch="ui", commits=2, conflicted=1), "2026-11-03 09:00")
    add("vbranch.unapplied", s.VBranch(stack=STACK_B, branch="ui", applied=False, by="conflict"),
        "2026-11-03 09:00")
    add("vbranch.archived", s.VBranchArchived(stack=STACK_A, branch="api", lifetime_s=86400.0), "2026-11-03 10:00")
    built = report(log.write(), only=["vbranches"])
    summary = facts(built, "vbranches", "summary")
    assert {key: summary[key] for key in ("branch moves", "unapplied on a conflict", "conflicted commits",
                                          "branches reviewed", "median hours to review", "branches archived",
                                          "median lifetime hours", "CI failures")} == {
        "branch moves": 1, "unapplied on a conflict": 1, "conflicted commits": 1, "branches reviewed": 1,
        "median hours to review": 2.0, "branches archived": 1, "median lifetime hours": 24.0, "CI failures": 1}
    stacks = {row[0]: row for row in block(built, "vbranches", "stacks").rows}
    assert stacks["aaaaaaaa"][1:3] == ["api", "applied"] and stacks["aaaaaaaa"][-3:] == [1, 0, 3]
    assert stacks["bbbbbbbb"][1:3] == ["ui", "unapplied"] and stacks["bbbbbbbb"][-3:] == [1, 1, None]
    assert rows(built, "vbranches", "lifetimes") == [
        ["aaaaaaaa", "api", "2026-11-02T10:00:00Z", "2026-11-02T12:00:00Z", 12, "2026-11-03T10:00:00Z", 2.0,
         24.0]]


def test_without_gitbutler_a_single_note(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("commit.created", created(), "2026-11-02 09:00")
    [section] = report(log.write(), only=["vbranches"]).sections
    assert [(type(b).__name__, b.id) for b in section.blocks] == [("Note", "not_seen")]
    assert section.blocks[0].text.startswith("GitButler was not seen")


# -- hooks ------------------------------------------------------------------------------------------------

def hook_log(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for hook, seconds, status, when in [
            ("pre-commit", 1.5, 0, "2026-11-02 03:00"),  # 22:00 the day before, at -05:00
            ("pre-commit", 0.5, 0, "2026-11-02 14:00"),
            ("commit-msg", 0.1, 0, "2026-11-02 14:01"),
            ("commit-msg", 0.3, 4, "2026-11-02 14:02"),
            ("pre-commit", 2.0, 1, "2026-11-02 15:00"),
            ("pre-push", 4.0, 0, "2026-11-02 16:00"),
            ("pre-commit", 0.25, 0, "2026-11-03 04:59")]:  # 23:59 on the 2nd, at -05:00
        log.add("hook.ran", s.HookRan(hook=hook, seconds=seconds, exit=status), when)
    for seconds, records, events, when in [(0.02, 3, 2, "14:00"), (0.01, 5, 4, "14:05"), (0.04, 7, 6, "15:00")]:
        log.add("gitobs.scan", s.GitobsScan(records=records, reflog_entries=1, events=events, seconds=seconds),
                f"2026-11-02 {when}", src="gitobs")
    return log.write()


def test_hook_cost_per_hook_per_day_and_gitobs_scans(tmp_path):
    built = report(hook_log(tmp_path), only=["hooks"], utc_offset_s=-5 * 3600)
    assert [b.id for b in report(hook_log(tmp_path / "again"), only=["hooks"]).sections[0].blocks] == [
        "totals", "by_hook", "pre_commit_by_day", "per_commit", "budgets", "gitobs_scans", "shim_cost"]
    assert facts(built, "hooks", "totals") == {
        "runs": 7, "time in your hooks": 8.65, "failures": 2, "time in pre-commit": 4.25}
    assert rows(built, "hooks", "by_hook") == [
        ["pre-commit", 4, 4.25, 0.5, 2.0, 2.0, 1],
        ["pre-push", 1, 4.0, 4.0, 4.0, 4.0, 0],
        ["commit-msg", 2, 0.4, 0.1, 0.3, 0.3, 1]]
    assert rows(built, "hooks", "pre_commit_by_day") == [["2026-11-01", 1, 1.5], ["2026-11-02", 3, 2.75]]
    assert facts(built, "hooks", "gitobs_scans") == {
        "scans": 3, "scan time": 0.07, "p50": 0.02, "p90": 0.04, "max": 0.04, "records consumed": 15,
        "events written": 12}
    assert "not measured at run time" in block(built, "hooks", "shim_cost").text
    assert "benchmarks/hooks.py" in block(built, "hooks", "shim_cost").text
    in_utc = report(hook_log(tmp_path / "utc"), only=["hooks"])
    assert rows(in_utc, "hooks", "pre_commit_by_day") == [["2026-11-02", 3, 4.0], ["2026-11-03", 1, 0.25]]


def test_pre_commit_days_show_the_latest_fourteen(tmp_path):
    log = LogBuilder(tmp_path / "log")
    for day in range(1, 16):
        log.add("hook.ran", s.HookRan(hook="pre-commit", seconds=day / 10), f"2026-11-{day:02d} 12:00")
    table = block(report(log.write(), only=["hooks"]), "hooks", "pre_commit_by_day")
    assert table.total_rows == 15
    assert table.rows[0] == ["2026-11-02", 1, 0.2] and table.rows[-1] == ["2026-11-15", 1, 1.5]
    assert len(table.rows) == 14


def test_no_chained_hooks_is_said_in_a_note(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("commit.created", created(), "2026-11-02 09:00")
    log.add("gitobs.scan", s.GitobsScan(records=2, reflog_entries=1, events=1, seconds=0.005), "2026-11-02 09:00",
            src="gitobs")
    built = report(log.write(), only=["hooks"])
    assert [b.id for b in built.sections[0].blocks] == ["no_hooks", "gitobs_scans", "shim_cost"]
    assert "chains" in block(built, "hooks", "no_hooks").text
    assert facts(built, "hooks", "gitobs_scans")["scans"] == 1


# -- end to end through git ---------------------------------------------------------------------------------

def test_report_of_hooks_and_patterns_from_real_git(repo):
    user_hook(repo, "pre-commit", '[ ! -e .block ] || { echo "blocked" >&2; exit 3; }\n')
    gitobs("install", cwd=repo)  # chains the user's pre-commit
    commit_file(repo, "a.txt", "a\n", "add a")
    (repo / ".block").write_text("")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    refused = git(repo, "commit", "-q", "-m", "add b", ok=False)
    assert refused.returncode != 0 and "blocked" in refused.stderr
    (repo / ".block").unlink()
    git(repo, "commit", "-q", "-m", "add b")
    git(repo, "commit", "-q", "--amend", "-m", "add b, amended")
    out = gitobs("report", "--hooks", "--patterns", "--format", "json", "--now", "2100-01-01",
                 "--utc-offset", "+00:00", cwd=repo).stdout
    sections = {section["name"]: {b["id"]: b for b in section["blocks"]} for section in json.loads(out)["sections"]}
    assert list(sections) == ["patterns", "hooks"]
    [pre_commit] = sections["hooks"]["by_hook"]["rows"]
    name, runs, total, p50, p90, most, failures = pre_commit
    assert (name, runs, failures) == ("pre-commit", 4, 1)  # a, the refused b, b, the amend
    assert 0 <= p50 <= p90 <= most <= total  # milliseconds: a fast hook can take 0.0
    [[_, day_runs, day_seconds]] = sections["hooks"]["pre_commit_by_day"]["rows"]
    assert (day_runs, day_seconds) == (4, total)
    scans = {label: value for label, value, *_ in sections["hooks"]["gitobs_scans"]["items"]}
    assert scans["scans"] == 1 and scans["records consumed"] > 0
    found = {name: count for name, count, *_ in sections["patterns"]["sequences"]["rows"]}
    assert found == {"blocked -> retry": 1, "commit -> amend": 1, "WIP commits -> squash": 0, "commit -> undo": 0,
                     "rebase -> force push": 0, "stash -> switch -> stash pop": 0}
    session = {label: value for label, value, *_ in sections["patterns"]["sessions"]["items"]}
    # the commit made before install, then per commit: staging, attempt, the hook's run, the outcome
    assert (session["sessions"], session["events max"]) == (1, 15)


def sequence_counts(repo) -> dict[str, int]:
    out = gitobs("report", "--patterns", "--format", "json", "--now", "2100-01-01", "--utc-offset", "+00:00",
                 cwd=repo).stdout
    [section] = json.loads(out)["sections"]
    [sequences] = [b for b in section["blocks"] if b["id"] == "sequences"]
    return {name: count for name, count, *_ in sequences["rows"]}


def test_a_retry_is_a_commit_on_the_blocked_branch_in_the_blocked_worktree(repo):
    user_hook(repo, "pre-commit", "[ ! -e .block ] || exit 3\n")
    gitobs("install", cwd=repo)
    (repo / ".block").write_text("")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", "-m", "add b", ok=False)  # blocked on main
    (repo / ".block").unlink()
    git(repo, "commit", "-q", ok=False, GIT_EDITOR="false")  # then aborted in the editor
    git(repo, "switch", "-q", "-c", "feature")
    git(repo, "commit", "-q", "-m", "add b, on another branch")
    assert sequence_counts(repo)["blocked -> retry"] == 0
    # detached in two worktrees: both on no branch, yet a commit in one is no retry of the other's
    other = repo.parent / "other"
    git(repo, "worktree", "add", "-q", "--detach", str(other), "main")
    (other / ".block").write_text("")
    (other / "c.txt").write_text("c\n")
    git(other, "add", "c.txt")
    git(other, "commit", "-q", "-m", "add c", ok=False)  # blocked in the linked worktree
    git(repo, "switch", "-q", "--detach")
    git(repo, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    assert sequence_counts(repo)["blocked -> retry"] == 0
    (other / ".block").unlink()
    git(other, "commit", "-q", "-m", "add c")  # the retry, where it was blocked
    assert sequence_counts(repo)["blocked -> retry"] == 1


def test_coalesced_runs_of_a_noisy_hook_count_with_their_weight(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("hook.ran", s.HookRan(hook="reference-transaction", seconds=0.6, exit=2, runs=3, failures=1, max_s=0.4),
            "2026-11-02 10:00")
    log.add("hook.ran", s.HookRan(hook="reference-transaction", seconds=0.1), "2026-11-02 11:00")
    built = report(log.write(), only=["hooks"])
    assert facts(built, "hooks", "totals")["runs"] == 4 and facts(built, "hooks", "totals")["failures"] == 1
    assert rows(built, "hooks", "by_hook") == [["reference-transaction", 4, 0.7, 0.2, 0.4, 0.4, 1]]


def test_vbranches_state_kept_and_fed_on_gives_the_same_sections():
    """The report cache's round trip: a state saved halfway, encoded, loaded and fed the rest."""
    from types import SimpleNamespace

    import msgspec
    from gitobs_plugins.vbranches import VBranchesAnalyzer

    from gitobs.replay.analysis import Context
    from gitobs.replay.sections import encode_json

    def event(event_type: str, payload: s.Payload, minute: int):
        return SimpleNamespace(type=event_type, t=1_790_000_000.0 + 60 * minute, data=payload)

    events = [
        event("vbranch.created", s.VBranch(stack=STACK_A, branch="api"), 0),
        event("vbranch.created", s.VBranch(stack=STACK_A, branch="ui", position=1), 0),
        event("vbranch.files", s.VBranchFiles(stack=STACK_A, owned_files=2), 1),
        event("vbranch.review", s.VBranchReview(stack=STACK_A, branch="api", number=3, after_s=120.0), 2),
        event("vbranch.moved", s.VBranchMoved(branch="ui", from_stack=STACK_A, to_stack=STACK_B), 3),
        event("vbranch.updated", s.VBranchUpdated(stack=STACK_B, branch="ui", commits=2, conflicted=1), 4),
        event("vbranch.unapplied", s.VBranch(stack=STACK_B, branch="ui", applied=False, by="conflict"), 5),
        event("vbranch.ci", s.VBranchCi(stack=STACK_A, branch="api", failed=2), 6),
        event("vbranch.archived", s.VBranchArchived(stack=STACK_A, branch="api", lifetime_s=420.0), 7),
    ]
    context = Context(now=1_790_100_000.0)
    whole = VBranchesAnalyzer(context)
    whole.feed(events)
    for half in range(len(events) + 1):
        first = VBranchesAnalyzer(context)
        first.feed(events[:half])
        saved = msgspec.json.decode(msgspec.json.encode(first.save_state()), type=VBranchesAnalyzer.state_type)
        second = VBranchesAnalyzer(context)
        second.load_state(saved)
        second.feed(events[half:])
        assert [encode_json(b) for b in second.result()] == [encode_json(b) for b in whole.result()], half
