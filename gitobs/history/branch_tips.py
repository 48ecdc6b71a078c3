"""Where `gitobs import` starts: the tips of the local branches and the HEAD of every worktree, read once,
so that commits made while it runs (not reachable from these) are left to the scanner.

A commit's branch is a guess that history allows: the default branch (init.defaultBranch, else main,
master, trunk or develop, else the branch HEAD is on) for everything it reaches, merged work included;
another branch for commits only it reaches; none for commits only a detached HEAD reaches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitobs.core.names import recorded
from gitobs.core.repo import worktree_git_dirs
from gitobs.history import gitlog

_USUAL_DEFAULTS = ("main", "master", "trunk", "develop")
_GITBUTLER = "gitbutler/"  # GitButler's own branches: its workspace commit, not the user's work


@dataclass
class Tips:
    branches: dict[str, str] = field(default_factory=dict)  # branch name -> tip commit
    detached: list[str] = field(default_factory=list)  # commits worktrees' HEADs point at, off any branch name
    default: str | None = None  # the default branch's name

    @property
    def commits(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.branches.values()) | set(self.detached)))


def read_tips(repo: pygit2.Repository, common_dir: Path) -> Tips:
    tips = Tips()
    for name in sorted(repo.branches.local):
        if name.startswith(_GITBUTLER):
            continue
        sha = _commit_of(repo, f"refs/heads/{name}")
        if sha is not None:
            tips.branches[recorded(name)] = sha  # the name as events record it
    for git_dir in worktree_git_dirs(common_dir).values():
        head = _read_head(git_dir)
        if head.startswith("ref: "):
            ref = head[5:].strip()
            sha = _commit_of(repo, ref)
            if sha is not None and recorded(ref.removeprefix("refs/heads/")) not in tips.branches:
                tips.detached.append(sha)  # a GitButler workspace, say: its parents are branches
        elif _is_commit(repo, head.strip()):
            tips.detached.append(head.strip())
    tips.default = _default_branch(repo, tips, common_dir)
    return tips


def branch_labels(common_dir: Path, tips: Tips, hide: tuple[str, ...], since: int | None) -> dict[str, str | None]:
    """Commit -> branch, for the commits the default branch does not reach (few, usually); the others are
    the default branch's."""
    default_tip = tips.branches.get(tips.default) if tips.default else None
    others = tuple(sorted(set(tips.commits) - {default_tip}))
    if not others:
        return {}
    names: dict[str, str | None] = {}
    for name, sha in sorted(tips.branches.items(), reverse=True):  # the first name, for tips shared
        names[sha] = name
    walk = gitlog.Walk(others, hide + ((default_tip,) if default_tip else ()), since)
    return {sha: names.get(tip) for sha, tip in gitlog.sources(common_dir, walk).items()}


def _commit_of(repo: pygit2.Repository, ref: str) -> str | None:
    try:
        reference = repo.references.get(ref)
        if reference is None:
            return None
        target = str(reference.resolve().target)
        if _is_commit(repo, target):  # by its type: a commit libgit2 cannot parse is still a tip git walks from
            return target
        return str(reference.peel(pygit2.Commit).id)  # a branch at an annotated tag
    except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
        return None  # unborn, dangling or not a commit


def _is_commit(repo: pygit2.Repository, sha: str) -> bool:
    """By the object's type, not by parsing it: libgit2 refuses commits git keeps (one dated 2**64 - 1)."""
    try:
        return repo.odb.read(sha)[0] == pygit2.GIT_OBJECT_COMMIT
    except (ValueError, KeyError, pygit2.GitError):
        return False


def _read_head(git_dir: Path) -> str:
    """HEAD as pygit2 takes a ref name: odd bytes as lone surrogates."""
    try:
        return os.fsdecode((git_dir / "HEAD").read_bytes())
    except OSError:
        return ""


def _default_branch(repo: pygit2.Repository, tips: Tips, common_dir: Path) -> str | None:
    try:
        configured = repo.config["init.defaultBranch"]
    except (KeyError, pygit2.GitError):
        configured = None
    for name in (configured, *_USUAL_DEFAULTS):
        if name in tips.branches:
            return name
    head = _read_head(common_dir)
    current = recorded(head[5:].strip().removeprefix("refs/heads/")) if head.startswith("ref: ") else None
    if current in tips.branches:
        return current
    return next(iter(tips.branches), None)
