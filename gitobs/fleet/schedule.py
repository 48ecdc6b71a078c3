"""`gitobs schedule`: the periodic `gitobs scan --all` installed with the platform's own scheduler: a
systemd user timer where a user manager runs, a crontab entry elsewhere, a launchd agent on macOS.

What was installed is kept in `<data home>/schedule.json`, so that uninstall removes exactly that: the
two unit files, the crontab lines carrying MARK (the rest of the crontab is written back byte for byte,
or removed if gitobs created it), or the agent's plist.
"""

from __future__ import annotations

import json
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gitobs.capture.interpreter import ROOT, gitobs_command
from gitobs.core.files import write_atomic
from gitobs.core.homes import data_home, state_home
from gitobs.core.repo import GitobsError

UNIT = "gitobs-scan"
AGENT = "dev.gitobs.scan"
MARK = "# gitobs-schedule"
DEFAULT_INTERVAL_S = 60
SETTINGS = "schedule.json"


def scan_command() -> list[str]:
    """The command the scheduler runs: this interpreter and this gitobs, whatever PATH the scheduler has."""
    return gitobs_command(sys.executable, "scan", "--all", "--quiet")


def _environment() -> dict[str, str]:
    """What the scheduled scan needs from this environment (a scheduler starts with a bare one): where the
    registry is and where git writes trace2 files, when this environment moved them from their defaults."""
    homes = {"GITOBS_DATA_HOME": (("GITOBS_DATA_HOME", "XDG_DATA_HOME"), data_home),
             "GITOBS_STATE_HOME": (("GITOBS_STATE_HOME", "XDG_STATE_HOME"), state_home)}
    return {key: os.fspath(resolved()) for key, (moved_by, resolved) in homes.items()
            if any(os.environ.get(name) for name in moved_by)}


@dataclass
class Installed:
    backend: str
    interval_s: int
    command: list[str]
    installed: str  # UTC, ISO 8601
    crontab_existed: bool = False  # cron: whether the user had a crontab before


@dataclass
class Status:
    backend: str
    interval_s: int
    problems: list[str] = field(default_factory=list)  # what is not as installed
    details: list[str] = field(default_factory=list)  # what the scheduler itself says (its last result)
    next_run: str | None = None


def _run(args: list[str], input_text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, input=input_text, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitobsError(f"{args[0]} is not installed or not on PATH") from None


def _checked(args: list[str], input_text: str | None = None) -> str:
    done = _run(args, input_text)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise GitobsError(f"{' '.join(args[:3])} failed: {message[-1] if message else done.returncode}")
    return done.stdout


class Cron:
    name = "cron"

    def available(self) -> bool:
        return shutil.which("crontab") is not None

    @staticmethod
    def interval(seconds: int) -> int:
        """What cron can do: whole minutes, rounded up."""
        return -(-seconds // 60) * 60

    def line(self, command: list[str], interval_s: int) -> str:
        minutes = -(-interval_s // 60)
        if not 1 <= minutes <= 59:
            raise GitobsError("a crontab entry runs every 1 to 59 minutes: use an --interval from 1m to 59m")
        env = " ".join(f"{key}={shlex.quote(value)}" for key, value in _environment().items())
        text = " ".join(filter(None, [f"cd {ROOT} &&", env, shlex.join(command), ">/dev/null 2>&1"]))
        return f"*/{minutes} * * * * {text.replace('%', chr(92) + '%')} {MARK}"  # % ends a cron command

    def current(self) -> str | None:
        done = _run(["crontab", "-l"])
        if done.returncode == 0:
            return done.stdout
        if "no crontab" in done.stderr.lower():
            return None
        raise GitobsError(f"crontab -l failed: {done.stderr.strip() or done.returncode}")

    def install(self, command: list[str], interval_s: int) -> Installed:
        before = self.current()
        kept = _without_mark(before or "")
        _checked(["crontab", "-"], kept + self.line(command, interval_s) + "\n")
        return Installed(self.name, interval_s, command, _now(), crontab_existed=before is not None)

    def uninstall(self, installed: Installed) -> None:
        before = self.current()
        if before is None:
            return
        kept = _without_mark(before)
        if kept == before:
            return
        if not kept and not installed.crontab_existed:
            _checked(["crontab", "-r"])
        else:
            _checked(["crontab", "-"], kept)

    def status(self, installed: Installed) -> Status:
        found = [line for line in (self.current() or "").splitlines() if line.endswith(MARK)]
        status = Status(self.name, installed.interval_s)
        if found != [self.line(installed.command, installed.interval_s)]:
            status.problems.append("the crontab entry is missing or changed (run gitobs schedule install)")
            return status
        minutes = max(1, -(-installed.interval_s // 60))
        moment = (int(time.time()) // 60 + 1) * 60
        while time.localtime(moment).tm_min % minutes:  # */N fires at the local minutes divisible by N
            moment += 60
        status.next_run = _iso(moment)
        return status


def _without_mark(crontab: str) -> str:
    return "".join(line for line in crontab.splitlines(keepends=True) if not line.rstrip("\n").endswith(MARK))


class Systemd:
    name = "systemd"
    interval = staticmethod(int)

    def available(self) -> bool:
        if shutil.which("systemctl") is None:
            return False
        return _run(["systemctl", "--user", "show-environment"]).returncode == 0  # a user manager answers

    @staticmethod
    def unit_dir() -> Path:
        config = os.environ.get("XDG_CONFIG_HOME")
        return (Path(config) if config and os.path.isabs(config) else Path.home() / ".config") / "systemd" / "user"

    def units(self, command: list[str], interval_s: int) -> dict[str, str]:
        environment = "".join(f'Environment="{key}={_systemd_quote(value)}"\n' for key, value in _environment().items())
        exec_start = " ".join(f'"{_systemd_quote(part)}"' for part in command)
        return {
            f"{UNIT}.service": (f"# Written by gitobs schedule install; removed by gitobs schedule uninstall.\n"
                                f"[Unit]\nDescription=gitobs: scan the repositories gitobs is installed in\n\n"
                                f"[Service]\nType=oneshot\nNice=10\nIOSchedulingClass=idle\nWorkingDirectory={ROOT}\n"
                                f"{environment}"
                                f"ExecStart={exec_start}\n"),
            f"{UNIT}.timer": (f"# Written by gitobs schedule install; removed by gitobs schedule uninstall.\n"
                              f"[Unit]\nDescription=gitobs: scan every {interval_s} s\n\n"
                              f"[Timer]\nOnBootSec={interval_s}s\nOnUnitActiveSec={interval_s}s\nAccuracySec=5s\n\n"
                              f"[Install]\nWantedBy=timers.target\n"),
        }

    def install(self, command: list[str], interval_s: int) -> Installed:
        directory = self.unit_dir()
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.units(command, interval_s).items():
            write_atomic(directory / name, text.encode())
        _checked(["systemctl", "--user", "daemon-reload"])
        _checked(["systemctl", "--user", "enable", "--now", f"{UNIT}.timer"])
        return Installed(self.name, interval_s, command, _now())

    def uninstall(self, installed: Installed) -> None:
        _run(["systemctl", "--user", "disable", "--now", f"{UNIT}.timer"])
        for name in (f"{UNIT}.service", f"{UNIT}.timer"):
            try:
                (self.unit_dir() / name).unlink()
            except FileNotFoundError:
                pass
        _run(["systemctl", "--user", "daemon-reload"])

    def status(self, installed: Installed) -> Status:
        status = Status(self.name, installed.interval_s)
        timer = _properties(["systemctl", "--user", "show", f"{UNIT}.timer",
                             "--property=ActiveState,NextElapseUSecRealtime,LastTriggerUSec"])
        service = _properties(["systemctl", "--user", "show", f"{UNIT}.service", "--property=Result,ExecMainStatus"])
        if timer.get("ActiveState") != "active":
            state = timer.get("ActiveState") or "unknown"
            status.problems.append(f"the timer is {state} (run gitobs schedule install)")
        status.next_run = timer.get("NextElapseUSecRealtime") or None
        if service.get("Result"):
            exit_status = service.get("ExecMainStatus", "?")
            status.details.append(f"systemd: last result {service['Result']}, exit {exit_status}")
        return status


def _systemd_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")


def _properties(args: list[str]) -> dict[str, str]:
    done = _run(args)
    pairs = (line.partition("=") for line in done.stdout.splitlines()) if done.returncode == 0 else ()
    return {key: value for key, _, value in pairs if value}


class Launchd:
    name = "launchd"
    interval = staticmethod(int)

    def available(self) -> bool:
        return sys.platform == "darwin" and shutil.which("launchctl") is not None

    @staticmethod
    def plist_path() -> Path:
        return Path.home() / "Library" / "LaunchAgents" / f"{AGENT}.plist"

    def plist(self, command: list[str], interval_s: int) -> bytes:
        agent = {"Label": AGENT, "ProgramArguments": command, "StartInterval": interval_s, "RunAtLoad": True,
                 "ProcessType": "Background", "LowPriorityIO": True, "Nice": 10, "WorkingDirectory": ROOT}
        if _environment():
            agent["EnvironmentVariables"] = _environment()
        return plistlib.dumps(agent)

    def install(self, command: list[str], interval_s: int) -> Installed:
        path = self.plist_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        _run(["launchctl", "unload", str(path)])  # a previous version of the agent, if loaded
        write_atomic(path, self.plist(command, interval_s))
        _checked(["launchctl", "load", "-w", str(path)])
        return Installed(self.name, interval_s, command, _now())

    def uninstall(self, installed: Installed) -> None:
        path = self.plist_path()
        _run(["launchctl", "unload", "-w", str(path)])
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def status(self, installed: Installed) -> Status:
        status = Status(self.name, installed.interval_s)
        done = _run(["launchctl", "list", AGENT])
        if done.returncode != 0:
            status.problems.append("the agent is not loaded (run gitobs schedule install)")
        else:
            status.details += [f"launchd: {line.strip()}" for line in done.stdout.splitlines()
                               if "LastExitStatus" in line]
        return status


BACKENDS = {backend.name: backend for backend in (Systemd(), Cron(), Launchd())}


def choose(name: str | None) -> Systemd | Cron | Launchd:
    if name is not None:
        if name not in BACKENDS:
            raise GitobsError(f"no scheduler named {name!r}: use {', '.join(BACKENDS)}")
        return BACKENDS[name]
    order = ["launchd"] if sys.platform == "darwin" else ["systemd", "cron"]
    for candidate in order:
        if BACKENDS[candidate].available():
            return BACKENDS[candidate]
    raise GitobsError("no scheduler found here (no systemd user manager, no crontab): run gitobs watch instead")


def installed(directory: Path | None = None) -> Installed | None:
    try:
        data = json.loads(((directory or data_home()) / SETTINGS).read_bytes())
        return Installed(backend=str(data["backend"]), interval_s=int(data["interval_s"]),
                         command=[str(part) for part in data["command"]], installed=str(data["installed"]),
                         crontab_existed=bool(data.get("crontab_existed", False)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise GitobsError(f"cannot read {(directory or data_home()) / SETTINGS}; remove it and install again") from None


def install(name: str | None, interval_s: int) -> tuple[Installed, bool]:
    """Install (or re-install with new settings); returns what is installed and whether anything changed."""
    if interval_s < 1:
        raise GitobsError("the interval must be at least one second")
    backend = choose(name)
    interval_s = backend.interval(interval_s)
    command = scan_command()
    previous = installed()
    if previous is not None and (previous.backend, previous.interval_s, previous.command) == (
            backend.name, interval_s, command) and not BACKENDS[previous.backend].status(previous).problems:
        return previous, False
    if previous is not None:
        BACKENDS[previous.backend].uninstall(previous)
    done = backend.install(command, interval_s)
    if previous is not None and previous.backend == done.backend == "cron":
        done.crontab_existed = previous.crontab_existed  # what was there before gitobs, not before this install
    home = data_home()
    home.mkdir(parents=True, exist_ok=True)
    write_atomic(home / SETTINGS, (json.dumps(asdict(done), indent=1) + "\n").encode())
    return done, True


def uninstall() -> Installed | None:
    previous = installed()
    if previous is None:
        return None
    if previous.backend not in BACKENDS:
        raise GitobsError(f"{data_home() / SETTINGS} names an unknown scheduler {previous.backend!r}")
    BACKENDS[previous.backend].uninstall(previous)
    (data_home() / SETTINGS).unlink()
    return previous


def status() -> Status | None:
    previous = installed()
    if previous is None:
        return None
    return BACKENDS[previous.backend].status(previous) if previous.backend in BACKENDS else None


def _now() -> str:
    return _iso(time.time())


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
