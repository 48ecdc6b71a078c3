"""The git commands' Prometheus metrics (gitobs/export/prometheus/commands.py): durations by command, failures by
command and exit class, commands by actor, hook durations; bounded labels; parsed by the official parser."""

from __future__ import annotations

import collections

from logfactory import LogBuilder
from prometheus_client.parser import text_string_to_metric_families

from gitobs.core.repo import ObsPaths
from gitobs.export.prometheus import exposition, metrics
from gitobs.log import schema


def samples(obs: ObsPaths) -> dict:
    state = metrics.update(obs, *metrics.session_settings({}))
    text = exposition.render(metrics.families(state, obs, (("repo", "r1"),), lambda name: name))
    found: dict = collections.defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "repo"))
            found[sample.name][labels] = sample.value
    return found


def test_git_commands_as_metrics(tmp_path):
    obs = ObsPaths(tmp_path / ".git")
    log = LogBuilder(obs.log)
    add = lambda payload, when: log.add("git.command", payload, f"2026-11-20 {when}", src="trace2")  # noqa: E731
    add(schema.GitCommand(command="status", duration_s=0.02, weight=10, actor="ide"), "10:00")
    add(schema.GitCommand(command="commit", duration_s=31.5, editor_s=30.0, actor="terminal",
                          hooks=[schema.HookRun("pre-commit", 1.2, 0), schema.HookRun("x-custom", 0.1, 0),
                                 schema.HookRun("reference-transaction", 0.3, 0, 3)]), "10:01")
    add(schema.GitCommand(command="push", exit=128, duration_s=4.0, actor="agent"), "10:02")
    add(schema.GitCommand(command="commit", exit=1, duration_s=0.3, actor="agent"), "10:03")
    add(schema.GitCommand(command="checkout", exit=130, duration_s=0.3, actor="agent"), "10:04")
    add(schema.GitCommand(command="git-foo\nbar", exit=2, duration_s=0.3, actor="made-up"), "10:05")  # hostile
    add(schema.GitCommand(command="fetch", duration_s=9.0, nested=True, actor="git"), "10:06")  # not counted
    log.write()
    found = samples(obs)

    durations = found["gitobs_git_command_duration_seconds_count"]
    assert durations == {(("command", "status"),): 10, (("command", "commit"),): 2, (("command", "push"),): 1,
                         (("command", "checkout"),): 1, (("command", "other"),): 1}
    # the commit's 1.5 s of git (its 30 s in the editor are the user's) falls in the 2.5 s bucket
    assert found["gitobs_git_command_duration_seconds_bucket"][(("command", "commit"), ("le", "1"))] == 1
    assert found["gitobs_git_command_duration_seconds_bucket"][(("command", "commit"), ("le", "2.5"))] == 2
    assert found["gitobs_git_command_failures_total"] == {
        (("command", "checkout"), ("exit_class", "signal")): 1, (("command", "commit"), ("exit_class", "error")): 1,
        (("command", "other"), ("exit_class", "other")): 1, (("command", "push"), ("exit_class", "fatal")): 1}
    assert found["gitobs_git_commands_total"] == {
        (("actor", "agent"),): 3, (("actor", "ide"),): 10, (("actor", "other"),): 1, (("actor", "terminal"),): 1}
    hooks = found["gitobs_git_hook_duration_seconds_count"]
    assert hooks == {(("hook", "pre-commit"),): 1, (("hook", "other"),): 1, (("hook", "reference-transaction"),): 3}
    assert found["gitobs_git_hook_duration_seconds_bucket"][(("hook", "pre-commit"), ("le", "1"))] == 0
    assert found["gitobs_git_hook_duration_seconds_bucket"][(("hook", "pre-commit"), ("le", "2"))] == 1


def test_counts_carry_over_updates_and_only_new_events_are_added(tmp_path):
    obs = ObsPaths(tmp_path / ".git")
    first = LogBuilder(obs.log)
    first.add("git.command", schema.GitCommand(command="status", duration_s=0.1), "2026-11-20 10:00", src="trace2")
    first.write()
    assert samples(obs)["gitobs_git_commands_total"] == {(("actor", "terminal"),): 1}
    more = LogBuilder(obs.log)
    more.add("git.command", schema.GitCommand(command="status", duration_s=0.1), "2026-11-20 11:00", src="trace2")
    more.events[0].seq = 2
    more.write()
    assert samples(obs)["gitobs_git_commands_total"] == {(("actor", "terminal"),): 2}
    assert samples(obs)["gitobs_git_commands_total"] == {(("actor", "terminal"),): 2}  # nothing new: no change
