"""`gitobs import` on real repositories: history backfilled with the scanner's payloads, never twice."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import zstandard
from conftest import commit_file, git, gitobs, last_seq

from gitobs.capture.install import install
from gitobs.core.lock import exclusive
from gitobs.core.redact import hash_path, repository_salt
from gitobs.core.repo import GitobsError, locate
from gitobs.history import gitlog, importer
from gitobs.history.importer import import_history
from gitobs.log.eventlog import FRAME_MAGIC, EventLog
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan


@pytest.fixture(autouse=True)
def private_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setenv("GITOBS_DATA_HOME", str(tmp_path / "data-home"))


def events(repo, types: tuple[str, ...] = ()) -> list:
    found = list(read_events(locate(repo).obs, lambda _: None))
    return [e for e in found if not types or e.type in types]


def created(repo) -> list:
    return events(repo, ("commit.created",))


def forget_reflogs(repo) -> None:
    """History the scanner cannot see: what a clone, or commits older than the reflogs, look like."""
    shutil.rmtree(locate(repo).common_dir / "logs")


def run_import(repo, **options):
    return import_history(locate(repo).common_dir, **options)


def numstat(repo, *options: str) -> dict[str, list[list]]:
    """sha -> [[path, added, deleted], ...] as `git log --numstat` prints them (renames detected, the new
    path taken from either of git's forms, `old => new` or `dir/{old => new}/file`; merges without a
    diff unless `options` ask for one; binary files as 0)."""
    out = git(repo, "log", "--branches", "HEAD", "--numstat", "-M", *options, "--format=@%H").stdout
    found: dict[str, list[list]] = {}
    sha = None
    for line in out.splitlines():
        if line.startswith("@"):
            sha = line[1:]
            found[sha] = []
        elif line.strip():
            added, deleted, path = line.split("\t", 2)
            found[sha].append([new_path(path), 0 if added == "-" else int(added), 0 if deleted == "-" else int(deleted)])
    return found


def new_path(shown: str) -> str:
    """The path after a rename as git's numstat shows it without -z: `a => b` or `dir/{a => b}/file`."""
    if " => " not in shown:
        return shown
    if "{" in shown:
        head, rest = shown.split("{", 1)
        middle, tail = rest.split("}", 1)
        return (head + middle.split(" => ", 1)[1] + tail).replace("//", "/")
    return shown.split(" => ", 1)[1]


def varied_history(repo) -> None:
    """Files in directories, edits, a deletion, a move, a binary, a mode change, an empty file, a merge
    that resolves a conflict."""
    commit_file(repo, "src/app/main.py", "".join(f"line {i}\n" for i in range(40)), "app")
    commit_file(repo, "src/app/main.py", "".join(f"line {i}\n" for i in range(30)) + "new\nnew\n", "edit")
    (repo / "docs").mkdir()
    (repo / "docs" / "logo.bin").write_bytes(b"\x00\x01binary\x00" * 50)
    (repo / "docs" / "empty.txt").write_text("")
    git(repo, "add", "docs")
    git(repo, "commit", "-q", "-m", "binary and empty")
    git(repo, "mv", "src/app/main.py", "src/app/entry.py")
    git(repo, "commit", "-q", "-m", "move")
    (repo / "docs" / "logo.bin").chmod(0o755)
    git(repo, "commit", "-q", "-a", "-m", "mode")
    git(repo, "switch", "-q", "-c", "feature")
    commit_file(repo, "lib/util.py", "a\nb\nc\n", "util")
    commit_file(repo, "README.md", "hello from feature\n", "readme on feature")
    git(repo, "switch", "-q", "main")
    commit_file(repo, "README.md", "hello from main\n", "readme on main")
    git(repo, "merge", "-q", "--no-edit", "feature", ok=False)
    (repo / "README.md").write_text("hello from both\n")
    git(repo, "commit", "-q", "-a", "--no-edit")
    git(repo, "rm", "-q", "docs/empty.txt")
    git(repo, "commit", "-q", "-m", "delete")


def test_each_commit_has_the_files_and_counts_git_log_numstat_gives(repo):
    varied_history(repo)
    forget_reflogs(repo)
    install(locate(repo))
    result = run_import(repo)
    expected = numstat(repo)
    imported = {e.data["sha"]: e for e in created(repo)}
    assert result.imported == len(expected) == len(imported) == 11
    newest = {"src/app/main.py": "src/app/entry.py"}  # the move: one file, under its newest path
    for sha, files in expected.items():
        data = imported[sha].data
        assert data.get("files", []) == [[newest.get(path, path), *counts] for path, *counts in files], sha
        assert data.get("files_total", 0) == len(files)
        assert (data.get("added", 0), data.get("deleted", 0)) == (sum(f[1] for f in files), sum(f[2] for f in files))
    assert any(f == ["docs/logo.bin", 0, 0] for e in imported.values() for f in e.data.get("files", []))
    [moved] = [e for e in imported.values() if e.data.get("renames")]
    assert moved.data["renames"] == [["src/app/main.py", "src/app/entry.py"]]
    assert moved.data["files"] == [["src/app/entry.py", 0, 0]]  # a pure rename: no lines changed


def test_merges_reverts_times_and_source(repo):
    git(repo, "switch", "-q", "-c", "side")
    commit_file(repo, "side.txt", "s\n", "side work", GIT_COMMITTER_DATE="2024-03-01T10:00:00Z")
    git(repo, "switch", "-q", "main")
    commit_file(repo, "main.txt", "m\n", "main work", GIT_COMMITTER_DATE="2024-03-02T10:00:00Z")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "side", GIT_COMMITTER_DATE="2024-03-03T10:00:00Z")
    git(repo, "revert", "--no-edit", "HEAD~1", GIT_COMMITTER_DATE="2024-03-04T10:00:00Z")
    forget_reflogs(repo)
    install(locate(repo))
    run_import(repo)
    by_sha = {e.data["sha"]: e for e in created(repo)}
    merge = by_sha[git(repo, "rev-parse", "HEAD~1").stdout.strip()]
    revert = by_sha[git(repo, "rev-parse", "HEAD").stdout.strip()]
    assert merge.data["merge"] is True and len(merge.data["parents"]) == 2 and merge.data["via"] == "merge"
    assert "files" not in merge.data and "added" not in merge.data  # 0 lines: the merged commits carry them
    assert merge.ts == "2024-03-03T10:00:00.000Z"
    assert revert.data["revert"] is True and revert.data["reverts"] == git(repo, "rev-parse", "HEAD~2").stdout.strip()
    assert revert.ts == "2024-03-04T10:00:00.000Z"
    [reverted] = events(repo, ("commit.reverted",))
    assert reverted.data["reverted"] == revert.data["reverts"] and reverted.src == "import"
    assert by_sha[git(repo, "rev-parse", "side").stdout.strip()].data["branch"] == "main"  # merged: main's now
    assert all(e.src == "import" and e.wt == "." for e in created(repo))
    assert [e.seq for e in events(repo)] == list(range(1, len(events(repo)) + 1))


def test_imported_ids_are_digits_of_the_sha_the_same_every_time_and_old_ids_stay(repo):
    commit_file(repo, "a.txt", "a\n", "a")
    commit_file(repo, "b.txt", "b\n", "b")
    git(repo, "revert", "--no-edit", "HEAD")
    forget_reflogs(repo)
    install(locate(repo))
    first = git(repo, "rev-parse", "HEAD~3").stdout.strip()
    old_id = hashlib.blake2b(f"commit.created|import:{first}".encode(), digest_size=8).hexdigest()
    old = json.dumps({"v": 1, "seq": 5, "id": old_id, "ts": "2024-01-01T00:00:00.000Z", "type": "commit.created",
                      "src": "import", "wt": ".", "data": {"sha": first}}, separators=(",", ":")).encode()
    EventLog(locate(repo).obs.log).append([old])  # an earlier import's line, its id a hash
    run_import(repo)
    made = {e.data["sha"]: e.id for e in created(repo)}
    assert made.pop(first) == old_id and len(made) == 3  # kept as it was, not imported twice
    assert all(event_id == sha[:16] for sha, event_id in made.items())
    [reverted] = events(repo, ("commit.reverted",))
    assert reverted.id == reverted.data["sha"][16:32]
    ids = [e.id for e in events(repo)]
    assert len(set(ids)) == len(ids)

    shutil.rmtree(locate(repo).obs.root)  # the same history imported anew: the same ids
    install(locate(repo))
    run_import(repo)
    again = {e.data["sha"]: e.id for e in created(repo)}
    assert again.pop(first) == first[:16] and again == made
    assert [e.id for e in events(repo, ("commit.reverted",))] == [reverted.id]


def test_an_unmerged_branch_is_named_and_a_detached_head_is_not(repo):
    git(repo, "switch", "-q", "-c", "topic")
    commit_file(repo, "t.txt", "t\n", "topic work")
    git(repo, "switch", "-q", "--detach")
    commit_file(repo, "d.txt", "d\n", "detached work")
    forget_reflogs(repo)
    install(locate(repo))
    run_import(repo)
    branches = {e.data["files"][0][0]: e.data.get("branch") for e in created(repo)}
    assert branches == {"README.md": "main", "t.txt": "topic", "d.txt": None}


def test_a_second_import_adds_nothing(repo):
    varied_history(repo)
    forget_reflogs(repo)
    install(locate(repo))
    first = run_import(repo)
    before = events(repo)
    second = run_import(repo)
    assert first.imported == 11 and second.imported == 0 and second.reflog_events == 0
    assert events(repo) == before
    assert second.walked == 0  # the cursor: already-imported history is not even walked again


def test_commits_the_scanner_recorded_are_not_imported(watched):
    commit_file(watched, "a.txt", "a\n", "scanned one")
    commit_file(watched, "b.txt", "b\n", "scanned two")
    scan(locate(watched).common_dir)
    result = run_import(watched)
    shas = Counter(e.data["sha"] for e in created(watched))
    assert len(shas) == 3 and set(shas.values()) == {1}
    assert result.imported == 0 and result.recorded == 3
    assert not [e for e in events(watched) if e.src == "import"]


def test_commits_made_after_an_import_are_scanned_once(watched):
    commit_file(watched, "old.txt", "o\n", "before the import")
    forget_reflogs(watched)  # the scanner never sees this one: import brings it
    assert run_import(watched).imported == 1
    commit_file(watched, "new.txt", "n\n", "after the import")
    scan(locate(watched).common_dir)
    run_import(watched)
    shas = Counter(e.data["sha"] for e in created(watched))
    assert len(shas) == 3 and set(shas.values()) == {1}
    assert [e.src for e in created(watched)][-1] in ("hook", "reflog")


def test_commits_in_reflog_lines_the_scanner_has_not_read_are_left_to_it(watched, monkeypatch):
    commit_file(watched, "a.txt", "a\n", "not scanned yet")
    monkeypatch.setattr(importer, "scan", lambda common_dir: None)  # as if a scan held the lock
    result = run_import(watched)
    assert result.imported == 0 and result.recorded == 2
    scan(locate(watched).common_dir)
    shas = Counter(e.data["sha"] for e in created(watched))
    assert len(shas) == 2 and set(shas.values()) == {1}
    assert created(watched)[-1].src != "import"


def test_an_interrupted_import_goes_on_where_it_stopped(repo):
    for number in range(30):
        commit_file(repo, f"d{number % 4}/f{number}.txt", f"{number}\n", f"c{number}")
    forget_reflogs(repo)
    install(locate(repo))

    def interrupt(progress):
        if progress.chunks == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(repo, chunk_commits=5, on_progress=interrupt)
    partial = created(repo)
    assert 10 <= len(partial) < 31
    resumed = run_import(repo, chunk_commits=5)
    shas = Counter(e.data["sha"] for e in created(repo))
    assert len(shas) == 31 and set(shas.values()) == {1}
    assert resumed.walked == 31 and resumed.recorded == len(partial)  # walked again, what reached the log skipped
    assert run_import(repo).walked == 0  # complete now: the cursor hides it all
    assert [e.seq for e in events(repo)] == list(range(1, len(events(repo)) + 1))


def fast_history(repo, commits: int) -> None:
    """`commits` commits on main in one git fast-import (no reflog: history import alone sees them)."""
    stream = []
    for number in range(commits):
        body = f"version {number}\n" * (number % 7 + 1)
        stream.append(f"commit refs/heads/main\nmark :{number + 1}\n"
                      f"committer Dev <dev@example.invalid> {1_700_000_000 + number * 60} +0000\ndata 2\nc\n"
                      + ("" if number == 0 else f"from :{number}\n")
                      + f"M 644 inline d{number % 5}/f{number % 40}.txt\ndata {len(body)}\n{body}\n")
    git(repo, "fast-import", "--quiet", input="".join(stream))


def test_an_import_interrupted_mid_chunk_keeps_nothing_of_it_and_goes_on(tmp_path):
    repo = tmp_path / "fast"
    git(tmp_path, "init", "-q", str(repo))
    fast_history(repo, 300)
    git(repo, "reset", "-q", "--hard", "main")
    install(locate(repo))

    def interrupt(progress):
        if progress.walked >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(repo, on_progress=interrupt)
    assert created(repo) == []  # nothing had been appended yet
    assert run_import(repo).imported == 300
    assert len({e.data["sha"] for e in created(repo)}) == len(created(repo)) == 300


def test_a_pause_during_an_import_stops_it_and_it_goes_on_after_the_resume(tmp_path):
    repo = tmp_path / "fast"
    git(tmp_path, "init", "-q", str(repo))
    fast_history(repo, 60)
    install(locate(repo))
    obs = locate(repo).obs

    def pause_after_the_first_chunk(progress):
        if progress.chunks == 1 and not obs.paused.exists():
            gitobs("pause", cwd=repo)

    with pytest.raises(GitobsError, match="recording is paused"):
        run_import(repo, chunk_commits=20, on_progress=pause_after_the_first_chunk)
    assert len(created(repo)) == 20
    gitobs("resume", cwd=repo)
    assert run_import(repo, chunk_commits=20).imported == 40
    assert len({e.data["sha"] for e in created(repo)}) == len(created(repo)) == 60


def test_one_import_at_a_time(repo):
    install(locate(repo))
    with exclusive(locate(repo).obs.root / "import.lock", 1) as held:
        assert held
        done = gitobs("import", cwd=repo, ok=False)
    assert done.returncode == 2 and "another gitobs import is running" in done.stderr
    assert "1 already recorded" in gitobs("import", cwd=repo).stdout  # the scan first took it from the reflog


def test_a_lost_cursor_costs_a_walk_not_a_duplicate(repo):
    for number in range(6):
        commit_file(repo, f"f{number}.txt", "x\n", f"c{number}")
    forget_reflogs(repo)
    install(locate(repo))
    run_import(repo)
    (locate(repo).obs.root / "import.json").unlink()
    again = run_import(repo)
    assert again.walked == 7 and again.imported == 0 and again.recorded == 7
    assert len(created(repo)) == 7


def test_commits_a_repair_took_out_of_the_log_are_imported_again_and_nothing_else(tmp_path):
    repo = tmp_path / "fast"
    git(tmp_path, "init", "-q", str(repo))
    fast_history(repo, 300)
    install(locate(repo))
    run_import(repo, chunk_commits=100)  # a frame per chunk
    [segment] = EventLog(locate(repo).obs.log).segments()
    data = bytearray(segment.read_bytes())
    second_chunk, third_chunk = [at for at in range(len(data)) if data.startswith(FRAME_MAGIC, at)][-2:]
    for at in range(second_chunk + 4, third_chunk):  # nothing of its frame can be read any more
        data[at] ^= 0x5A
    segment.write_bytes(bytes(data))
    with pytest.raises(GitobsError, match="doctor --repair"):  # it would write them, and a repair too
        run_import(repo)
    with exclusive(locate(repo).obs.root / "import.lock", 1):  # its cursor would count them as done
        busy = gitobs("doctor", "--repair", cwd=repo, ok=False)
    assert busy.returncode == 2 and "import is running" in busy.stderr
    repaired = gitobs("doctor", "--repair", cwd=repo, ok=False)
    assert repaired.returncode == 1 and "isolated" in repaired.stdout and "salvaged 0 line(s)" in repaired.stdout
    assert len(created(repo)) == 200

    assert run_import(repo).imported == 100
    shas = Counter(e.data["sha"] for e in created(repo))
    assert len(shas) == 300 and set(shas.values()) == {1}
    seqs, ids = [e.seq for e in events(repo)], [e.id for e in events(repo)]
    assert seqs == sorted(set(seqs)) and len(set(ids)) == len(ids)
    assert run_import(repo).imported == 0


_REPAIR_KILLED_AFTER_ITS_RENAME = """
import os, signal, sys
real = os.replace
def replace(*args, **kwargs):
    real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # the repaired segment is in place: killed before anything else
os.replace = replace
sys.argv = ["gitobs", "doctor", "--repair"]
from gitobs.cli.main import main
main()
"""


def test_a_repair_killed_after_its_rename_still_lets_import_write_the_lost_commits_again(tmp_path):
    repo = tmp_path / "fast"
    git(tmp_path, "init", "-q", str(repo))
    fast_history(repo, 300)
    install(locate(repo))
    run_import(repo, chunk_commits=100)
    [segment] = EventLog(locate(repo).obs.log).segments()
    data = bytearray(segment.read_bytes())
    second_chunk, third_chunk = [at for at in range(len(data)) if data.startswith(FRAME_MAGIC, at)][-2:]
    for at in range(second_chunk + 4, third_chunk):
        data[at] ^= 0x5A
    segment.write_bytes(bytes(data))
    killed = subprocess.run([sys.executable, "-c", _REPAIR_KILLED_AFTER_ITS_RENAME], cwd=repo)
    assert killed.returncode == -signal.SIGKILL and len(created(repo)) == 200
    assert "no damage found" in gitobs("doctor", "--repair", cwd=repo).stdout
    assert run_import(repo).imported == 100  # the cursor that counted them went before the repair
    assert len({e.data["sha"] for e in created(repo)}) == len(created(repo)) == 300


_PURGE_KILLED_AFTER_THE_LOG_WENT = """
import os, shutil, signal, sys
real = shutil.rmtree
def rmtree(path, *args, **kwargs):
    real(path, *args, **kwargs)
    if os.path.basename(path) == "log":
        os.kill(os.getpid(), signal.SIGKILL)  # the log is gone: killed before anything else
shutil.rmtree = rmtree
sys.argv = ["gitobs", "purge", "--yes"]
from gitobs.cli.main import main
main()
"""


def test_a_purge_killed_after_the_log_went_still_lets_import_bring_the_history_back(tmp_path):
    repo = tmp_path / "fast"
    git(tmp_path, "init", "-q", str(repo))
    fast_history(repo, 30)
    install(locate(repo))
    run_import(repo)
    killed = subprocess.run([sys.executable, "-c", _PURGE_KILLED_AFTER_THE_LOG_WENT], cwd=repo)
    assert killed.returncode == -signal.SIGKILL and created(repo) == []
    assert run_import(repo).imported == 30  # the cursor went before the log


def test_since_takes_only_newer_commits_and_a_full_import_adds_the_rest(tmp_path):
    repo = tmp_path / "dated"
    git(tmp_path, "init", "-q", str(repo))
    for name, when in (("README.md", "2019-06-01"), ("old.txt", "2020-01-01"), ("new.txt", "2025-06-01")):
        commit_file(repo, name, "x\n", name, GIT_COMMITTER_DATE=f"{when}T00:00:00Z")
    forget_reflogs(repo)
    install(locate(repo))
    out = gitobs("import", "--since", "2025-01-01", cwd=repo).stdout
    assert "imported 1 commit(s)" in out
    assert [e.data["files"][0][0] for e in created(repo)] == ["new.txt"]
    gitobs("import", cwd=repo)
    names = Counter(e.data["files"][0][0] for e in created(repo))
    assert names == Counter({"README.md": 1, "old.txt": 1, "new.txt": 1})
    assert "imported 0 commit(s)" in gitobs("import", "--since", "30d", cwd=repo).stdout
    assert "not a time" in gitobs("import", "--since", "yesterday-ish", cwd=repo, ok=False).stderr


def test_since_takes_every_newer_commit_even_behind_an_older_dated_one(tmp_path):
    """git's --since (--max-age) stops the walk at the first commit older than it: a newer commit behind
    one with an older committer time (a rebase, a wrong clock) was never imported, nor its revert flagged."""
    repo = tmp_path / "dated"
    git(tmp_path, "init", "-q", str(repo))
    for name, when in (("a.txt", "2019-06-01"), ("b.txt", "2025-06-01"), ("c.txt", "2018-01-01"),
                       ("d.txt", "2025-07-01")):
        commit_file(repo, name, "x\n", name, GIT_COMMITTER_DATE=f"{when}T00:00:00Z")
    b = git(repo, "rev-parse", "HEAD~1").stdout.strip()
    commit_file(repo, "e.txt", "x\n", f"Revert\n\nThis reverts commit {b}.", GIT_COMMITTER_DATE="2025-05-01T00:00:00Z")
    commit_file(repo, "f.txt", "x\n", "f", GIT_COMMITTER_DATE="2019-01-01T00:00:00Z")
    forget_reflogs(repo)
    install(locate(repo))
    gitobs("import", "--since", "2025-01-01", cwd=repo)
    assert sorted(e.data["files"][0][0] for e in created(repo)) == ["b.txt", "d.txt", "e.txt"]
    assert [e.data["reverted"] for e in events(repo, ("commit.reverted",))] == [b]


def test_paths_are_hashed_when_capture_paths_is_off(repo):
    commit_file(repo, "src/secret/plan.py", "x\n", "plan")
    forget_reflogs(repo)
    install(locate(repo))
    gitobs("config", "set", "capture.paths", "false", cwd=repo)
    gitobs("import", cwd=repo)
    salt = repository_salt(locate(repo).obs.root)
    paths = sorted(f[0] for e in created(repo) for f in e.data["files"])
    assert paths == sorted([hash_path("README.md", salt), hash_path("src/secret/plan.py", salt)])
    assert all("secret" not in path for path in paths)


def test_a_paused_repository_refuses(watched):
    gitobs("pause", cwd=watched)
    commit_file(watched, "a.txt", "a\n", "while paused")
    done = gitobs("import", cwd=watched, ok=False)
    assert done.returncode == 2 and "recording is paused" in done.stderr and "Traceback" not in done.stderr
    assert not [e for e in events(watched) if e.src == "import"]


def test_not_installed_and_no_commits_say_so(tmp_path):
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    done = gitobs("import", cwd=empty, ok=False)
    assert done.returncode == 2 and "not installed" in done.stderr
    install(locate(empty))
    done = gitobs("import", cwd=empty)
    assert done.returncode == 0 and "nothing to import: the repository has no commits" in done.stdout


def test_a_bare_repository(repo, tmp_path):
    for number in range(3):
        commit_file(repo, f"f{number}.txt", "x\n", f"c{number}")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    install(locate(bare))
    out = gitobs("import", cwd=bare).stdout
    assert "imported 4 commit(s)" in out
    assert sorted(e.data["sha"] for e in created(bare)) == sorted(git(bare, "rev-list", "--all").stdout.split())


def test_the_heatmap_shows_the_imported_files(repo):
    commit_file(repo, "src/engine/core.py", "".join(f"{i}\n" for i in range(12)), "core")
    commit_file(repo, "src/engine/core.py", "changed\n", "core again")
    forget_reflogs(repo)
    install(locate(repo))
    gitobs("import", cwd=repo)
    report = gitobs("report", "--heatmap", "--no-scan", "--now", "2100-01-01", cwd=repo).stdout
    line = next(line for line in report.splitlines() if "src/engine/core.py" in line)
    assert line.split()[1:3] == ["2", str(12 + 1 + 12)]  # two commits, 12 added, then 1 added and 12 deleted


def test_reflog_history_a_purge_removed_comes_back_unless_capture_reflog_is_off(watched):
    git(watched, "switch", "-q", "-c", "topic")
    commit_file(watched, "t.txt", "t\n", "topic")
    git(watched, "switch", "-q", "main")
    scan(locate(watched).common_dir)
    gitobs("purge", "--yes", cwd=watched)
    gitobs("config", "set", "capture.reflog", "false", cwd=watched)
    gitobs("import", cwd=watched)
    assert not [e for e in events(watched) if e.type.startswith(("branch.", "history."))]
    assert len(created(watched)) == 2  # commits come from history, not from the reflog
    gitobs("config", "unset", "capture.reflog", cwd=watched)
    gitobs("import", cwd=watched)
    switches = events(watched, ("branch.switch",))
    assert [(e.data["from"], e.data["to"]) for e in switches] == [("main", "topic"), ("topic", "main")]
    assert all(e.src == "import" for e in switches)
    assert len(created(watched)) == 2


def test_recorded_reflog_events_are_not_added_again_after_git_rewrites_the_reflog(watched):
    git(watched, "switch", "-q", "-c", "topic")
    commit_file(watched, "t.txt", "t\n", "topic")
    git(watched, "commit", "-q", "--amend", "-m", "topic, amended")
    git(watched, "switch", "-q", "main")
    scan(locate(watched).common_dir)
    # the topic commits are unreachable from HEAD: their lines go, and every later line moves up
    git(watched, "reflog", "expire", "--expire=never", "--expire-unreachable=now", "--all")
    start = last_seq(watched)
    result = run_import(watched)
    assert result.reflog_events == 0 and result.imported == 0
    assert [e for e in events(watched) if e.seq > start] == []


def test_gitbutlers_workspace_commit_is_not_the_users_work(repo):
    commit_file(repo, "mine.txt", "m\n", "my work")
    git(repo, "switch", "-q", "-c", "gitbutler/workspace")
    (repo / "mine.txt").write_text("m\nworkspace\n")
    git(repo, "commit", "-q", "-a", "-m", "GitButler Workspace Commit\n\nstacks", "--author",
        "GitButler <gitbutler@gitbutler.com>")
    forget_reflogs(repo)
    install(locate(repo))
    result = run_import(repo)
    assert result.imported == 2 and result.skipped == 1
    assert git(repo, "rev-parse", "HEAD").stdout.strip() not in {e.data["sha"] for e in created(repo)}


def test_counts_do_not_follow_the_users_rename_limit_or_submodule_setting(repo):
    """diff.renameLimit and diff.ignoreSubmodules in the user's git config changed what import counted:
    renames past the limit became a deletion and an addition (the file's history split in two rows), and
    a submodule's commits were not counted at all. Both are pinned to git's defaults, as the rest is."""
    for number in range(3):
        commit_file(repo, f"src/m{number}.py", "".join(f"m{number} line {i}\n" for i in range(40)), f"m{number}")
    (repo / "lib").mkdir()
    for number in range(3):
        git(repo, "mv", f"src/m{number}.py", f"lib/n{number}.py")
        (repo / "lib" / f"n{number}.py").write_text("".join(f"m{number} line {i}\n" for i in range(38)) + "new\n")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'ab' * 20},vendor/sub")  # a submodule's commit
    git(repo, "add", "lib")
    git(repo, "commit", "-q", "-m", "three renamed with edits, a submodule")
    expected = numstat(repo)
    with open(os.environ["GIT_CONFIG_GLOBAL"], "a") as config:
        config.write("[diff]\n\trenameLimit = 1\n\tignoreSubmodules = all\n")
    forget_reflogs(repo)
    install(locate(repo))
    run_import(repo)
    newest = {f"src/m{number}.py": f"lib/n{number}.py" for number in range(3)}
    imported = {e.data["sha"]: e.data.get("files", []) for e in created(repo)}
    assert imported == {sha: [[newest.get(path, path), *counts] for path, *counts in files]
                        for sha, files in expected.items()}
    assert ["vendor/sub", 1, 0] in imported[git(repo, "rev-parse", "HEAD").stdout.strip()]


def test_files_the_work_trees_gitattributes_call_binary_count_no_lines_as_in_git_log(repo):
    """git log in the repository reads .gitattributes from the work tree (binary, -diff: counted as 0 and
    0); import's git ran with no work tree, so it counted their lines."""
    (repo / ".gitattributes").write_text("*.dat binary\n*.gen -diff\n")
    for name in ("a.dat", "b.gen", "c.txt"):
        (repo / name).write_text("line\n" * 10)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "attributes")
    forget_reflogs(repo)
    install(locate(repo))
    run_import(repo)
    expected = numstat(repo)
    assert {e.data["sha"]: e.data.get("files", []) for e in created(repo)} == expected
    assert ["a.dat", 0, 0] in expected[git(repo, "rev-parse", "HEAD").stdout.strip()]


def test_an_import_after_a_purge_brings_the_history_back(repo):
    """The import cursor said the history was dealt with: after the purge deleted its events, the next
    import walked nothing, though a purge promises that import brings back what the history shows."""
    commit_file(repo, "a.txt", "a\n", "a")
    forget_reflogs(repo)
    install(locate(repo))
    gitobs("import", cwd=repo)
    before = sorted(e.data["sha"] for e in created(repo))
    gitobs("purge", "--yes", cwd=repo)
    assert created(repo) == []
    gitobs("import", cwd=repo)
    assert sorted(e.data["sha"] for e in created(repo)) == before and len(before) == 2


def test_purge_waits_for_no_import(repo):
    install(locate(repo))
    with exclusive(locate(repo).obs.root / "import.lock", 0):
        done = gitobs("purge", "--yes", cwd=repo, ok=False)
    assert done.returncode != 0 and "import is running" in done.stderr and "Traceback" not in done.stderr


def test_after_a_purge_commits_the_reflog_still_shows_keep_the_branch_they_were_made_on(watched):
    git(watched, "switch", "-q", "-c", "feature")
    commit_file(watched, "f.txt", "f\n", "feature work", GIT_COMMITTER_DATE="2025-05-05T05:05:05Z")
    work = git(watched, "rev-parse", "HEAD").stdout.strip()
    git(watched, "switch", "-q", "main")
    git(watched, "merge", "-q", "--no-ff", "--no-edit", "feature")
    scan(locate(watched).common_dir)
    gitobs("purge", "--yes", cwd=watched)
    result = run_import(watched)
    [feature] = [e for e in created(watched) if e.data["sha"] == work]
    assert feature.data["branch"] == "feature"  # from the reflog; history alone would say main, merged
    assert feature.ts == "2025-05-05T05:05:05.000Z"  # the committer time, not the reflog's
    assert result.imported == 3 and result.recorded == 0 and len(created(watched)) == 3
    assert [e.data["merged"] for e in events(watched, ("history.merge",))] == ["feature"]


def test_a_linked_worktrees_detached_head_is_walked_too(repo, tmp_path):
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "linked"))
    commit_file(tmp_path / "linked", "w.txt", "w\n", "in the linked worktree")
    forget_reflogs(repo)
    shutil.rmtree(locate(repo).common_dir / "worktrees" / "linked" / "logs")
    install(locate(repo))
    run_import(repo)
    [made] = [e for e in created(repo) if e.data["files"][0][0] == "w.txt"]
    assert made.data["sha"] == git(tmp_path / "linked", "rev-parse", "HEAD").stdout.strip()
    assert made.src == "import" and "branch" not in made.data


def rebase_todo(*edits: str) -> dict[str, str]:
    """git's environment for a `rebase -i` whose todo list gets these sed edits, e.g. "2s/^pick/squash/"."""
    script = " ".join(f"-e '{edit}'" for edit in edits)
    return {"GIT_SEQUENCE_EDITOR": f"sed -i {script}"}


def test_commits_a_recorded_rebase_made_are_not_imported(watched):
    git(watched, "switch", "-q", "-c", "feat")
    commit_file(watched, "f1.txt", "1\n", "f1")
    commit_file(watched, "f2.txt", "2\n", "f2")
    git(watched, "switch", "-q", "main")
    commit_file(watched, "m.txt", "m\n", "m")
    git(watched, "switch", "-q", "feat")
    git(watched, "rebase", "-q", "main")
    scan(locate(watched).common_dir)
    result = run_import(watched)
    assert result.imported == 0 and len(created(watched)) == 4  # the picks are the rebase's, not new work
    assert events(watched, ("history.rebase",))[0].data["steps"] == {"pick": 2}


def test_squashes_amends_and_cherry_picks_the_log_holds_are_not_imported(watched):
    git(watched, "switch", "-q", "-c", "feat")
    for number in range(1, 5):
        commit_file(watched, f"f{number}.txt", f"{number}\n", f"f{number}")
    git(watched, "rebase", "-q", "-i", "HEAD~4", **rebase_todo("2s/^pick/squash/"))  # f1 kept, f2 into it
    git(watched, "commit", "-q", "--amend", "-m", "f4, amended")
    picked = git(watched, "rev-parse", "HEAD~1").stdout.strip()
    git(watched, "switch", "-q", "main")
    git(watched, "cherry-pick", picked)
    scan(locate(watched).common_dir)
    result = run_import(watched)
    assert result.imported == 0 and len(created(watched)) == 5
    assert result.walked == result.recorded == 5


def test_a_commit_a_rebase_kept_as_it_was_is_still_imported(repo):
    commit_file(repo, "a.txt", "a\n", "a")
    commit_file(repo, "b.txt", "b\n", "b")
    forget_reflogs(repo)  # made before gitobs: in no event
    install(locate(repo))
    kept = git(repo, "rev-parse", "HEAD~1").stdout.strip()
    git(repo, "rebase", "-q", "-i", "HEAD~2", **rebase_todo("2s/^pick/reword/"),  # a: "rebase: fast-forward"
        GIT_EDITOR="sed -i -e 1s/^/reworded-/")
    scan(locate(repo).common_dir)
    result = run_import(repo)
    assert kept in {e.data["sha"] for e in created(repo)}
    assert result.imported == 2  # the first commit and the kept one; the reworded one is the rebase's


def test_a_logged_line_with_an_impossible_time_still_names_its_commit(tmp_path):
    from gitobs.history.recorded import Recorded

    log = EventLog(tmp_path / "log")
    line = ('{"v":1,"seq":1,"id":"x","ts":"2026-01-01T00:87:20.000Z","type":"commit.created","src":"hook",'
            '"wt":".","data":{"sha":"%s","branch":"main"}}' % ("a" * 40))
    log.append([line.encode(), b'{"v":1,"seq":2,"id":"y","ts":"2026-01-01T00:00:00.000Z","type":"commit.created",'
                               b'"src":"hook","wt":".","data":[1,2]}'])
    recorded = Recorded.read(log)
    assert recorded.commits == {"a" * 40}


def test_events_limit_shows_the_latest_by_time_after_an_import(tmp_path):
    upstream = tmp_path / "upstream"
    git(tmp_path, "init", "-q", str(upstream))
    for day in range(1, 4):
        when = f"2024-01-0{day}T12:00:00Z"
        commit_file(upstream, f"old{day}.txt", "x\n", f"old {day}", GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    gitobs("install", cwd=clone)
    commit_file(clone, "new.txt", "n\n", "new")
    new = git(clone, "rev-parse", "--short=7", "HEAD").stdout.strip()
    gitobs("scan", cwd=clone)
    gitobs("import", cwd=clone)  # appends the old history after the new commit
    listed = gitobs("events", "--no-scan", "--type", "commit.created", "--limit", "2", cwd=clone).stdout
    lines = listed.splitlines()
    assert len(lines) == 2 and new in lines[1] and lines[0].startswith("2024-01-03")


def test_commits_with_times_git_keeps_but_no_calendar_has_are_skipped_or_kept_whole(repo):
    """A clone may carry commits dated 2**64 - 1 (past any time in int64 nanoseconds) or before 1970 (git's %ct is then
    empty): import skips the one, takes the other as 1970, and gives each commit its own files."""
    tree = git(repo, "rev-parse", "HEAD^{tree}").stdout.strip()
    parent = git(repo, "rev-parse", "HEAD").stdout.strip()
    shas = {}
    for name, date in (("far", "18446744073709551615 +0000"), ("before", "-5 +0000"), ("after", "1700000000 +0000")):
        blob = git(repo, "hash-object", "-w", "--stdin", input=f"{name}\n").stdout.strip()
        tree = git(repo, "mktree", input=f"100644 blob {blob}\t{name}.txt\n").stdout.strip()
        raw = f"tree {tree}\nparent {parent}\nauthor A <a@e> {date}\ncommitter A <a@e> {date}\n\n{name}\n"
        parent = shas[name] = git(repo, "hash-object", "-t", "commit", "-w", "--literally", "--stdin",
                                  input=raw).stdout.strip()
    git(repo, "update-ref", "refs/heads/main", parent)
    install(locate(repo))
    done = gitobs("import", "--all-authors", cwd=repo, ok=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    files = {e.data["sha"]: {f[0] for f in e.data["files"]} for e in created(repo)}
    assert shas["far"] not in files  # each tree holds its one file: a commit adds it, deletes the one before
    assert files[shas["before"]] == {"before.txt", "far.txt"} and files[shas["after"]] == {"after.txt", "before.txt"}


def literal_commit(repo, parent: str, date: str, message: str, ident: str = "A <dev@example.invalid>") -> str:
    """A commit git keeps as written, whatever libgit2 makes of it (a time past int64, a malformed email)."""
    tree = git(repo, "rev-parse", f"{parent}^{{tree}}").stdout.strip()
    raw = f"tree {tree}\nparent {parent}\nauthor {ident} {date}\ncommitter {ident} {date}\n\n{message}\n"
    return git(repo, "hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=raw).stdout.strip()


def test_a_tip_libgit2_cannot_parse_still_leads_to_its_history(repo):
    """A branch (or a detached HEAD) whose newest commit is dated 2**64 - 1: libgit2 refuses to parse it, but git
    walks from it; the commits before it are imported, the tip itself skipped for its time."""
    commit_file(repo, "a.txt", "a\n", "a")
    older = git(repo, "rev-parse", "HEAD").stdout.strip()
    far = literal_commit(repo, older, "18446744073709551615 +0000", "far")
    git(repo, "update-ref", "refs/heads/main", far)
    git(repo, "switch", "-q", "--detach", literal_commit(repo, older, "18446744073709551615 +0000", "far 2"))
    forget_reflogs(repo)
    install(locate(repo))
    result = run_import(repo, all_authors=True)
    assert not result.empty and result.walked == 4
    assert {e.data["sha"] for e in created(repo)} == set(git(repo, "rev-list", older).stdout.split())


def test_a_revert_of_a_commit_libgit2_cannot_parse_is_imported_without_an_age(repo):
    commit_file(repo, "a.txt", "a\n", "a")
    far = literal_commit(repo, git(repo, "rev-parse", "HEAD").stdout.strip(), "18446744073709551615 +0000", "far")
    revert = literal_commit(repo, far, "1700000000 +0000", f"Revert far\n\nThis reverts commit {far}.")
    # its own email malformed (no <>): libgit2 refuses its header, git log and --grep read it
    again = literal_commit(repo, revert, "1700000060 +0000", f"Revert\n\nThis reverts commit {revert}.", "B b@e")
    git(repo, "update-ref", "refs/heads/main", again)
    forget_reflogs(repo)
    install(locate(repo))
    done = gitobs("import", "--all-authors", cwd=repo, ok=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    reverted = {e.data["sha"]: e.data for e in events(repo, ("commit.reverted",))}
    assert reverted[revert]["reverted"] == far and "age_s" not in reverted[revert]
    assert reverted[again]["reverted"] == revert and "age_s" not in reverted[again]
    reverts = {e.data["sha"]: e.data.get("reverts") for e in created(repo)}
    assert reverts[revert] == far and reverts[again] == revert and far not in reverts


# -- a team's history (fixtures/repos/multi-author.sh): own work, merges, renames, a big commit --------------

TEAM_SCRIPT = Path(__file__).parent.parent / "fixtures" / "repos" / "multi-author.sh"
ME, ANA, BO = "me@example.invalid", "ana@example.invalid", "bo@example.invalid"


def team(tmp_path, reflogs: bool = False) -> Path:
    """The team's repository with gitobs installed; without its reflogs, history alone shows its commits."""
    repo = tmp_path / "team"
    subprocess.run(["sh", str(TEAM_SCRIPT), str(repo)], check=True, capture_output=True)
    if not reflogs:
        forget_reflogs(repo)
    install(locate(repo))
    return repo


def authored(repo, *emails: str) -> set[str]:
    out = git(repo, "log", "--branches", "HEAD", "--format=%H %ae").stdout
    return {sha for sha, email in (line.split() for line in out.splitlines()) if email in emails}


def test_own_commits_by_default_then_all_authors_adds_only_the_others(tmp_path):
    repo = team(tmp_path)
    own = run_import(repo)
    assert {e.data["sha"] for e in created(repo)} == authored(repo, ME)
    assert own.imported == 8 and own.others == 8 and ME in own.authors
    everyone = run_import(repo, all_authors=True)
    shas = Counter(e.data["sha"] for e in created(repo))
    assert set(shas) == authored(repo, ME, ANA, BO) and set(shas.values()) == {1}  # never twice
    assert everyone.imported == 8 and everyone.recorded == 8
    assert run_import(repo, all_authors=True).walked == 0 and run_import(repo).walked == 0  # everyone's covers own
    said = gitobs("import", cwd=repo).stdout
    assert "imported 0 commit(s) by " in said and ME in said


def test_without_user_email_import_says_so_and_writes_nothing(tmp_path, monkeypatch):
    repo = team(tmp_path)
    git(repo, "config", "--unset", "user.email")
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    done = gitobs("import", cwd=repo, ok=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "user.email is not set" in line and "--all-authors" in line and "import.identities" in line
    assert created(repo) == []
    assert "imported 16 commit(s)" in gitobs("import", "--all-authors", cwd=repo).stdout


def test_user_email_is_read_through_git_so_include_if_applies(tmp_path, monkeypatch):
    repo = team(tmp_path)
    git(repo, "config", "--unset", "user.email")
    work = tmp_path / "work.gitconfig"
    work.write_text(f"[user]\n\temail = {BO}\n")
    main = tmp_path / "main.gitconfig"
    main.write_text(f'[includeIf "gitdir:{repo}/"]\n\tpath = {work}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(main))
    run_import(repo)
    assert {e.data["sha"] for e in created(repo)} == authored(repo, BO)


def test_import_identities_add_your_other_addresses(tmp_path):
    repo = team(tmp_path)
    gitobs("config", "set", "--user", "import.identities", ANA.upper(), cwd=repo)  # emails compare caselessly
    result = run_import(repo)
    assert {e.data["sha"] for e in created(repo)} == authored(repo, ME, ANA)
    assert {ME, ANA} <= set(result.authors) and result.others == 3


def test_merges_count_no_lines_unless_merge_churn_asks_for_the_first_parent_diff(tmp_path):
    repo = team(tmp_path)
    merge = git(repo, "rev-parse", ":/Merge feature").stdout.strip()
    run_import(repo)
    [event] = [e for e in created(repo) if e.data["sha"] == merge]
    assert event.data["merge"] is True and len(event.data["parents"]) == 2
    assert "files" not in event.data and "added" not in event.data and "deleted" not in event.data

    again = team(tmp_path / "again")
    run_import(again, merge_churn=True)
    [event] = [e for e in created(again) if e.data["sha"] == merge]
    first_parent = numstat(again, "-m", "--first-parent")[merge]
    assert event.data["files"] == first_parent == [["src/engine/feature.py", 9, 0]]
    assert event.data["added"] == 9


def test_renames_are_followed_to_each_files_newest_path(tmp_path):
    repo = team(tmp_path)
    run_import(repo, all_authors=True)
    by_sha = {e.data["sha"]: e.data for e in created(repo)}
    renames = {sha: data["renames"] for sha, data in by_sha.items() if data.get("renames")}
    assert sorted(pair for pairs in renames.values() for pair in pairs) == [
        ["README.md", "README.rst"],  # git's `old => new`
        ["docs/guide.txt", "docs/manual.txt"], ["docs/notes.txt", "docs/guide.txt"],  # `docs/{old => new}`
        ["src/app/core.py", "src/engine/core.py"], ["src/app/helpers.py", "src/engine/helpers.py"],  # a directory
        ["src/app/util.py", "src/app/helpers.py"]]
    paths = {f[0] for data in by_sha.values() for f in data.get("files", [])}
    assert not paths & {"README.md", "src/app/core.py", "src/app/util.py", "src/app/helpers.py", "docs/notes.txt",
                        "docs/guide.txt"}
    for newest in ("src/engine/core.py", "src/engine/helpers.py", "docs/manual.txt", "README.rst"):
        followed = set(git(repo, "log", "--follow", "--format=%H", "--", newest).stdout.split())
        named = {sha for sha, data in by_sha.items() if any(f[0] == newest for f in data.get("files", []))}
        assert named == followed, newest  # git's own --follow finds the same commits


def test_totals_are_exact_and_every_file_of_a_big_commit_is_kept(tmp_path):
    repo = team(tmp_path)
    run_import(repo, all_authors=True)
    expected = numstat(repo)
    imported = {e.data["sha"]: e.data for e in created(repo)}
    assert set(imported) == set(expected)
    for sha, files in expected.items():
        data = imported[sha]
        assert data.get("files_total", 0) == len(data.get("files", [])) == len(files), sha
        assert data.get("added", 0) == sum(f[1] for f in files) == sum(f[1] for f in data.get("files", []))
        assert data.get("deleted", 0) == sum(f[2] for f in files) == sum(f[2] for f in data.get("files", []))
    [big] = [data for data in imported.values() if data.get("files_total", 0) > 500]
    assert len(big["files"]) == 600 and big["added"] == 600
    report = json.loads(gitobs("report", "--heatmap", "--no-scan", "--format", "json", "--now", "2025-02-01",
                               cwd=repo).stdout)
    [heatmap] = [section for section in report["sections"] if section["name"] == "heatmap"]
    totals = {item[0]: item[1] for block in heatmap["blocks"] if block["id"] == "totals" for item in block["items"]}
    assert totals["files touched by commits"] == sum(len(files) for files in expected.values()) == 621
    assert totals["lines changed in commits"] == sum(f[1] + f[2] for files in expected.values() for f in files)


def test_the_heatmap_shows_one_row_per_file_under_its_newest_path(tmp_path):
    repo = team(tmp_path)
    run_import(repo, all_authors=True)
    report = gitobs("report", "--heatmap", "--no-scan", "--now", "2025-02-01", cwd=repo).stdout
    rows: dict[str, list[str]] = {}
    for line in report.splitlines():  # the first table, "Most edited files": commits, lines
        if line.startswith(("src/", "docs/", "README")):
            rows.setdefault(line.split()[0], line.split()[1:3])
    assert rows["src/engine/core.py"] == ["7", str(40 + 1 + 1 + 1 + 1 + 1)]
    assert rows["src/engine/helpers.py"] == ["4", str(30 + 6 + 1)]
    assert "src/app/core.py" not in report and "src/app/util.py" not in report and "README.md" not in report


def test_a_revert_is_read_with_its_age_from_commit_times(tmp_path):
    repo = team(tmp_path)
    run_import(repo, all_authors=True)
    [reverted] = events(repo, ("commit.reverted",))
    assert reverted.src == "import" and reverted.data["age_s"] == 86400.0
    assert reverted.data["reverted"] == git(repo, "rev-parse", ":/^Logo, and a change").stdout.strip()


def test_imported_history_feeds_no_hesitation_sessions_patterns_or_branch_dwell(tmp_path):
    repo = team(tmp_path, reflogs=True)
    scan(locate(repo).common_dir)
    gitobs("purge", "--yes", cwd=repo)  # what the scan read is gone: import takes it from history and reflogs
    run_import(repo, all_authors=True)
    imported = [e for e in events(repo) if e.src == "import"]
    assert {"commit.created", "branch.switch"} <= {e.type for e in imported}
    report = json.loads(gitobs("report", "--no-scan", "--format", "json", "--now", "2025-02-01", cwd=repo).stdout)
    facts = {(section["name"], block["id"]): {item[0]: item[1] for item in block["items"]}
             for section in report["sections"] for block in section["blocks"] if block["kind"] == "facts"}
    assert facts[("hesitation", "summary")]["commits"] == 0
    assert facts[("branches", "summary")]["switches"] == 0 and facts[("branches", "sessions")]["sessions"] == 0
    assert facts[("patterns", "sessions")]["sessions"] == 0
    assert facts[("heatmap", "totals")]["commits"] == 16  # counted where history belongs


def test_renames_are_hashed_like_files_when_paths_are_not_stored(tmp_path):
    repo = team(tmp_path)
    gitobs("config", "set", "capture.paths", "false", cwd=repo)
    run_import(repo, all_authors=True)
    salt = repository_salt(locate(repo).obs.root)
    pairs = [pair for e in created(repo) for pair in e.data.get("renames", [])]
    assert ["README.md", "README.rst"] not in pairs
    assert [hash_path("README.md", salt), hash_path("README.rst", salt)] in pairs
    assert "README" not in json.dumps([e.data for e in created(repo)])


def test_a_bundle_hashes_the_paths_of_renames(tmp_path):
    repo = team(tmp_path)
    run_import(repo, all_authors=True)
    bundle = tmp_path / "team.zip"
    gitobs("bundle", "-o", str(bundle), cwd=repo)
    with zipfile.ZipFile(bundle) as opened:
        events_text = zstandard.ZstdDecompressor().stream_reader(opened.read("events.jsonl.zst")).read()
        text = events_text + b"".join(opened.read(name) for name in opened.namelist() if name.endswith(".json"))
    assert b'"renames"' in events_text and b"README" not in text and b"src/engine" not in text


def test_batches_of_the_walk_give_what_one_batch_gives(tmp_path, monkeypatch):
    whole = team(tmp_path / "whole")
    run_import(whole, all_authors=True)
    monkeypatch.setattr(gitlog, "BATCH_COMMITS", 3)  # renames met in one git process, their files in another
    split = team(tmp_path / "split")
    run_import(split, all_authors=True)
    assert {e.data["sha"]: (e.ts, e.data) for e in created(split)} == {e.data["sha"]: (e.ts, e.data)
                                                                        for e in created(whole)}


def test_a_path_used_again_after_its_file_moved_away_is_a_file_of_its_own(repo):
    commit_file(repo, "a.txt", "".join(f"first {i}\n" for i in range(20)), "a")
    commit_file(repo, "a.txt", "".join(f"first {i}\n" for i in range(21)), "a grows")
    git(repo, "mv", "a.txt", "b.txt")
    git(repo, "commit", "-q", "-m", "a is b")
    commit_file(repo, "a.txt", "second\n", "a new a")
    forget_reflogs(repo)
    install(locate(repo))
    run_import(repo)
    files = {git(repo, "log", "-1", "--format=%s", e.data["sha"]).stdout.strip(): e.data["files"] for e in created(repo)}
    assert files["a"] == [["b.txt", 20, 0]] and files["a grows"] == [["b.txt", 1, 0]]
    assert files["a is b"] == [["b.txt", 0, 0]] and files["a new a"] == [["a.txt", 1, 0]]


def test_a_branch_made_while_the_scan_runs_is_walked(repo, monkeypatch):
    """git log starts before the scan, from the tips as they were: a walk the tips read after it no longer
    give is dropped, not imported."""
    commit_file(repo, "a.txt", "a\n", "a")
    git(repo, "switch", "-q", "-c", "side")
    commit_file(repo, "b.txt", "b\n", "b on side")
    side = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "switch", "-q", "main")
    git(repo, "branch", "-q", "-D", "side")  # its commit kept, reachable from no branch
    forget_reflogs(repo)
    install(locate(repo))
    real_scan = importer.scan

    def scan_after_a_new_branch(common_dir):
        git(repo, "branch", "revived", side)
        return real_scan(common_dir)

    monkeypatch.setattr(importer, "scan", scan_after_a_new_branch)
    run_import(repo)
    assert Counter(e.data["sha"] for e in created(repo)) == Counter(git(repo, "rev-list", "--branches").stdout.split())


@pytest.mark.parametrize("workers, ahead", [(1, 1), (4, 5)])
def test_any_number_of_git_processes_at_once_gives_what_two_give(tmp_path, monkeypatch, workers, ahead):
    usual = team(tmp_path / "usual")
    run_import(usual, all_authors=True)
    monkeypatch.setattr(gitlog, "BATCH_COMMITS", 2)
    monkeypatch.setattr(gitlog, "WORKERS", workers)
    monkeypatch.setattr(gitlog, "AHEAD", ahead)
    other = team(tmp_path / "other")
    run_import(other, all_authors=True)
    assert [(e.ts, e.data) for e in created(other)] == [(e.ts, e.data) for e in created(usual)]


def test_the_last_batches_of_the_walk_are_shares_of_what_is_left():
    lines = [f"{n:040x}\n".encode() for n in range(12_010)]
    batches = list(gitlog._batches(iter(lines), 2))
    assert b"".join(batches) == b"".join(lines)
    sizes = [batch.count(b"\n") for batch in batches]
    assert sizes == [5000, 3505, 1753, 876, 438, 250, 188]  # both processes end about together
    assert [batch.count(b"\n") for batch in gitlog._batches(iter(lines[:3]), 2)] == [3]


def test_a_branch_renamed_before_the_first_scan_keeps_its_first_commits_branch_after_a_purge(tmp_path):
    """`git branch -M main` before gitobs (as GitHub's setup says): the scan gives the first commit its
    branch of then, master, from the renamed reflog's earlier lines; an import after a purge cut those lines
    at the rename and gave it no branch."""
    repo = tmp_path / "renamed"
    git(tmp_path, "init", "-q", "-b", "master", str(repo))
    commit_file(repo, "a.txt", "a\n", "first")
    git(repo, "branch", "-M", "main")
    commit_file(repo, "b.txt", "b\n", "second")
    install(locate(repo))
    scan(locate(repo).common_dir)
    scanned = sorted((e.data["sha"], e.data["branch"]) for e in created(repo))
    gitobs("purge", "--yes", cwd=repo)
    gitobs("import", cwd=repo)
    assert sorted((e.data["sha"], e.data["branch"]) for e in created(repo)) == scanned
    assert [branch for _, branch in scanned].count("master") == 1
