"""Attacks on the newest features with hostile input: names that try to forge report lines, trace2 and spool
files that are not what they seem. Real git, real files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs
from gitobs_plugins import render_text

from gitobs.capture import trace2_setup, trace2_spool
from gitobs.core.repo import locate
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan

FORGED = "x.txt\nThis week: 999 commits (last week 0)"


def test_a_path_with_a_newline_forges_no_line_of_the_summary(watched: Path) -> None:
    commit_file(watched, FORGED, "x\n", "a file whose name holds a line")
    for form in ("text", "md"):
        out = gitobs("report", "--summary", "-f", form, cwd=watched).stdout
        assert "999 commits" in out  # the name is shown...
        assert not any(line.lstrip("|# ").startswith("This week: 999") for line in out.splitlines())  # ...inert


# --- trace2: files in git's trace2 directory and in a repository's trace2 spool ---

def forged_trace2(worktree: Path, command: str = "commit", pad: int = 0) -> bytes:
    """A finished git process's trace2 records, as another process could write them, naming `worktree`."""
    sid = "20261206T040613.064644Z-Hdeadbeef-P00000001"
    at = "2026-12-06T04:06:13.064724Z"
    records = [{"event": "version", "sid": sid, "evt": "3", "exe": "2.39.5"},
               {"event": "start", "sid": sid, "time": at, "t_abs": 0.001, "argv": ["git", command]},
               {"event": "def_repo", "sid": sid, "repo": 1, "worktree": str(worktree)},
               {"event": "cmd_name", "sid": sid, "name": command, "hierarchy": command}]
    records += [{"event": "data", "sid": sid, "key": "pad", "value": "x" * 1000}] * pad
    records += [{"event": "exit", "sid": sid, "time": at, "t_abs": 0.5, "code": 0},
                {"event": "atexit", "sid": sid, "time": at, "t_abs": 0.5, "code": 0}]
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


TRACE2_NAME = "20261206T040613.064644Z-Hdeadbeef-P00000001"


def trace2_commands(repo: Path) -> list[str]:
    return [e.data["command"] for e in read_events(locate(repo).obs, lambda m: None) if e.type == "git.command"]


def test_a_trace2_file_of_another_user_is_never_routed_into_a_repository(watched, tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    forged = directory / TRACE2_NAME
    forged.write_bytes(forged_trace2(watched, "revert"))
    os.chown(forged, 4242, 4242)  # written by someone else (the directory was opened up, or a hard link)
    scan(locate(watched).common_dir)
    assert "revert" not in trace2_commands(watched)
    assert not forged.exists() and not trace2_spool.spool_dir(locate(watched).obs).exists()


def test_a_fifo_a_symlink_or_a_huge_file_in_the_trace2_spool_never_hangs_a_scan(watched, tmp_path):
    spool = trace2_spool.spool_dir(locate(watched).obs)
    spool.mkdir(mode=0o700, exist_ok=True)
    os.mkfifo(spool / "20261206T040613.000000Z-Hdeadbeef-P00000002")
    outside = tmp_path / "forged"
    outside.write_bytes(forged_trace2(watched, "revert"))
    (spool / "20261206T040613.000000Z-Hdeadbeef-P00000003").symlink_to(outside)
    with open(spool / TRACE2_NAME, "wb") as huge:  # a process that wrote for ever: its head and end count
        huge.write(forged_trace2(watched, "cherry-pick", pad=(trace2_spool.MAX_READ_BYTES >> 10) + 100))
    done = subprocess.run([sys.executable, "-m", "gitobs", "scan"], cwd=watched, capture_output=True, text=True,
                          timeout=120)  # not a timing assertion: a FIFO opened for reading blocks for ever
    assert done.returncode == 0, done.stderr
    assert trace2_commands(watched) == ["cherry-pick"]  # the symlinked file's forged revert is not read
    assert not os.listdir(spool)  # each taken, and gone


def test_a_copied_repositorys_trace2_spool_that_is_a_symlink_never_takes_the_users_command_lines(
        watched, tmp_path, monkeypatch):
    """A repository copied with its .git (a tarball) whose .git/obs/spool/trace2 points at a directory
    another user reads: the drain moves no file (full argv: messages, URLs) through it."""
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    elsewhere = tmp_path / "world-readable"
    elsewhere.mkdir()
    trace2_spool.spool_dir(locate(watched).obs).symlink_to(elsewhere)
    (directory / TRACE2_NAME).write_bytes(forged_trace2(watched, "revert"))
    trace2_spool.drain()  # what a scan does first, before the repository's own ingest
    assert os.listdir(elsewhere) == [] and os.listdir(directory) == []


def test_a_trace2_spool_opened_up_is_made_private_again_before_a_file_goes_in(watched, tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    spool = trace2_spool.spool_dir(locate(watched).obs)
    spool.mkdir(mode=0o755)
    spool.chmod(0o755)
    (directory / TRACE2_NAME).write_bytes(forged_trace2(watched, "revert"))
    trace2_spool.drain()
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert [stat.S_IMODE((spool / name).stat().st_mode) for name in os.listdir(spool)] == [0o600]


def test_a_huge_width_or_columns_draws_a_text_report_at_most_max_width_wide(watched, monkeypatch):
    """--width 1000000000 (or COLUMNS so) once drew a rule of a billion characters: gigabytes, minutes."""
    commit_file(watched, "a.txt", "a\n", "a")
    for args, columns in ((["--width", "1000000000"], None), ([], "999999999")):
        env = {**os.environ, "COLUMNS": columns} if columns else os.environ
        done = subprocess.run([sys.executable, "-m", "gitobs", "report", "--heatmap", *args], cwd=watched,
                              capture_output=True, text=True, env=env, timeout=120)  # a guard, not a timing
        assert done.returncode == 0, done.stderr
        assert max(len(line) for line in done.stdout.splitlines()) == render_text.MAX_WIDTH


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_trace2_enable_never_writes_over_a_global_config_that_is_no_regular_file(tmp_path, monkeypatch, kind):
    """GIT_CONFIG_GLOBAL=/dev/null is how scripts ignore the global config: git config --file would replace the
    device with a regular file (as root), and a FIFO would hang git and gitobs for ever."""
    special = tmp_path / "special"
    if kind == "fifo":
        os.mkfifo(special)
    elif os.getuid() == 0:
        os.mknod(special, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    else:
        pytest.skip("only root makes a device node")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(special))
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "gitobs", "trace2", "enable"], capture_output=True, text=True,
                          timeout=60)  # a guard: a FIFO opened for reading blocks for ever
    assert done.returncode == 2 and "not a regular file" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not stat.S_ISREG(os.lstat(special).st_mode)


def test_a_trace2_file_named_with_an_impossible_pid_fails_no_scan(watched, tmp_path, monkeypatch):
    """git names its files `<time>-H<host>-P<pid in hex>`: a name with a pid past any C long (an odd file in
    the directory) once raised OverflowError out of the drain, failing every scan."""
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    odd = directory / "20261206T040613.064644Z-Hdeadbeef-Pffffffffffffffffffff"
    odd.write_bytes(forged_trace2(watched).rpartition(b'{"event": "exit"')[0])  # unfinished: its pid decides
    done = subprocess.run([sys.executable, "-m", "gitobs", "scan"], cwd=watched, capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert not odd.exists()  # no such process: finished, routed and read


def test_a_hook_spool_record_with_an_impossible_pid_fails_no_scan(watched):
    spool = locate(watched).obs.spool
    (spool / "99999999999999999999.post-commit").write_text(
        "gitobs-spool 1\nhook post-commit\npid 99999999999999999999\nppid 1\nwt .\n")
    done = subprocess.run([sys.executable, "-m", "gitobs", "scan"], cwd=watched, capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("worktree", ["/tmp/x\u0000y", "\udcff", "x" * 5000])
def test_a_trace2_worktree_git_could_never_write_fails_no_scan(watched, tmp_path, monkeypatch, worktree):
    """def_repo's worktree, as a hand-made file may give it: a NUL (ValueError from every os call), a lone
    surrogate, a name longer than any path."""
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    records = forged_trace2(watched).replace(json.dumps(str(watched)).encode(), json.dumps(worktree).encode())
    (directory / TRACE2_NAME).write_bytes(records)
    (trace2_spool.spool_dir(locate(watched).obs)).mkdir(mode=0o700)
    (trace2_spool.spool_dir(locate(watched).obs) / TRACE2_NAME).write_bytes(records)  # routed, then changed
    done = subprocess.run([sys.executable, "-m", "gitobs", "scan"], cwd=watched, capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert os.listdir(directory) == [] and os.listdir(trace2_spool.spool_dir(locate(watched).obs)) == []


def missing_objects(repo: Path) -> int:
    listed = git(repo, "rev-list", "--objects", "--all", "--missing=print").stdout.splitlines()
    return sum(1 for line in listed if line.startswith("?"))


def test_import_in_a_partial_clone_fetches_nothing_from_its_remote(repo, tmp_path):
    """A blobless clone (--filter=blob:none): git log --numstat fetched every blob of the history from the
    remote, one request per commit: on a big repository gigabytes, and network use no one asked for."""
    for i in range(3):
        commit_file(repo, f"f{i}.txt", f"{i}\n" * 50, f"c{i}")
    with open(os.environ["GIT_CONFIG_GLOBAL"], "a") as config:  # the test's own: the serving side reads it
        config.write("[uploadpack]\n\tallowFilter = true\n")
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{repo}", "partial")
    partial = tmp_path / "partial"
    missing = missing_objects(partial)
    assert missing > 0
    gitobs("install", cwd=partial)
    done = gitobs("import", cwd=partial, ok=False)
    assert done.returncode == 2 and "partial clone" in done.stderr and len(done.stderr.splitlines()) == 1
    assert missing_objects(partial) == missing


def test_a_trace2_file_whose_name_is_not_utf8_fails_no_scan(watched, tmp_path, monkeypatch):
    """git names its files in ASCII; an odd name routed into the spool once went into the scan state (JSON)
    and failed every scan of the repository from then on."""
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    spool = trace2_spool.spool_dir(locate(watched).obs)
    spool.mkdir(mode=0o700)
    for where in (directory, spool):
        with open(os.path.join(os.fsencode(where), b"odd\xff-P00000001"), "wb") as odd:
            odd.write(forged_trace2(watched, "revert"))
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "gitobs", "scan"], cwd=watched, capture_output=True, text=True)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert os.listdir(directory) == [] and os.listdir(spool) == []


def test_a_trace2_directory_opened_up_is_made_private_again_by_the_next_drain(tmp_path, monkeypatch):
    """A backup restored, a chmod -R: every git process's argv (messages, URLs) readable by others until
    enable runs again. The drain, which runs with every scan, closes it."""
    monkeypatch.setenv("GITOBS_STATE_HOME", str(tmp_path / "state"))
    directory = trace2_setup.private_dir(trace2_setup.trace2_dir())
    directory.chmod(0o755)
    trace2_spool.drain()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


# --- a copied repository's .git/obs: temporary names that are symlinks ---

@pytest.mark.parametrize("planted, command", [(".state.json.tmp", ("scan",)),
                                             (".config.toml.tmp", ("config", "set", "scan.undo_window", "5m"))])
def test_a_symlink_at_a_temporary_name_in_obs_is_never_written_through(watched, tmp_path, planted, command):
    """A copied repository (.git and all: a tarball, a synced folder) can hold `.git/obs/.state.json.tmp` ->
    the user's file: the state was written through it (the user's file overwritten), then the link renamed
    over state.json."""
    precious = tmp_path / "precious"
    precious.write_text("the user's own file\n")
    obs = locate(watched).obs.root
    (obs / planted).symlink_to(precious)
    commit_file(watched, "f.txt", "x\n")
    gitobs(*command, cwd=watched)
    assert precious.read_text() == "the user's own file\n"
    written = obs / planted[1:-len(".tmp")]
    assert written.is_file() and not written.is_symlink()


# --- a copied repository's .git/obs, or a directory in it, that is a symlink ---

def _victim(tmp_path: Path) -> Path:
    """A directory of the user's own, laid out like gitobs's, with files gitobs never wrote."""
    victim = tmp_path / "victim"
    for name in ("log", "spool"):
        (victim / name).mkdir(parents=True)
        (victim / name / "mine.txt").write_text("the user's own file\n")
    return victim


def _untouched(victim: Path) -> bool:
    return sorted(str(p.relative_to(victim)) for p in victim.rglob("*")) == [
        "log", "log/mine.txt", "spool", "spool/mine.txt"]


def test_a_symlinked_obs_is_never_installed_into_nor_purged(repo, tmp_path):
    victim = _victim(tmp_path)
    (repo / ".git" / "obs").symlink_to(victim)
    for argv in (["install"], ["purge", "--yes"], ["status"]):
        done = gitobs(*argv, cwd=repo, ok=False)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "is a symbolic link" in done.stderr and "obs" in done.stderr
    (victim / "install.json").write_text("{}\n")  # a file of that name there is the user's too
    gitobs("uninstall", cwd=repo)
    assert (victim / "install.json").read_text() == "{}\n"
    (victim / "install.json").unlink()
    assert _untouched(victim)


@pytest.mark.parametrize("linked", ["spool", "log"])
def test_a_symlinked_directory_in_obs_is_never_emptied(watched, tmp_path, linked):
    """Installed, then `.git/obs/spool` (or log) made a link: purge emptied the link's target, a scan took
    its files for spool records, the hooks wrote their records there."""
    victim = _victim(tmp_path)
    obs = locate(watched).obs.root
    os.rename(obs / linked, tmp_path / "moved")
    (obs / linked).symlink_to(victim / linked)
    commit_file(watched, "f.txt", "x\n", "a commit while it is a link")
    gitobs("scan", cwd=watched, ok=False)
    assert "is a symbolic link" in gitobs("purge", "--yes", cwd=watched, ok=False).stderr
    assert _untouched(victim)


def test_a_symlink_planted_at_the_scan_lock_never_makes_a_file_elsewhere(watched, tmp_path):
    """A copied repository's `.git/obs/scan.lock` -> a path of the user's: the lock was created there (an
    empty file anywhere the user may write: /etc/nologin as root)."""
    target = tmp_path / "made-elsewhere"
    lock = locate(watched).obs.lock
    lock.unlink(missing_ok=True)
    lock.symlink_to(target)
    done = gitobs("scan", cwd=watched, ok=False)
    assert done.returncode == 2 and "is a symbolic link" in done.stderr and done.stderr.count("\n") == 1
    assert not target.exists()


def test_a_symlink_planted_at_a_report_caches_temporary_name_is_never_written_through(tmp_path):
    """The report cache's temporary file is named by its writer's pid: a copied repository can plant a link
    at every such name."""
    from logfactory import eventgen

    from gitobs.log import schema
    from gitobs.log.eventlog import EventLog
    from gitobs.replay import cache, plugins
    from gitobs.replay.analysis import Context
    from gitobs.replay.report import build_report

    log = EventLog(tmp_path / "obs" / "log", seal_bytes=32 << 10)
    lines = [schema.encode(event) for event in eventgen().events(3000, seed=3, files=300)]
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])
    report = lambda: build_report(log, plugins.load(), [], Context(now=time.time()), lambda _: None)  # noqa: E731
    report()
    [checkpoint, *_] = sorted((tmp_path / "obs" / cache.DIRECTORY).iterdir())
    checkpoint.unlink()
    target = tmp_path / "the-users-file"
    target.write_text("the user's own file\n")
    checkpoint.with_name(f"{checkpoint.name}.{os.getpid()}.tmp").symlink_to(target)
    report()
    assert target.read_text() == "the user's own file\n" and checkpoint.is_file()


def _commits(repo: Path) -> int:
    return len(gitobs("events", "--no-scan", "--type", "commit.created", "--format", "jsonl", cwd=repo).stdout.splitlines())


@pytest.mark.parametrize("content", [b"", b"the user's own file\n"])
def test_a_log_segment_that_is_a_link_is_never_appended_to(watched, tmp_path, content):
    """A copied repository's newest segment, a link to a file of the user's: an empty one passed for a clean
    live segment and took the next scan's frames."""
    target = tmp_path / "the-users-file"
    target.write_bytes(content)
    log = locate(watched).obs.log
    newest = max(log.glob("*.jsonl.zst"))
    newest.with_name(f"{int(newest.name[:8]) + 1:08d}.jsonl.zst").symlink_to(target)
    before = _commits(watched)
    commit_file(watched, "f.txt", "x\n", "after the link")
    gitobs("scan", cwd=watched)
    assert target.read_bytes() == content and _commits(watched) == before + 1  # recorded in a segment of its own
