"""`gitobs schedule` with each scheduler's real command line, played by stand-ins on PATH that keep their
state in temporary files: the user's own crontab, units and agents are never touched."""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import gitobs

from gitobs.fleet import schedule

FAKE_CRONTAB = """#!/bin/sh
# crontab -l / crontab - / crontab -r, kept in $FAKE_CRONTAB
case "$1" in
  -l) if [ -f "$FAKE_CRONTAB" ]; then cat "$FAKE_CRONTAB"; else echo "no crontab for tester" >&2; exit 1; fi ;;
  -r) rm -f "$FAKE_CRONTAB" ;;
  -) cat > "$FAKE_CRONTAB" ;;
  *) exit 2 ;;
esac
"""
FAKE_SYSTEMCTL = """#!/bin/sh
# every call logged; `show` answers for an active timer
echo "$*" >> "$FAKE_CALLS"
case "$*" in
  *"show gitobs-scan.timer"*) printf 'ActiveState=active\\nNextElapseUSecRealtime=Wed 2026-12-02 10:01:00 UTC\\n' ;;
  *"show gitobs-scan.service"*) printf 'Result=success\\nExecMainStatus=0\\n' ;;
esac
exit 0
"""
FAKE_LAUNCHCTL = """#!/bin/sh
echo "$*" >> "$FAKE_CALLS"
exit 0
"""


@pytest.fixture
def stand_ins(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("crontab", FAKE_CRONTAB), ("systemctl", FAKE_SYSTEMCTL), ("launchctl", FAKE_LAUNCHCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CRONTAB", str(tmp_path / "crontab"))
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    monkeypatch.setenv("GITOBS_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def calls(stand_ins: Path) -> list[str]:
    path = stand_ins / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_cron_round_trip_leaves_the_users_crontab_byte_for_byte(stand_ins):
    crontab = stand_ins / "crontab"
    before = b"MAILTO=me@example.invalid\n# nightly backup\n30 2 * * * /usr/local/bin/backup --all\n"
    crontab.write_bytes(before)
    first = gitobs("schedule", "install", "--via", "cron")
    assert "installed (cron, every 60 s)" in first.stdout
    lines = crontab.read_text().splitlines()
    assert lines[:3] == before.decode().splitlines() and len(lines) == 4
    entry = lines[3]
    assert entry.startswith("*/1 * * * * ") and entry.endswith(schedule.MARK)
    assert entry.startswith("*/1 * * * * cd / && ")  # never the directory cron starts in
    assert f"GITOBS_DATA_HOME={shlex.quote(str(stand_ins / 'data'))} {shlex.quote(sys.executable)} -I -m gitobs " \
           f"scan --all --quiet" in entry
    assert "already installed" in gitobs("schedule", "install", "--via", "cron").stdout
    assert crontab.read_text().splitlines() == lines
    gitobs("schedule", "install", "--via", "cron", "--interval", "5m")
    assert crontab.read_text().count(schedule.MARK) == 1 and "*/5 * * * *" in crontab.read_text()
    assert "removed (cron)" in gitobs("schedule", "uninstall").stdout
    assert crontab.read_bytes() == before
    assert "no periodic scan was installed" in gitobs("schedule", "uninstall").stdout


def test_cron_without_a_crontab_before_removes_the_one_it_made(stand_ins):
    gitobs("schedule", "install", "--via", "cron")
    assert (stand_ins / "crontab").exists()
    status = gitobs("schedule", "status").stdout
    assert "periodic scan: cron, every 60 s; next run 20" in status and "last run: none yet" in status
    gitobs("schedule", "uninstall")
    assert not (stand_ins / "crontab").exists()


def test_cron_runs_whole_minutes_only(stand_ins):
    done = gitobs("schedule", "install", "--via", "cron", "--interval", "2h", ok=False)
    assert done.returncode == 2 and "every 1 to 59 minutes" in done.stderr
    assert not (stand_ins / "crontab").exists()


def test_a_changed_crontab_entry_shows_in_status_and_install_repairs_it(stand_ins):
    gitobs("schedule", "install", "--via", "cron")
    crontab = stand_ins / "crontab"
    crontab.write_text("")  # someone cleared it
    assert "missing or changed" in gitobs("schedule", "status").stderr
    assert "periodic scan installed" in gitobs("schedule", "install", "--via", "cron").stdout
    assert crontab.read_text().count(schedule.MARK) == 1


def test_systemd_user_timer_round_trip(stand_ins):
    assert "installed (systemd, every 90 s)" in gitobs("schedule", "install", "--interval", "90s").stdout
    units = stand_ins / "config" / "systemd" / "user"
    service, timer = (units / "gitobs-scan.service").read_text(), (units / "gitobs-scan.timer").read_text()
    assert f'ExecStart="{sys.executable}" "-I" "-m" "gitobs" "scan" "--all" "--quiet"' in service
    assert "WorkingDirectory=/\n" in service
    assert f'Environment="GITOBS_DATA_HOME={stand_ins / "data"}"' in service
    assert "OnUnitActiveSec=90s" in timer and "WantedBy=timers.target" in timer
    assert "--user daemon-reload" in calls(stand_ins)
    assert "--user enable --now gitobs-scan.timer" in calls(stand_ins)
    status = gitobs("schedule", "status").stdout
    assert "systemd, every 90 s; next run Wed 2026-12-02 10:01:00 UTC" in status
    assert "last result success, exit 0" in status
    gitobs("schedule", "uninstall")
    assert not list(units.iterdir())
    assert "--user disable --now gitobs-scan.timer" in calls(stand_ins)
    assert not (stand_ins / "data" / "schedule.json").exists()


def test_launchd_agent_plist(stand_ins, monkeypatch):
    monkeypatch.setenv("HOME", str(stand_ins / "home"))
    gitobs("schedule", "install", "--via", "launchd", "--interval", "120s")
    path = stand_ins / "home" / "Library" / "LaunchAgents" / f"{schedule.AGENT}.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["ProgramArguments"] == [sys.executable, "-I", "-m", "gitobs", "scan", "--all", "--quiet"]
    assert agent["WorkingDirectory"] == "/"
    assert agent["StartInterval"] == 120 and agent["EnvironmentVariables"] == {
        "GITOBS_DATA_HOME": str(stand_ins / "data")}
    assert f"load -w {path}" in calls(stand_ins)
    gitobs("schedule", "uninstall")
    assert not path.exists() and f"unload -w {path}" in calls(stand_ins)


def test_switching_schedulers_removes_the_old_one(stand_ins):
    gitobs("schedule", "install", "--via", "cron")
    gitobs("schedule", "install", "--via", "systemd")
    assert not (stand_ins / "crontab").exists()
    assert (stand_ins / "config" / "systemd" / "user" / "gitobs-scan.timer").exists()


def test_status_shows_the_schedule_and_the_last_run(stand_ins, watched):
    gitobs("install", cwd=watched)
    gitobs("schedule", "install", "--via", "cron")
    gitobs("scan", "--all", "--quiet", cwd=watched)
    shown = gitobs("status", cwd=watched).stdout
    assert "periodic scan: cron, every 60 s" in shown
    assert "last run: 20" in shown and "1 repository in" in shown and shown.rstrip().count(", ok") == 1


def test_an_unknown_scheduler_is_a_one_line_error(stand_ins):
    done = gitobs("schedule", "install", "--via", "at", ok=False)
    assert done.returncode == 2 and "no scheduler named 'at'" in done.stderr and "Traceback" not in done.stderr


def test_the_scheduled_scan_never_imports_from_its_directory(tmp_path):
    """Even started in a directory that ships its own gitobs (cron starts in $HOME), the command is isolated."""
    marker = tmp_path / "ran"
    (tmp_path / "gitobs.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    done = subprocess.run([*schedule.scan_command()[:-3], "version"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_the_scheduled_scan_keeps_the_homes_this_environment_moved(stand_ins, monkeypatch):
    # a scheduler starts with a bare environment: without these, its scan would look for the registry and
    # git's trace2 files under ~/.local and never find them
    monkeypatch.delenv("GITOBS_DATA_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(stand_ins / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(stand_ins / "xdg-state"))
    gitobs("schedule", "install", "--via", "cron")
    entry = (stand_ins / "crontab").read_text()
    assert f"GITOBS_DATA_HOME={shlex.quote(str(stand_ins / 'xdg-data' / 'gitobs'))}" in entry
    assert f"GITOBS_STATE_HOME={shlex.quote(str(stand_ins / 'xdg-state' / 'gitobs'))}" in entry
