"""The report cache: each analyzer's state after the log's sealed segments and the part of the live one a report
read, kept under `.git/obs/replay-cache/`, so that a later report replays only what came after.

Sealed segments never change (a seal, a repair or `gitobs gc` writes a new file in their place) and the live
one only grows, so the state an analyzer reaches at a place in the log is a function of the bytes before it
and of what the analyzer is: its name, its code, its `state_version`, the report's options, time zone, path,
depth and branch (and `--now` for one whose feed() reads it). A checkpoint holds, for one such report
configuration, the sealed segments it covers (name, size, mtime, inode and SHA-256 of each), how far into
the live segment it goes (bytes and their hash, lines and their hash as text: found again after a seal or a
repair rewrote the frames), the counts and warnings of replaying all that, and every cacheable analyzer's
state as `save_state()` gave it, msgpack-encoded and zstd-compressed. A report whose configuration has a
checkpoint checks that the log still starts with what it covers, loads each state into a new instance
(decoded as the analyzer's declared `state_type`: plain data and msgspec Structs, never pickle, so a file
planted there can make a report wrong but never run code) and feeds it only the rest. The checkpoint is
written again once a report replayed LIVE_REWRITE_EVENTS past it. Analyzers that do not opt in
(Analyzer.state_version 0) are fed the whole log, as without the cache; a report with any of them keeps its
checkpoint at the end of the sealed segments instead.

Not cached (a full replay, as before): reports with --since or --until, with enrichers loaded, of logs with no
sealed segment. A report on bundles keeps its final states and sections in the user's cache home instead
(_replay_bundles): bundles never change. A checkpoint that is missing, damaged, of another format or stale is rebuilt;
`gitobs gc` and `gitobs purge` drop them all. At most MAX_ENTRIES checkpoints (the least recently used go
first), together at most SHARE_OF_LOG of the log's size (at least MIN_BUDGET).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import zstandard

import gitobs
from gitobs.core.files import open_fresh, open_regular, read_at_most
from gitobs.core.homes import cache_home
from gitobs.core.liveness import process_alive
from gitobs.log.eventlog import EventLog
from gitobs.log.memory import MemoryLog
from gitobs.log.read import EventFilter
from gitobs.log.schema import UNDECODABLE
from gitobs.replay import parallel
from gitobs.replay.analysis import Analyzer, Context
from gitobs.replay.engine import (
    Consumer,
    EventDecoder,
    ReadCounts,
    decoder_for,
    malformed_warning,
    replay,
)
from gitobs.replay.sections import AnyBlock

CACHE_FORMAT = 5  # 5: the zstd frame carries its checksum
MAGIC = b"gitobs replay cache\n"
DIRECTORY = "replay-cache"
BUNDLES_DIRECTORY = "bundle-reports"  # in the user's cache home: the reports of bundles (_replay_bundles) ...
BUNDLES_BUDGET = 64 << 20  # ... at most this much of them (each within its bundles' own budget)
SUFFIX = ".state"
MAX_ENTRIES = 4  # files: one per report configuration (the default report, a --only or two, another zone)
SHARE_OF_LOG = 0.10  # all checkpoints together, at most this share of the log's size on disk ...
MIN_BUDGET = 256 << 10  # ... or this much, for a small log
MAX_INFLATED = 256 << 20  # a checkpoint that inflates past this is damaged (or hostile): ignored
LEVEL = 1  # zstd: twice as fast as 3 here, 12% bigger
# The live checkpoint is written again once a report has replayed this many events after it: rarely enough
# that most reports write nothing, often enough that they replay little.
LIVE_REWRITE_EVENTS = 8192
Warn = Callable[[str], None]


class SegmentId(msgspec.Struct, array_like=True):
    name: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str


class LivePrefix(msgspec.Struct, array_like=True):
    """How much of the live segment a checkpoint covers: its first `size` bytes (whole frames), and the
    `lines` lines they hold, hashed as text too, so that they are found again once a seal rewrote them."""

    name: str
    inode: int
    size: int
    sha256: str
    lines: int
    content_sha256: str


class Saved(msgspec.Struct, array_like=True):
    name: str  # the analyzer's
    error: str | None  # it had failed by then: it stays failed
    state: msgspec.Raw  # its save_state(), msgpack-encoded, decoded as its state_type


class Kept(msgspec.Struct, array_like=True):
    name: str  # the analyzer's (Analyzer.result_uses_now False, or a result_now_key)
    blocks: msgspec.Raw  # the sections its result() gave at the checkpoint, msgpack-encoded
    now_key: str  # the analyzer's result_now_key then ("" for one whose result reads no now): shown while the same


class Checkpoint(msgspec.Struct, kw_only=True):
    format: int
    key: str
    segments: list[SegmentId]
    in_window: int
    rollup_days: int
    malformed: int
    warnings: list[str]
    states: list[Saved]
    live: LivePrefix | None = None  # the live checkpoint: the segments, then this much of the next one
    sections: list[Kept] = []  # of the analyzers whose results read only their state and the context


_CHECKPOINT = msgspec.msgpack.Decoder(Checkpoint)
_BLOCKS = msgspec.msgpack.Decoder(list[AnyBlock])


def directory_of(log: Any) -> Path | None:
    """Where a log's checkpoints live: beside it (`.git/obs/replay-cache/`); None for a log not on disk."""
    if not isinstance(log, EventLog):
        return None
    return log.directory.parent / DIRECTORY


def drop(log_directory: Path) -> None:
    """Forget every checkpoint of the log in `log_directory` (gitobs purge): deleted whole, or OSError (a purge
    that leaves something behind must not say it purged it)."""
    try:
        shutil.rmtree(log_directory.parent / DIRECTORY)
    except FileNotFoundError:
        pass


def cacheable(cls: type) -> bool:
    """Whether an analyzer class opted in: a state version, a state type, save_state and load_state."""
    return (isinstance(getattr(cls, "state_version", 0), int) and getattr(cls, "state_version", 0) > 0
            and getattr(cls, "state_type", None) is not None
            and getattr(cls, "save_state", Analyzer.save_state) is not Analyzer.save_state
            and getattr(cls, "load_state", Analyzer.load_state) is not Analyzer.load_state)


_SOURCES: dict[str, str] = {}


def _source_digest(module_name: str) -> str:
    """A digest of a module's source: a plugin edited without a new state_version still gets new states."""
    found = _SOURCES.get(module_name)
    if found is None:
        module = sys.modules.get(module_name)
        path = getattr(module, "__file__", None)
        try:
            found = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else "-"
        except OSError:
            found = "-"
        _SOURCES[module_name] = found
    return found


def report_key(consumers: list[Consumer], context: Context) -> str:
    """What the states depend on besides the segments: the engine, every consumer (all of them make the
    decoder, which decides which lines count as malformed), and the report's context but its time window."""
    parts: list[Any] = [CACHE_FORMAT, gitobs.__version__, *map(_source_digest, (
        "gitobs.replay.engine", "gitobs.log.schema", "gitobs.log.read", "gitobs.replay.stats"))]
    uses_now = False
    for consumer in consumers:
        cls = type(consumer.instance)
        parts.append([consumer.name, cls.__module__, cls.__qualname__, getattr(cls, "state_version", 0),
                      _source_digest(cls.__module__), list(consumer.consumes), consumer.payloads,
                      None if consumer.fields is None else sorted(consumer.fields.items())])
        uses_now = uses_now or bool(getattr(cls, "state_uses_now", False))
    parts.append([context.utc_offset_s, context.path, context.depth, context.branch, sorted(context.options.items()),
                  context.now if uses_now else None])
    return hashlib.sha256(msgspec.json.encode(parts)).hexdigest()


class Store:
    """The checkpoints of one log, one file per report configuration: each within `budget`, all together
    within `shared` (the budget, unless the directory holds other logs' too: bundles')."""

    def __init__(self, directory: Path, log_bytes: int, shared: int | None = None) -> None:
        self.directory = directory
        self.budget = max(MIN_BUDGET, int(log_bytes * SHARE_OF_LOG))
        self.shared = max(self.budget, shared or 0)

    def path(self, key: str) -> Path:
        return self.directory / f"{key[:40]}{SUFFIX}"

    def load(self, key: str) -> Checkpoint | None:
        """The checkpoint of `key`, or None when it is missing, damaged, of another format or another key."""
        path = self.path(key)
        try:  # a regular file within the budget, never followed through a link (not /dev/zero, say)
            fd, info = open_regular(path, follow_links=False)
        except (OSError, ValueError):
            return None
        try:
            if info.st_size > self.budget:
                return None
            data = read_at_most(fd, self.budget + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        if not data.startswith(MAGIC):
            return None
        try:
            inflated = zstandard.ZstdDecompressor().decompress(data[len(MAGIC):], max_output_size=MAX_INFLATED)
            found = _CHECKPOINT.decode(inflated)
        except (zstandard.ZstdError, msgspec.DecodeError, msgspec.ValidationError, RecursionError, MemoryError):
            return None
        if found.format != CACHE_FORMAT or found.key != key:
            return None
        try:
            os.utime(path)  # recently used: evicted last
        except OSError:
            pass
        return found

    def save(self, checkpoint: Checkpoint) -> bool:
        """Write it (atomically: a reader sees the old file or the new one), then keep within bounds."""
        # With its checksum, checked as it inflates: a damaged byte that still inflates and decodes (a flipped
        # bit in a literal: another path, another count) is a damaged file, not another checkpoint.
        compressor = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True)
        data = MAGIC + compressor.compress(msgspec.msgpack.encode(checkpoint))
        if len(data) > self.budget:
            return False
        path = self.path(checkpoint.key)
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(open_fresh(temp), "wb") as handle:  # never through a link planted at its name
                handle.write(data)
            os.replace(temp, path)
        except OSError:
            try:  # under a file (a cache home that is one), unlink fails as mkdir did
                temp.unlink(missing_ok=True)
            except OSError:
                pass
            return False
        self._bound(path)
        self._drop_orphans()
        return True

    def _drop_orphans(self) -> None:
        """Temporary checkpoints whose writer is gone (killed before its rename) would stay for ever."""
        for temp in self.directory.glob(f"*{SUFFIX}.*.tmp"):
            pid = temp.name[: -len(".tmp")].rpartition(".")[2]
            try:
                if pid.isdigit() and not process_alive(int(pid), temp.stat().st_mtime_ns):
                    temp.unlink(missing_ok=True)
            except OSError:
                continue

    def _bound(self, kept: Path) -> None:
        """At most MAX_ENTRIES files and `budget` bytes: the least recently used go first (never `kept`)."""
        entries = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime_ns, path, stat.st_size))
        entries.sort(key=lambda entry: (entry[0] if entry[1] != kept else 1 << 80, entry[1].name), reverse=True)
        total = 0
        for count, (_, path, size) in enumerate(entries):
            total += size
            if path != kept and (count >= MAX_ENTRIES or total > self.shared):
                try:
                    path.unlink(missing_ok=True)
                except OSError:  # not a file (a directory planted under the name): left, and no traceback
                    continue
                total -= size


class _Part:
    """What one pass of replay reads: segments [first, stop) of a log, the first one from `offset` bytes (whole
    frames; the live segment only) or without its first `skip` lines. Keeps the place just past the last
    frame it gave of the live segment."""

    def __init__(self, log: EventLog, paths: list[Path], first: int, stop: int, offset: int = 0, skip: int = 0,
                 limit: int | None = None) -> None:
        self.log, self.all, self.first, self.stop = log, paths, first, stop
        self.paths = paths[first:stop]
        self.offset, self.skip = offset, skip
        self.limit = limit  # read no frame of the live segment that ends past this (nor any later segment)
        self.place: list | None = None

    def segments(self) -> list[Path]:
        return self.paths

    def iter_contents(self, on_corruption=None, start: int = 0, stop: int | None = None, window=None, after: int = 0,
                      before: int | None = None):
        # `window` is never set: windowed reports are not cached (read_cached). `after` and `before` (a cut
        # inside a sealed segment: parallel.py) apply to the first and last segments read, as in EventLog's.
        stop = len(self.paths) if stop is None else min(stop, len(self.paths))
        chosen = range(self.first + start, self.first + stop)
        for index in chosen:
            if index == len(self.all) - 1:
                place = [self.all[index].name, self.offset if index == self.first else 0]
                for found, content in self.log.iter_contents_from(place, on_corruption):
                    if self.limit is not None and (found[0] != place[0] or found[1] > self.limit):
                        break
                    self.place = found
                    if place[1] and self.place[0] == place[0] and self.place[1] <= place[1]:
                        raise _Moved  # sealed or repaired since it was checked: read again from its start
                    if index == self.first and self.skip:
                        content = _skipped(self, content)
                    if content:
                        yield content
                continue
            edges = {"after": after if index == chosen[0] else 0,
                     "before": before if index == chosen[-1] else None}
            for content in self.log.iter_contents(on_corruption, start=index, stop=index + 1,
                                                  **{k: v for k, v in edges.items() if v}):
                if index == self.first and self.skip:
                    content = _skipped(self, content)
                if content:
                    yield content


def _skipped(part: _Part, content: bytes) -> bytes:
    """What is left of `content` once the part's lines still to skip are taken off its start."""
    lines = content.count(b"\n")
    if lines <= part.skip:
        part.skip -= lines
        return b""
    cut = 0
    for _ in range(part.skip):
        cut = content.index(b"\n", cut) + 1
    part.skip = 0
    return content[cut:]


def _identity(path: Path, known: SegmentId | None = None) -> SegmentId | None:
    """A segment's identity, hashed unless its stat is `known`'s; None if it cannot be read."""
    try:
        stat = path.stat()
        if (known is not None and known.name == path.name and known.size == stat.st_size
                and known.mtime_ns == stat.st_mtime_ns and known.inode == stat.st_ino):
            return known
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return SegmentId(path.name, stat.st_size, stat.st_mtime_ns, stat.st_ino, digest)


def _still_there(saved: list[SegmentId], paths: list[Path]) -> list[SegmentId] | None:
    """The checkpoint's segments as they are now, if they are still the log's first ones, byte for byte."""
    if len(saved) > len(paths):
        return None
    now = []
    for known, path in zip(saved, paths):
        found = _identity(path, known)
        if found is None or found.name != known.name or found.size != known.size or found.sha256 != known.sha256:
            return None
        now.append(found)
    return now


class _Moved(Exception):
    """The live segment was replaced while a report read it from a place in it."""


class _Start:
    """Where a report goes on from a checkpoint: segment `segment`, from byte `offset` of the file `inode` or
    past `skip` lines."""

    def __init__(self, segment: int, offset: int = 0, skip: int = 0, inode: int = 0) -> None:
        self.segment, self.offset, self.skip, self.inode = segment, offset, skip, inode


def _resume(checkpoint: Checkpoint, log: EventLog, paths: list[Path]) -> tuple[_Start, list[SegmentId]] | None:
    """Where the log goes on after what the checkpoint covers, and its segments as they are now; None when
    the log no longer starts with them."""
    now = _still_there(checkpoint.segments, paths[:-1])
    live = checkpoint.live
    if now is None or (live is not None and len(now) >= len(paths)):
        return None
    n = len(now)
    if live is None:
        return _Start(n), now
    path = paths[n]
    if path.name != live.name:
        return None
    if n == len(paths) - 1:  # still the live segment: its first bytes as they were
        try:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_ino == live.inode:
                    head = handle.read(live.size)
                    if len(head) == live.size and hashlib.sha256(head).hexdigest() == live.sha256:
                        return _Start(n, offset=live.size, inode=live.inode), now
        except OSError:
            return None
    # sealed since (rewritten as other frames), or repaired: the same lines at its start, whatever the frames
    if any(live.name in warning for warning in checkpoint.warnings):  # damage in it, which a repair takes out
        return None
    digest, lines = hashlib.sha256(), 0
    for content in log.iter_contents(None, start=n, stop=n + 1):
        count = content.count(b"\n")
        if lines + count >= live.lines:
            cut = 0
            for _ in range(live.lines - lines):
                cut = content.index(b"\n", cut) + 1
            digest.update(content[:cut])
            lines = live.lines
            break
        digest.update(content)
        lines += count
    if lines != live.lines or digest.hexdigest() != live.content_sha256:
        return None
    return _Start(n, skip=live.lines), now


def _live_prefix(log: EventLog, path: Path, place: list) -> LivePrefix | None:
    """The live segment up to `place` (past a whole frame), as a LivePrefix; None if it changed meanwhile."""
    try:
        with open(path, "rb") as handle:
            inode = os.fstat(handle.fileno()).st_ino
            head = handle.read(place[1])
    except OSError:
        return None
    if len(head) != place[1]:
        return None
    digest, lines, reached = hashlib.sha256(), 0, 0
    for found, content in log.iter_contents_from([path.name, 0]):
        if found[0] != path.name or found[1] > place[1]:
            break
        digest.update(content)
        lines += content.count(b"\n")
        reached = found[1]
        if found[1] == place[1]:
            break
    if reached != place[1]:  # no frame ends there (damage): no checkpoint inside it
        return None
    return LivePrefix(path.name, inode, place[1], hashlib.sha256(head).hexdigest(), lines, digest.hexdigest())


def _restore(checkpoint: Checkpoint, consumers: list[Consumer], context: Context, shown: frozenset[str] = frozenset(),
             ) -> list[tuple[Any, str | None]] | None:
    """A new instance of each consumer, with its state loaded (or its failure), or None if any will not load.
    Those `shown` (their sections kept, nothing new) get a new instance alone."""
    saved = {entry.name: entry for entry in checkpoint.states}
    restored = []
    for consumer in consumers:
        entry = saved.get(consumer.name)
        if entry is None:
            return None
        cls = type(consumer.instance)
        try:
            instance = cls(context)
            if entry.error is None and consumer.name not in shown:
                instance.load_state(msgspec.msgpack.decode(entry.state, type=cls.state_type))
        except Exception:  # noqa: BLE001 - a state that will not load (damaged, or from other code): rebuilt
            return None
        restored.append((instance, entry.error))
    return restored


def _restored(checkpoint: Checkpoint, consumers: list[Consumer], context: Context, shown: dict[str, list]) -> bool:
    """Give each consumer its instance with the checkpoint's state loaded (and its kept sections, if `shown`);
    False, leaving them as they were, if any will not load."""
    restored = _restore(checkpoint, consumers, context, frozenset(shown))
    if restored is None:
        return False
    for consumer, (instance, error) in zip(consumers, restored):
        consumer.instance, consumer.error = instance, error
        if consumer.name in shown and error is None:
            consumer.outcome = _given(shown[consumer.name])
    return True


def _pass(log: _Part, consumers: list[Consumer], event_filter: EventFilter, decoder: EventDecoder, warn: Warn,
          workers: int) -> ReadCounts:
    """Feed `consumers` these segments, in two processes when it pays (parallel.py); the instances stay fed."""
    if not consumers or not log.paths:
        return ReadCounts()
    if workers > 1:
        horizons = [parallel.horizon_of(consumer) for consumer in consumers]
        split = parallel.split_point(log, horizons)
        if split is not None:
            return parallel.replay_split(log, consumers, horizons, event_filter, split, warn, finish=False,
                                         decoder=decoder)
    return replay(log, consumers, [], event_filter, warn, decoder=decoder, warn_malformed=False)


def _add(into: ReadCounts, more: ReadCounts) -> ReadCounts:
    into.in_window += more.in_window
    into.rollup_days += more.rollup_days
    into.malformed += more.malformed
    return into


def _live_key(key: str) -> str:
    return hashlib.sha256(f"{key} live".encode()).hexdigest()


def replay_cached(log: Any, consumers: list[Consumer], event_filter: EventFilter, context: Context, warn: Warn,
                  workers: int) -> ReadCounts | None:
    """Replay `consumers` over `log` with the cache: the states of a checkpoint loaded (or made and kept), then
    the rest fed. Returns the counts, or None when the cache does not apply (replay it all)."""
    if isinstance(log, MemoryLog):
        return _replay_bundles(log, consumers, event_filter, context, warn)
    directory = directory_of(log)
    if directory is None or event_filter.since is not None or event_filter.until is not None:
        return None
    chosen = [consumer for consumer in consumers if consumer.error is None and cacheable(type(consumer.instance))]
    paths = log.segments()
    if not chosen or len(paths) < 2:
        return None
    others = [consumer for consumer in consumers if consumer not in chosen]
    sealed = len(paths) - 1
    key = report_key(consumers, context)
    store = Store(directory, sum(_size(path) for path in paths))
    decoder = functools.cache(lambda: decoder_for(consumers, event_filter))  # made only when something is read
    # The live checkpoint (sealed segments and part of the live one) first, then the sealed one. Analyzers that
    # are not cached replay the whole log: they use only the sealed one, whose counts they make again.
    checkpoint, start, covered, shown = None, _Start(0), [], {}
    for name in ((key,) if others else (_live_key(key), key)):
        found = store.load(name)
        resumed = _resume(found, log, paths) if found is not None else None
        if found is not None and resumed is not None:
            shown = _shown(found, resumed[0], paths, _now_keys(chosen, context))
            if _restored(found, chosen, context, shown):
                checkpoint, (start, covered) = found, resumed
                break
            shown = {}  # not restored: its sections are no one's, and must not send a full replay back (_Moved)
    counts = ReadCounts()
    seen: list[str] = []

    def noted(message: str) -> None:
        seen.append(message)
        warn(message)

    if checkpoint is None and not others and workers > 1:
        done = _cold(log, paths, consumers, chosen, event_filter, decoder(), noted, store, _live_key(key), seen,
                     context)
        if done is not None:
            return done
    if checkpoint is not None:
        if others:
            _add(counts, _pass(_Part(log, paths, 0, start.segment), others, event_filter, decoder(), noted, workers))
        else:
            counts = ReadCounts(in_window=checkpoint.in_window, rollup_days=checkpoint.rollup_days,
                                malformed=checkpoint.malformed)
            for message in checkpoint.warnings:
                noted(message)
    live_from = start if start.segment == sealed else _Start(sealed)
    if start.segment < sealed:
        # Two processes only from the log's start: a cut is checked against the head part's times alone, and
        # a state loaded here holds earlier ones (the segments sealed since are few anyway).
        part = _Part(log, paths, start.segment, sealed, skip=start.skip)
        fresh = start.segment == 0 and not start.skip
        _add(counts, _pass(part, consumers, event_filter, decoder(), noted, workers if fresh else 1))
        covered += [found for path in paths[len(covered):sealed] if (found := _identity(path)) is not None]
        if others and len(covered) == sealed:  # theirs is the sealed checkpoint (the others replay it all)
            _save(store, key, covered, counts, seen, chosen, context, None)
    live = _Part(log, paths, sealed, sealed + 1, offset=live_from.offset, skip=live_from.skip)
    try:
        # Nothing written after the checkpoint: nothing to read (nor a decoder to make).
        unchanged = live_from.offset and not live_from.skip and _size(paths[sealed]) == live_from.offset
        rest = ReadCounts() if unchanged else replay(live, consumers, [], event_filter, noted, decoder=decoder(),
                                                     warn_malformed=False)
        if live_from.offset and _inode(paths[sealed]) != live_from.inode:
            raise _Moved
        if shown and live.place is not None:  # events came after all: the kept sections are not theirs
            raise _Moved
    except _Moved:  # a scan sealed it meanwhile: the whole log again, from new instances
        for consumer in consumers:
            consumer.instance, consumer.error = type(consumer.instance)(context), None
            consumer.outcome = None
        return None
    _add(counts, rest)
    if counts.malformed:
        warn(malformed_warning(counts.malformed))
    replayed = counts.in_window - (checkpoint.in_window if checkpoint is not None else 0)
    if (not others and len(covered) == sealed
            and (checkpoint is None or checkpoint.live is None or replayed >= LIVE_REWRITE_EVENTS)):
        # (nothing read of it: where it began, an empty live segment's start say)
        place = live.place if live.place is not None else [paths[sealed].name, live_from.offset]
        prefix = _live_prefix(log, paths[sealed], place)
        if prefix is not None:
            _save(store, _live_key(key), covered, counts, seen, chosen, context, prefix, finished=True)
    return counts


def _replay_bundles(log: MemoryLog, consumers: list[Consumer], event_filter: EventFilter, context: Context,
                    warn: Warn) -> ReadCounts | None:
    """A log of bundles (`gitobs replay`, `report --from`): its analyzers' states and sections kept in the
    user's cache home, keyed by the bundles' verified digests, their order and the report's configuration
    (time window included), so that a report on the same bundles again replays nothing. Only when every
    analyzer opted in (a bundle's log is not replayed in parts)."""
    if log.identity is None or not all(c.error is None and cacheable(type(c.instance)) for c in consumers):
        return None
    parts = [report_key(consumers, context), log.identity, event_filter.since, event_filter.until]
    key = hashlib.sha256(msgspec.json.encode(parts)).hexdigest()
    store = Store(cache_home() / BUNDLES_DIRECTORY, log.size_bytes(), shared=BUNDLES_BUDGET)
    found = store.load(key)
    if found is not None:
        shown = _decoded_sections(found, _now_keys(consumers, context))
        if _restored(found, consumers, context, shown):
            for message in found.warnings:
                warn(message)
            if found.malformed:
                warn(malformed_warning(found.malformed))
            return ReadCounts(in_window=found.in_window, rollup_days=found.rollup_days, malformed=found.malformed)
    seen: list[str] = []

    def noted(message: str) -> None:
        seen.append(message)
        warn(message)

    counts = replay(log, consumers, [], event_filter, noted, warn_malformed=False)
    if counts.malformed:
        warn(malformed_warning(counts.malformed))
    _save(store, key, [], counts, seen, consumers, context, None, finished=True)
    return counts


def _shown(checkpoint: Checkpoint, start: _Start, paths: list[Path], now_keys: dict[str, str | None],
           ) -> dict[str, list]:
    """The kept sections of the checkpoint, by analyzer, when nothing came after it: it covers the live segment
    to its end. (Empty otherwise, or for any that will not decode: those are made again.)"""
    if checkpoint.live is None or not start.offset or start.segment != len(paths) - 1:
        return {}
    if _size(paths[-1]) != start.offset:
        return {}
    return _decoded_sections(checkpoint, now_keys)


def _now_keys(consumers: list[Consumer], context: Context) -> dict[str, str | None]:
    """Per consumer, what of the report's now its sections depend on ("": nothing; None: not known)."""
    keys: dict[str, str | None] = {}
    for consumer in consumers:
        cls = type(consumer.instance)
        try:
            keys[consumer.name] = "" if not getattr(cls, "result_uses_now", True) else cls.result_now_key(context)
        except Exception:  # noqa: BLE001 - a plugin's failure: its sections are made anew
            keys[consumer.name] = None
    return keys


def _decoded_sections(checkpoint: Checkpoint, now_keys: dict[str, str | None]) -> dict[str, list]:
    """The kept sections whose analyzer's now key is the same as this report's."""
    shown = {}
    for kept in checkpoint.sections:
        if now_keys.get(kept.name) is None or now_keys[kept.name] != kept.now_key:
            continue
        try:
            shown[kept.name] = _BLOCKS.decode(kept.blocks)
        except UNDECODABLE:
            continue
    return shown


def _given(blocks: list) -> Callable[[], list]:
    return lambda: blocks


def _sections(consumers: list[Consumer], context: Context) -> list[Kept]:
    """The sections of the consumers whose results read only their state, the context and at most a key of
    its now (result_now_key), to keep: made now (their outcome from then on) unless made already."""
    kept = []
    now_keys = _now_keys(consumers, context)
    for consumer in consumers:
        now_key = now_keys[consumer.name]
        if consumer.error is not None or now_key is None:
            continue
        if consumer.outcome is None:
            consumer.outcome = parallel.made_now(consumer.instance.result)
        try:
            kept.append(Kept(consumer.name, msgspec.Raw(msgspec.msgpack.encode(consumer.outcome())), now_key))
        except Exception:  # noqa: BLE001 - result() failed, or gave what will not encode: made again next time
            continue
    return kept


def _cold(log: EventLog, paths: list[Path], consumers: list[Consumer], chosen: list[Consumer],
          event_filter: EventFilter, decoder: EventDecoder, warn: Warn, store: Store, key: str,
          seen: list[str], context: Context) -> ReadCounts | None:
    """No checkpoint: the whole log in two processes as without the cache (the live segment up to its size
    now), each state saved before its sections are made, wherever they are made; then the checkpoint at the
    end of what was read. None when the log is not worth two processes (the caller replays it in one)."""
    limit = _size(paths[-1])
    whole = _Part(log, paths, 0, len(paths), limit=limit)
    horizons = [parallel.horizon_of(consumer) for consumer in consumers]
    split = parallel.split_point(whole, horizons)
    if split is None:
        return None
    keep = [consumer in chosen for consumer in consumers]
    saved: dict[int, bytes] = {}
    counts = parallel.replay_split(whole, consumers, horizons, event_filter, split, warn, decoder=decoder,
                                   keep=keep, saved=saved)
    states = []
    for index, consumer in enumerate(consumers):
        if consumer.outcome is not None:  # made, or being made in the child: taken now, with its state
            consumer.outcome = parallel.made_now(consumer.outcome)
        elif consumer.error is None and index not in saved:  # fed it all here: not finished yet
            if (state := parallel.saved_state(consumer.instance)) is not None:
                saved[index] = state
        if consumer.error is not None:
            states.append(Saved(consumer.name, consumer.error, msgspec.Raw(msgspec.msgpack.encode(None))))
        elif index in saved:
            states.append(Saved(consumer.name, None, msgspec.Raw(saved[index])))
    covered = [found for path in paths[:-1] if (found := _identity(path)) is not None]
    prefix = _live_prefix(log, paths[-1], [paths[-1].name, limit])
    if len(states) == len(consumers) and len(covered) == len(paths) - 1 and prefix is not None:
        store.save(Checkpoint(format=CACHE_FORMAT, key=key, segments=covered, in_window=counts.in_window,
                              rollup_days=counts.rollup_days, malformed=counts.malformed,
                              warnings=[w for w in seen if w != malformed_warning(counts.malformed)],  # said anew
                              states=states, live=prefix, sections=_sections(chosen, context)))
    return counts


def _save(store: Store, key: str, covered: list[SegmentId], counts: ReadCounts, warnings: list[str],
          chosen: list[Consumer], context: Context, live: LivePrefix | None, finished: bool = False) -> None:
    """Keep the checkpoint; `finished`: nothing more is fed, and the sections that can be are kept too."""
    states = []
    for consumer in chosen:
        if consumer.error is not None:
            states.append(Saved(consumer.name, consumer.error, msgspec.Raw(msgspec.msgpack.encode(None))))
            continue
        try:
            state = msgspec.msgpack.encode(consumer.instance.save_state())
        except Exception:  # noqa: BLE001 - a state that will not save is not kept: the next report replays it all
            return
        states.append(Saved(consumer.name, None, msgspec.Raw(state)))
    store.save(Checkpoint(format=CACHE_FORMAT, key=key, segments=list(covered), in_window=counts.in_window,
                          rollup_days=counts.rollup_days, malformed=counts.malformed, warnings=list(warnings),
                          states=states, live=live, sections=_sections(chosen, context) if finished else []))


def _inode(path: Path) -> int:
    try:
        return path.stat().st_ino
    except OSError:
        return -1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
