"""OTLP export throughput: `python benchmarks/export.py [--events N] [--repeat R]`.

Takes the seeded log benchmarks/replay.py writes (cached; default 100,000 events), and times a first full
export of it through the real exporter (`gitobs.export.otlp.delivery.export`: read after the cursor, redact, build
log records and traces, encode, queue, gzip, POST, dequeue) to a local receiver on 127.0.0.1 that reads and
discards each request in another process, once per encoding. The baseline, timed by turns in the same
process: decoding every event of the log (schema.decode), the least any exporter must do. Prints seconds,
events per second, the ratio to the baseline, requests and bytes sent. Always exits 0.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import replay as replay_bench  # noqa: E402 - benchmarks/replay.py: the cached log

from gitobs.export.otlp.delivery import OtlpSettings, export  # noqa: E402
from gitobs.export.otlp.send import Retry  # noqa: E402
from gitobs.log import schema  # noqa: E402
from gitobs.log.eventlog import EventLog  # noqa: E402

RECEIVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        size = int(self.headers["Content-Length"])
        self.rfile.read(size)
        sys.stderr.write(f"{size}\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def decode_all(log_dir: Path) -> int:
    count = 0
    for line in EventLog(log_dir).iter_lines():
        schema.decode(line)
        count += 1
    return count


def export_once(log_dir: Path, scratch: Path, endpoint: str, encoding: str) -> float:
    common = scratch / "repo.git"
    shutil.rmtree(common, ignore_errors=True)
    (common / "obs").mkdir(parents=True)
    (common / "obs" / "log").symlink_to(log_dir)
    started = time.perf_counter()
    result = export(common, OtlpSettings(endpoint=endpoint, encoding=encoding), Retry(attempts=1),
                    now_ns=time.time_ns() + 10**15)
    seconds = time.perf_counter() - started
    if result.queued:
        raise SystemExit(f"export failed: {result.error}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=replay_bench.QUICK_EVENTS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gitobs-bench")
    args = parser.parse_args()
    log_dir = replay_bench.log_directory(args.cache, args.events, args.seed)
    replay_bench.ensure_log(log_dir, args.events, args.seed)
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    endpoint = f"http://127.0.0.1:{receiver.stdout.readline().strip()}"
    times: dict[str, list[float]] = {"decode": [], "protobuf": [], "json": []}
    with tempfile.TemporaryDirectory(prefix="gitobs-export-") as scratch:
        try:
            for _ in range(args.repeat):
                started = time.perf_counter()
                count = decode_all(log_dir)
                times["decode"].append(time.perf_counter() - started)
                for encoding in ("protobuf", "json"):
                    times[encoding].append(export_once(log_dir, Path(scratch), endpoint, encoding))
        finally:
            receiver.terminate()
            sizes = [int(line) for line in receiver.communicate()[1].split()]
    base = statistics.median(times["decode"])
    print(f"{count:,} events, {args.repeat} run(s) each, medians; {len(sizes):,} requests received in all, "
          f"{sum(sizes) / len(sizes) / 1024:.1f} KiB each on average (gzip)")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"  {name:9} {median:7.3f} s  {count / median:10,.0f} events/s  {median / base:5.2f}x decode")


if __name__ == "__main__":
    main()
