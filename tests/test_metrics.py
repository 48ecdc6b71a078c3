"""Prometheus metrics (gitobs/export/prometheus/metrics.py, prometheus.py, exposition.py, metrics_server.py): the values of a
scripted history, counters that never drop across gc, redaction, hostile names, the textfile, the server,
and a real Prometheus scraping it."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import (
    REQUIRE_SYSTEM_PACKAGES,
    commit_file,
    git,
    gitobs,
    require_system_package,
    user_hook,
)
from logfactory import LogBuilder, at
from prometheus_client.parser import text_string_to_metric_families

from gitobs import __version__
from gitobs.capture.install import install
from gitobs.core import config
from gitobs.core.registry import Registry
from gitobs.core.repo import GitobsError, ObsPaths, locate
from gitobs.core.safe_text import inert
from gitobs.export.prometheus import exposition, metrics, repositories
from gitobs.export.prometheus.server import MetricsServer
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.log.read import read_events
from gitobs.upkeep.scan import scan

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")  # in Debian's prometheus package
NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")
DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana-dashboard.json"
TOKEN = re.compile(r"^n[0-9a-f]{10}$")
EDITOR_1S = "sh -c 'sleep 1; echo msg > \"$1\"' editor"


@pytest.fixture(autouse=True)
def private_homes(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setenv("GITOBS_DATA_HOME", str(tmp_path / "data-home"))


def user_config(key: str, value) -> None:
    config.write_key(config.user_file(), key.split("."), value)


def parsed(text: str) -> dict[str, list[tuple[dict, float]]]:
    """Sample name -> [(labels, value)], through the official parser (which fails on bad exposition)."""
    found: dict[str, list[tuple[dict, float]]] = collections.defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((sample.labels, sample.value))
    return found


def value(samples: dict, name: str, **labels) -> float:
    """The one sample of `name` whose labels include `labels` (the repo label aside)."""
    [hit] = [v for found, v in samples.get(name, []) if all(found.get(k) == w for k, w in labels.items())]
    return hit


def counters(samples: dict) -> dict[tuple, float]:
    return {(name, tuple(sorted(labels.items()))): v for name, rows in samples.items() if name.endswith("_total")
            for labels, v in rows}


def export_text(repo: Path, *args: str) -> str:
    return gitobs("export", "prometheus", "-C", str(repo), *args).stdout


# -- a scripted history, counted -------------------------------------------------------------------------------

@pytest.fixture
def history(repo) -> Path:
    """Commits on two branches, an amend, an editor-timed commit, a blocked and an aborted commit, an undo, a
    revert and a discarded edit, with gitobs installed (the first commit was made before)."""
    user_hook(repo, "pre-commit", "[ -e block ] && exit 7\nexit 0\n")
    install(locate(repo))
    scan(locate(repo).common_dir)
    git(repo, "switch", "-q", "-c", "feature")
    commit_file(repo, "src/app.py", "a\nb\nc\n", "app")  # 3 lines
    (repo / "src" / "util.py").write_text("x\ny\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("guide\n")
    git(repo, "add", "src/util.py", "docs/guide.md")
    git(repo, "commit", "-q", "-m", "util and guide")  # 3 lines, .py and .md
    git(repo, "commit", "-q", "--amend", "-m", "util and guide, amended")
    (repo / "notes.txt").write_text("n\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", GIT_EDITOR=EDITOR_1S)  # the editor open for a second
    (repo / "block").write_text("")
    git(repo, "add", "block")
    assert git(repo, "commit", "-q", "-m", "refused", ok=False).returncode != 0
    git(repo, "rm", "-q", "--cached", "block")
    (repo / "block").unlink()
    (repo / "y.txt").write_text("y\n")
    git(repo, "add", "y.txt")
    git(repo, "commit", "-q", ok=False, GIT_EDITOR="false")  # aborted in the editor
    git(repo, "commit", "-q", "-m", "y")
    git(repo, "switch", "-q", "main")
    commit_file(repo, "main.py", "m\nn\n", "main")  # 2 lines
    git(repo, "reset", "-q", "--soft", "HEAD~1")  # undone
    git(repo, "commit", "-q", "-m", "again")  # 2 lines
    git(repo, "revert", "--no-edit", "HEAD")  # 2 lines deleted
    scan(locate(repo).common_dir)
    (repo / "README.md").write_text("hello\nmore\n")
    scan(locate(repo).common_dir)  # the dirty sample
    git(repo, "checkout", "--", "README.md")  # discarded
    scan(locate(repo).common_dir)
    return repo


def test_a_scripted_history_gives_its_numbers(history):
    user_config("export.prometheus.redact", False)
    text = export_text(history)
    samples = parsed(text)
    if PROMTOOL.exists() or REQUIRE_SYSTEM_PACKAGES:  # Prometheus's own linter: names, units, types, help
        linted = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True)
        assert linted.returncode == 0 and not linted.stdout.strip(), linted.stdout + linted.stderr
    logged = collections.Counter(e.type for e in read_events(locate(history).obs, print))
    assert {labels["type"]: v for labels, v in samples["gitobs_events_total"]} == logged
    assert value(samples, "gitobs_commits_total", branch="main") == 4  # initial, main, again, revert
    assert value(samples, "gitobs_commits_total", branch="feature") == 4  # app, util+guide, notes, y
    assert value(samples, "gitobs_files_modified_total", op="commit", ext=".py") == 5
    assert value(samples, "gitobs_files_modified_total", op="commit", ext=".md") == 2
    assert value(samples, "gitobs_files_modified_total", op="commit", ext=".txt") == 2
    assert value(samples, "gitobs_files_modified_total", op="sample", ext=".md") == 1
    assert value(samples, "gitobs_files_modified_total", op="discard", ext=".md") == 1
    assert value(samples, "gitobs_branch_switches_total") == 2
    assert value(samples, "gitobs_commits_amended_total") == 1
    assert value(samples, "gitobs_commits_undone_total") == 1
    assert value(samples, "gitobs_commits_reverted_total") == 1
    assert value(samples, "gitobs_edits_discarded_total") == 1
    assert value(samples, "gitobs_commits_aborted_total", stage="editor") == 1
    assert value(samples, "gitobs_commits_blocked_total", hook="pre-commit") == 1
    assert value(samples, "gitobs_commit_attempts_total") == logged["commit.attempt"] >= 9
    assert value(samples, "gitobs_commit_changed_lines_count") == 8
    assert value(samples, "gitobs_commit_changed_lines_sum") == 1 + 3 + 3 + 1 + 1 + 2 + 2 + 2
    assert value(samples, "gitobs_commit_changed_lines_bucket", le="1") == 3
    assert value(samples, "gitobs_commit_changed_lines_bucket", le="5") == 8
    assert value(samples, "gitobs_message_edit_seconds_count") == 1
    assert 0.9 <= value(samples, "gitobs_message_edit_seconds_sum") < 10
    assert value(samples, "gitobs_log_bytes") == EventLog(locate(history).obs.log).size_bytes()
    assert abs(value(samples, "gitobs_last_scan_timestamp_seconds") - time.time()) < 120
    assert value(samples, "gitobs_repository_up") == 1
    assert value(samples, "gitobs_build_info", version=__version__) == 1
    assert {labels["repo"] for labels, _ in samples["gitobs_commits_total"]} == {history.name}


def test_sessions_split_at_the_idle_gap_and_are_counted_once_over(tmp_path):
    obs = ObsPaths(tmp_path / ".git")
    builder = LogBuilder(obs.log)
    for when in ("2026-11-02 09:00", "2026-11-02 09:10", "2026-11-02 09:20", "2026-11-02 11:00", "2026-11-02 11:05"):
        builder.add("index.stage", schema.IndexStage(seconds=0.0), when)
    builder.add("gitobs.scan", schema.GitobsScan(records=0, reflog_entries=0, events=0, seconds=0.0), "2026-11-02 13:00")  # gitobs's own: no activity
    builder.write()
    gap, activity = metrics.session_settings({})

    def durations(now: str, options: dict | None = None) -> metrics.Histogram:
        found = metrics.update(obs, *metrics.session_settings(options or {}), now_s=at(now) / 1e9)
        return found.sessions.durations

    first = durations("2026-11-02 11:06")
    assert (sum(first.counts), first.sum) == (1, 1200.0)  # the second sitting is still open
    later = durations("2026-11-02 14:00")
    assert (sum(later.counts), later.sum) == (2, 1500.0)
    late = LogBuilder(obs.log)
    late.add("commit.attempt", schema.CommitAttempt(), "2026-11-02 09:30")  # written late, for a closed one
    late.events[0].seq = 7
    late.write()
    assert sum(durations("2026-11-02 15:00").counts) == 2
    metrics.forget(obs)
    short = durations("2026-11-02 15:00", {"patterns.idle_gap": "5m"})
    assert (sum(short.counts), short.sum) == (4, 300.0)  # 09:00 | 09:10 | 09:20 | 11:00-11:05, with 09:30 in it
    assert gap == 1800.0 and "index.*" in activity and not any(glob.startswith("gitobs") for glob in activity)


def test_labels_stay_bounded_and_idle_slots_are_reused(tmp_path):
    obs = ObsPaths(tmp_path / ".git")
    builder = LogBuilder(obs.log)
    for n in range(25):
        builder.add("commit.created", schema.CommitCreated(sha=f"{n:040x}", branch=f"b{n:02d}"), "2026-11-02 09:00")
    builder.add("commit.created", schema.CommitCreated(sha="f" * 40, branch="late"), "2026-12-20 09:00")
    builder.write()
    state = metrics.update(obs, *metrics.session_settings({}))
    commits = state.commits.counts
    assert len(commits) == metrics.MAX_BRANCHES + 1 and commits[metrics.OTHER] == 25 - metrics.MAX_BRANCHES
    assert commits["late"] == 1 and "b00" not in commits  # the idlest slot went to the newcomer
    assert sum(commits.values()) == 26 - 1  # b00's series ended with its slot


def test_an_update_reads_only_what_the_log_gained(tmp_path, monkeypatch):
    obs = ObsPaths(tmp_path / ".git")
    builder = LogBuilder(obs.log)
    builder.add("branch.switch", schema.BranchSwitch(from_="a", to="b"), "2026-11-02 09:00")
    builder.write()
    settings = metrics.session_settings({})
    first = metrics.update(obs, *settings)
    places = []
    original = EventLog.iter_contents_from

    def spy(self, place, on_corruption=None):
        places.append(list(place))
        return original(self, place, on_corruption)

    monkeypatch.setattr(EventLog, "iter_contents_from", spy)
    assert metrics.update(obs, *settings).seq == 1 and places == []  # nothing new: a stat, no read
    more = LogBuilder(obs.log)
    more.add("branch.switch", schema.BranchSwitch(from_="b", to="a"), "2026-11-02 09:01")
    more.events[0].seq = 2
    more.write()
    again = metrics.update(obs, *settings)
    assert places == [first.place] and first.place[1] > 0  # from where the last one stopped
    assert again.events["branch.switch"] == 2 and again.seq == 2


# -- counters across gc ------------------------------------------------------------------------------------------

def test_counters_never_drop_when_gc_rolls_days_up(watched):
    user_config("export.prometheus.redact", False)
    obs = locate(watched).obs
    user_config("retention.max_age", "1d")  # a repository's own config may only raise it
    git(watched, "switch", "-q", "-c", "topic")
    for n in range(3):
        commit_file(watched, f"src/m{n}.py", "x\n" * (n + 1), f"m{n}")
    git(watched, "switch", "-q", "main")
    (watched / "notes.md").write_text("n\n")
    git(watched, "add", "notes.md")
    git(watched, "commit", "-q", GIT_EDITOR=EDITOR_1S)
    before = parsed(export_text(watched))

    in_three_days = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gitobs("gc", "-C", str(watched), "--now", in_three_days)
    kinds = collections.Counter(e.type for e in read_events(obs, print))
    assert kinds["rollup.day"] >= 1 and kinds["commit.created"] == 0  # the raw commits are gone
    after = parsed(export_text(watched))
    for key, count in counters(before).items():
        assert counters(after)[key] >= count, key
    for name in ("gitobs_commits_total", "gitobs_files_modified_total", "gitobs_message_edit_seconds_count",
                 "gitobs_commit_changed_lines_count"):
        assert sorted(after[name], key=repr) == sorted(before[name], key=repr), name

    # counted afresh (the state gone): the rollups still count what they kept
    metrics.forget(obs)
    recounted = parsed(export_text(watched, "--no-scan"))
    for name in ("gitobs_commits_total", "gitobs_files_modified_total", "gitobs_message_edit_seconds_count"):
        assert sorted(recounted[name], key=repr) == sorted(before[name], key=repr), name
    assert value(recounted, "gitobs_events_total", type="commit.created") == 5

    # commits made after the last export and rolled up with the rest are counted once, not twice
    export_text(watched)
    commit_file(watched, "late.py", "l\n", "late")
    commit_file(watched, "later.py", "l\n", "later")
    in_six_days = (datetime.now(timezone.utc) + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gitobs("gc", "-C", str(watched), "--now", in_six_days)
    final = parsed(export_text(watched))
    assert value(final, "gitobs_commits_total", branch="main") == value(before, "gitobs_commits_total",
                                                                          branch="main") + 2
    assert value(final, "gitobs_events_total", type="commit.created") == 7


def test_purge_forgets_the_counts(watched):
    export_text(watched)
    assert metrics.state_path(locate(watched).obs).exists()
    gitobs("purge", "--yes", "-C", str(watched))
    assert not metrics.state_path(locate(watched).obs).exists()


def test_imported_history_is_not_counted(repo):
    for number in range(3):
        commit_file(repo, f"old{number}.py", "x\n", f"old {number}")
    shutil.rmtree(repo / ".git" / "logs")  # as after a clone: history the reflogs never saw
    install(locate(repo))
    commits = lambda: sum(v for _, v in parsed(export_text(repo)).get("gitobs_commits_total", []))  # noqa: E731
    before = commits()
    gitobs("import", "-C", str(repo))
    assert len([e for e in read_events(locate(repo).obs, lambda _: None) if e.src == "import"]) >= 3
    assert commits() == before
    commit_file(repo, "new.py", "y\n", "new")
    assert commits() == before + 1


# -- privacy -------------------------------------------------------------------------------------------------------

def test_branch_names_are_hashed_unless_the_user_says_otherwise(watched):
    git(watched, "switch", "-q", "-c", "feature/secret-plan")
    commit_file(watched, "a.py", "a\n", "a")
    hashed = export_text(watched)
    branches = {labels["branch"] for labels, _ in parsed(hashed)["gitobs_commits_total"]}
    assert len(branches) == 2 and all(TOKEN.match(name) for name in branches)
    assert "secret" not in hashed and f'"{watched.name}"' not in hashed
    assert export_text(watched, "--no-scan") == hashed  # the same tokens at every scrape

    # a repository's own files cannot turn redaction off
    obs = locate(watched).obs
    (obs.root / "config.toml").write_text("[export.prometheus]\nredact = false\n")
    (watched / ".gitobs.toml").write_text("[export.prometheus]\nredact = false\n")
    assert "secret" not in export_text(watched, "--no-scan")

    user_config("export.prometheus.redact", False)
    clear = parsed(export_text(watched, "--no-scan"))
    assert {labels["branch"] for labels, _ in clear["gitobs_commits_total"]} == {"main", "feature/secret-plan"}
    assert {labels["repo"] for labels, _ in clear["gitobs_commits_total"]} == {watched.name}


def test_hostile_names_stay_valid_exposition(tmp_path):
    names = ['quo"te', "back\\slash", "new\nline", "\x1b[31mred\x1b[0m", "tab\there", "ünïcode"]
    place = tmp_path / 'we"ird\\dir\n\x1b[2J'
    obs = ObsPaths(place / ".git")
    builder = LogBuilder(obs.log)
    for n, name in enumerate(names):
        builder.add("commit.created", schema.CommitCreated(sha=f"{n:040x}", branch=name,
                                                           files=[schema.FileChange(f'{name}/f"{n}.p\\y', 1, 0)]),
                    "2026-11-02 09:00")
    builder.write()

    for redact in (True, False):
        user_config("export.prometheus.redact", redact)
        text = repositories.exposition([repositories.Target(obs)], repositories.Collection())
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", text)  # no terminal escapes, one sample a line
        samples = parsed(text)
        branches = {labels["branch"] for labels, _ in samples["gitobs_commits_total"]}
        repos = {labels["repo"] for labels, _ in samples["gitobs_commits_total"]}
        if redact:
            assert len(branches) == len(names) and all(TOKEN.match(b) for b in branches)
        else:
            assert branches == {inert(name) for name in names} and repos == {inert(place.name)}
    assert exposition.escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_a_repository_that_cannot_be_read_is_down_and_the_others_are_shown(watched, tmp_path):
    broken = tmp_path / "broken" / ".git"
    ObsPaths(broken).log.mkdir(parents=True)
    (ObsPaths(broken).root / "config.toml").write_text("[scan\n")  # not TOML
    user_config("export.prometheus.redact", False)
    gone = repositories.Target(ObsPaths(tmp_path / "gone" / ".git"), problem="gone (moved or deleted)")
    warnings = []
    text = repositories.exposition([repositories.Target(locate(watched).obs), repositories.Target(ObsPaths(broken)), gone],
                                 repositories.Collection(warn=warnings.append))
    up = {labels["repo"]: v for labels, v in parsed(text)["gitobs_repository_up"]}
    assert up.pop(watched.name) == 1 and up.pop("gone") == 0
    [(broken_label, down)] = up.items()  # its own config unread: named by a token, as if it redacted
    assert down == 0 and broken_label.startswith("r") and "broken" not in text
    assert len(warnings) == 2 and value(parsed(text), "gitobs_commits_total") == 1


# -- the textfile ------------------------------------------------------------------------------------------------

def test_the_textfile_is_written_atomically_and_must_end_in_prom(watched, tmp_path, monkeypatch):
    refused = gitobs("export", "prometheus", "-C", str(watched), "--textfile", str(tmp_path / "m.txt"), ok=False)
    assert refused.returncode == 2 and ".prom" in refused.stderr and not (tmp_path / "m.txt").exists()
    out = tmp_path / "collector"
    out.mkdir()
    gitobs("export", "prometheus", "-C", str(watched), "--textfile", str(out / "gitobs.prom"))
    assert os.listdir(out) == ["gitobs.prom"]
    assert value(parsed((out / "gitobs.prom").read_text()), "gitobs_commits_total") == 1

    renames = []
    real_replace = os.replace

    def watching_replace(source, target):
        renames.append((Path(source), Path(target), Path(source).read_text()))
        real_replace(source, target)

    monkeypatch.setattr(exposition.os, "replace", watching_replace)
    exposition.write_textfile(out / "gitobs.prom", "# HELP x y\n# TYPE x gauge\nx 1\n")
    [(source, target, content)] = renames
    assert source.parent == target.parent and source.suffix != ".prom" and content.endswith("x 1\n")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exposition.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        exposition.write_textfile(out / "gitobs.prom", "x 2\n")
    assert (out / "gitobs.prom").read_text().endswith("x 1\n") and os.listdir(out) == ["gitobs.prom"]


def test_scans_rewrite_the_configured_textfile(watched, tmp_path):
    target = tmp_path / "collector" / "gitobs.prom"
    (watched / ".gitobs.toml").write_text(f'[export.prometheus]\ntextfile = "{target}"\n')
    target.parent.mkdir()
    gitobs("scan", "-C", str(watched))
    assert not target.exists()  # a repository cannot turn it on
    user_config("export.prometheus.textfile", str(target))
    gitobs("scan", "-C", str(watched))
    assert value(parsed(target.read_text()), "gitobs_commits_total") == 1
    commit_file(watched, "b.py", "b\n", "b")
    gitobs("scan", "-C", str(watched))
    assert value(parsed(target.read_text()), "gitobs_commits_total") == 2

    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    commit_file(other, "o.py", "o\n", "o")
    gitobs("install", "-C", str(other))
    Registry().add(locate(watched))
    gitobs("scan", "-C", str(watched))  # the other one is counted by its own scan, not by this one's
    up = sorted(v for _, v in parsed(target.read_text())["gitobs_repository_up"])
    assert up == [0, 1] and not metrics.state_path(locate(other).obs).exists()
    gitobs("scan", "--all")
    repos = {labels["repo"] for labels, _ in parsed(target.read_text())["gitobs_commits_total"]}
    assert len(repos) == 2


def test_node_exporter_reads_the_textfile(watched, tmp_path, processes):
    require_system_package(NODE_EXPORTER.exists(), str(NODE_EXPORTER), "apt-get install prometheus-node-exporter")
    collector = tmp_path / "collector"
    collector.mkdir()
    gitobs("export", "prometheus", "-C", str(watched), "--textfile", str(collector / "gitobs.prom"))
    port = free_port()
    processes([str(NODE_EXPORTER), "--collector.disable-defaults", "--collector.textfile",
               f"--collector.textfile.directory={collector}", f"--web.listen-address=127.0.0.1:{port}"])
    deadline, body = time.monotonic() + 30, ""
    while time.monotonic() < deadline and "gitobs_commits_total" not in body:
        time.sleep(0.3)
        try:
            body = get(port)[2]
        except OSError:
            continue
    assert value(parsed(body), "gitobs_commits_total") == 1
    assert value(parsed(body), "node_textfile_scrape_error") == 0


def test_scan_all_rewrites_the_textfile_once(watched, tmp_path, monkeypatch):
    from gitobs.fleet import scan_all

    Registry().add(locate(watched))
    calls = []
    monkeypatch.setattr(repositories, "after_scan", lambda scanned: calls.append(scanned))
    scan_all.scan_entries(Registry().entries())
    assert [[obs.common_dir for obs in scanned] for scanned in calls] == [[locate(watched).common_dir]]


def test_a_textfile_that_cannot_be_written_never_fails_a_scan(watched, tmp_path):
    target = tmp_path / "missing" / "gitobs.prom"
    user_config("export.prometheus.textfile", str(target))
    first = gitobs("scan", "-C", str(watched))
    assert "prometheus textfile" in first.stderr and "no such directory" in first.stderr
    for _ in range(2):
        commit_file(watched, "c.py", "c\n" * (_ + 1), "c")
        gitobs("scan", "-C", str(watched))
    errors = [e for e in read_events(locate(watched).obs, print) if e.type == "gitobs.error"]
    assert [e.data["where"] for e in errors] == ["prometheus textfile"]  # reported once, not at every scan
    target.parent.mkdir()
    gitobs("scan", "-C", str(watched))
    assert value(parsed(target.read_text()), "gitobs_commits_total") == 3


# -- the server ----------------------------------------------------------------------------------------------------

@pytest.fixture
def processes():
    """spawn(args) -> Popen; every process spawned is stopped at the end of the test, whatever happened."""
    started: list[subprocess.Popen] = []

    def spawn(args: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            stream.close()


def start_server(spawn, *args: str) -> tuple[subprocess.Popen, int]:
    server = spawn([sys.executable, "-m", "gitobs", "metrics", "serve", "--port", "0", *args])
    line = server.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
    assert match, (line, server.stderr.read() if server.poll() is not None else "")
    return server, int(match.group(1))


def get(port: int, path: str = "/metrics", host: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def listening_address(port: int) -> str:
    """The local address of the socket listening on `port`, from /proc/net/tcp (hex, little-endian)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":
            return socket.inet_ntoa(bytes.fromhex(address)[::-1])
    raise AssertionError(f"nothing listens on {port}")


def test_serve_answers_on_loopback_fresh_at_each_scrape(watched, processes):
    Registry().add(locate(watched))
    server, port = start_server(processes, "-C", str(watched))
    assert listening_address(port) == "127.0.0.1"
    status, content_type, body = get(port)
    assert (status, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")
    assert value(parsed(body), "gitobs_commits_total") == 1
    commit_file(watched, "s.py", "s\n", "s")
    assert value(parsed(get(port)[2]), "gitobs_commits_total") == 2  # scanned, then counted
    assert get(port, "/")[0] == 404 and get(port, "/metrics/x")[0] == 404
    assert get(port, host="rebound.example:80")[0] == 403
    assert get(port, host=f"localhost:{port}")[0] == 200
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0 and "stopped" in server.stdout.read()

    again, port = start_server(processes, "--all", "--no-scan")
    assert value(parsed(get(port)[2]), "gitobs_commits_total") == 2
    again.send_signal(signal.SIGINT)
    assert again.wait(timeout=10) == 0


def test_the_server_binds_loopback_only():
    for address in ("0.0.0.0", "192.0.2.10", "example.com"):
        with pytest.raises(GitobsError, match="loopback"):
            MetricsServer(address, 0, lambda: "", print)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_real_prometheus_scrapes_the_server(watched, processes, tmp_path):
    require_system_package(PROMETHEUS.exists(), str(PROMETHEUS), "apt-get install prometheus")
    commit_file(watched, "p.py", "p\n", "p")
    _, port = start_server(processes, "-C", str(watched))
    web = free_port()
    settings = tmp_path / "prometheus.yml"
    settings.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        f"scrape_configs:\n  - job_name: gitobs\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{port}']\n")
    processes([str(PROMETHEUS), f"--config.file={settings}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"])
    deadline, result = time.monotonic() + 60, []
    while time.monotonic() < deadline and not result:
        time.sleep(0.5)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?query=gitobs_commits_total",
                                        timeout=5) as answer:
                result = json.load(answer)["data"]["result"]
        except (OSError, ValueError, KeyError):
            continue
    assert result, "Prometheus never showed gitobs_commits_total"
    [series] = result
    assert series["metric"]["job"] == "gitobs" and TOKEN.match(series["metric"]["branch"])
    assert float(series["value"][1]) == 2


# -- the dashboard -------------------------------------------------------------------------------------------------

def test_the_grafana_dashboard_queries_metrics_that_exist(history):
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}
    assert any(item["type"] == "datasource" and item["query"] == "prometheus" for item in variables.values())
    panels = [panel for panel in dashboard["panels"] if panel.get("type") != "row"]
    expressions = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert len(panels) >= 8 and len(expressions) >= len(panels)
    text = export_text(history)
    exposed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    exposed |= {re.split(r"[{ ]", line)[0] for line in text.splitlines() if line and not line.startswith("#")}
    exposed |= {f"{line.split()[2]}{suffix}" for line in text.splitlines()  # a histogram with no samples yet
                if line.startswith("# TYPE") and line.endswith(" histogram") for suffix in ("_bucket", "_sum", "_count")}
    used = {name for expr in expressions for name in re.findall(r"\bgitobs_[a-z0-9_]+", expr)}
    assert used and used <= exposed, used - exposed
    assert {"gitobs_commits_total", "gitobs_message_edit_seconds_bucket", "gitobs_session_seconds_bucket"} <= used
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    if PROMTOOL.exists() or REQUIRE_SYSTEM_PACKAGES:  # every expression parses as PromQL (Grafana's own variables filled in)
        filled = [expr.replace("$__range", "1h").replace("$__interval", "5m").replace("$repo", ".*")
                  for expr in expressions]
        rules = history.parent / "rules.json"  # JSON is YAML
        rules.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:{n}", "expr": expr} for n, expr in enumerate(filled)]}]}))
        checked = subprocess.run([str(PROMTOOL), "check", "rules", str(rules)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
