"""Freed memory kept for reuse while a replay runs (glibc; elsewhere nothing changes).

A replay inflates a frame of a few MiB, decodes it and lets both go, hundreds of times. glibc serves a block
over its mmap threshold (128 KiB at first, moving up as such blocks are freed) with a fresh mapping, and
gives the top of its heap back to the kernel once more than its trim threshold is free there, so each
frame's memory was faulted in again page by page: 120,000 page faults in a cold report of the 1M-event
benchmark log, 18,000 with both thresholds raised to 32 MiB (the largest mmap threshold every 64-bit glibc
accepts). The cost: up to that much freed memory stays with the process until it exits.
"""

from __future__ import annotations

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 32 << 20

_done = False


def keep_freed_memory() -> None:
    """Raise glibc's mmap and trim thresholds to KEEP_BYTES, once per process; a no-op without glibc's
    mallopt (macOS, Windows, no ctypes; musl's does nothing)."""
    global _done
    if _done:
        return
    _done = True
    try:
        import ctypes  # here: a Python built without libffi has none, and a replay must still run
        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError, TypeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)
    mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
