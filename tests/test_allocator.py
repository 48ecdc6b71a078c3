"""gitobs/core/allocator.py: with glibc, the frames a replay inflates and lets go are reused, not faulted in
again page by page."""

from __future__ import annotations

import platform
import random
import subprocess
import sys

import pytest

from gitobs.log.eventlog import EventLog

# Page faults taken while reading every frame of the log, with or without keep_freed_memory() first.
PROBE = """
import resource, sys
from pathlib import Path
from gitobs.core.allocator import keep_freed_memory
from gitobs.log.eventlog import EventLog

if sys.argv[2] == "keep":
    keep_freed_memory()
    keep_freed_memory()  # once is enough: a second call changes nothing
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
lines = sum(len(frame) for frame in EventLog(Path(sys.argv[1])).iter_frames())
print(lines, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(log_dir, mode: str) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-I", "-c", PROBE, str(log_dir), mode], capture_output=True, text=True,
                          cwd="/", check=True)
    lines, faults = map(int, done.stdout.split())
    return lines, faults


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt is what is tuned")
def test_inflated_frames_are_reused_not_faulted_in_again(tmp_path):
    rng = random.Random(1)
    log = EventLog(tmp_path, sealed_level=1)  # sealing as fast as it goes: the reading is measured
    for frame in range(12):  # frames of about 1 MiB inflated, as a sealed segment holds
        log.append([(f'{{"v":1,"seq":{frame * 6000 + i},"id":"{rng.getrandbits(64):016x}",'
                     f'"ts":"2026-01-01T00:00:00.000Z","type":"x.t.e","data":{{"p":"{"a/b" * rng.randint(10, 80)}"}}}}'
                     ).encode() for i in range(6000)])
    plain_lines, plain = _faults(tmp_path, "plain")
    kept_lines, kept = _faults(tmp_path, "keep")
    assert plain_lines == kept_lines == 72000
    assert kept < plain * 0.6  # measured: 9,250 and 3,380


def test_without_ctypes_a_replay_still_runs(tmp_path):
    """A Python built without ctypes (no libffi): nothing to tune, and nothing fails."""
    log = EventLog(tmp_path)
    log.append([b'{"v":1,"seq":1,"id":"a","ts":"2026-01-01T00:00:00.000Z","type":"x.t.e","data":{}}'])
    code = ("import sys\nsys.modules['ctypes'] = None  # what `import ctypes` meets without _ctypes\n"
            "from pathlib import Path\nfrom gitobs.core.allocator import keep_freed_memory\n"
            "from gitobs.log.eventlog import EventLog\nfrom gitobs.log.read import EventFilter\n"
            "from gitobs.replay.engine import replay\nkeep_freed_memory()\n"
            "counts = replay(EventLog(Path(sys.argv[1])), [], [], EventFilter(), print)\nprint('replayed')")
    done = subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path)], capture_output=True, text=True, cwd="/")
    assert (done.returncode, done.stdout.strip()) == (0, "replayed"), done.stderr
