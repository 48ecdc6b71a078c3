"""Seeded, realistic event streams for the replay benchmark (and anyone who needs a big log).

A developer works in sessions on weekdays, mostly office hours: attempts end in commits (sometimes
aborted, blocked or amended), the working tree is sampled while dirty, branches are switched and left,
things are stashed, reset, rebased, reverted and pushed, GitButler stacks move, and the user's own hooks
cost time. Paths come from a tree of a few thousand files, so per-file tables are high-cardinality.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from gitobs.log import schema

DAY_NS = 86400 * 10**9
START_NS = 1_699_920_000 * 10**9  # 2023-11-14 00:00 UTC, a Tuesday: days are counted from midnight
WORKDAY_END_NS = 18 * 3600 * 10**9  # a session running past 18:00 ends the day

_DIRS = ["src/core", "src/api", "src/api/v2", "src/ui/components", "src/ui/pages", "src/db/migrations",
         "src/util", "tests/unit", "tests/integration", "docs", "scripts", "vendor/lib"]
_EXTS = [".py", ".py", ".py", ".ts", ".tsx", ".md", ".sql", ".toml", ".sh", ".json"]
_BRANCHES = ["main"] + [f"feature/{n}" for n in ("parser", "cache", "login-redirect", "docs", "search")] + [
    f"fix/{n}" for n in ("crash-on-empty", "timeout", "unicode")]
# git.command events (git's trace2): command, mode, typical seconds, weight (a sampled reading command)
_COMMANDS = [("status", "", 0.05, 40, 4), ("diff", "", 0.08, 15, 1), ("add", "", 0.06, 12, 1),
             ("commit", "", 0.3, 10, 1), ("log", "", 0.1, 8, 4), ("checkout", "branch", 0.4, 5, 1),
             ("checkout", "path", 0.05, 2, 1), ("switch", "branch", 0.3, 2, 1), ("fetch", "", 1.5, 4, 1),
             ("push", "", 2.0, 3, 1), ("pull", "", 2.5, 2, 1), ("rebase", "", 1.0, 1, 1), ("reset", "hard", 0.1, 1, 1),
             ("restore", "", 0.05, 1, 1), ("stash", "", 0.2, 1, 1), ("rev-parse", "", 0.005, 10, 4),
             ("gc", "", 8.0, 0.2, 1), ("other", "", 0.1, 1, 1)]
_ACTORS = [("terminal", 50), ("ide", 25), ("agent", 15), ("script", 5), ("ci", 3), ("gitbutler", 2)]
_OPS = ["CreateCommit", "UpdateWorkspaceBase", "MoveHunk", "UndoCommit", "CreateBranch", "SquashCommit",
        "AmendCommit", "RestoreFromSnapshot"]

# (type, relative weight)
_MIX = [("commit.attempt", 90), ("commit.created", 80), ("commit.message_edit", 60), ("worktree.sample", 260),
        ("index.stage", 90), ("branch.switch", 80), ("commit.amended", 25), ("commit.aborted", 8),
        ("commit.blocked", 5), ("commit.undone", 4), ("commit.reverted", 2), ("commit.abandoned", 3),
        ("edit.discarded", 15), ("stash.push", 10), ("stash.pop", 9), ("history.rebase", 8),
        ("history.reset", 6), ("history.merge", 6), ("push", 30), ("hook.ran", 60), ("vbranch.updated", 12),
        ("vbranch.created", 2), ("vbranch.applied", 2), ("vbranch.unapplied", 2), ("gitbutler.op", 25),
        ("gitobs.scan", 40)]


def _git_command(rng: random.Random) -> schema.GitCommand:
    name, mode, typical, _, weight = rng.choices(_COMMANDS, [entry[3] for entry in _COMMANDS])[0]
    actor = rng.choices(*zip(*_ACTORS))[0]
    seconds = round(rng.lognormvariate(0, 0.9) * typical, 4)
    hooks, editor = [], None
    if name == "commit":
        if rng.random() < 0.9:
            hooks.append(schema.HookRun("pre-commit", round(rng.lognormvariate(0, 0.8), 3),
                                        0 if rng.random() > 0.05 else 1))
        if actor in ("terminal", "ide") and rng.random() < 0.6:
            editor = round(rng.lognormvariate(2.5, 1.0), 3)
    elif name == "push" and rng.random() < 0.5:
        hooks.append(schema.HookRun("pre-push", round(rng.lognormvariate(0.5, 0.8), 3), 0))
    took = seconds + sum(run.seconds for run in hooks) + (editor or 0.0)
    failed = rng.random() < (0.15 if name in ("fetch", "push", "pull") else 0.03)
    return schema.GitCommand(command=name, mode=mode, exit=(128 if name in ("fetch", "push") else 1) if failed else 0,
                             duration_s=round(took, 4), hooks=hooks, editor_s=editor,
                             no_verify=name == "commit" and rng.random() < 0.04, actor=actor,
                             weight=weight if rng.random() < 0.9 else 1, nested=name == "fetch" and rng.random() < 0.2)


class _Developer:
    def __init__(self, rng: random.Random, files: int) -> None:
        self.rng = rng
        self.paths = [f"{rng.choice(_DIRS)}/{'m' if i % 7 else 'mod'}{i}{rng.choice(_EXTS)}" for i in range(files)]
        self.hot = self.paths[: max(1, files // 20)]  # most edits hit a few files
        self.tips = {name: self.sha() for name in _BRANCHES}
        self.branch = "main"
        self.stacks = [f"{rng.getrandbits(64):016x}" for _ in range(4)]

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def files(self, most: int) -> list[schema.FileChange]:
        rng = self.rng
        chosen = {rng.choice(self.hot) if rng.random() < 0.7 else rng.choice(self.paths)
                  for _ in range(rng.randint(1, most))}
        return [schema.FileChange(p, rng.randint(0, 60), rng.randint(0, 25)) for p in sorted(chosen)]

    def payload(self, kind: str) -> schema.Payload:  # noqa: PLR0911 - one arm per type, read as a table
        rng, branch = self.rng, self.branch
        if kind == "commit.attempt":
            return schema.CommitAttempt(branch=branch, verify=rng.random() > 0.05)
        if kind == "commit.created":
            files = self.files(6)
            sha, parent = self.sha(), self.tips[branch]
            self.tips[branch] = sha
            return schema.CommitCreated(sha=sha, branch=branch, parents=[parent], files=files,
                                        files_total=len(files), added=sum(f.added for f in files),
                                        deleted=sum(f.deleted for f in files),
                                        staged_s=round(rng.expovariate(1 / 120), 3))
        if kind == "commit.message_edit":
            return schema.CommitMessageEdit(seconds=round(rng.lognormvariate(2.5, 1.0), 3), branch=branch)
        if kind == "worktree.sample":
            files = self.files(8)
            return schema.WorktreeSample(branch=branch, files=files, files_total=len(files),
                                         added=sum(f.added for f in files), deleted=sum(f.deleted for f in files))
        if kind == "index.stage":
            return schema.IndexStage(count=rng.randint(1, 6), seconds=round(rng.uniform(0, 40), 3), branch=branch)
        if kind == "branch.switch":
            target = rng.choice([name for name in _BRANCHES if name != branch])
            payload = schema.BranchSwitch(from_=branch, to=target, from_sha=self.tips[branch],
                                          to_sha=self.tips[target], dwell_s=round(rng.expovariate(1 / 1800), 3))
            self.branch = target
            return payload
        if kind == "commit.amended":
            old, new = self.tips[branch], self.sha()
            self.tips[branch] = new
            return schema.CommitAmended(old=old, new=new, branch=branch, since_s=round(rng.expovariate(1 / 300), 3))
        if kind == "commit.aborted":
            return schema.CommitAborted(branch=branch, stage=rng.choice(["editor", "empty-message",
                                                                         "nothing-to-commit"]))
        if kind == "commit.blocked":
            return schema.CommitBlocked(hook="pre-commit", exit=1, duration_s=round(rng.uniform(0.5, 20), 3),
                                        branch=branch)
        if kind == "commit.undone":
            return schema.CommitUndone(sha=self.tips[branch], to_sha=self.sha(), age_s=rng.uniform(5, 900),
                                       branch=branch)
        if kind == "commit.reverted":
            return schema.CommitReverted(sha=self.sha(), reverted=self.sha(), age_s=rng.uniform(60, 90 * 86400),
                                         branch=branch)
        if kind == "commit.abandoned":
            shas = [self.sha() for _ in range(rng.randint(1, 3))]
            return schema.CommitAbandoned(shas=shas, count=len(shas), by=rng.choice(["reset", "rebase"]),
                                          branch=branch)
        if kind == "edit.discarded":
            return schema.EditDiscarded(how=rng.choice(["checkout", "reset-hard", "sample"]), branch=branch,
                                        files=self.files(3))
        if kind == "stash.push":
            return schema.StashPush(branch=branch, sha=self.sha())
        if kind == "stash.pop":
            return schema.StashRemoved(sha=self.sha())
        if kind == "history.rebase":
            return schema.HistoryRebase(branch=branch, steps={"pick": rng.randint(1, 8)},
                                        from_sha=self.tips[branch], to_sha=self.sha())
        if kind == "history.reset":
            return schema.HistoryReset(branch=branch, from_sha=self.tips[branch], to_sha=self.sha())
        if kind == "history.merge":
            return schema.HistoryMerge(branch=branch, merged=rng.choice(_BRANCHES), sha=self.sha())
        if kind == "push":
            return schema.Push(remote="origin", refs=[f"refs/heads/{branch}"], force=rng.random() < 0.1)
        if kind == "hook.ran":
            hook = rng.choice(["pre-commit", "pre-commit", "commit-msg", "pre-push"])
            return schema.HookRan(hook=hook, seconds=round(rng.lognormvariate(0, 0.8), 3),
                                  exit=0 if rng.random() > 0.05 else 1)
        if kind.startswith("vbranch."):
            stack = rng.choice(self.stacks)
            if kind == "vbranch.updated":
                return schema.VBranchUpdated(stack=stack, branch=f"stack-{stack[:4]}", from_sha=self.sha(),
                                             to_sha=self.sha(), commits=rng.randint(1, 3))
            return schema.VBranch(stack=stack, branch=f"stack-{stack[:4]}", tip=self.sha(),
                                  applied=kind != "vbranch.unapplied")
        if kind == "gitbutler.op":
            return schema.GitButlerOp(operation=rng.choice(_OPS), sha=self.sha())
        return schema.GitobsScan(records=rng.randint(1, 12), reflog_entries=rng.randint(0, 5),
                                 events=rng.randint(1, 12), seconds=round(rng.uniform(0.005, 0.08), 4))


def _source(kind: str) -> str:
    if kind.startswith(("vbranch.", "gitbutler.")):
        return "gitbutler"
    if kind in ("worktree.sample", "edit.discarded"):
        return "worktree"
    if kind.startswith(("commit.created", "branch.", "history.", "stash.", "commit.amended", "commit.undone")):
        return "reflog"
    return "gitobs" if kind.startswith("gitobs.") else "hook"


def events(count: int, seed: int = 1, files: int = 3000, git_commands: float = 0.0) -> Iterator[schema.Event]:
    """`count` events in time order, numbered from 1, deterministic for a seed. `git_commands`: the share of
    them that are `git.command` events (git's trace2); 0 draws nothing for them, so the stream is as before."""
    rng = random.Random(seed)
    developer = _Developer(rng, files)
    kinds, weights = zip(*_MIX)
    day_start, ts = START_NS, START_NS + 9 * 3600 * 10**9
    for seq in range(1, count + 1):
        gap = rng.expovariate(1 / 90) * 10**9
        ts += int(gap)
        if rng.random() < 0.004 or ts - day_start > WORKDAY_END_NS:  # the day (or a session) is over
            day_start += DAY_NS * (3 if (day_start // DAY_NS) % 7 == 1 else 1)  # weekends off
            ts = max(ts, day_start + int(rng.uniform(8, 11) * 3600 * 10**9))
        if git_commands and rng.random() < git_commands:
            event = schema.make_event("git.command", _git_command(rng), ts_ns=ts, src="trace2",
                                      wt="." if rng.random() > 0.1 else "hotfix", provenance=f"gen:{seed}:{seq}")
            event.seq = seq
            yield event
            continue
        kind = rng.choices(kinds, weights)[0]
        event = schema.make_event(kind, developer.payload(kind), ts_ns=ts, src=_source(kind),
                                  wt="." if rng.random() > 0.1 else "hotfix", provenance=f"gen:{seed}:{seq}")
        event.seq = seq
        yield event
