"""What the HTML dashboard costs: `python benchmarks/html_report.py [--events N] [--seed S] [--repeat R]`.

Writes N seeded events (benchmarks/eventgen.py, default 200,000) through the real log writer into a temp
dir, then, by turns in this process, `--repeat` times (default 3): the full report without the report cache
with every analyzer but `dashboard` (the baseline) and with all of them, and the HTML rendering of the
latter. Prints medians (wall and CPU seconds), the dashboard's share of the report's time as a ratio to
the baseline, the page's size and its embedded JSON's, and the dataset's rows. Always exits 0: a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import eventgen
from gitobs_plugins.render_html import HtmlRenderer

from gitobs.log import schema
from gitobs.log.eventlog import EventLog
from gitobs.replay import plugins
from gitobs.replay.analysis import Context
from gitobs.replay.report import build_report


def write_log(directory: Path, count: int, seed: int) -> tuple[EventLog, float]:
    """The log, and its last event's time (seconds)."""
    log = EventLog(directory)
    batch: list[bytes] = []
    last = ""
    for event in eventgen.events(count, seed=seed):
        batch.append(schema.encode(event))
        last = max(last, event.ts)  # ISO times in UTC sort as text
        if len(batch) == 200:
            log.append(batch)
            batch = []
    if batch:
        log.append(batch)
    return log, datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        started = time.perf_counter()
        log, last_s = write_log(Path(temp) / "log", args.events, args.seed)
        print(f"{args.events:,} events written in {time.perf_counter() - started:.1f} s")
        provided = plugins.load()
        names = [cls.name for cls, _ in provided.analyzers]
        baseline = [name for name in names if name != "dashboard"]
        context = Context(now=last_s + 3600)  # an hour after the last event
        # wall seconds and this process's CPU seconds (less swayed by other work on a shared machine)
        times: dict[str, list[tuple[float, float]]] = {"baseline": [], "with dashboard": [], "html": []}
        page = ""
        for _ in range(args.repeat):
            for label, only in (("baseline", baseline), ("with dashboard", names)):
                wall, cpu = time.perf_counter(), time.process_time()
                built = build_report(log, provided, only, context, lambda _: None, workers=1, cache=False)
                times[label].append((time.perf_counter() - wall, time.process_time() - cpu))
            wall, cpu = time.perf_counter(), time.process_time()
            page = HtmlRenderer().render(built, color=False)
            times["html"].append((time.perf_counter() - wall, time.process_time() - cpu))
        medians = {label: tuple(statistics.median(run[i] for run in runs) for i in (0, 1))
                   for label, runs in times.items()}
        for label, (wall, cpu) in medians.items():
            print(f"{label:>15}: {wall:.3f} s wall, {cpu:.3f} s CPU (medians of {args.repeat})")
        ratios = [medians["with dashboard"][i] / medians["baseline"][i] for i in (0, 1)]
        print(f"report with the dashboard / without: {ratios[0]:.3f} wall, {ratios[1]:.3f} CPU")
        blob = page[page.index('id="gitobs-data">'):page.index("</script>", page.index('id="gitobs-data">'))]
        print(f"page: {len(page.encode()):,} bytes, of which the embedded JSON {len(blob.encode()):,}")
        [section] = [s for s in built.sections if s.name == "dashboard"]
        for block in section.blocks:
            if hasattr(block, "rows"):
                print(f"{block.id}: {len(block.rows):,} rows shown of {block.total_rows or len(block.rows):,}")


if __name__ == "__main__":
    main()
