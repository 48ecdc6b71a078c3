"""The git commands' metrics (`git.command` events, git's trace2): durations by command, failures by command
and exit class, commands by actor, and the user's hooks' durations as trace2 timed them.

Labels stay bounded: a command is one of git's own (capture/git_commands.py), else `other`; an actor one of
capture/actors.py's; a hook one of git's hook names, else `other`. A command another git process ran
(`nested`) is left out: it is part of its parent's time. Weights count: a sampled reading command stands for
`weight` alike. Durations are git's own time, the editor's taken out, as the report's commands section has it.
"""

from __future__ import annotations

import bisect

import msgspec

from gitobs.capture.actors import ACTORS
from gitobs.capture.git_commands import GIT_COMMANDS
from gitobs.export.prometheus.exposition import Family, Labels, Sample, histogram
from gitobs.log import schema

OTHER = "other"
COMMAND_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
HOOK_BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
# git's hooks (githooks(5)): any other name is `other`
GIT_HOOKS = frozenset("""
applypatch-msg pre-applypatch post-applypatch pre-commit pre-merge-commit prepare-commit-msg commit-msg
post-commit pre-rebase post-checkout post-merge pre-push pre-receive update proc-receive post-receive
post-update reference-transaction push-to-checkout pre-auto-gc post-rewrite sendemail-validate
fsmonitor-watchman p4-changelist p4-prepare-changelist p4-post-changelist p4-pre-submit post-index-change
""".split())

FAMILIES = {
    "gitobs_git_command_duration_seconds": ("histogram", "git's own time per command (trace2; the editor's "
                                            "time taken out), by command."),
    "gitobs_git_command_failures_total": ("counter", "git commands that exited non-zero, by command and exit "
                                          "class."),
    "gitobs_git_commands_total": ("counter", "git commands run, by actor (terminal, ide, agent, gitbutler, ci, "
                                  "script)."),
    "gitobs_git_hook_duration_seconds": ("histogram", "Your hooks' runs as git's trace2 timed them, by hook."),
}


class Buckets(msgspec.Struct):
    counts: list[int]  # per bound, then beyond the last (+Inf); not cumulative
    sum: float = 0.0


class GitMetrics(msgspec.Struct):
    """The git commands' part of a repository's metrics state."""

    durations: dict[str, Buckets] = {}  # command -> seconds
    failures: dict[str, int] = {}  # "command exit_class"
    actors: dict[str, int] = {}
    hooks: dict[str, Buckets] = {}  # hook -> seconds

    def add(self, data: schema.GitCommand) -> None:
        if data.nested:
            return
        command, weight = label(data.command, GIT_COMMANDS), max(1, data.weight)
        seconds = max(0.0, data.duration_s - (data.editor_s or 0.0))
        _observe(self.durations, command, COMMAND_BOUNDS, seconds, weight)
        if data.exit:
            key = f"{command} {exit_class(data.exit)}"
            self.failures[key] = self.failures.get(key, 0) + weight
        actor = data.actor if data.actor in ACTORS else OTHER
        self.actors[actor] = self.actors.get(actor, 0) + weight
        for run in data.hooks:
            runs = max(1, run.runs)
            _observe(self.hooks, label(run.hook, GIT_HOOKS), HOOK_BOUNDS, run.seconds / runs, runs)


def label(name: str, known: frozenset[str]) -> str:
    return name if name in known else OTHER


def exit_class(code: int) -> str:
    """An exit code as a bounded label: git's own conventions."""
    if code == 1:
        return "error"  # a command's plain failure (a hook refused, nothing to commit, a conflict)
    if code == 128:
        return "fatal"  # die(): a bad repository, a network failure
    if code == 129:
        return "usage"
    if code > 128:
        return "signal"  # 128 + the signal's number (130: interrupted)
    return "other"


def _observe(into: dict[str, Buckets], key: str, bounds: tuple, value: float, times: int) -> None:
    found = into.get(key)
    if found is None:
        found = into[key] = Buckets([0] * (len(bounds) + 1))
    found.counts[bisect.bisect_left(bounds, value)] += times
    found.sum += value * times


def families(metrics: GitMetrics, labels: Labels) -> list[Family]:
    out = {name: Family(name, kind, text) for name, (kind, text) in FAMILIES.items()}
    for command, kept in sorted(metrics.durations.items()):
        name = "gitobs_git_command_duration_seconds"
        out[name].samples.extend(histogram(name, (*labels, ("command", command)), COMMAND_BOUNDS, kept.counts,
                                           round(kept.sum, 6)))
    for key, count in sorted(metrics.failures.items()):
        command, _, klass = key.partition(" ")
        out["gitobs_git_command_failures_total"].samples.append(
            Sample("gitobs_git_command_failures_total", (*labels, ("command", command), ("exit_class", klass)), count))
    for actor, count in sorted(metrics.actors.items()):
        out["gitobs_git_commands_total"].samples.append(
            Sample("gitobs_git_commands_total", (*labels, ("actor", actor)), count))
    for hook, kept in sorted(metrics.hooks.items()):
        name = "gitobs_git_hook_duration_seconds"
        out[name].samples.extend(histogram(name, (*labels, ("hook", hook)), HOOK_BOUNDS, kept.counts,
                                           round(kept.sum, 6)))
    return list(out.values())
