"""What pygit2 adds to an event: a commit's parents, files and line counts, and its revert/merge flags.

Only derived facts leave this module: the message is read for "This reverts commit <sha>" and dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitobs.log.schema import FileChange

MAX_FILES = 500  # per commit in the event; totals stay exact
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40,64})")
GITBUTLER_WORKSPACE_TITLE = "GitButler Workspace Commit"
GITBUTLER_INTEGRATION_TITLE = "GitButler Integration Commit"  # the workspace commit's title before 0.12.23
GITBUTLER_EMAIL = "gitbutler@gitbutler.com"
# What message_facts looks for: a commit whose message holds none of these, and whose author is not
# GITBUTLER_EMAIL, reverts nothing and is not GitButler's.
MESSAGE_MARKERS = ("This reverts commit", GITBUTLER_WORKSPACE_TITLE, GITBUTLER_INTEGRATION_TITLE)


@dataclass
class CommitFacts:
    sha: str
    parents: list[str]
    commit_time: int
    files: list[FileChange] = field(default_factory=list)
    files_total: int = 0
    added: int = 0
    deleted: int = 0
    reverts: str | None = None
    synthetic: bool = False  # GitButler's workspace commit or an oplog snapshot: not the user's work


class Enricher:
    def __init__(self, common_dir: Path) -> None:
        self.repo = pygit2.Repository(str(common_dir))
        self._cache: dict[str, CommitFacts | None] = {}

    def commit(self, sha: str) -> CommitFacts | None:
        """Facts about a commit, or None when it is not in the object store (pruned, shallow)."""
        if sha not in self._cache:
            self._cache[sha] = self._load(sha)
        return self._cache[sha]

    def _load(self, sha: str) -> CommitFacts | None:
        try:
            commit = self.repo.get(sha)
        except (ValueError, pygit2.GitError):
            return None
        if not isinstance(commit, pygit2.Commit):
            return None
        facts = CommitFacts(sha=sha, parents=[str(p) for p in commit.parent_ids], commit_time=commit.commit_time)
        facts.reverts, facts.synthetic = message_facts(commit)
        self._count_lines(commit, facts)
        return facts

    def _count_lines(self, commit: pygit2.Commit, facts: CommitFacts) -> None:
        if len(commit.parent_ids) > 1:  # a merge brings changes already counted on their branch: 0 lines,
            return  # code-maat's convention and gitobs import's default (docs/events.md)
        try:
            if commit.parents:
                diff = self.repo.diff(commit.parents[0], commit)
            else:
                diff = commit.tree.diff_to_tree(swap=True)
        except pygit2.GitError:
            return
        for patch in diff:
            if patch is None:
                continue
            _, added, deleted = patch.line_stats
            delta = patch.delta
            path = delta.new_file.path if delta.status != pygit2.GIT_DELTA_DELETED else delta.old_file.path
            facts.files_total += 1
            facts.added += added
            facts.deleted += deleted
            if len(facts.files) < MAX_FILES:
                facts.files.append(FileChange(path, added, deleted))

    def contains(self, descendant: str, ancestor: str) -> bool | None:
        """Does `descendant` contain `ancestor`? None when either is unknown here."""
        try:
            if descendant == ancestor:
                return True
            return self.repo.descendant_of(descendant, ancestor)
        except (ValueError, KeyError, pygit2.GitError):
            return None


def message_facts(commit: pygit2.Commit) -> tuple[str | None, bool]:
    """What the message says, and nothing of its text: the sha it reverts, and whether GitButler made it."""
    message = commit.message or ""
    return reverted_in(message), _made_by_gitbutler(commit, message)


def reverted_in(message: str) -> str | None:
    """The sha a message names in "This reverts commit <sha>"."""
    match = _REVERTS.search(message)
    return match.group(1) if match else None


def _made_by_gitbutler(commit: pygit2.Commit, message: str) -> bool:
    """GitButler's workspace (formerly integration) commit, or a snapshot of its operations log: GitButler
    authors both; a snapshot's tree holds virtual_branches.toml (GitButler's own test for one)."""
    if message.startswith((GITBUTLER_WORKSPACE_TITLE, GITBUTLER_INTEGRATION_TITLE)):
        return commit.author.name == "GitButler"
    return commit.author.email == GITBUTLER_EMAIL and "virtual_branches.toml" in commit.tree
