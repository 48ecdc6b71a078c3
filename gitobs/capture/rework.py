"""Work taken back: commits undone by a reset, left behind by a reset or rebase, or reverted.

Every judgement here needs the object store (ancestry, commit times), so it runs in the scanner with
pygit2 and only when a reset, a rebase or a revert was seen; without an object store it says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2

from gitobs.capture.enrich import Enricher
from gitobs.log import schema

MAX_LISTED = 100  # shas named in one commit.abandoned; the count stays exact up to MAX_WALK
MAX_WALK = 10_000


@dataclass
class Abandoned:
    shas: list[str]
    count: int


class Rework:
    def __init__(self, enricher: Enricher | None, undo_window_s: float) -> None:
        self.enricher = enricher
        self.undo_window_s = undo_window_s
        self._tips: list[str] | None = None  # branch tips now: what is still reachable is judged by them

    def undone(self, old: str, new: str, moment_s: float, branch: str | None) -> schema.CommitUndone | None:
        """A reset from `old` back to its ancestor `new`, where `old` was committed within the window."""
        if self.enricher is None or old == new:
            return None
        tip = self.enricher.commit(old)
        if tip is None or self.enricher.contains(old, new) is not True:
            return None
        age = moment_s - tip.commit_time
        if age > self.undo_window_s:
            return None
        commits = len(self._walk(old, hide=[new]))
        return schema.CommitUndone(sha=old, to_sha=new, commits=commits, age_s=round(max(age, 0.0), 3),
                                   branch=branch)

    def abandoned(self, old: str, skip: set[str] = frozenset()) -> Abandoned | None:
        """Commits reachable from `old` that no branch, local or remote-tracking, reaches any more
        (`skip`: rewritten ones)."""
        if self.enricher is None:
            return None
        lost = [sha for sha in self._walk(old, hide=self._branch_tips()) if sha not in skip]
        return Abandoned(lost[:MAX_LISTED], len(lost)) if lost else None

    def reverted(self, sha: str, reverted: str, branch: str | None) -> schema.CommitReverted:
        age = None
        if self.enricher is not None:
            mine, theirs = self.enricher.commit(sha), self.enricher.commit(reverted)
            if mine is not None and theirs is not None:
                age = float(mine.commit_time - theirs.commit_time)
        return schema.CommitReverted(sha=sha, reverted=reverted, age_s=age, branch=branch)

    def _branch_tips(self) -> list[str]:
        if self._tips is None:
            repo = self.enricher.repo
            self._tips = []
            for name in repo.listall_references():
                if name.startswith(("refs/heads/", "refs/remotes/")):
                    try:
                        self._tips.append(str(repo.lookup_reference(name).resolve().target))
                    except (pygit2.GitError, KeyError, ValueError):
                        continue
        return self._tips

    def _walk(self, start: str, hide: list[str]) -> list[str]:
        """Commits reachable from `start` and from none of `hide`, newest first, at most MAX_WALK."""
        repo = self.enricher.repo
        try:
            walker = repo.walk(start, pygit2.enums.SortMode.TOPOLOGICAL)
            for sha in hide:
                try:
                    walker.hide(sha)
                except (pygit2.GitError, KeyError, ValueError):
                    continue  # a tip that is not a commit here
            found = []
            for commit in walker:
                found.append(str(commit.id))
                if len(found) >= MAX_WALK:
                    break
            return found
        except (pygit2.GitError, KeyError, ValueError):
            return []
