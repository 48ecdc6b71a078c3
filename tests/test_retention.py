"""Retention (gitobs/upkeep/retention.py): a year of history rolled up into days gives the same long-window heatmap
and hesitation as the raw events (distributions within the sketch's error), stays under the size cap,
and a rewrite a crash interrupted is finished by the next scan."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs
from logfactory import eventgen as load_eventgen

from gitobs.core import config
from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.replay import plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report
from gitobs.replay.sections import encode_json
from gitobs.replay.stats import QuantileSketch
from gitobs.upkeep import retention

YEAR_EVENTS = 90_000  # the benchmark's developer, weekdays: about a year


@pytest.fixture(autouse=True)
def private_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> tuple[Path, float]:
    """A year of synthetic history in a log, and a `now` just after it."""
    eventgen = load_eventgen()
    common = tmp_path_factory.mktemp("year") / ".git"
    log = EventLog(ObsPaths(common).log, sealed_level=3)  # production seals at 19: slower, the same logic
    lines = [schema.encode(event) for event in eventgen.events(YEAR_EVENTS, seed=7, files=400)]
    for start in range(0, len(lines), 2000):
        log.append(lines[start:start + 2000])
    last = schema.parse_ts(schema.decode(lines[-1]).ts)
    return common, float((int(last) // 86400 + 1) * 86400)


def sections(log, now: float, **context) -> dict:
    built = build_report(log, plugins.load(), ["heatmap", "hesitation"], Context(now=now, **context), print)
    found = json.loads(encode_json(built))
    return {"events": found["events"], "rollup_days": found["rollup_days"],
            **{s["name"]: {b["id"]: b for b in s["blocks"]} for s in found["sections"]}}


def test_a_rolled_up_year_gives_the_same_long_window_report(year, tmp_path):
    common, now = year
    copy = tmp_path / ".git"
    os.makedirs(copy / "obs")
    os.system(f"cp -r {common / 'obs' / 'log'} {copy / 'obs' / 'log'}")
    obs = ObsPaths(copy)
    raw = {depth: sections(EventLog(obs.log), now, depth=depth) for depth in (1, 2)}
    before = EventLog(obs.log).size_bytes()
    done = retention.collect(obs, now)
    assert done.days_rolled > 150 and done.events_rolled > YEAR_EVENTS // 2 and done.dropped == 0
    assert done.bytes_after < before <= 64 << 20
    for depth in (1, 2):
        rolled = sections(EventLog(obs.log), now, depth=depth)
        assert rolled["rollup_days"] == done.days_rolled and raw[depth]["rollup_days"] == 0
        assert rolled["events"] == raw[depth]["events"] == YEAR_EVENTS
        assert rolled["heatmap"] == raw[depth]["heatmap"]  # every table, grid, calendar and punchcard
        for block in ("summary", "stops", "by_branch", "by_hour"):
            assert rolled["hesitation"][block] == raw[depth]["hesitation"][block], block
        durations = zip(rolled["hesitation"]["durations"]["rows"], raw[depth]["hesitation"]["durations"]["rows"])
        for mine, theirs in durations:
            label, count, p50, p90, high = mine
            assert (label, count, high) == (theirs[0], theirs[1], theirs[4])
            for approx, exact in ((p50, theirs[2]), (p90, theirs[3])):
                assert abs(approx - exact) <= QuantileSketch.RELATIVE_ERROR * exact + 0.001, (label, approx, exact)
    assert retention.collect(obs, now).days_rolled == 0  # a second gc has nothing more to do


def test_the_size_cap_drops_the_oldest_first(year, tmp_path):
    common, now = year
    copy = tmp_path / ".git"
    os.makedirs(copy / "obs")
    os.system(f"cp -r {common / 'obs' / 'log'} {copy / 'obs' / 'log'}")
    config.user_file().parent.mkdir(parents=True)  # a repository's own config may only raise the cap
    config.user_file().write_text('[retention]\nmax_bytes = "256KiB"\nmax_age = "3650d"\n')
    obs = ObsPaths(copy)
    done = retention.collect(obs, now)
    assert done.bytes_after <= 256 << 10 and done.dropped > 0
    seqs = [schema.decode(line).seq for line in EventLog(obs.log).iter_lines()]
    assert seqs == sorted(seqs) and seqs[-1] == YEAR_EVENTS and seqs[0] > 1  # the newest kept, in order


def test_an_interrupted_rewrite_is_finished_by_the_next_scan(watched):
    obs = ObsPaths(watched / ".git")
    commit_file(watched, "a.txt", "a\n")
    gitobs("scan", cwd=watched)
    lines = list(EventLog(obs.log).iter_lines())
    os.replace(obs.log, obs.root / "log.gc")  # the new log written, the old one moved away: then a crash
    os.makedirs(obs.root / "log.old")
    gitobs("scan", cwd=watched)
    assert list(EventLog(obs.log).iter_lines())[: len(lines)] == lines
    assert not (obs.root / "log.gc").exists() and not (obs.root / "log.old").exists()


def test_gc_rolls_up_old_days_of_a_real_repository(watched):
    for number in range(3):  # hooks bypassed: the reflog's time (the committer date, years ago) is the event's
        (watched / f"old{number}.py").write_text("x\n" * (number + 1))
        git(watched, "add", f"old{number}.py")
        git(watched, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", f"old {number}",
            GIT_COMMITTER_DATE=f"2020-03-0{number + 1}T10:00:00Z", GIT_AUTHOR_DATE="2020-03-01T10:00:00Z")
    git(watched, "commit", "-q", "--allow-empty", "-m", "today")
    before = json.loads(gitobs("report", "--only", "heatmap", "--format", "json", cwd=watched).stdout)
    done = gitobs("gc", cwd=watched).stdout
    assert "rolled up" in done
    after = json.loads(gitobs("report", "--only", "heatmap", "--format", "json", "--no-scan", cwd=watched).stdout)
    assert after["rollup_days"] >= 1 and after["events"] == before["events"]
    totals = {s["name"]: s["blocks"][0]["items"] for s in after["sections"]}["heatmap"]
    assert totals == {s["name"]: s["blocks"][0]["items"] for s in before["sections"]}["heatmap"]
    text = gitobs("report", "--only", "heatmap", "--no-scan", cwd=watched).stdout
    assert "days from daily rollups" in text


def test_a_bundle_of_rolled_up_days_names_nothing_in_clear(watched, tmp_path):
    git(watched, "switch", "-q", "-c", "feature/secret-branch")
    (watched / "private" / "area").mkdir(parents=True)
    (watched / "private" / "area" / "plan.py").write_text("x\n")
    git(watched, "add", "-A")
    git(watched, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "old",
        GIT_COMMITTER_DATE="2020-03-01T10:00:00Z", GIT_AUTHOR_DATE="2020-03-01T10:00:00Z")
    gitobs("gc", cwd=watched)
    path = tmp_path / "b.zip"
    gitobs("bundle", "-o", str(path), cwd=watched)
    import zipfile

    import zstandard
    with zipfile.ZipFile(path) as archive:
        events = zstandard.ZstdDecompressor().stream_reader(archive.read("events.jsonl.zst")).read()
        everything = events + b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".json"))
    assert b'"rollup.day"' in events
    for secret in (b"secret-branch", b"private", b"plan.py", b"area"):
        assert secret not in everything, secret
    assert "verify: clean" in gitobs("replay", str(path), "--verify", cwd=tmp_path).stdout


def test_two_processes_give_the_same_report_over_rollups(year, tmp_path, monkeypatch):
    from gitobs.replay import parallel

    common, now = year
    copy = tmp_path / ".git"
    os.makedirs(copy / "obs")
    os.system(f"cp -r {common / 'obs' / 'log'} {copy / 'obs' / 'log'}")
    (copy / "obs" / "config.toml").write_text('[retention]\nmax_age = "150d"\n')  # rollups, then raw events
    obs = ObsPaths(copy)
    assert retention.collect(obs, now).days_rolled > 50
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    assert len(EventLog(obs.log).segments()) >= 2

    def full(workers: int) -> bytes:
        return encode_json(build_report(EventLog(obs.log), plugins.load(), [], Context(now=now), print,
                                        workers=workers))

    serial = full(1)
    assert b'"rollup_days": 0' not in serial and b'"error": "' not in serial
    assert full(2) == serial


def _damage_second_frame(obs: ObsPaths) -> bytes:
    """Flip a byte inside the second frame of the first segment (not its tail: lines still salvageable)."""
    from gitobs.log.eventlog import frame_starts

    segment = EventLog(obs.log).segments()[0]
    starts = frame_starts(segment)
    assert len(starts) >= 3
    data = bytearray(segment.read_bytes())
    data[starts[1] + 40] ^= 0xFF
    segment.write_bytes(bytes(data))
    return bytes(data)


def test_gc_leaves_a_damaged_log_to_doctor_repair(watched):
    for number in range(3):  # old days to roll up, one scan (one frame) each
        commit_file(watched, f"old{number}.py", "x\n", GIT_COMMITTER_DATE=f"2020-03-0{number + 1}T10:00:00Z")
        gitobs("scan", cwd=watched)
    obs = ObsPaths(watched / ".git")
    damaged = _damage_second_frame(obs)
    done = gitobs("gc", cwd=watched, ok=False)  # it rewrote the log without the damaged frame, keeping nothing
    assert done.returncode == 2 and "doctor --repair" in done.stderr and len(done.stderr.splitlines()) == 1
    assert EventLog(obs.log).segments()[0].read_bytes() == damaged
    assert "found 00000001.jsonl.zst" in gitobs("doctor", cwd=watched, ok=False).stdout
    gitobs("doctor", "--repair", cwd=watched, ok=False)
    assert any(EventLog(obs.log).damaged_dir.iterdir())
    assert "rolled up" in gitobs("gc", cwd=watched).stdout


def _read_only(directory: Path):
    """`directory` made read-only for real: a read-only bind mount as root (chmod does not stop root)."""
    import contextlib
    import subprocess

    @contextlib.contextmanager
    def held():
        if os.geteuid() != 0:
            directory.chmod(0o555)
            try:
                yield
            finally:
                directory.chmod(0o755)
            return
        mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True)
        if mounted.returncode != 0:
            pytest.skip("root without mount: no way to make a directory read-only")
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(directory)], check=True)

    return held()


def test_a_purge_that_cannot_delete_the_log_says_so(watched):
    commit_file(watched, "a.txt", "a\n")
    gitobs("scan", cwd=watched)
    obs = ObsPaths(watched / ".git")
    lines = list(EventLog(obs.log).iter_lines())
    with _read_only(obs.log):
        done = gitobs("purge", "--yes", cwd=watched, ok=False)  # it said "purged", the events all there
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "purged" not in done.stdout
    assert list(EventLog(obs.log).iter_lines()) == lines
    assert "purged" in gitobs("purge", "--yes", cwd=watched).stdout
    assert list(EventLog(obs.log).iter_lines()) == []
