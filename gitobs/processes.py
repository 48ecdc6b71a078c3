"""Hook records grouped by the git process that ran the hooks (worktree and parent pid).

One git command is one process: what else a process did tells what its index write meant. A
post-index-change alone is staging (`add`, `rm`, `mv`); with a post-checkout it was a checkout; with a
HEAD update and the work tree rewritten, a `reset --hard`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitobs.spool import SpoolRecord

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

    def only_wrote_index(self) -> bool:
        return not (self.hooks & OPERATION_HOOKS) and not self.tree_written

    def reset_hard(self) -> bool:
        """Work tree rewritten and HEAD moved (even to itself), without a checkout, merge, rebase or stash."""
        return (self.tree_written and "HEAD" in self.refs and "ORIG_HEAD" in self.refs
                and not self.hooks & {"post-checkout", "post-merge", "post-rewrite"} and "refs/stash" not in self.refs)


def key(record: SpoolRecord) -> tuple[str, int]:
    return (record.wt, record.ppid)


def group(records: list[SpoolRecord]) -> dict[tuple[str, int], GitProcess]:
    processes: dict[tuple[str, int], GitProcess] = {}
    for record in records:
        process = processes.setdefault(key(record), GitProcess())
        process.hooks.add(record.hook)
        if record.hook == "post-index-change" and record.args[:1] == ["1"]:
            process.tree_written = True
        elif record.hook == "reference-transaction":
            process.refs.update(ref for _, _, ref in record.ref_updates())
    return processes
