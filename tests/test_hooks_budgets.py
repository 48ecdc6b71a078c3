"""The hooks section's trace2 side (plugins/hook_cost.py): hook runs git's trace2 saw, one run seen both by
trace2 and by gitobs's shim counted once, p90 budgets with a multi-window burn alert, --no-verify bypasses."""

from __future__ import annotations

import json

import pytest
from conftest import commit_file, gitobs, user_hook
from logfactory import LogBuilder, block, report

from gitobs.core.repo import GitobsError
from gitobs.log import schema as s


def commit(seconds: float, *hooks: tuple[str, float, int], actor: str = "terminal", **fields) -> s.GitCommand:
    return s.GitCommand(command="commit", duration_s=seconds, actor=actor,
                        hooks=[s.HookRun(hook, took, status) for hook, took, status in hooks], **fields)


def facts(built, block_id: str) -> dict:
    return {fact.label: fact.value for fact in block(built, "hooks", block_id).items}


def by_hook(built) -> dict:
    return {row[0]: row[1:] for row in block(built, "hooks", "by_hook").rows}


def test_a_run_seen_by_trace2_and_the_shim_is_counted_once(tmp_path):
    log = LogBuilder(tmp_path / "log")
    # seen both ways: the shim's record in the command's span, before and after the command's event
    log.add("hook.ran", s.HookRan(hook="pre-commit", seconds=1.0), "2026-11-20 10:00:01")
    log.add("git.command", commit(3.0, ("pre-commit", 1.1, 0)), "2026-11-20 10:00:00", src="trace2")
    log.add("git.command", commit(3.0, ("pre-commit", 0.6, 1)), "2026-11-20 10:05:00", src="trace2")
    log.add("hook.ran", s.HookRan(hook="pre-commit", seconds=0.5, exit=1), "2026-11-20 10:05:02")
    # trace2 alone (the hook is not chained by gitobs): counted when the stream is past its span
    log.add("git.command", commit(1.0, ("commit-msg", 0.25, 0), ("post-commit", 0.05, 0)), "2026-11-20 10:10:00",
            src="trace2")
    # the shim alone (trace2 off)
    log.add("hook.ran", s.HookRan(hook="pre-commit", seconds=3.0), "2026-11-20 12:00:00")
    for minute in (0, 5, 10):
        log.add("commit.created", s.CommitCreated(sha=f"{minute:040d}"), f"2026-11-20 10:{minute:02d}:03",
                src="reflog")
    log.add("commit.created", s.CommitCreated(sha="f" * 40), "2026-11-20 12:00:01", src="reflog")
    log.add("commit.created", s.CommitCreated(sha="e" * 40), "2026-11-01 12:00:01", src="import")
    built = report(log.write(), ["hooks"])

    hooks = by_hook(built)
    assert hooks["pre-commit"][:2] == [3, 4.5] and hooks["pre-commit"][-1] == 1  # the shim's times, once each
    assert hooks["commit-msg"][:2] == [1, 0.25] and hooks["post-commit"][:2] == [1, 0.05]
    assert facts(built, "per_commit") == {
        "commits": 4, "commit hooks' time per commit": 1.2, "runs timed by gitobs's shim": 3,
        "runs seen by git's trace2 alone": 2, "runs seen both ways (counted once)": 2}


def budget_log(tmp_path, slow_days: tuple[int, ...]):
    log = LogBuilder(tmp_path / "log")
    for day in range(23, 30):  # ten pre-commits a day for the 7 days before Nov 30; a slow day has 3 over 2 s
        for run in range(10):
            seconds = 2.5 if day in slow_days and run < 3 else 0.5
            log.add("git.command", commit(seconds + 0.1, ("pre-commit", seconds, 0)),
                    f"2026-11-{day} 10:{run:02d}", src="trace2")
    return log.write()


def test_the_burn_alert_needs_both_windows_over_budget(tmp_path):
    burning = report(budget_log(tmp_path / "a", slow_days=(26, 27, 28, 29)), ["hooks"], now="2026-11-30 00:00")
    [row] = block(burning, "hooks", "budgets").rows
    # 7 days: 12 of 70 over 2 s = 17 % against the 10 % allowed; the last day: 3 of 10
    assert row == ["pre-commit", 2.0, 2.5, 70, 12, 1.71, 10, 3.0, "burning"]
    assert "12 of its 70 runs" in block(burning, "hooks", "budget_alert_pre_commit").text

    fixed = report(budget_log(tmp_path / "b", slow_days=(24, 25, 26, 27)), ["hooks"], now="2026-11-30 00:00")
    [row] = block(fixed, "hooks", "budgets").rows
    assert row[5] == 1.71 and row[7] == 0.0 and row[8] == "ok"  # a week over budget, but not the last day
    assert not [b for b in fixed.sections[0].blocks if b.id.startswith("budget_alert")]


def test_budgets_come_from_options_and_a_bad_one_is_an_error(tmp_path):
    log = budget_log(tmp_path, slow_days=(29,))
    relaxed = report(log, ["hooks"], now="2026-11-30", options={"hooks.budget.pre-commit": "3s",
                                                                 "hooks.budget.commit-msg": "0.5s"})
    assert [row[:2] for row in block(relaxed, "hooks", "budgets").rows] == [["commit-msg", 0.5], ["pre-commit", 3.0]]
    assert block(relaxed, "hooks", "budgets").rows[1][4] == 0  # none over 3 s
    with pytest.raises(GitobsError, match="not a duration"):
        report(log, ["hooks"], now="2026-11-30", options={"hooks.budget.pre-commit": "fast"})


def test_no_verify_bypasses_are_counted_by_actor(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("git.command", commit(0.1, actor="agent", no_verify=True), "2026-11-20 10:00", src="trace2")
    log.add("git.command", commit(0.1, actor="agent", no_verify=True), "2026-11-20 10:01", src="trace2")
    log.add("git.command", s.GitCommand(command="push", no_verify=True), "2026-11-20 10:02", src="trace2")
    log.add("git.command", commit(0.1, ("pre-commit", 0.05, 0)), "2026-11-20 10:03", src="trace2")
    built = report(log.write(), ["hooks"])
    assert block(built, "hooks", "no_verify").rows == [["agent", "commit", 2], ["terminal", "push", 1]]


def test_a_hook_trace2_saw_run_many_times_in_one_command_counts_each_run(tmp_path):
    log = LogBuilder(tmp_path / "log")
    rebase = s.GitCommand(command="rebase", duration_s=2.0, hooks=[s.HookRun("prepare-commit-msg", 0.6, 0, 3),
                                                                   s.HookRun("post-commit", 0.3, 1, 3)])
    log.add("git.command", rebase, "2026-11-20 10:00", src="trace2")
    built = report(log.write(), ["hooks"])
    assert by_hook(built)["prepare-commit-msg"] == [3, 0.6, 0.2, 0.2, 0.2, 0]
    assert by_hook(built)["post-commit"][0] == 3 and by_hook(built)["post-commit"][-1] == 1
    assert facts(built, "per_commit")["runs seen by git's trace2 alone"] == 6


def test_with_gitobs_installed_a_shim_run_trace2_alone_saw_is_gitobs_s_own_time(tmp_path):
    log = LogBuilder(tmp_path / "log")
    log.add("gitobs.installed", s.GitobsInstalled(hooks_dir=".git/hooks", version="1"), "2026-11-20 09:00",
            src="gitobs")
    # pre-commit: gitobs's shim with no hook of yours behind it; prepare-commit-msg: yours (no shim by default)
    log.add("git.command", commit(0.5, ("pre-commit", 0.004, 0), ("prepare-commit-msg", 0.2, 0)), "2026-11-20 10:00",
            src="trace2")
    # commit-msg: the shim chains a hook of yours, which hook.ran timed
    log.add("git.command", commit(0.5, ("commit-msg", 0.31, 0)), "2026-11-20 10:05", src="trace2")
    log.add("hook.ran", s.HookRan(hook="commit-msg", seconds=0.3), "2026-11-20 10:05:01")
    built = report(log.write(), ["hooks"])
    assert set(by_hook(built)) == {"prepare-commit-msg", "commit-msg"}
    assert by_hook(built)["commit-msg"][1] == 0.3
    assert facts(built, "shim_trace2") == {"runs": 1, "time": 0.004, "p50": 0.004, "p90": 0.004, "max": 0.004}
    assert "shim_trace2 above" in block(built, "hooks", "shim_cost").text


def test_a_committed_gitobs_toml_sets_the_budgets_a_report_uses(repo):
    user_hook(repo, "pre-commit", "exit 0\n")
    gitobs("install", cwd=repo)  # chains the user's pre-commit: hook.ran times it
    commit_file(repo, "a.txt", "a\n", "add a")
    (repo / ".gitobs.toml").write_text('[budgets.hooks]\n"pre-commit" = "0.25s"\n"commit-msg" = 1\n')
    out = gitobs("report", "--hooks", "--format", "json", "--now", "2100-01-01", "--utc-offset", "+00:00", cwd=repo)
    [hooks] = json.loads(out.stdout)["sections"]
    [budgets] = [found for found in hooks["blocks"] if found["id"] == "budgets"]
    assert [row[:2] for row in budgets["rows"]] == [["commit-msg", 1], ["pre-commit", 0.25]]
    (repo / ".gitobs.toml").write_text('[budgets.hooks]\n"pre-commit" = "soon"\n')
    warned = gitobs("report", "--hooks", "--format", "json", "--now", "2100-01-01", cwd=repo)  # a clone's file: a warning
    assert "budgets.hooks must be a duration" in warned.stderr and "Traceback" not in warned.stderr
    [hooks] = json.loads(warned.stdout)["sections"]
    [budgets] = [found for found in hooks["blocks"] if found["id"] == "budgets"]
    assert [row[:2] for row in budgets["rows"]] == [["pre-commit", 2]]  # the default
