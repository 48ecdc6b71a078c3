"""git's trace2 records of one git process -> a `git.command` event, and an `edit.discarded` one for a
path checkout, a restore of the working tree or a `reset --hard`.

The caller (the trace2 drain) hands over the decoded JSON objects of one process's trace2 file, in
order. A file cut short gives what can be known: without the process's end (`exit`, `signal` or
`atexit`) it gives nothing, since the process may still be running and its file may be read again.
Nothing here raises on what a file holds. docs/events.md documents every field and what of argv is kept.
"""

from __future__ import annotations

import calendar
import hashlib
import math
import re
import time
from dataclasses import dataclass, field

from gitobs.capture import git_argv
from gitobs.capture.actors import ActorRules
from gitobs.capture.git_commands import command_name, is_reading
from gitobs.log import schema
from gitobs.log.schema import Payload

SAMPLE_ONE_IN = 10  # of the reading commands that succeed quickly, one in this many is kept, with this weight
SLOW_S = 1.0  # a reading command slower than this is always kept
REPO_LOOKAHEAD = 20  # def_repo comes within git's first few records
MAX_HOOKS = 32  # distinct hooks per command (git knows about 30)
MAX_SID = 512
_MODE = re.compile(r"[a-z0-9_-]{1,32}")
_HOOK = re.compile(r"[a-z0-9_-]{1,64}")
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")
_WRAPPERS = ("_run_dashed_", "_run_git_alias_", "_run_shell_alias_")  # git's names for an alias or git-foo


@dataclass
class Child:
    kind: str  # git's child_class: hook, editor, git_alias, ...
    hook: str = ""
    code: int | None = None
    seconds: float = 0.0


@dataclass
class Process:
    """What one git process's records say, as read; nothing here is stored as is."""

    sid: str = ""
    start_ns: int | None = None
    end_ns: int | None = None
    argv: list = field(default_factory=list)
    ancestry: list = field(default_factory=list)
    worktree: str | None = None
    name: str = ""
    hierarchy: str = ""
    mode: str = ""
    env: dict[str, str] = field(default_factory=dict)
    children: dict[int, Child] = field(default_factory=dict)
    exit: int | None = None
    duration_s: float = 0.0


def repo_of(records: list[dict]) -> str | None:
    """The worktree the process ran in (def_repo), from its first records; None for a bare repository or
    a process outside any repository."""
    for record in records[:REPO_LOOKAHEAD] if isinstance(records, list) else []:
        if isinstance(record, dict) and record.get("event") == "def_repo":
            worktree = record.get("worktree")
            return worktree if isinstance(worktree, str) and worktree else None
    return None


def events_of(records: list[dict], rules: ActorRules | None = None) -> list[tuple[str, Payload, int, str]]:
    """(event type, payload, ts_ns, provenance) for one git process; provenance "trace2|<sid>"."""
    try:
        process = _read(records if isinstance(records, list) else [])
        return _events(process, rules or ActorRules())
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError):
        return []  # a record shaped unlike git's (hand-made, or another version's): the file gives nothing


def _read(records: list) -> Process:
    process = Process()
    for record in records:
        if not isinstance(record, dict):
            continue
        if not process.sid and isinstance(record.get("sid"), str):
            process.sid = record["sid"]
        _READERS.get(record.get("event"), _ignore)(process, record)
    return process


def _ignore(process: Process, record: dict) -> None:
    pass


def _start(process: Process, record: dict) -> None:
    process.argv = record.get("argv") if isinstance(record.get("argv"), list) else []
    process.start_ns = _time_ns(record.get("time"), _number(record.get("t_abs")))


def _ancestry(process: Process, record: dict) -> None:
    names = record.get("ancestry")
    process.ancestry = [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def _def_repo(process: Process, record: dict) -> None:
    if process.worktree is None and isinstance(record.get("worktree"), str):
        process.worktree = record["worktree"]


def _cmd_name(process: Process, record: dict) -> None:
    if isinstance(record.get("name"), str):
        process.name = record["name"]  # an alias's wrapper names itself twice; the last counts
        process.hierarchy = record["hierarchy"] if isinstance(record.get("hierarchy"), str) else ""


def _cmd_mode(process: Process, record: dict) -> None:
    mode = record.get("name")
    process.mode = mode if isinstance(mode, str) and _MODE.fullmatch(mode) else "other"


def _def_param(process: Process, record: dict) -> None:
    if isinstance(record.get("param"), str) and isinstance(record.get("value"), str):
        process.env[record["param"]] = record["value"]


def _child_start(process: Process, record: dict) -> None:
    child_id = record.get("child_id")
    if isinstance(child_id, int) and not isinstance(child_id, bool):
        hook = record.get("hook_name")
        process.children[child_id] = Child(str(record.get("child_class", "")),
                                           hook if isinstance(hook, str) and _HOOK.fullmatch(hook) else "")


def _child_exit(process: Process, record: dict) -> None:
    child = process.children.get(record.get("child_id"))  # type: ignore[arg-type]
    code = _code(record.get("code"))
    if child is not None and code is not None:
        child.code, child.seconds = code, max(0.0, _number(record.get("t_rel")))


def _exit(process: Process, record: dict) -> None:
    code = _code(record.get("signo") if record.get("event") == "signal" else record.get("code"))
    if process.exit is not None or code is None:
        return  # atexit repeats exit's code
    process.exit = 128 + code if record.get("event") == "signal" else code
    process.duration_s = max(0.0, _number(record.get("t_abs")))
    process.end_ns = _time_ns(record.get("time"), 0.0)


_READERS = {"start": _start, "cmd_ancestry": _ancestry, "def_repo": _def_repo, "cmd_name": _cmd_name,
            "cmd_mode": _cmd_mode, "def_param": _def_param, "child_start": _child_start,
            "child_exit": _child_exit, "exit": _exit, "signal": _exit, "atexit": _exit}


def _events(process: Process, rules: ActorRules) -> list[tuple[str, Payload, int, str]]:
    if process.exit is None or not process.sid or len(process.sid) > MAX_SID or not process.name:
        return []  # still running, killed by SIGKILL, or not a git process's file
    if process.start_ns is None:
        process.start_ns = _sid_ns(process.sid)
    if process.start_ns is None:
        return []
    if process.name in _WRAPPERS and any(child.kind == "git_alias" for child in process.children.values()):
        return []  # an alias: the git it ran writes its own file, with the command it resolved to
    origin = f"trace2|{process.sid}"
    command = command_name(process.name)
    args = git_argv.command_args(process.argv)
    found: list[tuple[str, Payload, int, str]] = []
    payload = _command(process, command, args, rules)
    if payload is not None:
        found.append(("git.command", payload, process.start_ns, origin))
    discard = _discard(process, command, args)
    if discard is not None:
        end_ns = process.end_ns or process.start_ns + int(process.duration_s * 1e9)  # brief records have no time
        found.append(("edit.discarded", discard, end_ns, origin))
    return found


def _command(process: Process, command: str, args: list[str], rules: ActorRules) -> schema.GitCommand | None:
    weight = sample_weight(process.sid, reading=is_reading(command, args), exit=process.exit or 0,
                           duration_s=process.duration_s)
    if weight == 0:
        return None
    nested, ancestry = _nesting(process)
    editors = [child.seconds for child in process.children.values() if child.kind == "editor"]
    return schema.GitCommand(
        command=command, mode=process.mode, exit=process.exit or 0, duration_s=round(process.duration_s, 6),
        hooks=_hooks(process), editor_s=round(sum(editors), 6) if editors else None,
        no_verify=git_argv.no_verify(command, args), actor=rules.actor(ancestry, process.env, nested),
        weight=weight, nested=nested)


def sample_weight(sid: str, *, reading: bool, exit: int, duration_s: float) -> int:
    """0: left out; else the weight the kept event carries. Every command that changes something, fails or
    is slow is kept with 1; of the other reading commands, those whose sid hashes to 0 mod SAMPLE_ONE_IN are
    kept with SAMPLE_ONE_IN, so weighted counts stay unbiased, and the same file always gives the same answer."""
    if not reading or exit != 0 or duration_s > SLOW_S:
        return 1
    digest = hashlib.blake2b(sid.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return SAMPLE_ONE_IN if int.from_bytes(digest, "big") % SAMPLE_ONE_IN == 0 else 0


def _nesting(process: Process) -> tuple[bool, list[str]]:
    """Whether git ran this git (a hook's git, maintenance, a rebase's helpers), and the ancestry that tells
    the actor. A git an alias ran is the person's command: its alias wrapper is left out of both; a git
    that `git-foo` (an external command, `_run_dashed_`) ran is nested like any other."""
    parents = process.hierarchy.split("/")[:-1]
    if "/" not in process.sid:
        return False, process.ancestry
    if parents[-1:] == ["_run_git_alias_"] and all(parent in _WRAPPERS for parent in parents):
        ancestry = process.ancestry
        return False, ancestry[1:] if ancestry[:1] == ["git"] else ancestry
    return True, process.ancestry


def _hooks(process: Process) -> list[schema.HookRun]:
    """One entry per hook, in order of first run: seconds summed, the first failing exit, runs counted."""
    hooks: dict[str, schema.HookRun] = {}
    for child in process.children.values():
        if child.kind != "hook" or not child.hook or child.code is None:
            continue
        run = hooks.get(child.hook)
        if run is None:
            if len(hooks) < MAX_HOOKS:
                hooks[child.hook] = schema.HookRun(child.hook, child.seconds, child.code)
            continue
        run.seconds += child.seconds
        run.runs += 1
        run.exit = run.exit or child.code
    for run in hooks.values():
        run.seconds = round(run.seconds, 6)
    return list(hooks.values())


def _discard(process: Process, command: str, args: list[str]) -> schema.EditDiscarded | None:
    """A successful `checkout` of paths, `restore` of the working tree, or `reset --hard`."""
    if process.exit != 0:
        return None
    if command == "reset" and process.mode == "hard":
        return schema.EditDiscarded(how="reset-hard")
    if not (command in ("checkout", "restore") and process.mode == "path"):
        return None
    paths = git_argv.discarded_paths(command, args, process.worktree)
    if paths is None:
        return None
    return schema.EditDiscarded(how="checkout", files=[schema.FileChange(path, 0, 0) for path in paths])


def _code(value: object) -> int | None:
    """An exit code or signal number as git writes them (-1: a child that could not start), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 255:
        return None
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    if isinstance(value, float) and math.isnan(value):
        return 0.0
    return float(min(value, 1e9))


def _time_ns(text: object, minus_s: float) -> int | None:
    """trace2's "2026-12-06T04:06:13.064724Z" in ns since the epoch; `minus_s` back (the start event comes
    after git has run for t_abs: the process began that much earlier)."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    try:
        seconds = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    fraction = int((match.group(2) or "0").ljust(9, "0"))
    return max(0, seconds * 10**9 + fraction - int(minus_s * 1e9))


def _sid_ns(sid: str) -> int | None:
    """The time in a sid ("20261206T040613.064644Z-H...-P..."; a nested one's last part counts)."""
    stamp = sid.rsplit("/", 1)[-1].split("-", 1)[0]
    if len(stamp) < 15:
        return None
    text = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}{stamp[15:]}"
    return _time_ns(text, 0.0)
