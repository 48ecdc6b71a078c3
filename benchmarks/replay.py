"""Replay speed and memory: `python benchmarks/replay.py [--events N | --quick | --on LOG] [--seed S] [--repeat R]
[--git-commands SHARE [--compare]]`.

Writes N seeded, realistic events (benchmarks/eventgen.py) through the real log writer in scan-sized appends
of 5..200 lines into a cache directory (reused by later runs with the same count, seed and generator; with
`--git-commands 0.3`, 30% of them are git.command events, as git's trace2 gives them; `--compare` then times
only the full report on that log against one without, by turns, wall and CPU), then
times, each run in a fresh interpreter so that its peak memory is its own, by turns:

- the raw I/O floor: decompress every frame and split it into lines (EventLog.iter_frames), nothing else;
- the replay engine alone: every event type decoded and handed to one analyzer that does nothing;
- the full report: every loaded analyzer, JSON, as `gitobs report --format json` builds it, without the
  report cache (as before it), and cold (no cache yet: it replays everything and writes the checkpoint);
- the same report warm: the checkpoint loaded, nothing new to replay;
- the same report warm after 1,000 new events (appended to a copy of the log whose cache was made before);
- the full report over the last 90 days (`--since 90d`: frames wholly before it are skipped unread);
- the heatmap alone (`--only heatmap`, without the cache);
- DuckDB's read_ndjson over the same segment files, computing the heatmap's core (per-file commits, lines,
  discards and samples; events per day and type), with DuckDB's default threads and with one thread.

Prints medians of wall seconds, peak memory (the process tree's PSS, sampled in an untimed run), events per
second and ratios to the floor, then PASS/FAIL against
DESIGN.md and issue 20: full report <= 2.5 s and <= 150 MiB cold, <= 0.25 s warm, <= 0.35 s warm after 1,000 new
events, a cache of at most 10% of the log's size; heatmap <= 2x DuckDB's time, with less memory. `--profile`
adds one cProfile'd full report. Always exits 0: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_REPORT_S = 2.5
TARGET_REPORT_MIB = 150.0
TARGET_HEATMAP_VS_DUCKDB = 1.0  # DESIGN.md: the heatmap alone faster than DuckDB on the same files
TARGET_WARM_S = 0.25
TARGET_WARM_NEW_S = 0.35
TARGET_CACHE_SHARE = 0.10
NEW_EVENTS = 1000
QUICK_EVENTS = 100_000
HEATMAP_TYPES = ("commit.created", "edit.discarded", "worktree.sample")
DAY_S = 86400
WINDOW_DAYS = 90  # the window of `gitobs report --since 90d` (issue 22)
SAMPLE_S = 0.01


# ----- the log ------------------------------------------------------------------------------------------

def log_directory(cache: Path, count: int, seed: int, git_commands: float = 0.0) -> Path:
    """The cached log for these settings; the generator's source is part of the name, so a change to it
    never reuses a stale log."""
    digest = hashlib.sha256((HERE / "eventgen.py").read_bytes()).hexdigest()[:10]
    share = f"-git{git_commands:g}" if git_commands else ""
    return cache / f"replay-{count}-{seed}-{digest}{share}" / "log"


def ensure_log(log_dir: Path, count: int, seed: int, git_commands: float = 0.0) -> None:
    """Write the log unless a complete one is cached (written aside, then renamed into place)."""
    if log_dir.is_dir():
        return
    partial = log_dir.parent.with_name(log_dir.parent.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    write_log(partial / "log", count, seed, git_commands)
    os.replace(partial, log_dir.parent)
    print(f"wrote {count:,} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def write_log(log_dir: Path, count: int, seed: int, git_commands: float = 0.0) -> None:
    sys.path.insert(0, str(HERE))
    import eventgen

    from gitobs.log import schema
    from gitobs.log.eventlog import EventLog

    log = EventLog(log_dir)
    sizes = random.Random(seed)  # scan-sized appends, one frame each, like a real scanner's
    pending: list[bytes] = []
    want = sizes.randint(5, 200)
    for event in eventgen.events(count, seed, git_commands=git_commands):
        pending.append(schema.encode(event))
        if len(pending) == want:
            log.append(pending)
            pending, want = [], sizes.randint(5, 200)
        if event.seq % 100_000 == 0:
            print(f"  {event.seq:,} events generated and written", file=sys.stderr)
    log.append(pending)


def report_now(log_dir: Path) -> float:
    """The midnight after the latest event: a fixed `now`, so every run builds the same report. The latest by
    time, not the last line: an import appends the newest commits first."""
    from gitobs.log.eventlog import UNBOUNDED, EventLog, time_range

    latest_us = max(high for content in EventLog(log_dir).iter_contents()
                    if (high := time_range(content)[1]) != UNBOUNDED[1])
    return float((latest_us // 10**6 // DAY_S + 1) * DAY_S)


# ----- the measured runs (each in its own interpreter) ---------------------------------------------------

def child(kind: str, log_dir: Path, now: float, profile: bool) -> dict:
    """Run one measurement; return its figures. Imports count: a fresh `gitobs report` pays them too."""
    started = time.perf_counter()
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    info = RUNS[kind](log_dir, now)
    work_s = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        print_profile(profiler)
    # A big report forks a second replay process (gitobs/replay/parallel.py). The sum of the two peaks is kept as a
    # conservative figure: it counts the pages they share twice and adds peaks that need not coincide (the
    # judged figure is the sampled one, see TreeSampler).
    import resource
    forked_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own_mib = peak_rss_mib()
    info.update(work_s=work_s, rss_mib=own_mib + forked_mib, own_mib=own_mib, forked_rss_mib=forked_mib)
    return info


def peak_rss_mib() -> float:
    """This process's peak resident memory. On Linux, VmHWM: ru_maxrss survives execve, so a child would
    report the parent's peak when that is higher than its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def run_startup(log_dir: Path, now: float) -> dict:
    return {"events": 0}


def run_floor(log_dir: Path, now: float) -> dict:
    from gitobs.core.allocator import keep_freed_memory
    from gitobs.log.eventlog import EventLog

    keep_freed_memory()  # as every replay does (gitobs/core/allocator.py): the floor under the same allocator
    lines = sum(len(frame) for frame in EventLog(log_dir).iter_frames())
    return {"events": lines}


def run_engine(log_dir: Path, now: float) -> dict:
    from gitobs.log.eventlog import EventLog
    from gitobs.replay.analysis import Analyzer, Context
    from gitobs.replay.plugins import PluginInfo, Provided
    from gitobs.replay.report import build_report

    class Nothing(Analyzer):
        name, title, consumes = "nothing", "Nothing", ("*",)

        def feed(self, events: list) -> None:
            pass

        def result(self) -> list:
            return []

    provided = Provided(plugins=[], analyzers=[(Nothing, PluginInfo("nothing", "", "", "", ""))], enrichers=[],
                        renderers={})
    report = build_report(EventLog(log_dir), provided, [], Context(now=now, utc_offset_s=0), lambda _: None)
    return {"events": report.events}


def run_report(log_dir: Path, now: float, only: list[str] | None = None, cache: bool = True) -> dict:
    from gitobs.log.eventlog import EventLog
    from gitobs.replay import plugins
    from gitobs.replay.analysis import Context
    from gitobs.replay.report import build_report

    provided = plugins.load()
    loaded = sorted(cls.name for cls, _ in provided.analyzers)
    if only and not set(only) <= set(loaded):
        return {"skipped": f"no {', '.join(sorted(set(only) - set(loaded)))} analyzer loaded", "loaded": loaded}
    warnings: list[str] = []
    report = build_report(EventLog(log_dir), provided, only or [], Context(now=now, utc_offset_s=0), warnings.append,
                          cache=cache)
    text = provided.renderers["json"][0].render(report, False).encode()
    return {"events": report.events, "loaded": loaded, "failures": provided.failures(), "warnings": warnings,
            "sections": [[s.name, len(s.blocks), s.error] for s in report.sections],
            "bytes": len(text), "digest": hashlib.sha256(text).hexdigest()[:12], "sources": sources(provided)}


def sources(provided) -> str:
    """A digest of the loaded plugins' files: tells output that changed with its code from output that
    changed by itself (not deterministic)."""
    digest = hashlib.sha256()
    for info in provided.plugins:
        if info.location:
            digest.update(Path(info.location).read_bytes())
    return digest.hexdigest()[:12]


def run_window(log_dir: Path, now: float) -> dict:
    """`gitobs report --since 90d`: frames wholly before the window are skipped by their time index."""
    from gitobs.log.eventlog import EventLog
    from gitobs.replay import plugins
    from gitobs.replay.analysis import Context
    from gitobs.replay.report import build_report

    provided = plugins.load()
    context = Context(now=now, utc_offset_s=0, since=now - WINDOW_DAYS * DAY_S)
    report = build_report(EventLog(log_dir), provided, [], context, lambda _: None)
    text = provided.renderers["json"][0].render(report, False).encode()
    return {"events": report.events, "bytes": len(text), "digest": hashlib.sha256(text).hexdigest()[:12]}


def run_heatmap(log_dir: Path, now: float) -> dict:
    return run_report(log_dir, now, only=["heatmap"], cache=False)  # cold, as DuckDB's query is


def duckdb_query(source: str) -> list[str]:
    """The heatmap's core in SQL: one read of the files into the consumed events, then per-file counts (the
    heatmap's by_file columns) and per-day counts. The column types are given, DuckDB's best case (no schema sampling, unknown keys of
    `data` skipped); `files` holds [path, added, deleted] arrays."""
    types = ", ".join(f"'{name}'" for name in HEATMAP_TYPES)
    return [
        f"""CREATE TEMP TABLE ev AS SELECT type, ts::DATE AS day, data.files AS files FROM read_ndjson({source},
            format = 'newline_delimited', compression = 'zstd',
            columns = {{type: 'VARCHAR', ts: 'TIMESTAMP', data: 'STRUCT(files VARCHAR[][])'}})
            WHERE type IN ({types})""",
        """SELECT f[1] AS path, count(*) FILTER (WHERE type = 'commit.created') AS commits,
              coalesce(sum(f[2]::BIGINT + f[3]::BIGINT) FILTER (WHERE type = 'commit.created'), 0) AS lines,
              count(*) FILTER (WHERE type = 'edit.discarded') AS discards,
              coalesce(sum(f[2]::BIGINT + f[3]::BIGINT) FILTER (WHERE type = 'edit.discarded'), 0) AS discarded,
              count(*) FILTER (WHERE type = 'worktree.sample') AS samples
           FROM (SELECT type, unnest(files) AS f FROM ev) GROUP BY path ORDER BY path""",
        "SELECT day, type, count(*) AS events FROM ev GROUP BY day, type ORDER BY day, type",
    ]


def run_duckdb(log_dir: Path, now: float, threads: int | None = None) -> dict:
    import duckdb

    connection = duckdb.connect()
    if threads is not None:
        connection.execute(f"SET threads = {threads}")
    create, per_file, per_day = duckdb_query(f"'{log_dir.as_posix()}/*.jsonl.zst'")
    connection.execute(create)
    files = connection.execute(per_file).fetchall()
    days = connection.execute(per_day).fetchall()
    used = connection.execute("SELECT current_setting('threads')").fetchone()[0]
    rows = repr((files, days)).encode()
    return {"events": sum(row[2] for row in days), "threads": used, "files": len(files), "days": len(days),
            "digest": hashlib.sha256(rows).hexdigest()[:12]}


def run_duckdb_one_thread(log_dir: Path, now: float) -> dict:
    return run_duckdb(log_dir, now, threads=1)


def run_nocache(log_dir: Path, now: float) -> dict:
    return run_report(log_dir, now, cache=False)


RUNS = {"startup": run_startup, "floor": run_floor, "engine": run_engine, "nocache": run_nocache,
        "report": run_report, "warm": run_report, "window": run_window,
        "warm_new": run_report, "heatmap": run_heatmap, "duckdb": run_duckdb, "duckdb1": run_duckdb_one_thread}
LABELS = {"startup": "interpreter start + exit only", "floor": "decompress + split (floor)", "engine": "replay engine, no-op analyzer",
          "nocache": "full report, JSON, no cache", "report": "full report, JSON, cold",
          "window": "full report, last 90 days",
          "warm": "full report, warm cache",
          "warm_new": f"warm, {NEW_EVENTS:,} new events", "heatmap": "heatmap alone, JSON",
          "duckdb": "DuckDB, default threads", "duckdb1": "DuckDB, threads=1"}


# ----- the report cache: what each measured run starts from (set up here, untimed) ------------------------

def cache_dir(log_dir: Path) -> Path:
    from gitobs.replay import cache

    return log_dir.parent / cache.DIRECTORY


def prepare(kind: str, log_dir: Path, now: float) -> Path:
    """The log a run of `kind` reads, set up before it starts: a cold report finds no cache (and leaves one
    made, for the warm runs after it in the same turn); a warm one after new events reads a copy of the log
    with a cache made before NEW_EVENTS more events were appended to it."""
    if kind == "report":
        shutil.rmtree(cache_dir(log_dir), ignore_errors=True)
    elif kind == "warm" and not cache_dir(log_dir).is_dir():
        spawn("report", log_dir, now)
    elif kind == "warm_new":
        return fresh_copy_with_new_events(log_dir, now)
    return log_dir


_TEMPLATES: set[Path] = set()
_UNCACHED: set[Path] = set()  # templates whose report wrote no cache: said once


def fresh_copy_with_new_events(log_dir: Path, now: float) -> Path:
    """A copy of the log (sealed segments hard-linked: nothing writes them) with the cache of a report made
    before, and NEW_EVENTS events appended: the last ones of the log again, numbered after it."""
    from gitobs.log import schema
    from gitobs.log.eventlog import EventLog

    template = log_dir.parent.with_name(log_dir.parent.name + "-cached") / "log"
    if template not in _TEMPLATES:  # made anew once per run of this script: the cache is of this code
        shutil.rmtree(template.parent, ignore_errors=True)
        _copy_log(log_dir, template)
        spawn("report", template, now)
        _TEMPLATES.add(template)
    work = log_dir.parent.with_name(log_dir.parent.name + "-new") / "log"
    shutil.rmtree(work.parent, ignore_errors=True)
    _copy_log(template, work)
    if cache_dir(template).is_dir():
        shutil.copytree(cache_dir(template), cache_dir(work))
    elif template not in _UNCACHED:  # over its budget (Store.save): this run replays everything, as cold
        _UNCACHED.add(template)
        print("  no report cache was saved (over its budget), so the warm runs replay the whole log", file=sys.stderr)
    log = EventLog(work)
    events = [schema.decode(line) for line in log.last_lines(NEW_EVENTS)]
    last = events[-1].seq
    sizes = random.Random(0)
    pending: list[bytes] = []
    for number, event in enumerate(events, 1):
        event.seq, event.id = last + number, f"{event.id}-again"
        pending.append(schema.encode(event))
        if len(pending) >= sizes.randint(5, 200):
            log.append(pending)
            pending = []
    log.append(pending)
    return work


def _copy_log(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    segments = sorted(source.glob("*.jsonl.zst"))
    for path in segments:
        if path == segments[-1]:
            shutil.copy2(path, target / path.name)  # the live one is appended to
        else:
            os.link(path, target / path.name)


def cache_share(log_dir: Path) -> tuple[int, int]:
    """Bytes of the report cache and of the log."""
    from gitobs.log.eventlog import EventLog

    found = cache_dir(log_dir)
    kept = sum(path.stat().st_size for path in found.iterdir()) if found.is_dir() else 0
    return kept, EventLog(log_dir).size_bytes()


def print_profile(profiler) -> None:
    import pstats

    stats = pstats.Stats(profiler, stream=sys.stdout)
    print("\ntop 15 functions by own time (tottime) under cProfile, which slows Python-level calls:")
    stats.sort_stats("tottime").print_stats(15)
    print("cumulative time of the analyzers' feed() and result() and of the engine's stages:")
    wanted = ("feed", "result", "merge", "decode_frame", "iter_contents", "select", "dispatch", "render")
    rows = [(ct, f"{Path(file).parent.name}/{Path(file).name}:{name}")
            for (file, _, name), (_, _, _, ct, _) in stats.stats.items() if name in wanted and ct >= 0.001]
    for seconds, where in sorted(rows, reverse=True):
        print(f"  {seconds:8.3f} s  {where}")


# ----- the parent: run by turns, summarise ---------------------------------------------------------------

@dataclass
class Figures:
    walls: list[float] = field(default_factory=list)
    works: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)  # the memory run's peak PSS of the process tree
    own: list[float] = field(default_factory=list)  # the measured process's own peak RSS (VmHWM)
    peak_sums: list[float] = field(default_factory=list)  # the processes' own peaks added up
    info: dict = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    error: str | None = None

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def peak(self) -> float:
        return max(self.rss or self.own)  # without PSS (not Linux): the measured process alone

    @property
    def peak_sum(self) -> float:
        return max(self.peak_sums)


class TreeSampler(threading.Thread):
    """Samples, every SAMPLE_S, the proportional set size (PSS: each shared page split between the processes
    sharing it) of a process and its children added up: the memory the process tree holds at one moment.
    Summing each process's own peak RSS instead counts the pages a forked child shares with its parent
    twice, and adds peaks that never coincide (the parent's merge comes after the child is gone). Reading
    PSS walks the page tables, so it is done in a run of its own, never in a timed one."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_S):
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(pid) for pid in _tree(self.pid)))


def _tree(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            return [pid, *(p for child in children.read().split() for p in _tree(int(child)))]
    except OSError:
        return [pid]


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def spawn(kind: str, log_dir: Path, now: float, profile: bool = False, sample: bool = False,
          ) -> tuple[float, dict | str]:
    """Wall time of a fresh interpreter doing `kind`, and its figures (or why it failed); with `sample`,
    the peak PSS of its process tree too (that run's time is not one to judge)."""
    log_dir = prepare(kind, log_dir, now)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--log", str(log_dir),
               "--now", repr(now)] + (["--profile"] if profile else [])
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(process.pid)
    if sample:
        sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.stopped.set()
    *printed, last = stdout.rstrip("\n").split("\n") or [""]
    if printed:
        print("\n".join(printed))
    if process.returncode != 0:
        return wall, f"exit {process.returncode}: {stderr.strip()[-600:]}"
    result = json.loads(last)
    # Never below one process's own exact peak (all of it is memory the tree holds), whatever sampling missed.
    result["tree_mib"] = max(sampler.peak_kib / 1024, result["own_mib"], result["forked_rss_mib"])
    return wall, result


def can_sample() -> bool:
    return Path(f"/proc/{os.getpid()}/smaps_rollup").exists()


def measure(kinds: list[str], log_dir: Path, now: float, repeat: int) -> dict[str, Figures]:
    figures = {kind: Figures() for kind in kinds}
    for turn in range(repeat):  # by turns, so that drift in the machine's load touches every run alike
        for kind in kinds:
            print(f"  run {turn + 1}/{repeat}: {LABELS[kind]}", file=sys.stderr)
            wall, result = spawn(kind, log_dir, now)
            record(figures[kind], wall, result)
    if can_sample():
        for kind in kinds:
            print(f"  memory run: {LABELS[kind]}", file=sys.stderr)
            _, result = spawn(kind, log_dir, now, sample=True)
            if isinstance(result, dict) and "tree_mib" in result:
                figures[kind].rss.append(result["tree_mib"])
    return {kind: figure for kind, figure in figures.items() if figure.walls or figure.error or figure.info}


def record(figure: Figures, wall: float, result: dict | str) -> None:
    if isinstance(result, str):
        figure.error = result
    elif "skipped" in result:
        figure.info = result
    else:
        figure.walls.append(wall)
        figure.works.append(result["work_s"])
        figure.own.append(result["own_mib"])
        figure.peak_sums.append(result["rss_mib"])
        figure.digests.add(result.get("digest", ""))
        figure.sources.add(result.get("sources", ""))
        figure.info = result


def print_table(figures: dict[str, Figures], events: int) -> None:
    floor = figures.get("floor")
    print(f"\n{'':32} {'wall s':>8} {'work s':>8} {'peak MiB':>9} {'sum MiB':>8} {'events/s':>11} {'x floor':>8}")
    for kind, figure in figures.items():
        if figure.error or not figure.walls:
            print(f"{LABELS[kind]:32} {figure.error or figure.info.get('skipped')}")
            continue
        ratio = f"{figure.wall / floor.wall:8.2f}" if floor and floor.walls else f"{'-':>8}"
        rate = f"{events / figure.wall:11,.0f}" if figure.info.get("events") else f"{'-':>11}"
        print(f"{LABELS[kind]:32} {figure.wall:8.3f} {statistics.median(figure.works):8.3f} {figure.peak:9.1f} "
              f"{figure.peak_sum:8.1f} {rate} {ratio}")
    print("wall: the fresh interpreter from start to exit (median); work: inside it, imports included, from "
          "the first import of the measured code to the finished result; peak: the memory the process and its "
          f"forked child hold together (PSS, sampled every {SAMPLE_S * 1000:.0f} ms in one extra, untimed run, "
          "and never below either one's own peak RSS); sum: the two processes' peak RSS added up, highest of the "
          "timed runs, which overstates (shared pages twice, peaks that do not coincide)")


def print_sections(figures: dict[str, Figures]) -> None:
    report = figures.get("report")
    if report is None or not report.info or report.error:
        return
    info = report.info
    print(f"\nanalyzers loaded: {', '.join(info.get('loaded', [])) or 'none'}")
    for failure in info.get("failures", []):
        print(f"  plugin left out: {failure}")
    for name, blocks, error in info.get("sections", []):
        print(f"  section {name}: {f'FAILED ({error})' if error else f'{blocks} block(s)'}")
    for warning in info.get("warnings", [])[:5]:
        print(f"  warning: {warning}")
    print(f"  JSON output: {info.get('bytes', 0):,} bytes over {info.get('events', 0):,} events")
    for kind, figure in figures.items():
        if len(figure.digests) > 1:
            why = ("the plugins' source files changed between runs" if len(figure.sources) > 1 else
                   "with the same plugin sources: NOT DETERMINISTIC")
            print(f"  NOTE: {LABELS[kind]} gave different output across runs ({why})")
        elif len(figure.walls) > 1 and figure.info.get("digest"):
            print(f"  {LABELS[kind]}: identical output in all {len(figure.walls)} runs")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_targets(figures: dict[str, Figures]) -> None:
    print("\ntargets (DESIGN.md, judged on wall and peak above):")
    report = figures.get("report")
    if report is not None and report.walls:
        print(f"  full report <= {TARGET_REPORT_S} s: {report.wall:.3f} s = {report.wall / TARGET_REPORT_S:.2f} "
              f"of target  {verdict(report.wall <= TARGET_REPORT_S)}")
        print(f"  full report <= {TARGET_REPORT_MIB:.0f} MiB: {report.peak:.1f} MiB = "
              f"{report.peak / TARGET_REPORT_MIB:.2f} of target  {verdict(report.peak <= TARGET_REPORT_MIB)}")
    else:
        print("  full report: not measured")
    heatmap = figures.get("heatmap")
    if heatmap is None or not heatmap.walls:
        print("  heatmap vs DuckDB: heatmap not measured")
        return
    for kind in ("duckdb", "duckdb1"):
        duck = figures.get(kind)
        if duck is None or not duck.walls:
            continue
        ratio = heatmap.wall / duck.wall
        threads = duck.info.get("threads")
        print(f"  heatmap / DuckDB ({threads} thread(s)) <= {TARGET_HEATMAP_VS_DUCKDB}: {ratio:.2f} "
              f"(work only: {statistics.median(heatmap.works) / statistics.median(duck.works):.2f})  "
              f"{verdict(ratio <= TARGET_HEATMAP_VS_DUCKDB)}")
        print(f"  heatmap memory < DuckDB ({threads} thread(s)): {heatmap.peak:.1f} vs {duck.peak:.1f} MiB  "
              f"{verdict(heatmap.peak < duck.peak)}")


def print_cache(figures: dict[str, Figures], log_dir: Path) -> None:
    """The report cache's targets (issue 20): warm, warm after new events, its size."""
    report = figures.get("report")
    for kind, target in (("warm", TARGET_WARM_S), ("warm_new", TARGET_WARM_NEW_S)):
        figure = figures.get(kind)
        if figure is None or not figure.walls:
            print(f"  {LABELS[kind]}: not measured")
            continue
        cold = f", {report.wall / figure.wall:.1f}x faster than cold" if report is not None and report.walls else ""
        print(f"  {LABELS[kind]} <= {target} s: {figure.wall:.3f} s = {figure.wall / target:.2f} of target{cold}  "
              f"{verdict(figure.wall <= target)}")
    nocache = figures.get("nocache")
    if report is not None and report.walls and nocache is not None and nocache.walls:
        print(f"  cold (writes the cache) / no cache: {report.wall / nocache.wall:.2f}")
    window = figures.get("window")
    if window is not None and window.walls and nocache is not None and nocache.walls:
        share = window.info["events"] / max(1, nocache.info["events"])
        print(f"  a time window costs what is in it: the last {WINDOW_DAYS} days hold {window.info['events']:,} "
              f"events ({share:.1%}) and take {window.wall:.3f} s, {window.wall / nocache.wall:.0%} of the full "
              "report without the cache")
    kept, log_bytes = cache_share(log_dir)
    if kept:
        share = kept / log_bytes
        print(f"  report cache <= {TARGET_CACHE_SHARE:.0%} of the log: {kept / 1024:.0f} KiB = {share:.1%} of "
              f"{log_bytes / 2**20:.1f} MiB  {verdict(share <= TARGET_CACHE_SHARE)}")
    else:
        from gitobs.replay import cache

        budget = max(cache.MIN_BUDGET, int(cache.SHARE_OF_LOG * log_bytes))
        print(f"  report cache: none written (a checkpoint over its budget, {budget / 1024:.0f} KiB, is not saved; "
              f"every report replays the whole log)  {verdict(False)}")
    compared = [figures[kind] for kind in ("nocache", "report", "warm") if kind in figures and figures[kind].digests]
    if len(compared) > 1:
        same = all(figure.digests == compared[0].digests for figure in compared)
        names = [name for kind, name in (("nocache", "without the cache"), ("report", "cold"), ("warm", "warm"))
                 if kind in figures and figures[kind].digests]
        print(f"  full reports {', '.join(names[:-1])} and {names[-1]}: "
              f"{'the same bytes' if same else 'DIFFERENT OUTPUT'}")


def duckdb_available() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("DuckDB is not installed, so the comparison is left out: pip install -e '.[bench]'")
        return False
    return True


def machine_load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # not available on this platform
        return "unknown"


def describe_log(log_dir: Path, events: int) -> None:
    from gitobs.log.eventlog import EventLog

    log = EventLog(log_dir)
    size = log.size_bytes()
    print(f"log: {events:,} events in {len(log.segments())} segments, {size / 2**20:.1f} MiB "
          f"({size / events:.1f} bytes/event) at {log_dir}")


def byte_compile() -> None:
    """Write gitobs's and the plugins' .pyc files, as installing a package does, so that the measured runs
    time gitobs and not the compiler where PYTHONDONTWRITEBYTECODE keeps an editable install from caching."""
    import compileall

    import gitobs_plugins

    import gitobs

    for package in (gitobs, gitobs_plugins):
        compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)


def compare(args: argparse.Namespace) -> None:
    """`--compare --git-commands SHARE`: the full report (no cache, two processes) on the log with that share of
    git.command events against the same-size log without any, by turns; wall and CPU seconds (the process tree's,
    steadier than wall on a shared machine), medians and their ratios."""
    import resource

    events = QUICK_EVENTS if args.quick else args.events
    logs = {}
    for label, share in (("without", 0.0), (f"{args.git_commands:.0%} git.command", args.git_commands)):
        logs[label] = log_directory(Path(args.cache), events, args.seed, share)
        ensure_log(logs[label], events, args.seed, share)
        describe_log(logs[label], events)
    byte_compile()
    walls: dict[str, list[float]] = {label: [] for label in logs}
    cpus: dict[str, list[float]] = {label: [] for label in logs}
    for turn in range(args.repeat):
        for label, log_dir in logs.items():
            print(f"  run {turn + 1}/{args.repeat}: {label}", file=sys.stderr)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall, result = spawn("nocache", log_dir, report_now(log_dir))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if isinstance(result, str):
                print(f"{label}: {result}")
                return
            walls[label].append(wall)
            cpus[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    print(f"\nmachine: {os.cpu_count()} cores, load average {machine_load()}")
    print(f"{'full report, JSON, no cache':32} {'wall s':>8} {'CPU s':>8}")
    for label in logs:
        print(f"{label:32} {statistics.median(walls[label]):8.3f} {statistics.median(cpus[label]):8.3f}")
    base, mixed = list(logs)
    print(f"ratio {mixed} / without: wall {statistics.median(walls[mixed]) / statistics.median(walls[base]):.2f}, "
          f"CPU {statistics.median(cpus[mixed]) / statistics.median(cpus[base]):.2f}")


def existing_log(source: Path, cache: Path) -> tuple[Path, int]:
    """`--on LOG`: a copy of that log under `cache` (the original is only read: the runs write their report
    cache and copies beside the log they measure), and its events."""
    from gitobs.log.eventlog import EventLog

    if not any(source.glob("*.jsonl.zst")):
        raise SystemExit(f"{source} holds no log segments (*.jsonl.zst): name a .git/obs/log directory")
    name = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:10]
    log_dir = cache / f"on-{name}" / "log"
    shutil.rmtree(log_dir.parent, ignore_errors=True)
    log_dir.mkdir(parents=True)
    for path in sorted(source.glob("*.jsonl.zst")):
        shutil.copy2(path, log_dir / path.name)
    return log_dir, sum(len(frame) for frame in EventLog(log_dir).iter_frames())


def parent(args: argparse.Namespace) -> None:
    events = QUICK_EVENTS if args.quick else args.events
    if not 0 <= args.git_commands < 1:
        raise SystemExit("--git-commands takes a share from 0 to 1, like 0.3")
    if args.on:
        log_dir, events = existing_log(Path(args.on), Path(args.cache))
    else:
        log_dir = log_directory(Path(args.cache), events, args.seed, args.git_commands)
        ensure_log(log_dir, events, args.seed, args.git_commands)
    now = report_now(log_dir)
    describe_log(log_dir, events)
    byte_compile()
    kinds = (["startup", "floor", "engine", "nocache", "report", "warm", "warm_new", "window", "heatmap"]
             + (["duckdb", "duckdb1"] if duckdb_available() else []))
    load_before = machine_load()
    figures = measure(kinds, log_dir, now, args.repeat)
    print(f"\nmachine: {os.cpu_count()} cores, load average {load_before} before the runs, {machine_load()} after "
          "(other work on the machine inflates every figure)")
    print(f"python: {platform.python_implementation()} {platform.python_version()} at {sys.executable} (its build "
          "counts: see benchmarks/README.md)")
    print_table(figures, events)
    print_sections(figures)
    duck = figures.get("duckdb")
    if duck is not None and duck.info and "files" in duck.info:
        print(f"  DuckDB: {duck.info['files']:,} files, {duck.info['days']:,} (day, type) rows, "
              f"{duck.info['events']:,} heatmap events; default threads here = {duck.info['threads']}")
    print_targets(figures)
    print_cache(figures, log_dir)
    if args.profile:
        print("\none full report under cProfile (this process's share: the head of the log, the merges and the "
              "sections; a forked child is not profiled):")
        spawn("report", log_dir, now, profile=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, default=1_000_000)
    size.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events: about a minute (another to write the log the first time)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--git-commands", type=float, default=0.0, metavar="SHARE",
                        help="this share of the events are git.command (trace2) events, e.g. 0.3 (default: none)")
    parser.add_argument("--compare", action="store_true",
                        help="with --git-commands: only the full report, on that log and on one without, by turns")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians are shown")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "gitobs-bench"),
                        help="where generated logs are kept for later runs (default: %(default)s)")
    parser.add_argument("--profile", action="store_true", help="also profile one full report (cProfile)")
    parser.add_argument("--on", metavar="LOG", help="measure an existing log instead of a generated one: a "
                        ".git/obs/log directory, e.g. after gitobs import (copied under --cache first)")
    parser.add_argument("--child", choices=sorted(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--now", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.log), args.now, args.profile)))
    elif args.compare:
        if not 0 < args.git_commands < 1:
            raise SystemExit("--compare needs --git-commands SHARE, like 0.3")
        compare(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
