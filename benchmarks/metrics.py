"""What a Prometheus scrape costs: `python benchmarks/metrics.py [--events N | --quick] [--runs R] [--repos K]`.

Uses replay.py's cached log (written the first time, as replay.py does) copied into a scratch repository
directory, and times in this process:
- the first exposition, with no metrics state yet: every event folded in once;
- a scrape with nothing new (the design's "O(1) in the size of the history"), median of R;
- a scrape after one scan-sized append of 100 events, median of R;
- the textfile rewrite a scan does when export.prometheus.textfile is set, with K registered repositories
  (copies of a 1,000-event log) besides this one, nothing new in them, median of R.
Always exits 0: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import eventgen  # noqa: E402
import replay  # noqa: E402

from gitobs.core import config  # noqa: E402
from gitobs.core.registry import Registry  # noqa: E402
from gitobs.core.repo import ObsPaths, Repo  # noqa: E402
from gitobs.export.prometheus import metrics, repositories
from gitobs.log import schema
from gitobs.log.eventlog import EventLog  # noqa: E402


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ms(action, runs: int) -> float:
    return statistics.median(timed(action) for _ in range(runs)) * 1000


def scrape(obs: ObsPaths) -> str:
    return repositories.exposition([repositories.Target(obs)], repositories.Collection())


def append_events(obs: ObsPaths, count: int, first_seq: int) -> int:
    events = list(eventgen.events(count, seed=first_seq))
    for offset, event in enumerate(events, start=1):
        event.seq = first_seq + offset
    EventLog(obs.log).append([schema.encode(event) for event in events])
    return first_seq + count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{replay.QUICK_EVENTS:,} events")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "gitobs-bench"))
    args = parser.parse_args()
    count = replay.QUICK_EVENTS if args.quick else args.events
    cached = replay.log_directory(Path(args.cache), count, 1)
    replay.ensure_log(cached, count, 1)
    with tempfile.TemporaryDirectory(prefix="gitobs-metrics-bench-") as scratch:
        root = Path(scratch)
        os.environ["GITOBS_DATA_HOME"] = str(root / "data")
        os.environ["GITOBS_CONFIG_HOME"] = str(root / "config")
        obs = ObsPaths(root / "big" / ".git")
        obs.root.mkdir(parents=True)
        shutil.copytree(cached, obs.log)
        size = EventLog(obs.log).size_bytes()
        print(f"log: {count:,} events, {size / 2**20:.1f} MiB on disk")

        first = timed(lambda: scrape(obs))
        print(f"first scrape (every event folded in): {first:.2f} s, {count / first:,.0f} events/s; "
              f"state {metrics.state_path(obs).stat().st_size:,} bytes")
        print(f"scrape, nothing new: {median_ms(lambda: scrape(obs), args.runs):.2f} ms (median of {args.runs})")
        seq = [count]

        def grown() -> None:
            seq[0] = append_events(obs, 100, seq[0])

        rounds = []
        for _ in range(args.runs):
            grown()
            rounds.append(timed(lambda: scrape(obs)))
        print(f"scrape after 100 new events: {statistics.median(rounds) * 1000:.2f} ms (median of {args.runs})")

        small = EventLog(root / "small-log")
        small.append([schema.encode(event) for event in eventgen.events(1000, seed=3)])
        registry = Registry()
        for n in range(args.repos):
            common = root / f"repo{n}" / ".git"
            shutil.copytree(small.directory, ObsPaths(common).log)
            ObsPaths(common).manifest.write_text("{}\n")  # installed, as far as scans and metrics care
            registry.add(Repo(common, common, common.parent, common / "hooks"))
        config.write_key(config.user_file(), ["export", "prometheus", "textfile"], str(root / "gitobs.prom"))
        repositories.after_scan([obs])  # the first time counts every repository once
        rewrite = median_ms(lambda: repositories.after_scan([obs]), args.runs)
        print(f"textfile rewrite after a scan, {args.repos} other repositories registered: {rewrite:.2f} ms "
              f"(median of {args.runs})")


if __name__ == "__main__":
    main()
