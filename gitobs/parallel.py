"""Two cores for one report: the log is cut in two at a quiet moment, a forked child replays the later part
(the tail) while this process replays the earlier one (the head), and each analyzer's two halves are merged.

The cut is a gap in the work longer than any analyzer's horizon (`Analyzer.horizon`: how far apart in
time its events can still interact), found near the middle of the log by bytes; across such a gap an
analyzer's state merges exactly (`Analyzer.merge`). An analyzer that cannot merge gets the tail's events
from the child, msgpack-encoded a batch at a time, and is fed them here after its head: still one instance over the whole log
in order. The report is the one a single process makes. If the child fails, finds no gap, or the tail turns
out to hold an event too close in time to the head (a log out of time order), the tail is replayed here.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gitobs.analysis import Analyzer
from gitobs.eventlog import EventLog
from gitobs.replay import (
    Consumer,
    EventDecoder,
    ReadCounts,
    ReplayFilter,
    Split,
    decoder_for,
    describe_failure,
    dispatch,
    malformed_warning,
    replay,
)

# Below this much log on disk a fork costs more than it saves.
MIN_LOG_BYTES = 4 << 20
# This process's part of the log, by bytes: half. Both halves cost the same per byte (instruction counts
# over the 1M-event benchmark log), and what this process does after its head (merging, sections,
# rendering) waits for the child's states anyway, so any less only leaves it waiting longer.
HEAD_SHARE = 0.5
Warn = Callable[[str], None]


def can_fork(log_bytes: int) -> bool:
    return hasattr(os, "fork") and log_bytes >= MIN_LOG_BYTES


class _Collector:
    """Stands in the child for an analyzer that cannot merge: keeps its share of the tail, to be shipped."""

    def __init__(self) -> None:
        self.batches: list[bytes] = []

    def feed(self, events: list) -> None:
        self.batches.append(msgspec.msgpack.encode(events))  # the batch in one call, decoded in one (_join)


@dataclass
class _Tail:
    """What the child sends back: this first, then one state per consumer (see _fork)."""

    counts: ReadCounts
    errors: list[str | None]  # per consumer, its failure in the child
    warnings: list[str] = field(default_factory=list)


def horizon_of(consumer: Consumer) -> float | None:
    """The consumer's horizon in seconds; None when it cannot merge (or saying so failed)."""
    if getattr(type(consumer.instance), "merge", Analyzer.merge) is Analyzer.merge:
        return None
    try:
        horizon = consumer.instance.horizon()
    except Exception:  # noqa: BLE001 - a plugin's failure: it just does not take part in the split
        return None
    if not isinstance(horizon, (int, float)) or math.isnan(horizon) or horizon < 0 or math.isinf(horizon):
        return None
    return float(horizon)


def split_point(log: EventLog, horizons: list[float | None]) -> Split | None:
    """Where to cut: the segment holding the HEAD_SHARE byte, if the log is worth two processes and some
    analyzer merges."""
    known = [h for h in horizons if h is not None]
    segments = log.segments()
    if not known or len(segments) < 2:
        return None
    sizes = [path.stat().st_size for path in segments]
    if not can_fork(sum(sizes)):
        return None
    cut, seen = sum(sizes) * HEAD_SHARE, 0
    for index, size in enumerate(sizes):
        seen += size
        if seen >= cut:
            return Split(segment=max(index, 1), horizon_s=max(known))
    return None


def replay_split(log: EventLog, consumers: list[Consumer], horizons: list[float | None], event_filter: ReplayFilter,
                 split: Split, warn: Warn) -> ReadCounts:
    """Replay `consumers` over the whole log in two processes cut at `split`; returns the counts.
    `horizons` are the consumers' (horizon_of), None for those that do not merge."""
    mergeable = [horizon is not None for horizon in horizons]
    decoder = decoder_for(consumers, event_filter)
    wait = _fork(lambda: _replay_tail(log, consumers, mergeable, event_filter, split, decoder))
    head = replay(log, consumers, [], event_filter, warn, split=split, side="head", decoder=decoder)
    sent = wait()
    if not head.found:  # no gap after the cut: this process replayed everything
        return _finish_counts(head, None, warn)
    tail = _accepted(sent, head, split.horizon_s)
    if tail is None:
        rest = replay(log, consumers, [], event_filter, warn, split=split, side="tail", decoder=decoder)
        return _finish_counts(head, rest, warn)
    for message in tail.warnings:
        warn(message)
    assert sent is not None
    for index, (consumer, merges, error) in enumerate(zip(consumers, mergeable, tail.errors)):
        state = pickle.loads(sent[index + 1])  # noqa: S301 - from our own forked child, through a private pipe
        sent[index + 1] = b""  # one foreign state at a time in memory
        _join(consumer, merges, error, state, decoder)
    return _finish_counts(head, tail.counts, warn)


def _accepted(sent: list[bytes] | None, head: ReadCounts, horizon_s: float) -> _Tail | None:
    """The child's tail, if it can be joined to this head: the child finished, found the same cut, and no
    event of its tail is within the horizon of the head's events (which a log out of time order can have)."""
    if sent is None:
        return None
    try:
        tail = pickle.loads(sent[0])  # noqa: S301 - as above
    except Exception:  # noqa: BLE001 - whatever went wrong there, the tail is done here
        return None
    if not isinstance(tail, _Tail) or len(sent) != len(tail.errors) + 1 or not tail.counts.found:
        return None
    latest, earliest = head.latest, tail.counts.earliest
    if latest is not None and earliest is not None and (earliest - latest).total_seconds() <= horizon_s:
        return None
    return tail


def _finish_counts(head: ReadCounts, tail: ReadCounts | None, warn: Warn) -> ReadCounts:
    """Both sides' counts as one."""
    tail = tail or ReadCounts()
    if head.malformed + tail.malformed:
        warn(malformed_warning(head.malformed + tail.malformed))
    return ReadCounts(in_window=head.in_window + tail.in_window, rollup_days=head.rollup_days + tail.rollup_days)


def _replay_tail(log: EventLog, consumers: list[Consumer], mergeable: list[bool], event_filter: ReplayFilter,
                 split: Split, decoder: EventDecoder) -> list[Any]:
    """The child's job: the tail through the analyzers that merge, the shares of those that do not kept.
    Returns what to send: the _Tail, then each consumer's state."""
    stand_ins = [consumer if merges else
                 Consumer(consumer.name, _Collector(), consumer.consumes, consumer.payloads, consumer.fields)
                 for consumer, merges in zip(consumers, mergeable)]
    warnings: list[str] = []
    counts = replay(log, stand_ins, [], event_filter, warnings.append, split=split, side="tail", decoder=decoder)
    states = [c.instance if merges else c.instance.batches for c, merges in zip(stand_ins, mergeable)]
    return [_Tail(counts=counts, errors=[c.error for c in stand_ins], warnings=warnings), *states]


def _join(consumer: Consumer, merges: bool, error: str | None, state: Any, decoder: EventDecoder) -> None:
    """Give `consumer` (fed the head) what the child made of the tail."""
    if consumer.error is not None:
        return
    if error is not None:
        consumer.error = error
        return
    if merges:
        try:
            consumer.instance.merge(state)
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, not fatal
            consumer.error = describe_failure(exc)
        return
    for batch in state:
        dispatch(decoder.decode_packed(batch), [consumer])


def _fork(job: Callable[[], list[Any]]) -> Callable[[], list[bytes] | None]:
    """Start `job` in a child; the returned function waits for what it returned, each item pickled on its
    own (so that neither side holds more than one unpickled item of it), or None if the child failed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the job, send the result, never return into the caller's code
        os.close(read_end)
        status = 1
        try:
            with os.fdopen(write_end, "wb") as out:
                for item in job():
                    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
                    out.write(len(data).to_bytes(8, "little"))
                    out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def wait() -> list[bytes] | None:
        items: list[bytes] = []
        with os.fdopen(read_end, "rb") as incoming:
            while size := incoming.read(8):
                items.append(incoming.read(int.from_bytes(size, "little")))
        _, status = os.waitpid(pid, 0)
        return items if status == 0 and items else None

    return wait
