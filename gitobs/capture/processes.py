"""Hook records grouped by the git process that ran the hooks (worktree and parent pid).

One git command is one process: what else a process did tells what its index write meant. A
post-index-change alone is staging (`add`, `rm`, `mv`); with a post-checkout it was a checkout; with a
HEAD update and the work tree rewritten, a `reset --hard`. `git stash` runs some of its work in child git
processes (an index update, a `reset --hard`) whose hooks look like the user's own commands: processes
starting within STASH_CHILD_NS of a stash's records are counted as its helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitobs.capture.spool import SpoolRecord

STASH_CHILD_NS = 10**9  # `git stash` writes its reset right after refs/stash; the same window as its reflog line
# Hooks that mean the process did more than write the index.
OPERATION_HOOKS = frozenset({
    "pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout", "post-merge",
    "post-rewrite", "pre-rebase", "pre-push", "reference-transaction",
})


@dataclass
class GitProcess:
    hooks: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)  # refs it updated (reference-transaction)
    tree_written: bool = False  # post-index-change said the work tree was updated
    first_ns: int = 0
    last_ns: int = 0
    stash_helper: bool = False  # a child process of `git stash`

    def only_wrote_index(self) -> bool:
        return not (self.hooks & OPERATION_HOOKS) and not self.tree_written and not self.stash_helper

    def reset_hard(self) -> bool:
        """Work tree rewritten and HEAD moved (even to itself), without a checkout, merge, rebase or stash."""
        return (self.tree_written and "HEAD" in self.refs and "ORIG_HEAD" in self.refs and not self.stash_helper
                and not self.hooks & {"post-checkout", "post-merge", "post-rewrite"} and "refs/stash" not in self.refs)


def key(record: SpoolRecord) -> tuple[str, int]:
    return (record.wt, record.ppid)


def group(records: list[SpoolRecord]) -> dict[tuple[str, int], GitProcess]:
    processes: dict[tuple[str, int], GitProcess] = {}
    for record in records:
        process = processes.setdefault(key(record), GitProcess(first_ns=record.ts_ns))
        process.last_ns = max(process.last_ns, record.ts_ns)
        process.hooks.add(record.hook)
        if record.hook == "post-index-change" and record.args[:1] == ["1"]:
            process.tree_written = True
        elif record.hook == "reference-transaction":
            process.refs.update(ref for _, _, ref in record.ref_updates())
    _mark_stash_helpers(processes)
    return processes


def _mark_stash_helpers(processes: dict[tuple[str, int], GitProcess]) -> None:
    stashes = [(wt, p) for (wt, _), p in processes.items() if "refs/stash" in p.refs]
    for (wt, _), process in processes.items():
        if "refs/stash" in process.refs:
            continue
        process.stash_helper = any(
            stash_wt == wt and stash.first_ns <= process.first_ns <= stash.last_ns + STASH_CHILD_NS
            for stash_wt, stash in stashes)
