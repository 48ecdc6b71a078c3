"""The report cache (gitobs/replay/cache.py): analyzers' states after the sealed segments kept under
.git/obs/replay-cache/, a report feeding them only what came after. Every report here is compared byte for
byte with a full replay of the same log (cache=False)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from logfactory import at, eventgen

from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog, frame_starts
from gitobs.log.memory import MemoryLog
from gitobs.replay import cache, parallel, plugins
from gitobs.replay.analysis import Analyzer, Context
from gitobs.replay.hookspecs import hookimpl
from gitobs.replay.report import build_report
from gitobs.replay.sections import Fact, Facts, encode_json
from gitobs.upkeep import purge, retention

NOW = at("2024-06-01") / 1e9


LINES = [schema.encode(event) for event in eventgen().events(7000, seed=3, files=300)]


def _append(obs: ObsPaths, lines: list[bytes]) -> None:
    # Small segments: many sealed ones, and a live one that is not empty when the fixture's lines are in.
    log = EventLog(obs.log, seal_bytes=31 << 10, sealed_level=3)
    for start in range(0, len(lines), 200):
        log.append(lines[start:start + 200])


@pytest.fixture
def obs(tmp_path, monkeypatch) -> ObsPaths:
    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setattr(parallel, "MIN_LOG_BYTES", 0)
    paths = ObsPaths(tmp_path / ".git")
    _append(paths, LINES[:5000])
    assert len(EventLog(paths.log).segments()) >= 5
    return paths


def _report(obs: ObsPaths, use_cache: bool, workers: int = 2, extra=None, only=(), warnings=None, **context) -> bytes:
    context.setdefault("now", NOW)
    sink = warnings if warnings is not None else []
    built = build_report(EventLog(obs.log), plugins.load(extra=extra), list(only), Context(**context), sink.append,
                         workers=workers, cache=use_cache)
    return encode_json(built)


def _files(obs: ObsPaths) -> list[Path]:
    return sorted((obs.root / cache.DIRECTORY).glob(f"*{cache.SUFFIX}"))


def _same(obs: ObsPaths, workers: int = 2, **context) -> bytes:
    """A full replay, and the cached report built cold then warm: all three the same bytes."""
    full = _report(obs, False, workers, **context)
    assert b'"error": "' not in full
    assert _report(obs, True, workers, **context) == full  # cold: made and kept
    assert _report(obs, True, workers, **context) == full  # warm: loaded
    return full


CONTEXTS = [{}, {"utc_offset_s": 3600}, {"utc_offset_s": -19800}, {"path": "src"}, {"branch": "main"},
            {"depth": 2}, {"options": {"patterns.idle_gap": "10m", "heatmap.bucket": "week", "branches.top": "3"}}]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cached_report_is_the_full_replay_byte_for_byte(obs, workers):
    for context in CONTEXTS:
        _same(obs, workers, **context)
    assert len(_files(obs)) == cache.MAX_ENTRIES  # one per configuration, the least recently used dropped


def test_the_state_does_not_depend_on_now(obs):
    _same(obs)
    kept = {path: path.read_bytes() for path in _files(obs)}
    assert len(kept) == 1  # the live checkpoint: the sealed segments and part of the live one
    later = NOW + 40 * 86400
    assert _report(obs, True, now=later) == _report(obs, False, now=later)
    assert {path: path.read_bytes() for path in _files(obs)} == kept  # served both, nothing written


def _live_checkpoint(obs: ObsPaths) -> cache.Checkpoint:
    store = cache.Store(obs.root / cache.DIRECTORY, 0)
    [found] = [c for path in _files(obs) if (c := store.load(_key_of(path))) is not None and c.live is not None]
    return found


def _key_of(path: Path) -> str:
    import msgspec
    import zstandard

    data = zstandard.ZstdDecompressor().decompress(path.read_bytes()[len(cache.MAGIC):])
    return msgspec.msgpack.decode(data, type=cache.Checkpoint).key


def test_new_events_and_newly_sealed_segments_are_fed_after_the_states(obs):
    _same(obs)
    live = _live_checkpoint(obs).live
    assert live is not None and live.name == EventLog(obs.log).segments()[-1].name and live.size > 0
    before = len(EventLog(obs.log).segments())
    _append(obs, LINES[5000:5030])  # a little into the live segment: its checkpoint is not written again
    _same(obs)
    assert _live_checkpoint(obs).live == live
    _append(obs, LINES[5030:5100])
    with_more = _report(obs, False)
    cache.LIVE_REWRITE_EVENTS, rewrite = 1, cache.LIVE_REWRITE_EVENTS
    try:
        assert _report(obs, True) == with_more
    finally:
        cache.LIVE_REWRITE_EVENTS = rewrite
    assert _live_checkpoint(obs).live.size > live.size  # past the threshold: written again, further on
    _append(obs, LINES[5100:5400])  # the live segment sealed: its checkpointed lines found in it again
    assert len(EventLog(obs.log).segments()) > before
    _same(obs)
    _append(obs, LINES[5400:])  # more segments sealed
    assert len(EventLog(obs.log).segments()) > before + 1
    _same(obs, workers=1)
    _same(obs, workers=2)


def test_a_bounded_dashboard_is_kept_and_fed_on_as_one_fed_everything(obs, monkeypatch):
    from gitobs_plugins import dashboard

    monkeypatch.setattr(dashboard, "HELD_ROWS", 150)  # its oldest days dropped, before and after the checkpoint
    for workers in (1, 2):
        full = _same(obs, workers)
        assert b'"complete from"' in full
    _append(obs, LINES[5000:5400])
    _same(obs, 2)


def test_a_repaired_live_segment_is_resumed_by_its_lines(obs):
    _same(obs)
    live = EventLog(obs.log).segments()[-1]
    data = live.read_bytes()
    live.write_bytes(data + b"\x28\xb5\x2f\xfd torn")  # a torn append ...
    expected: list[str] = []
    torn = _report(obs, False, warnings=expected)
    seen: list[str] = []
    assert _report(obs, True, warnings=seen) == torn and seen == expected and any("damaged log" in w for w in seen)
    import zstandard

    lines = b"".join(EventLog(obs.log).iter_contents(start=len(EventLog(obs.log).segments()) - 1))
    fresh = live.with_name("rewritten")
    fresh.write_bytes(zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True).compress(lines))
    os.replace(fresh, live)  # ... cut off by a repair: another file, other frames, the same lines
    assert live.read_bytes() != data
    resumed: list = []
    original = cache._resume

    def spy(*args):
        found = original(*args)
        resumed.append(found and (found[0].offset, found[0].skip))
        return found

    cache._resume, restore = spy, cache._resume
    try:
        _same(obs)
    finally:
        cache._resume = restore
    assert resumed[0][0] == 0 and resumed[0][1] > 0  # found again by its lines


@pytest.mark.parametrize("workers", [1, 2])
def test_damage_a_repair_took_out_of_the_live_segment_is_not_warned_about_again(obs, workers):
    # The checkpoint keeps the damage warnings of what it covers. A repair rewrites the live segment with the
    # same lines, so the checkpoint is found again by them: its warning was said again, the damage long gone.
    _append(obs, LINES[5000:5040])
    _append(obs, LINES[5040:5080])
    live = EventLog(obs.log).segments()[-1]
    data = live.read_bytes()
    last = frame_starts(live)[-1]
    assert last > 0
    live.write_bytes(data[:last] + b"\x28\xb5\x2f\xfd garbage" + data[last:])  # between two frames
    assert any("damaged log" in w for w in _warnings(obs, True, workers))  # the checkpoint made with it
    EventLog(obs.log).repair()
    assert _warnings(obs, False, workers) == []
    assert _warnings(obs, True, workers) == []
    _same(obs, workers)


def _warnings(obs: ObsPaths, use_cache: bool, workers: int) -> list[str]:
    said: list[str] = []
    _report(obs, use_cache, workers, warnings=said)
    return said


def test_a_warm_report_reads_only_the_live_segment(obs, monkeypatch):
    full = _same(obs)
    read: list[tuple[int, int | None]] = []
    original = EventLog.iter_contents

    def spy(self, on_corruption=None, start=0, stop=None, window=None):
        read.append((start, stop))
        return original(self, on_corruption, start=start, stop=stop, window=window)

    original_from = EventLog.iter_contents_from

    def spy_from(self, place, on_corruption=None):
        read.append(tuple(place))
        return original_from(self, place, on_corruption)

    monkeypatch.setattr(EventLog, "iter_contents", spy)
    monkeypatch.setattr(EventLog, "iter_contents_from", spy_from)
    assert _report(obs, True) == full
    assert read == []  # nothing came after the checkpoint: nothing is read
    live = EventLog(obs.log).segments()[-1]
    size = live.stat().st_size
    _append(obs, LINES[5000:5010])
    assert EventLog(obs.log).segments()[-1] == live
    assert _report(obs, True) == _report(obs, False)
    assert read[0] == (live.name, size)  # only what the live segment holds after the checkpoint


def test_time_windows_and_enrichers_replay_the_whole_log(obs):
    since, until = at("2023-12-01") / 1e9, at("2024-01-15") / 1e9
    _same(obs, since=since)
    _same(obs, until=until)
    _same(obs, since=since, until=until)
    assert _files(obs) == []  # nothing kept for a window


def test_a_damaged_or_planted_cache_file_is_rebuilt_and_runs_nothing(obs, tmp_path):
    full = _same(obs)
    marker = tmp_path / "planted"

    class Plant:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    extra = [("digest", Extra)]  # with an analyzer not cached: the sealed checkpoint is written too
    full_with_digest = _report(obs, False, extra=extra)
    assert _report(obs, True, extra=extra) == full_with_digest
    files = _files(obs)
    assert len(files) == 2
    for kept in files:
        good = kept.read_bytes()
        for damaged in (b"", good[: len(good) // 2], good[:-7] + b"\0" * 7, pickle.dumps(Plant()),
                        cache.MAGIC + pickle.dumps(Plant()), b"x" * len(good)):
            for other in files:
                other.write_bytes(damaged if other == kept else b"")
            assert _report(obs, True) == full
            assert _report(obs, True, extra=extra) == full_with_digest
            assert kept.read_bytes() == good  # rebuilt
    assert not marker.exists()


def test_a_bit_flipped_anywhere_in_a_cache_file_is_damage_not_another_checkpoint(obs):
    # A flipped bit in a compressed literal still inflates and decodes: without the frame's checksum it was
    # read as a checkpoint holding another path or count, and the report showed it.
    full = _same(obs)
    [path] = _files(obs)
    key, good = _key_of(path), path.read_bytes()
    store = cache.Store(path.parent, 1 << 30)
    kept = store.load(key)
    misread = []
    for position in range(len(cache.MAGIC), len(good), 13):
        damaged = bytearray(good)
        damaged[position] ^= 0x04
        path.write_bytes(damaged)
        found = store.load(key)
        if found is not None and found != kept:
            misread.append(position)
    assert misread == []
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 0x04]))  # the checksum itself
    assert _report(obs, True) == full
    assert path.read_bytes() != good[:-1] + bytes([good[-1] ^ 0x04])  # rebuilt


def test_a_state_from_other_code_is_not_loaded(obs, monkeypatch):
    full = _same(obs)
    [heatmap] = [cls for cls, _ in plugins.load().analyzers if cls.name == "heatmap"]

    def refuse(self, state):
        raise ValueError("not my state")

    monkeypatch.setattr(heatmap, "load_state", refuse)
    assert _report(obs, True) == full  # every state rebuilt from the log


def test_a_rewritten_sealed_segment_is_noticed(obs):
    _same(obs)
    first = EventLog(obs.log).segments()[0]
    data = first.read_bytes()
    log = EventLog(obs.log)
    kept = [line for lines in log.iter_frames() for line in lines][:300]  # segment 1, shorter, same name
    import zstandard
    first.write_bytes(zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True)
                      .compress(b"".join(line + b"\n" for line in kept)))
    assert first.read_bytes() != data
    _same(obs)
    stat = first.stat()
    first.write_bytes(data)  # back as it was, with another mtime: its hash says it is the same
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _same(obs)


def test_imported_and_rolled_up_history_and_gc_and_purge(obs):
    _same(obs)
    # gitobs import appends past commits: events older than the ones before them
    old = [schema.decode(line) for line in LINES[:800]]
    for number, event in enumerate(old):
        event.seq, event.id = 10**6 + number, f"imported-{number}"
    _append(obs, [schema.encode(event) for event in old])
    _same(obs)
    (obs.root / "config.toml").write_text('[retention]\nmax_age = "60d"\n')
    assert (obs.root / cache.DIRECTORY).is_dir()
    done = retention.collect(obs, NOW)
    assert done.days_rolled > 10
    assert not (obs.root / cache.DIRECTORY).exists()  # gc drops every state
    rolled = _same(obs)
    assert b'"rollup_days": 0' not in rolled
    _same(obs, workers=1)
    purge.purge(obs)
    assert not (obs.root / cache.DIRECTORY).exists()


class Digest(Analyzer):
    """A third-party analyzer that does not opt in: fed the whole log, in order, as without the cache."""

    name = "digest"
    title = "Digest"
    consumes = ("*",)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.seqs: list[int] = []

    def feed(self, events) -> None:
        self.seqs.extend(event.seq for event in events)

    def result(self):
        return [Facts(id="seen", items=[Fact("events", len(self.seqs)), Fact("sum", sum(self.seqs)),
                                        Fact("in order", self.seqs == sorted(self.seqs))])]


class CachedDigest(Digest):
    """The same, opted in: its state is a list of ints."""

    name = "cached_digest"
    state_version = 1
    state_type = list[int]

    def save_state(self):
        return self.seqs

    def load_state(self, state) -> None:
        self.seqs = state


class Extra:
    @staticmethod
    @hookimpl
    def gitobs_analyzers():
        return [Digest, CachedDigest]


def test_analyzers_that_do_not_opt_in_are_fed_everything(obs):
    extra = [("digest", Extra)]
    full = _report(obs, False, extra=extra)
    found = {s["name"]: s["blocks"][0]["items"] for s in json.loads(full)["sections"] if "digest" in s["name"]}
    assert found["digest"] == found["cached_digest"] and ["in order", True, ""] in found["digest"]
    for _ in range(2):
        assert _report(obs, True, extra=extra) == full
    _append(obs, LINES[5000:6000])
    full = _report(obs, False, extra=extra)
    assert _report(obs, True, extra=extra) == full
    assert _report(obs, True, extra=extra, workers=1) == full
    assert cache.cacheable(CachedDigest) and not cache.cacheable(Digest)


def test_the_cache_stays_within_its_budget(obs, monkeypatch):
    monkeypatch.setattr(cache, "MIN_BUDGET", 1)
    monkeypatch.setattr(cache, "SHARE_OF_LOG", 0.0001)
    full = _report(obs, False)
    assert _report(obs, True) == full
    assert _files(obs) == []  # a checkpoint over the budget is not written
    monkeypatch.setattr(cache, "SHARE_OF_LOG", 0.10)
    monkeypatch.setattr(cache, "MIN_BUDGET", 256 << 10)
    _same(obs)
    log_bytes = EventLog(obs.log).size_bytes()
    assert 0 < sum(path.stat().st_size for path in _files(obs)) <= max(0.10 * log_bytes, 256 << 10)


_KILLED_AT_RENAME = """
import os, signal, sys
from pathlib import Path
from gitobs.core.repo import ObsPaths
from gitobs.log.eventlog import EventLog
from gitobs.replay import parallel, plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report
parallel.MIN_LOG_BYTES = 0
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # killed just before the checkpoint's rename
build_report(EventLog(ObsPaths(Path(sys.argv[1])).log), plugins.load(), [], Context(now=float(sys.argv[2])),
             print, cache=True)
"""


def test_a_report_killed_before_its_rename_leaves_no_file_for_ever(obs):
    import signal
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _KILLED_AT_RENAME, str(obs.root.parent), str(NOW)])
    assert done.returncode == -signal.SIGKILL
    directory = obs.root / cache.DIRECTORY
    [left] = list(directory.glob("*.tmp"))  # its temporary checkpoint, under the dead process's pid
    running = directory / f"{'0' * 40}{cache.SUFFIX}.{os.getppid()}.tmp"  # a live process's
    running.write_bytes(b"a checkpoint another report is writing")
    _same(obs)
    assert not left.exists() and running.exists() and len(_files(obs)) == 1


def test_malformed_lines_and_damage_are_warned_about_as_in_a_full_replay(obs):
    segments = EventLog(obs.log).segments()
    second = segments[1]
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a damaged frame in a sealed segment
    second.write_bytes(bytes(data))
    _append(obs, [b'{"v":1,"seq":1,"type":"commit.created","ts":"2024-01-01T00:00:00Z","data":{"files":7}}',
                  b"not json", *LINES[5000:6500]])  # sealed among others
    expected: list[str] = []
    full = _report(obs, False, warnings=expected)
    assert any("damaged log" in w for w in expected) and any("malformed" in w for w in expected)
    for workers in (1, 2):  # the checkpoint the last leaves is made in two processes
        shutil.rmtree(obs.root / cache.DIRECTORY, ignore_errors=True)
        for _ in range(2):
            seen: list[str] = []
            assert _report(obs, True, workers, warnings=seen) == full
            assert sorted(seen) == sorted(expected)
    [before] = [w for w in expected if "malformed" in w]
    EventLog(obs.log).append([b"not json either"])  # one more, after the checkpoint
    expected = []
    full = _report(obs, False, warnings=expected)
    seen = []
    assert _report(obs, True, warnings=seen) == full and sorted(seen) == sorted(expected)
    [said] = [w for w in seen if "malformed" in w]  # one count, of them all: not the checkpoint's too
    assert said != before


def test_a_live_segment_sealed_while_a_report_reads_it_is_read_again(obs, monkeypatch):
    import zstandard

    _same(obs)
    _append(obs, LINES[5000:5010])
    full = _report(obs, False)
    original = EventLog.iter_contents_from

    def sealed_meanwhile(self, place, on_corruption=None):
        if place[1]:  # the checkpoint's place: the file is rewritten as one frame of the same lines first
            log = EventLog(obs.log)
            live = log.segments()[-1]
            lines = b"".join(log.iter_contents(start=len(log.segments()) - 1))
            fresh = live.with_name("sealing")
            fresh.write_bytes(zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=True)
                              .compress(lines))
            os.replace(fresh, live)
        return original(self, place, on_corruption)

    monkeypatch.setattr(EventLog, "iter_contents_from", sealed_meanwhile)
    assert _report(obs, True) == full


def test_a_checkpoint_is_kept_while_the_live_segment_is_empty(obs):
    log = EventLog(obs.log, seal_bytes=1)  # every append seals: the live segment is always a new, empty one
    log.append(LINES[5000:5010])
    assert EventLog(obs.log).segments()[-1].stat().st_size == 0
    for workers in (1, 2):
        shutil.rmtree(obs.root / cache.DIRECTORY, ignore_errors=True)
        _same(obs, workers)
        assert len(_files(obs)) == 1


def test_a_cache_file_that_is_a_link_or_too_big_is_not_read(obs, monkeypatch):
    full = _same(obs)
    [kept] = _files(obs)
    kept.unlink()
    kept.symlink_to("/dev/zero")
    assert _report(obs, True) == full
    assert not kept.is_symlink() and kept.read_bytes().startswith(cache.MAGIC)  # replaced by a real one
    monkeypatch.setattr(cache, "MIN_BUDGET", 1)
    monkeypatch.setattr(cache, "SHARE_OF_LOG", 1e-9)
    loaded = cache.Store(kept.parent, 0).load(_key_of(kept))
    assert loaded is None  # bigger than the budget: not even read


# What each built-in analyzer's instance holds besides what its context decides: all of it must be in its
# saved state. A new attribute fails this test until save_state/load_state keep it (and state_version moves).
KEPT = {
    "heatmap": {"bucket_of", "dirs", "file_events", "files", "first_day", "hours", "last_day", "level", "seen",
                "seen_full", "totals", "types", "beyond", "imported", "lanes", "fed"},
    "summary": {"per_day", "message", "files", "newest", "previous", "unfolded",  # unfolded: counted into files
                "unfolded_changes"},
    "branches": {"dwell", "dwell_total", "last", "limit", "pairs", "per_day", "per_session", "previous", "touched"},
    "hesitation": {"aborted_by_stage", "blocked_by_hook", "by_branch", "by_hour", "message_edit", "rolled_edit",
                   "rolled_staged", "staged", "from_trace2"},
    "reverts": {"abandoned_branch", "abandoned_by", "ages", "discarded_how", "files", "recent", "reverted"},
    "hooks": {"events_written", "hooks", "pre_commit_days", "records", "scan_micros", "scans", "hours", "sources",
              "commits", "commit_hook_micros", "bypasses", "waiting", "chained", "clock", "due", "installed",
              "shim"},
    "commands": {"by_command", "nested"},
    "actors": {"counts", "sessions", "last_seen", "made_by", "reworked", "waiting", "recent", "clock", "first",
               "misses", "forget_at"},  # forget_at: when to forget old commits, changes nothing counted
    "patterns": {"by_weekday", "durations", "events", "focused", "follow", "kinds", "last", "limit", "matchers",
                 "row", "sizes", "start", "switch_counts", "switches"},
    "vbranches": {"ci_failures", "lives", "operations", "per_week", "stacks", "to_review"},
    "dashboard": {"activity", "paths", "path_rows", "complete_from"},
}
FROM_CONTEXT = {"context", "top", "top_k", "days", "weeks", "window", "idle_gap", "idle_gap_delta", "gap",
                "gap_delta", "dir_levels", "fixed_level", "handlers", "budgets", "period"}


def test_every_built_in_keeps_all_it_holds():
    for cls, _ in plugins.load().analyzers:
        assert cache.cacheable(cls), cls.name
        held = set(vars(cls(Context(now=NOW)))) - FROM_CONTEXT
        assert held == KEPT[cls.name], f"{cls.name}: keep {held - KEPT[cls.name]} in its state too"


def test_sections_are_kept_and_shown_when_nothing_came_after(obs, monkeypatch):
    full = _same(obs)
    made: list[str] = []
    classes = {cls.name: cls for cls, _ in plugins.load().analyzers}
    for name, cls in classes.items():
        original = cls.result

        def spy(self, original=original, name=name):
            made.append(name)
            return original(self)

        monkeypatch.setattr(cls, "result", spy)
    assert _report(obs, True) == full
    # the dashboard's rows are as big as its state: its are made; the others are kept (the heatmap's calendar,
    # the summary's weeks, the hooks' burn windows and the commands' trend with the day or hour of --now they
    # were made for)
    assert sorted(made) == ["dashboard"]
    made.clear()
    for later, remade in ((NOW + 1800, ["dashboard"]),  # the same hour and day
                          (NOW + 7200, ["dashboard", "hooks"]),  # another hour of the same days
                          (NOW + 3 * 86400, ["commands", "dashboard", "heatmap", "hooks", "summary"])):
        replayed = _report(obs, False, now=later)
        made.clear()
        assert _report(obs, True, now=later) == replayed
        assert sorted(made) == remade, later
        made.clear()
    _append(obs, LINES[5000:5005])
    cached = _report(obs, True)
    assert sorted(made) == sorted(classes)  # something new: all made again
    assert cached == _report(obs, False)


# -- bundles (gitobs replay, report --from): kept in the user's cache home ---------------------------------

def _bundle_report(lines: list[bytes], identity: str | None, use_cache: bool = True, **context) -> bytes:
    context.setdefault("now", NOW)
    built = build_report(MemoryLog(lines, identity), plugins.load(), [], Context(**context), lambda _: None,
                         cache=use_cache)
    return encode_json(built)


def test_a_report_on_the_same_bundles_again_replays_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CACHE_HOME", str(tmp_path / "cache-home"))
    kept = tmp_path / "cache-home" / cache.BUNDLES_DIRECTORY
    lines = LINES[:3000]
    full = _bundle_report(lines, "digest-a", use_cache=False)
    assert not kept.exists()
    assert _bundle_report(lines, "digest-a") == full  # replayed, and kept
    assert len(list(kept.glob(f"*{cache.SUFFIX}"))) == 1
    replays: list[int] = []
    original = cache.replay
    monkeypatch.setattr(cache, "replay", lambda *args, **kwargs: replays.append(1) or original(*args, **kwargs))
    assert _bundle_report(lines, "digest-a") == full and not replays  # loaded: nothing replayed
    since = at("2023-12-01") / 1e9  # another window, other bundles: kept apart
    assert _bundle_report(lines, "digest-a", since=since) == _bundle_report(lines, None, since=since)
    assert _bundle_report(lines[:2000], "digest-b") == _bundle_report(lines[:2000], None)
    assert len(replays) == 2 and len(list(kept.glob(f"*{cache.SUFFIX}"))) == 3
    for path in kept.glob(f"*{cache.SUFFIX}"):  # damaged: made again, the same
        path.write_bytes(path.read_bytes()[:100])
    assert _bundle_report(lines, "digest-a") == full and len(replays) == 3


def test_a_small_bundle_s_report_leaves_a_big_one_s_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.setattr(cache, "MIN_BUDGET", 40 << 10)  # the small one's own budget: less than both files
    kept = tmp_path / "cache-home" / cache.BUNDLES_DIRECTORY
    _bundle_report(LINES, "big")
    big = {path.name: path.stat().st_size for path in kept.iterdir()}
    assert sum(big.values()) > cache.MIN_BUDGET
    _bundle_report(LINES[:300], "small")
    assert set(big) < {path.name for path in kept.iterdir()}  # the directory is shared: its budget is too


def test_lines_of_no_bundle_are_never_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOBS_CACHE_HOME", str(tmp_path / "cache-home"))
    assert _bundle_report(LINES[:500], None) == _bundle_report(LINES[:500], None, use_cache=False)
    assert not (tmp_path / "cache-home").exists()
