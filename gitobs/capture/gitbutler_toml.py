"""GitButler's TOML files, in every format written since 2024, read into one normalized shape.

`virtual_branches.toml` has had three shapes (docs/gitbutler.md):
- 2024, before stacking: each stack is a lane with a `name`, a `head` sha and `applied` and/or `in_workspace`;
- 2024-25, stacking: a stack holds `heads`, its branches bottom first, each with a `head` (before 0.13.14
  `target`) sub-table holding `CommitId` (or a legacy `ChangeId`, which names no commit);
- 2026: the same, with the stack's own `name` "" and its `head`/`tree` null placeholders.
GitButler ignores unknown keys and keeps dropping old ones, so every key is optional here.
`operations-log.toml` (`oplog.toml` in 0.11.5-0.11.7) names the newest snapshot commit of the oplog.
"""

from __future__ import annotations

import re
import sys

import msgspec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
MAX_NAME = 256  # characters kept of a branch or lane name (git allows longer; nobody types them)


class Branch(msgspec.Struct, array_like=True):
    """One branch of a stack (or a whole pre-stacking lane)."""

    name: str
    stored: str = ""  # the commit the TOML names; "" when null, a ChangeId, or absent
    tip: str = ""  # the live tip, filled in by the observer: refs/heads/<name>, else `stored`
    archived: bool = False  # integrated into the target (0.13.9+)
    review: int = 0  # the pull request's number (0.13.13+), 0 when none
    seen_ns: int = 0  # when gitobs first saw the branch (filled in by the observer)
    ci: list[int] = []  # its CI checks [pending, passed, failed] (but.sqlite's ci_checks); []: unknown


class Stack(msgspec.Struct, kw_only=True, omit_defaults=True):
    order: int = 0  # GitButler's lane order, 0 = leftmost
    applied: bool = True  # in the workspace
    lane: bool = False  # a pre-stacking lane: no refs/heads/<name>, its tip lives in the TOML only
    branches: list[Branch] = []  # bottom (nearest the target) first; the last names the stack
    files: int = -1  # files with hunks assigned to the stack (but.sqlite's hunk_assignments); -1: unknown
    paths: list[str] = []  # the first of those files (gitbutler_db.MAX_PATHS), sorted


class PartialFile(ValueError):
    """A file that parses but lacks what every GitButler version writes: cut short by a writer."""


def parse_virtual_branches(data: bytes) -> dict[str, Stack]:
    """Stacks by id. Raises ValueError (TOMLDecodeError, PartialFile, UnicodeDecodeError) on a bad file.

    Every GitButler writes a `branches` table (`[branches]` when there are no stacks): an empty file, or one
    whose `branches` is missing or not a table, is one GitButler itself rejects and rewrites, not "no stacks".
    """
    if not data.strip():
        raise PartialFile("empty file")
    document = tomllib.loads(data.decode())
    branches = document.get("branches")
    if not isinstance(branches, dict):
        raise PartialFile("no branches table")
    stacks: dict[str, Stack] = {}
    for stack_id, table in branches.items():
        stack = _stack(stack_id, table)
        if stack.branches:  # a new stack has neither heads nor a name yet: nothing to name it by
            stacks[name(stack_id)] = stack  # ids are UUIDs: the cap only bounds a corrupt file
    return stacks


def parse_oplog_head(data: bytes) -> str:
    """The newest snapshot commit, "" when the log is empty. Raises ValueError on a bad file."""
    document = tomllib.loads(data.decode())
    head = document.get("head_sha", "")
    if head and not commit_id(head):
        raise PartialFile("head_sha is not a commit id")
    return commit_id(head)


def _stack(stack_id: str, table: object) -> Stack:
    # Every writer puts `id` in each stack table; a table without it is the tail of a cut file.
    if not isinstance(table, dict) or table.get("id") != stack_id:
        raise PartialFile(f"stack {stack_id} has no id")
    stack = Stack(order=integer(table.get("order")), applied=_applied(table))
    heads = table.get("heads")
    if isinstance(heads, list) and heads:
        stack.branches = [_head(head) for head in heads]
    elif name(table.get("name")):
        stack.lane = True
        stack.branches = [Branch(name(table.get("name")), commit_id(table.get("head")))]
    return stack


def _head(head: object) -> Branch:
    if not isinstance(head, dict) or not name(head.get("name")):
        raise PartialFile("a stacked branch has no name")
    commit = head.get("head", head.get("target"))  # `target` until 0.13.14
    stored = commit_id(commit.get("CommitId")) if isinstance(commit, dict) else commit_id(commit)
    return Branch(name(head["name"]), stored, archived=head.get("archived") is True,
                  review=max(integer(head.get("pr_number")), 0))


def _applied(table: dict) -> bool:
    """In the workspace: `in_workspace` (0.12.8+) and `applied` (until 0.12.24) when both are written, else
    whichever is; absent means applied. 0.12.8-0.12.24 wrote `applied = false` with the default
    `in_workspace = true` for a lane unapplied before the upgrade, and GitButler counts it out of the
    workspace (`in_workspace && !is_old_unapplied()`)."""
    flags = [table[key] for key in ("in_workspace", "applied") if isinstance(table.get(key), bool)]
    return all(flags)


def name(value: object) -> str:
    """A branch or lane name as recorded: NUL bytes dropped, at most MAX_NAME characters; "" if not text."""
    return value.replace("\0", "")[:MAX_NAME] if isinstance(value, str) else ""


def commit_id(value: object) -> str:
    """A commit id, "" for anything else: null shas (placeholders), ChangeIds, wrong types."""
    if not isinstance(value, str):
        return ""
    value = value.lower()
    return value if _SHA.fullmatch(value) and value.strip("0") else ""


def _table(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def integer(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
