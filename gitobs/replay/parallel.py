"""Two cores for one report: the log is cut in two at a quiet moment, a forked child replays the later part
(the tail) while this process replays the earlier one (the head), and each analyzer's two halves are merged.

The cut is a gap in the work longer than any analyzer's horizon (`Analyzer.horizon`: how far apart in
time its events can still interact), found near the middle of the log by bytes; across such a gap an
analyzer's state merges exactly (`Analyzer.merge`). The merging and the sections are shared out too: this
process hands the child its head states of about half the analyzers (by the size of their states), and
while the child merges those and makes their sections, this one does the rest. An analyzer that cannot
merge gets the tail's events from the child, msgpack-encoded a batch at a time, and is fed them here after
its head: still one instance over the whole log in order. The report is the one a single process makes.
If the child fails or finds no gap, the tail is replayed here. If the tail turns out to hold an event too
close in time to the head (a log out of time order: an import, a late spool), it is replayed here only for
the analyzers whose merge needs time order and whose own events (the types they consume, less imported
history for those that declare `imported_in_any_order`) are that close, by their own horizon: those that
declare `merges_in_any_order` (pure counts) and those that cannot merge (fed the shipped tail in log
order) still take the child's work. If the child fails
after sending its states, what it was handed is merged here.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import msgspec

from gitobs.log.eventlog import EventLog, frame_starts
from gitobs.log.read import EventFilter
from gitobs.replay.analysis import Analyzer
from gitobs.replay.engine import (
    Consumer,
    EventDecoder,
    Failed,
    ReadCounts,
    Split,
    decoder_for,
    describe_failure,
    dispatch,
    malformed_warning,
    matches,
    read_batches,
    replay,
    type_times,
)

# Below this much log on disk a fork costs more than it saves. Medians of 7 runs by turns, one process
# against two: even at 1.4 MB (33k events); at 2.0 MB (49k) two are 11% faster for the full report and
# 15% for the heatmap alone; imported git/git, 3.9 MB at the import's level 16, 23% and 27%.
MIN_LOG_BYTES = 2 << 20
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
    """Where to cut: the frame start nearest the HEAD_SHARE byte, if the log is worth two processes and some
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
            return _split_in(segments, index, cut - (seen - size), max(known))
    return None


def _split_in(segments: list, index: int, into: float, horizon_s: float) -> Split:
    """The cut `into` bytes into segment `index`: at the frame start nearest it, found by the frames' time
    indexes (a log of a few big segments, such as an import's, splits evenly too), or at a segment edge."""
    if index + 1 == len(segments):  # never inside the live segment
        return Split(segment=max(index, 1), horizon_s=horizon_s)
    starts = frame_starts(segments[index])
    nearest = min([*starts, segments[index].stat().st_size], key=lambda start: abs(start - into))
    if nearest == 0 or nearest not in starts:  # an edge: the start of this segment, or of the next
        return Split(segment=max(index if nearest == 0 else index + 1, 1), horizon_s=horizon_s)
    return Split(segment=index, horizon_s=horizon_s, offset=nearest)


def replay_split(log: EventLog, consumers: list[Consumer], horizons: list[float | None], event_filter: EventFilter,
                 split: Split, warn: Warn, finish: bool = True, decoder: EventDecoder | None = None,
                 keep: list[bool] | None = None, saved: dict[int, bytes] | None = None) -> ReadCounts:
    """Replay `consumers` over the whole log in two processes cut at `split`; returns the counts, and leaves
    each consumer's sections made or being made (Consumer.outcome). `horizons` are the consumers'
    (horizon_of), None for those that do not merge. Without `finish`, every state is merged here and no
    section is made: the instances are left fed the whole log, to be fed more (the report cache). With
    `keep`, the consumers it marks have their merged state saved (Analyzer.save_state, msgpack) into `saved`
    before their sections are made, by whichever process makes them (a handed one's when its outcome is
    taken)."""
    keep = keep or [False] * len(consumers)
    saved = saved if saved is not None else {}
    mergeable = [horizon is not None for horizon in horizons]
    decoder = decoder or decoder_for(consumers, event_filter)
    child = _fork(lambda handed: _replay_tail(log, consumers, mergeable, event_filter, split, decoder, handed))
    head = replay(log, consumers, [], event_filter, warn, split=split, side="head", decoder=decoder)
    sent = child.receive(len(consumers) + 1)
    tail = _accepted(sent) if head.found else None
    if tail is None:
        child.finish()
        if not head.found:  # no gap after the cut: this process replayed everything
            return _finish_counts(head, None, warn, finish)
        rest = replay(log, consumers, [], event_filter, warn, split=split, side="tail", decoder=decoder)
        return _finish_counts(head, rest, warn, finish)
    for message in tail.warnings:
        warn(message)
    assert sent is not None
    states = sent[1:]
    sent.clear()  # `states` alone holds them now: each is let go once it is merged
    redo = set() if _in_order(head, tail, split.horizon_s) else _needing_order(consumers, mergeable)
    if redo:  # too close somewhere: for each, in the events it takes, against its own horizon?
        redo = _out_of_order(log, consumers, redo, horizons, event_filter, split, decoder)
    for index in redo:
        states[index] = b""  # their tail is replayed here, below
    joined = [merges and index not in redo for index, merges in enumerate(mergeable)]
    handed = _hand_over(consumers, joined, tail.errors, states, child, keep) if finish else set()
    if not finish:
        child.done_handing()
    if redo:  # while the child merges what it was handed
        again = [consumers[index] for index in sorted(redo)]
        replay(log, again, [], event_filter, lambda _: None, split=split, side="tail", decoder=decoder)
    for index, (consumer, merges, error) in enumerate(zip(consumers, mergeable, tail.errors)):
        if index in redo:
            if consumer.error is None and finish:
                _keep_state(consumer.instance, keep[index], index, saved)
                consumer.outcome = _made(consumer)
            continue
        if index in handed:
            consumer.outcome = _from_child(child, index, consumer, states, decoder, keep[index], saved)
            continue
        state = pickle.loads(states[index])  # noqa: S301 - from our own forked child, through a private pipe
        states[index] = b""  # one foreign state at a time in memory
        _join(consumer, merges, error, state, decoder)
        if consumer.error is None and finish:
            _keep_state(consumer.instance, keep[index], index, saved)
            consumer.outcome = _made(consumer)
    if not handed:
        child.finish()
    return _finish_counts(head, tail.counts, warn, finish)


def saved_state(instance: Any) -> bytes | None:
    """An analyzer's save_state(), msgpack-encoded (the report cache); None if it fails."""
    try:
        return msgspec.msgpack.encode(instance.save_state())
    except Exception:  # noqa: BLE001 - a state that will not save is not kept
        return None


def _keep_state(instance: Any, keep: bool, index: int, saved: dict[int, bytes]) -> None:
    if keep and (state := saved_state(instance)) is not None:
        saved[index] = state


def _hand_over(consumers: list[Consumer], mergeable: list[bool], errors: list[str | None], states: list[bytes],
               child: _Child, keep: list[bool]) -> set[int]:
    """Send the child this process's head state of some merging consumers, for it to merge with its tail and
    make their sections: by the size of the child's states, the largest stays here and each next one goes
    to the side with less so far. Returns their indexes."""
    mine = theirs = 0
    handed = set()
    candidates = [index for index, consumer in enumerate(consumers)
                  if mergeable[index] and consumer.error is None and errors[index] is None]
    for index in sorted(candidates, key=lambda index: -len(states[index])):
        if theirs < mine:
            try:
                child.hand((index, consumers[index].instance, keep[index]))
            except Exception:  # noqa: BLE001 - a state that will not pickle is merged here
                continue
            handed.add(index)
            child.expected.add(index)
            theirs += len(states[index])
        else:
            mine += len(states[index])
    child.done_handing()
    return handed


def _made(consumer: Consumer) -> Callable[[], list]:
    """Its sections made now, while the child works."""
    return made_now(consumer.instance.result)


def made_now(outcome: Callable[[], list]) -> Callable[[], list]:
    """The outcome's blocks made now, or what it raised, as an outcome that gives them again."""
    try:
        blocks = list(outcome())
    except Exception as exc:  # noqa: BLE001 - raised again where report.py asks for them
        failure = exc

        def failed() -> list:
            raise failure
        return failed
    return lambda: blocks


def _from_child(child: _Child, index: int, consumer: Consumer, states: list[bytes], decoder: EventDecoder,
                keep: bool = False, saved: dict[int, bytes] | None = None) -> Callable[[], list]:
    """The sections the child makes of the consumer handed to it; if the child fails, merged and made here."""

    def outcome() -> list:
        made = child.outcome(index)
        if made is None:  # the child failed: its tail state came with the others
            _join(consumer, True, None, pickle.loads(states[index]), decoder)  # noqa: S301 - as above
            if consumer.error is not None:
                raise Failed(consumer.error)
            _keep_state(consumer.instance, keep, index, saved if saved is not None else {})
            return list(consumer.instance.result())
        kind, value, state = made
        if state is not None and saved is not None:
            saved[index] = state
        if kind == "error":
            raise Failed(value)
        return value

    return outcome


def _accepted(sent: list[bytes] | None) -> _Tail | None:
    """The child's tail, if it can be joined to this head: the child finished and found the same cut."""
    if sent is None:
        return None
    try:
        tail = pickle.loads(sent[0])  # noqa: S301 - as above
    except Exception:  # noqa: BLE001 - whatever went wrong there, the tail is done here
        return None
    if not isinstance(tail, _Tail) or len(sent) != len(tail.errors) + 1 or not tail.counts.found:
        return None
    return tail


def _in_order(head: ReadCounts, tail: _Tail, horizon_s: float) -> bool:
    """No event of the tail is within the horizon of the head's events (a log out of time order has some)."""
    latest, earliest = head.latest, tail.counts.earliest
    return latest is None or earliest is None or (earliest - latest).total_seconds() > horizon_s


def _needing_order(consumers: list[Consumer], mergeable: list[bool]) -> set[int]:
    """The merging consumers whose merge is exact only across a gap in time."""
    return {index for index, consumer in enumerate(consumers)
            if mergeable[index] and getattr(type(consumer.instance), "merges_in_any_order", False) is not True}


def _out_of_order(log: EventLog, consumers: list[Consumer], candidates: set[int], horizons: list[float | None],
                  event_filter: EventFilter, split: Split, decoder: EventDecoder) -> set[int]:
    """Of `candidates`, those whose own events (the types it consumes, less imported history for one that
    says `imported_in_any_order`) are not all more than its own horizon apart across the cut. Both sides
    are read again for their times (envelopes only): only a log out of time order (an import's) pays it, not
    every report. Under a branch or path filter (it reads payloads) all stay."""
    if event_filter.branch is not None or event_filter.path is not None:
        return candidates
    light = EventDecoder(lambda _: False, decoder.wanted)  # the same events, so the same cut
    head: dict[tuple[str, bool], datetime] = {}
    tail: dict[tuple[str, bool], datetime] = {}
    for side, times in (("head", head), ("tail", tail)):
        for batch in read_batches(log, light, event_filter, lambda _: None, split=split, side=side):
            type_times(batch, times, newest=side == "head")
    redo = set()
    for index in candidates:
        latest = max(_own_times(head, consumers[index]), default=None)
        earliest = min(_own_times(tail, consumers[index]), default=None)
        if latest is not None and earliest is not None and (earliest - latest).total_seconds() <= horizons[index]:
            redo.add(index)
    return redo


def _own_times(times: dict[tuple[str, bool], datetime], consumer: Consumer) -> list[datetime]:
    """The times of `times` (per type and imported or not) of the events whose order the consumer needs."""
    skip_imported = getattr(type(consumer.instance), "imported_in_any_order", False) is True
    return [moment for (kind, imported), moment in times.items()
            if matches(kind, consumer.consumes) and not (skip_imported and imported)]


def _finish_counts(head: ReadCounts, tail: ReadCounts | None, warn: Warn, say_malformed: bool = True) -> ReadCounts:
    """Both sides' counts as one."""
    tail = tail or ReadCounts()
    if say_malformed and head.malformed + tail.malformed:
        warn(malformed_warning(head.malformed + tail.malformed))
    return ReadCounts(in_window=head.in_window + tail.in_window, rollup_days=head.rollup_days + tail.rollup_days,
                      malformed=head.malformed + tail.malformed)


def _replay_tail(log: EventLog, consumers: list[Consumer], mergeable: list[bool], event_filter: EventFilter,
                 split: Split, decoder: EventDecoder, handed: Callable[[], Any]) -> Iterator[Any]:
    """The child's job: the tail through the analyzers that merge, the shares of those that do not kept.
    Yields what to send: the _Tail, then each consumer's state; then, for each (index, head state) it is
    handed, (index, ("blocks", sections) or ("error", why)) of the head merged with its tail. The instances
    are as they were before the head was fed (new ones: the report cache splits only a log's start)."""
    stand_ins = [consumer if merges else
                 Consumer(consumer.name, _Collector(), consumer.consumes, consumer.payloads, consumer.fields)
                 for consumer, merges in zip(consumers, mergeable)]
    warnings: list[str] = []
    counts = replay(log, stand_ins, [], event_filter, warnings.append, split=split, side="tail", decoder=decoder)
    yield _Tail(counts=counts, errors=[c.error for c in stand_ins], warnings=warnings)
    for consumer, merges in zip(stand_ins, mergeable):
        yield consumer.instance if merges else consumer.instance.batches
    # All of them first: this process writes them into a pipe, and would wait while each is being merged.
    for index, head, keep in list(iter(handed, None)):
        yield index, _merged_sections(head, stand_ins[index].instance, keep)


def _merged_sections(head: Any, later: Any, keep: bool = False) -> tuple[str, Any, bytes | None]:
    """("blocks", sections) or ("error", why) of `head` merged with `later`, and with `keep` its merged state
    (saved_state) as it was before result()."""
    try:
        head.merge(later)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, not fatal
        return "error", describe_failure(exc), None
    state = saved_state(head) if keep else None
    try:
        return "blocks", list(head.result()), state
    except Exception as exc:  # noqa: BLE001
        return "error", describe_failure(exc), state


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


def _fork(job: Callable[[Callable[[], Any]], Iterator[Any]]) -> _Child:
    """Start `job` in a child: it yields what to send (each item pickled on its own, so that neither side
    holds more than one unpickled item of it) and is given a function that returns the next item this
    process hands it, None once it is done handing."""
    read_end, write_end = os.pipe()
    hand_read, hand_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the job, send the result, never return into the caller's code
        os.close(read_end)
        os.close(hand_write)
        status = 1
        try:
            with os.fdopen(write_end, "wb") as out, os.fdopen(hand_read, "rb") as handed:
                for item in job(lambda: _item(handed)):
                    _send(out, item)
                    out.flush()  # this process may be waiting for it before it hands anything
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    os.close(hand_read)
    return _Child(pid, os.fdopen(read_end, "rb"), os.fdopen(hand_write, "wb"))


def _send(out: BinaryIO, item: Any) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)


def _read(incoming: BinaryIO) -> bytes | None:
    size = incoming.read(8)
    if len(size) < 8:
        return None
    data = incoming.read(int.from_bytes(size, "little"))
    return data if len(data) == int.from_bytes(size, "little") else None


def _item(incoming: BinaryIO) -> Any:
    data = _read(incoming)
    return None if data is None else pickle.loads(data)  # noqa: S301 - from our own parent, a private pipe


class _Child:
    """The forked child, from this side: what it sends, what this process hands it, its exit."""

    def __init__(self, pid: int, incoming: BinaryIO, outgoing: BinaryIO) -> None:
        self.pid = pid
        self.incoming: BinaryIO | None = incoming
        self.outgoing: BinaryIO | None = outgoing
        self.outcomes: dict[int, tuple[str, Any]] = {}
        self.expected: set[int] = set()  # the consumers handed to it whose outcome is not taken yet
        self.failed = False

    def receive(self, count: int) -> list[bytes] | None:
        """Its first `count` items (the tail and the states), or None if it sent fewer."""
        items = []
        while len(items) < count and self.incoming is not None and (data := _read(self.incoming)) is not None:
            items.append(data)
        return items if len(items) == count else None

    def hand(self, item: Any) -> None:
        assert self.outgoing is not None
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.outgoing.write(len(data).to_bytes(8, "little"))
            self.outgoing.write(data)
        except OSError:  # it is gone: outcome() says so, and the work is done here
            self.failed = True

    def done_handing(self) -> None:
        if self.outgoing is not None:
            try:
                self.outgoing.close()
            except OSError:
                self.failed = True
            self.outgoing = None

    def outcome(self, index: int) -> tuple[str, Any] | None:
        """What it made of the consumer handed to it as `index`; None if it failed (then it is reaped)."""
        while index not in self.outcomes and not self.failed:
            data = None if self.incoming is None else _read(self.incoming)
            try:
                got, made = pickle.loads(data) if data is not None else (None, None)  # noqa: S301 - as above
            except Exception:  # noqa: BLE001 - whatever went wrong there, the rest is done here
                got = None
            if got is None:
                self.failed = True
                self.finish()
            else:
                self.outcomes[got] = made
        self.expected.discard(index)
        if not self.expected:
            self.finish()
        return self.outcomes.pop(index, None)

    def finish(self) -> bool:
        """Stop handing, read to the end and reap it; whether it exited well."""
        self.done_handing()
        if self.incoming is not None:
            while self.incoming.read(1 << 16):
                pass
            self.incoming.close()
            self.incoming = None
        if self.pid:
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
            self.failed = self.failed or status != 0
        return not self.failed
