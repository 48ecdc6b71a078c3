"""Read the raw records the hook shim leaves in `.git/obs/spool/`.

One file per hook run, `<pid>.<hook>` (written once, by one process, so records never interleave), plus
`<pid>.<hook>.end` holding the chained hook's exit status. The shim forks no clock: a record's time is
its file's mtime. A record is ready once the process that wrote it has exited, because only then is
its `.end` file (if any) known to be complete.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.core.liveness import process_alive
from gitobs.core.names import decoded, recorded

SPOOL_MAGIC = "gitobs-spool 1"
END_SUFFIX = ".end"
# A record whose writer is still alive after this long is treated as done (pid reuse, hung hook).
MAX_WAIT_NS = 24 * 3600 * 10**9
# A file that never became a whole record (disk full, killed mid-write) is dropped after this long.
GARBAGE_AFTER_NS = 120 * 10**9


@dataclass
class SpoolRecord:
    name: str  # file name: unique while the record exists, part of the event ids made from it
    ts_ns: int  # when the hook started (the file's mtime)
    hook: str
    pid: int
    ppid: int
    wt: str
    head: str  # HEAD as the hook saw it: "ref: refs/heads/x" or a sha
    args: list[str] = field(default_factory=list)
    stdin: str | None = None
    op: str = ""  # rebase / cherry-pick / revert / merge in progress while a commit hook ran
    # pre-commit and commit-msg only (shims since the lean hook set; None or "" before):
    editor: bool | None = None  # False: git set GIT_EDITOR=: (no editor opens); True: one does
    index: str = ""  # the index file the commit takes: "index", or "index.lock" for `commit -a`
    head_sha: str = ""  # the commit HEAD named (the old side of the commit's reflog line), when loose
    status: int | None = None  # the chained hook's exit status; None when there was none
    end_ns: int | None = None  # when the chained hook finished

    @property
    def branch(self) -> str | None:
        """The branch HEAD was on, or None when detached."""
        if self.head.startswith("ref: refs/heads/"):
            return self.head[len("ref: refs/heads/"):]
        return None

    def ref_updates(self) -> list[tuple[str, str, str]]:
        """reference-transaction's stdin as (old, new, ref), each distinct line once."""
        updates = []
        for line in dict.fromkeys((self.stdin or "").splitlines()):
            old, _, rest = line.partition(" ")
            new, _, ref = rest.partition(" ")
            updates.append((old, new, ref))
        return updates

    @property
    def duration_s(self) -> float | None:
        if self.end_ns is None:
            return None
        return max(0, self.end_ns - self.ts_ns) / 1e9


@dataclass
class SpoolBatch:
    records: list[SpoolRecord]  # ready, oldest first
    consumed: list[Path]  # files to delete once the events made from them are durable
    garbage: list[str]  # names of files that were not records

    def extend(self, later: SpoolBatch) -> None:
        """Take in a second read of the spool (records that became ready since the first)."""
        self.records.extend(later.records)
        self.consumed.extend(later.consumed)
        self.garbage.extend(later.garbage)


def parse_record(name: str, ts_ns: int, text: str) -> SpoolRecord | None:
    head, _, stdin = text.partition("\nstdin\n")
    lines = head.split("\n")
    if not lines or lines[0] != SPOOL_MAGIC:
        return None
    fields: dict[str, str] = {}
    args: list[str] = []
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key == "arg":
            args.append(value)
        elif key:
            fields[key] = value
    try:
        record = SpoolRecord(
            name=name, ts_ns=ts_ns, hook=fields["hook"], pid=int(fields["pid"]), ppid=int(fields["ppid"]),
            wt=fields.get("wt", "."), head=fields.get("head", ""), args=args,
            op=fields.get("op", ""), index=fields.get("index", ""), head_sha=fields.get("headsha", ""),
        )
        if "index" in fields:  # a shim that records the editor: `editor 0` when none opens
            record.editor = fields.get("editor") != "0"
    except (KeyError, ValueError):
        return None
    if "\nstdin\n" in text:
        record.stdin = stdin
    return record


def read_spool(spool_dir: Path, now_ns: int | None = None, skip: set[str] = frozenset()) -> SpoolBatch:
    now_ns = now_ns if now_ns is not None else time.time_ns()
    batch = SpoolBatch([], [], [])
    try:
        entries = {entry.name: entry for entry in os.scandir(spool_dir)
                   if entry.is_file() and entry.name not in skip}
    except FileNotFoundError:
        return batch
    _drop_odd_names(entries, batch)
    for name, entry in entries.items():
        if name.startswith(".") and now_ns - _mtime(entry) > GARBAGE_AFTER_NS:
            batch.consumed.append(Path(entry.path))  # a note's write (write_note), killed before its rename
        if name.endswith(END_SUFFIX) or name.startswith("."):
            continue
        _take(spool_dir, entry, entries.get(name + END_SUFFIX), now_ns, batch)
    for name, entry in entries.items():
        if name.endswith(END_SUFFIX) and name[: -len(END_SUFFIX)] not in entries:
            if now_ns - _mtime(entry) > GARBAGE_AFTER_NS:  # its record was consumed or lost
                batch.consumed.append(Path(entry.path))
    batch.records.sort(key=lambda r: (r.ts_ns, r.pid, r.name))
    return batch


def _take(spool_dir: Path, entry: os.DirEntry, end: os.DirEntry | None, now_ns: int, batch: SpoolBatch) -> None:
    ts_ns = _mtime(entry)
    try:
        text = decoded(Path(entry.path).read_bytes())  # the shim writes names as git gives them: bytes
    except OSError:
        return
    record = parse_record(entry.name, ts_ns, text)
    if record is None:
        if now_ns - ts_ns > GARBAGE_AFTER_NS:
            batch.garbage.append(entry.name)
            batch.consumed.append(Path(entry.path))
        return
    if now_ns - ts_ns < MAX_WAIT_NS and process_alive(record.pid, ts_ns):
        return  # its chained hook may still be running: its .end is not final yet
    if end is not None:
        record.end_ns = _mtime(end)
        status = _read_status(Path(end.path))
        record.status = status
        batch.consumed.append(Path(end.path))
    batch.records.append(record)
    batch.consumed.append(Path(entry.path))


def _drop_odd_names(entries: dict[str, os.DirEntry], batch: SpoolBatch) -> None:
    """Files named in bytes that are not UTF-8 are no shim's (it names files in ASCII), and the state that
    lists consumed files is JSON: they are deleted now and counted as garbage."""
    for name in [name for name in entries if recorded(name) != name]:
        batch.garbage.append(recorded(name))
        try:
            os.unlink(entries.pop(name).path)
        except OSError:
            pass


def _read_status(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    key, _, value = text.strip().partition(" ")
    return int(value) if key == "status" and value.lstrip("-").isdigit() else None


def _mtime(entry: os.DirEntry) -> int:
    try:
        return entry.stat().st_mtime_ns
    except OSError:
        return 0


def backlog(spool_dir: Path) -> int:
    """Records waiting for the next scan: the hooks' files, and git's trace2 files in `trace2/`."""
    try:
        with os.scandir(spool_dir) as entries:
            names = [entry.name for entry in entries if entry.is_file()]
        return sum(1 for name in names if not name.endswith(".end") and name[0] != ".") + backlog(spool_dir / "trace2")
    except OSError:
        return 0


def write_note(spool_dir: Path, kind: str, args: list[str]) -> None:
    """A record from gitobs itself (installed, a background error), ingested like a hook's."""
    lines = [SPOOL_MAGIC, f"hook {kind}", "pid 0", f"ppid {os.getpid()}", "wt .", "head "]
    lines += [f"arg {' '.join(arg.split())}" for arg in args]  # one line each: no newlines inside
    name = f"{os.getpid()}.{kind}.{time.time_ns()}"
    try:
        tmp = spool_dir / f".{name}"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, spool_dir / name)
    except OSError:
        pass  # a note is worth less than the command that wanted to write it
