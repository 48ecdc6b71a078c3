"""Bytes per event on disk: `python benchmarks/storage.py [--events N]`.

Writes N seeded, realistic events (the mix of a working day: attempts, commits with files, switches,
stashes, resets) through the real log writer in scan-sized appends (one zstd frame each), so live
segments hold many small frames and are sealed (recompressed) as they fill. Prints bytes per event
for the whole log, for sealed segments alone, and the JSON size before compression, against the
DESIGN target of at most 30 bytes per event at default settings.

`--log DIR` measures an existing log instead (say `.git/obs/log` after `gitobs import` of a real
repository): bytes per event, what the frames' time indexes take, the same lines recompressed into
8192-line frames at zstd level 19 (what a seal at the log's default level gives), and what each field costs
there: the same lines again with one field left out, or with every sha cut short (the id of an imported
commit is its sha's first 16 digits). A sha is 20 bytes of entropy, which zstd keeps as 40 hex digits in
about 21 bytes at best: the figures for the choices the JSON-lines format leaves.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from gitobs.log import schema
from gitobs.log.eventlog import INDEX_MAGIC, EventLog, frame_starts

TARGET_BYTES_PER_EVENT = 30


def day_of_events(rng: random.Random, count: int, start_ns: int) -> list[schema.Event]:
    """Shas recur as in real history: a commit's parent is its branch's tip, switches and resets
    point at commits that exist, only a new commit brings a new sha."""
    names = [f"feature/{name}" for name in ("parser", "cache", "login-redirect", "docs")] + ["main"]
    paths = [f"src/{d}/{f}.py" for d in ("core", "api", "ui", "db") for f in ("models", "views", "util")]
    tips = {name: f"{rng.getrandbits(160):040x}" for name in names}
    current, events, ts = "main", [], start_ns
    for seq in range(1, count + 1):
        ts += rng.randint(1, 240) * 10**9
        kind = rng.choices(["attempt", "commit", "switch", "stash", "reset"], [35, 35, 20, 5, 5])[0]
        if kind == "attempt":
            event_type, payload = "commit.attempt", schema.CommitAttempt(branch=current)
        elif kind == "commit":
            sha = f"{rng.getrandbits(160):040x}"
            files = [schema.FileChange(p, rng.randint(0, 40), rng.randint(0, 15))
                     for p in rng.sample(paths, rng.randint(1, 3))]
            event_type, payload = "commit.created", schema.CommitCreated(
                sha=sha, branch=current, parents=[tips[current]], files=files, files_total=len(files),
                added=sum(f.added for f in files), deleted=sum(f.deleted for f in files))
            tips[current] = sha
        elif kind == "switch":
            target = rng.choice([name for name in names if name != current])
            event_type, payload = "branch.switch", schema.BranchSwitch(
                from_=current, to=target, from_sha=tips[current], to_sha=tips[target])
            current = target
        elif kind == "stash":
            event_type, payload = "stash.push", schema.StashPush(branch=current, sha=f"{rng.getrandbits(160):040x}")
        else:
            event_type, payload = "history.reset", schema.HistoryReset(
                branch=current, from_sha=tips[current], to_sha=tips[current])
        event = schema.make_event(event_type, payload, ts_ns=ts, src="hook", wt=".", provenance=f"bench:{seq}")
        event.seq = seq
        events.append(event)
    return events


def _events_in(segment: Path) -> int:
    with tempfile.TemporaryDirectory() as alone:
        copy = Path(alone) / segment.name
        copy.write_bytes(segment.read_bytes())
        return sum(1 for _ in EventLog(Path(alone)).iter_lines())


def measure(directory: Path) -> None:
    import zstandard

    log = EventLog(directory)
    frames = list(log.iter_frames())
    events = sum(map(len, frames))
    total = log.size_bytes()
    indexes = sum(path.read_bytes().count(INDEX_MAGIC) for path in log.segments())
    split = sum(len(frame_starts(path)) for path in log.segments())
    lines = [line for frame in frames for line in frame]
    compressor = zstandard.ZstdCompressor(level=19)

    def at_19(lines: list[bytes]) -> int:
        return sum(len(compressor.compress(b"".join(line + b"\n" for line in lines[start:start + 8192])))
                   for start in range(0, len(lines), 8192))

    whole = at_19(lines)
    json_bytes = sum(len(line) + 1 for line in lines)
    print(f"{directory}: {events} events, {len(log.segments())} segment(s), {len(frames)} frame(s)")
    print(f"  JSON lines:          {json_bytes / events:7.1f} bytes/event")
    print(f"  on disk:             {total / events:7.1f} bytes/event "
          f"(target <= {TARGET_BYTES_PER_EVENT}: {'PASS' if total / events <= TARGET_BYTES_PER_EVENT else 'FAIL'})")
    print(f"  of which time index: {indexes * 36 / events:7.2f} bytes/event ({indexes} frame(s) indexed; "
          f"{split} frame start(s) known without inflating)")
    print(f"  all at level 19:     {whole / events:7.1f} bytes/event (8192-line frames)")
    print("  the same, changed (at level 19, 8192-line frames):")
    parsed = [_parsed(line) for line in lines]
    for label, change in FIELD_CHANGES.items():
        changed = at_19([json.dumps(change(event), separators=(",", ":")).encode() if event else line
                         for line, event in zip(lines, parsed)])
        print(f"    {label:40s} {changed / events:7.1f} bytes/event ({(changed - whole) / events:+6.1f})")


def _parsed(line: bytes) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("data"), dict) else None


SHA_FIELDS = ("sha", "reverted", "old", "new", "from_sha", "to_sha")


def _without(*names: str):
    def change(event: dict) -> dict:
        return {key: value for key, value in event.items() if key not in names}
    return change


def _without_data(*names: str):
    def change(event: dict) -> dict:
        return {**event, "data": {key: value for key, value in event["data"].items() if key not in names}}
    return change


def _short(digits: int, drop_sha: bool = False):
    """Every full sha cut to its first `digits` (the id of an imported commit too); `drop_sha`: data.sha
    left out where the id already is its first 16 digits."""
    def cut(value):
        full = isinstance(value, str) and len(value) in (40, 64)
        return value[:digits] if full else [cut(item) for item in value] if isinstance(value, list) else value

    def change(event: dict) -> dict:
        data = {key: cut(value) if key in (*SHA_FIELDS, "parents") else value for key, value in event["data"].items()}
        sha = event["data"].get("sha")
        own_id = isinstance(sha, str) and event.get("id") == sha[:16]
        if own_id and drop_sha:
            del data["sha"]
        return {**event, "id": sha[:min(16, digits)] if own_id else event.get("id"), "data": data}
    return change


FIELD_CHANGES = {
    "without id": _without("id"),
    "without seq": _without("seq"),
    "without ts": _without("ts"),
    "without data.sha": _without_data("sha"),
    "without data.parents": _without_data("parents"),
    "without data.files": _without_data("files"),
    "shas cut to 16 digits": _short(16),
    "shas cut to 12 digits": _short(12),
    "shas cut to 16, data.sha left to the id": _short(16, drop_sha=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-append", type=int, default=8, help="events per scan (one frame each)")
    parser.add_argument("--log", type=Path, help="measure this existing log directory instead")
    args = parser.parse_args()
    if args.log is not None:
        measure(args.log)
        return
    events = day_of_events(random.Random(7), args.events, 1_790_000_000 * 10**9)
    lines = [schema.encode(event) for event in events]
    with tempfile.TemporaryDirectory() as directory:
        log = EventLog(Path(directory))
        started = time.perf_counter()
        for index in range(0, len(lines), args.per_append):
            log.append(lines[index:index + args.per_append])
        seconds = time.perf_counter() - started
        segments = log.segments()
        sealed = segments[:-1]
        sealed_bytes = sum(path.stat().st_size for path in sealed)
        total = log.size_bytes()
        json_bytes = sum(len(line) + 1 for line in lines)
        print(f"{args.events} events, {args.per_append} per append, {len(segments)} segment(s), "
              f"written in {seconds:.2f} s")
        print(f"  JSON lines:          {json_bytes / args.events:7.1f} bytes/event")
        print(f"  on disk, whole log:  {total / args.events:7.1f} bytes/event "
              f"(target <= {TARGET_BYTES_PER_EVENT}: {'PASS' if total / args.events <= TARGET_BYTES_PER_EVENT else 'FAIL'})")
        if sealed:
            live_events = _events_in(segments[-1])
            live = segments[-1].stat().st_size
            print(f"  sealed segments:     {sealed_bytes / (args.events - live_events):7.1f} bytes/event "
                  f"({len(sealed)} segment(s), recompressed at level 19)")
            print(f"  live segment:        {live / max(1, live_events):7.1f} bytes/event "
                  f"({live_events} events in per-scan frames at level 3, until sealed)")


if __name__ == "__main__":
    main()
