"""Two cores for one report: the analyzers are split into two groups and a forked child replays the log for
one group while this process replays it for the other.

Each analyzer still sees all of its events, in order, in one process, so its section is the same as in a
serial run; only the decoding (most of the cost) is split, since each process decodes just its group's
types. The child sends its sections back as msgpack. If it fails in any way, its group is replayed here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec

from gitobs import schema
from gitobs.replay import Consumer, matches
from gitobs.sections import Section

# Below this much log on disk a fork costs more than it saves.
MIN_LOG_BYTES = 4 << 20
Item = TypeVar("Item")


def _weight(consumer: Consumer) -> int:
    """A rough cost: a typed payload costs more to decode than an envelope, a file list more again."""
    total = 0
    for event_type, payload in schema.PAYLOADS.items():
        if not matches(event_type, consumer.consumes):
            continue
        if not consumer.reads_payload(event_type):
            total += 1
        else:
            total += 8 if "files" in payload.__struct_fields__ else 3
    return total


def split(items: Sequence[Item], consumer_of: Callable[[Item], Consumer]) -> list[list[Item]]:
    """Two groups of about equal weight (largest first, each to the lighter group), each in report order."""
    groups: list[list[Item]] = [[], []]
    loads = [0, 0]
    for item in sorted(items, key=lambda i: -_weight(consumer_of(i))):
        lighter = loads.index(min(loads))
        groups[lighter].append(item)
        loads[lighter] += _weight(consumer_of(item))
    order = {id(item): index for index, item in enumerate(items)}
    return [sorted(group, key=lambda i: order[id(i)]) for group in groups if group]


def run_forked(job: Callable[[], tuple[int, list[Section], list[str]]]) -> Callable[[], tuple | None]:
    """Start `job` in a child; the returned function waits for its (count, sections, warnings), or None."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the job, send the result, never return into the caller's code
        os.close(read_end)
        status = 1
        try:
            data = msgspec.msgpack.encode(job())
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def wait() -> tuple | None:
        with os.fdopen(read_end, "rb") as incoming:
            data = incoming.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            return None
        try:
            return msgspec.msgpack.decode(data, type=tuple[int, list[Section], list[str]])
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None

    return wait


def can_fork(log_bytes: int) -> bool:
    return hasattr(os, "fork") and log_bytes >= MIN_LOG_BYTES
