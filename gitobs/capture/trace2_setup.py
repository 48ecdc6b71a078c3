"""`gitobs trace2 enable|disable|status`: git's trace2 event target pointed at a private directory of gitobs's.

trace2 reads its settings only from the global or system config or the environment, so enabling is done
in the user's global git config (the file `git config --global` writes: $GIT_CONFIG_GLOBAL, else
~/.gitconfig, else $XDG_CONFIG_HOME/git/config when only that one exists). Before touching it, enable keeps
the file's exact bytes (and the bytes it left) in `<state home>/trace2-enabled.json`, mode 0600; disable puts
the old bytes back when the file is as enable left it, and otherwise removes only gitobs's keys, keeping what
the user changed since. There is one event target: enable never takes over one the user or their company
set (global, system, or $GIT_TRACE2_EVENT). A global config that is no regular file ($GIT_CONFIG_GLOBAL=/dev/null,
a FIFO) is refused before any git runs.

git writes one file per process into the directory; at trace2.maxFiles files it writes a
`git-trace2-discard` sentinel and writes nothing more until a scan drains the directory and removes it, so
disk use stays bounded however long no scan runs (MAX_FILES files of ~1-4 KB each in brief mode with
nesting 1: ~20 MB at worst for usual commands).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.capture.actors import ActorRules
from gitobs.core import config
from gitobs.core.files import write_atomic
from gitobs.core.homes import state_home
from gitobs.core.repo import GitobsError, untraced_env

MAX_FILES = 5000
SENTINEL = "git-trace2-discard"  # git's own name for it
RECORD_FORMAT = 1


def trace2_dir() -> Path:
    return state_home() / "trace2"


def record_path() -> Path:
    return state_home() / "trace2-enabled.json"


def actor_rules() -> ActorRules:
    """The built-in actor rules and the user's own (`actors.rules`, user scope)."""
    return ActorRules.from_config(config.load()["actors.rules"])


def settings(target: Path) -> dict[str, str]:
    """gitobs's trace2 keys, as `git config` names them, and their values. trace2.envVars lists the variables
    the actor rules read (capture/actors.py): git copies those into each process's trace, nothing else of
    the environment."""
    return {"trace2.eventTarget": os.fspath(target), "trace2.eventBrief": "true", "trace2.eventNesting": "1",
            "trace2.maxFiles": str(MAX_FILES), "trace2.envVars": ",".join(actor_rules().env_vars())}


def global_config_path() -> Path:
    """The file `git config --global` writes, chosen as git chooses it."""
    explicit = os.environ.get("GIT_CONFIG_GLOBAL")
    if explicit:
        return Path(explicit)
    home = Path.home() / ".gitconfig"
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or os.fspath(Path.home() / ".config")
    xdg = Path(xdg_home) / "git" / "config"
    if not os.access(home, os.R_OK) and os.access(xdg, os.R_OK):
        return xdg
    return home


def _git_config(*args: str, absent: int = 1) -> list[str]:
    """`git config` output lines; none when the key is not set. Run outside any repository."""
    _check_regular(global_config_path())  # every git reads it (trace2's own settings), whatever the scope asked
    env = untraced_env()  # gitobs's own `git config` is no command of the user's
    env.pop("GIT_DIR", None)
    try:
        done = subprocess.run(["git", "config", *args], capture_output=True, text=True, errors="replace",
                              cwd="/", env=env, check=False)
    except FileNotFoundError:
        raise GitobsError("git is not installed or not on PATH") from None
    if done.returncode not in (0, absent):  # the key is not set: 1 for a read, 5 for an unset
        message = done.stderr.strip().splitlines()
        raise GitobsError(f"git config {' '.join(args[:2])} failed: {message[-1] if message else done.returncode}")
    return done.stdout.splitlines() if done.returncode == 0 else []


def _check_regular(path: Path) -> None:
    """A global config that is a device (GIT_CONFIG_GLOBAL=/dev/null, how scripts ignore it) or a FIFO is never
    read nor written: git would hang on a FIFO, and its write would replace the device with a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # none yet (enable makes it), or git says why
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise GitobsError(f"the global git config {path} is not a regular file: trace2 is set in a regular one")


def _set(path: Path, key: str, value: str | None) -> None:
    if value is None:
        _git_config("--file", os.fspath(path), "--unset-all", key, absent=5)
    else:
        _git_config("--file", os.fspath(path), key, value)


def global_target() -> str | None:
    found = _git_config("--global", "--includes", "--get-all", "trace2.eventtarget")
    return found[-1] if found else None


def other_targets(ours: Path) -> list[str]:
    """Event targets set by someone else, each described for the user."""
    found = []
    env = os.environ.get("GIT_TRACE2_EVENT")
    if env and env.lower() not in ("0", "false"):  # git's own words for "off"
        found.append(f"the environment sets GIT_TRACE2_EVENT={env}")
    for line in _git_config("--system", "--includes", "--show-origin", "--get-all", "trace2.eventtarget"):
        origin, _, value = line.partition("\t")
        found.append(f"the system config ({origin.removeprefix('file:')}) sets trace2.eventTarget={value}")
    target = global_target()
    if target is not None and os.path.abspath(target) != os.fspath(ours):
        found.append(f"your global git config sets trace2.eventTarget={target}")
    return found


def private_dir(path: Path) -> Path:
    """`path` as a directory of this user's only: created 0700, a symlink or someone else's refused."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise GitobsError(f"cannot create {path}: {exc.strerror}") from None
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise GitobsError(f"{path} is not a plain directory (a symlink?): remove it and try again")
    if info.st_uid != os.getuid():
        raise GitobsError(f"{path} belongs to another user: remove it and try again")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


@dataclass
class Record:
    """What enable found and left, so that disable can put the user's config back exactly."""

    config: str  # the global config file enable wrote
    existed: bool
    before: bytes
    after: bytes
    prior: dict[str, str | None] = field(default_factory=dict)  # gitobs's keys' values before, if any

    def save(self, path: Path) -> None:
        data = {"format": RECORD_FORMAT, "config": self.config, "existed": self.existed,
                "before": base64.b64encode(self.before).decode(), "after": base64.b64encode(self.after).decode(),
                "prior": self.prior}
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)  # a copy of their config
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(data, indent=1).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)

    @classmethod
    def load(cls, path: Path) -> Record | None:
        try:
            data = json.loads(path.read_bytes())
            return cls(str(data["config"]), bool(data["existed"]), base64.b64decode(data["before"]),
                       base64.b64decode(data["after"]), dict(data.get("prior") or {}))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GitobsError(f"cannot read {path} ({exc}); remove gitobs's trace2.* keys by hand") from None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GitobsError(f"cannot read {path}: {exc.strerror}") from None


def is_enabled() -> bool:
    target = global_target()
    return target is not None and os.path.abspath(target) == os.fspath(trace2_dir())


def enable() -> str:
    """Point git's trace2 at gitobs's directory. Raises GitobsError, changing nothing, when another target
    is set. Returns what was done, for the user."""
    target = trace2_dir()
    others = other_targets(target)
    if others:
        raise GitobsError("; ".join(others) + ": there is one trace2 event target, gitobs leaves it alone")
    if is_enabled():
        return _refresh_env_vars(target)
    private_dir(target)
    path = Path(os.path.realpath(global_config_path()))  # git writes through a symlinked config file
    before = _read(path)
    keys = settings(target)
    prior = {key: (values[-1] if (values := _git_config("--file", os.fspath(path), "--get-all", key)) else None)
             for key in keys} if before is not None else {}
    try:
        for key, value in keys.items():
            _set(path, key, value)
    except GitobsError:
        _restore(path, before)
        raise
    Record(os.fspath(path), before is not None, before or b"", _read(path) or b"", prior).save(record_path())
    return f"trace2 on: git writes one file per process into {target} (at most {MAX_FILES}), drained by scans"


def _refresh_env_vars(target: Path) -> str:
    """Enabled already: only trace2.envVars follows the actor rules, if the user changed them since."""
    said = f"trace2 is already on: git writes into {target}"
    record = Record.load(record_path())
    wanted = settings(target)["trace2.envVars"]
    if record is None or _git_config("--file", record.config, "--get-all", "trace2.envVars")[-1:] == [wanted]:
        return said
    path = Path(record.config)
    unchanged = _read(path) == record.after
    _set(path, "trace2.envVars", wanted)
    if unchanged:  # still gitobs's own edit: disable can still give the old bytes back
        record.after = _read(path) or b""
        record.save(record_path())
    return said + "; trace2.envVars now lists what the actor rules read"


def disable() -> str:
    record = Record.load(record_path())
    if record is None:
        if not is_enabled():
            return "trace2 is not on for gitobs: nothing to do"
        path = Path(os.path.realpath(global_config_path()))
        _remove_keys(path, {key: None for key in settings(trace2_dir())})
        return f"trace2 off: gitobs's keys removed from {path}"
    path = Path(record.config)
    if _read(path) == record.after:
        _restore(path, record.before if record.existed else None)
        said = f"trace2 off: {path} is back as it was"
    else:  # changed since enable: keep the user's changes, take out gitobs's keys only
        _remove_keys(path, {key: record.prior.get(key) for key in settings(trace2_dir())})
        said = f"trace2 off: gitobs's keys removed from {path}, your other changes kept"
    record_path().unlink(missing_ok=True)
    return said + "; what git wrote meanwhile goes with the next scan"


def _remove_keys(path: Path, values: dict[str, str | None]) -> None:
    if not path.exists():
        return
    for key, value in values.items():
        _set(path, key, value)
    if not _git_config("--file", os.fspath(path), "--get-regexp", r"^trace2\."):
        _git_config("--file", os.fspath(path), "--remove-section", "trace2")


def _restore(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
        return
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    write_atomic(path, data)
    os.chmod(path, mode)


@dataclass
class Status:
    on: bool
    target: Path
    waiting: int  # process files git wrote that no scan took yet
    full: bool  # git hit trace2.maxFiles and writes nothing until a scan drains the directory
    others: list[str]


def status() -> Status:
    target = trace2_dir()
    try:
        names = os.listdir(target)
    except OSError:
        names = []
    return Status(is_enabled(), target, sum(1 for name in names if name != SENTINEL and not name.startswith(".")),
                  SENTINEL in names, other_targets(target))
