"""GitButler's project database, `<storage>/but.sqlite`, read without ever getting in GitButler's way.

Since 0.19.4 GitButler mirrors `virtual_branches.toml` into the tables `vb_state`, `vb_stacks` and
`vb_stack_heads` on every metadata write, and its own source calls the TOML types legacy. The database also
holds what the TOML never had: `hunk_assignments` (which uncommitted hunk belongs to which stack: its
path is read, never its hunk range).

How it is opened: `file:...?mode=ro` (no write, no create, no journal of our own), `PRAGMA query_only`, a
busy timeout of a few milliseconds, one read transaction. GitButler keeps the database in WAL mode, where a
reader takes no lock a writer waits for and sees the last committed state, whatever is being written; a
read-only connection never checkpoints. A database that is locked, mid-migration or without the mirror
tables (0.14.27-0.19.3) reads as None: the caller falls back to the TOML, or retries next scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from gitobs.capture.gitbutler_toml import Branch, Stack, commit_id, integer, name
from gitobs.core.names import decoded, recorded

BUSY_MS = 20  # how long a read waits for a lock before giving up until the next scan
# A check's conclusion (GitButler's CiConclusion) counted as passed; any other completed one failed.
PASSED = frozenset({"Success", "Neutral", "Skipped"})
MAX_ROWS = 10_000  # rows read of one table: a workspace holds tens; the cap bounds a runaway database
MAX_PATHS = 500  # paths kept per stack, as a commit's files list (enrich.MAX_FILES); the count stays exact


@dataclass
class DbState:
    stacks: dict[str, Stack]
    toml_mtime_ns: int | None  # the TOML's mtime when GitButler last synced it with the tables
    toml_sha256: str | None
    files: dict[str, int] = field(default_factory=dict)  # stack id -> files with hunks assigned to it
    paths: dict[str, list[str]] = field(default_factory=dict)  # stack id -> those files, sorted, capped
    reviews: dict[str, int] = field(default_factory=dict)  # branch -> its review's number (forge_reviews)
    ci: dict[str, list[int]] = field(default_factory=dict)  # branch -> [pending, passed, failed] checks


def read(path: str) -> DbState | None:
    """The mirrored state, None when the database has none (yet) or cannot be read now."""
    import sqlite3  # only where a database exists: most repositories never load it

    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=BUSY_MS / 1000,
                                     isolation_level=None)
    except (sqlite3.Error, UnicodeError):  # UnicodeError: a path not in UTF-8, which no URI can name
        return None
    try:
        connection.execute("PRAGMA query_only = 1")
        connection.execute("BEGIN")  # one snapshot for every table read below
        try:
            return _read(connection)
        finally:
            connection.execute("COMMIT")
    except sqlite3.Error:  # locked, no such table, not a database, torn: the TOML or the next scan
        return None
    finally:
        connection.close()


def _read(connection) -> DbState | None:
    import sqlite3

    state = connection.execute("SELECT initialized, toml_last_seen_mtime_ns, toml_last_seen_sha256 "
                               "FROM vb_state WHERE id = 1").fetchone()
    if not state or not state[0]:
        return None
    stacks: dict[str, Stack] = {}
    lanes: dict[str, tuple[str, str]] = {}
    for stack_id, order, in_workspace, legacy_name, legacy_head in connection.execute(
            "SELECT id, sort_order, in_workspace, legacy_name, legacy_head_sha FROM vb_stacks LIMIT ?", (MAX_ROWS,)):
        if isinstance(stack_id, str):  # ids are UUIDs: as in the TOML, the cap only bounds a corrupt one
            stacks[name(stack_id)] = Stack(order=integer(order), applied=bool(in_workspace))
            lanes[name(stack_id)] = (name(legacy_name), commit_id(legacy_head))
    for stack_id, branch, head_sha, pr_number, archived in connection.execute(
            "SELECT stack_id, name, head_sha, pr_number, archived FROM vb_stack_heads "
            "ORDER BY stack_id, position LIMIT ?", (MAX_ROWS,)):
        stack = stacks.get(name(stack_id)) if isinstance(stack_id, str) else None
        if stack is not None and name(branch):
            stack.branches.append(Branch(name(branch), commit_id(head_sha), archived=bool(archived),
                                         review=max(integer(pr_number), 0)))
    for stack_id, stack in stacks.items():
        lane_name, lane_head = lanes[stack_id]
        if not stack.branches and lane_name:  # as the TOML: a stack without heads but named is a lane
            stack.lane = True
            stack.branches = [Branch(lane_name, lane_head)]
    files: dict[str, int] = {}
    try:
        for stack_id, count in connection.execute(
                "SELECT stack_id, COUNT(DISTINCT path_bytes) FROM hunk_assignments "
                "WHERE stack_id IS NOT NULL GROUP BY stack_id LIMIT ?", (MAX_ROWS,)):
            if isinstance(stack_id, str):
                files[name(stack_id)] = integer(count)
        paths = _paths(connection)
    except sqlite3.OperationalError:  # a schema without the table: no counts
        files, paths = {}, {}
    mtime = state[1] if isinstance(state[1], int) else None
    digest = state[2] if isinstance(state[2], str) else None
    found = DbState({sid: s for sid, s in stacks.items() if s.branches}, mtime, digest, files, paths)
    _forge(connection, found)
    return found


def _paths(connection) -> dict[str, list[str]]:
    """Each stack's files with hunks assigned to it: the path alone (`path_bytes`, git's bytes, as names are
    recorded), never the hunk ranges. The first MAX_PATHS per stack in byte order."""
    paths: dict[str, list[str]] = {}
    for stack_id, raw in connection.execute(
            "SELECT DISTINCT stack_id, path_bytes FROM hunk_assignments WHERE stack_id IS NOT NULL "
            "ORDER BY stack_id, path_bytes LIMIT ?", (MAX_ROWS,)):
        if not isinstance(stack_id, str) or not isinstance(raw, (bytes, str)) or not raw:
            continue
        held = paths.setdefault(name(stack_id), [])
        if len(held) < MAX_PATHS:
            held.append(decoded(raw) if isinstance(raw, bytes) else recorded(raw))
    return paths


def _forge(connection, found: DbState) -> None:
    """The forge's view GitButler caches: each branch's open review (its number only) and its CI checks
    (their status only; names, titles, output and URLs are not read). Absent tables: nothing."""
    import sqlite3

    try:
        for branch, number in connection.execute(
                "SELECT source_branch, MAX(number) FROM forge_reviews WHERE closed_at IS NULL "
                "GROUP BY source_branch LIMIT ?", (MAX_ROWS,)):
            if isinstance(branch, str) and integer(number) > 0:
                found.reviews[name(branch)] = integer(number)
    except sqlite3.OperationalError:
        pass
    try:
        for branch, status, conclusion in connection.execute(
                "SELECT reference, status_type, status_conclusion FROM ci_checks LIMIT ?", (MAX_ROWS,)):
            if not isinstance(branch, str):
                continue
            counts = found.ci.setdefault(name(branch), [0, 0, 0])
            if status != "Complete":
                counts[0] += 1
            else:
                counts[1 if conclusion in PASSED else 2] += 1
    except sqlite3.OperationalError:
        pass
