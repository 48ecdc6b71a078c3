"""Small, deterministic statistics for analyzers: percentiles, bounded counters, top-K with the rest."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when there are none. No interpolation, so
    the answer is always a value that was seen."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def top_k(counts: dict[str, float], k: int) -> tuple[list[tuple[str, float]], float]:
    """The k largest entries (ties broken by key, so the choice is stable) and the sum of the rest."""
    top = heapq.nsmallest(k, counts.items(), key=lambda item: (-item[1], item[0]))
    return top, sum(counts.values()) - sum(value for _, value in top)


class BoundedCounter:
    """Counts per key with at most `capacity` keys held: when full, the smallest half is folded into
    `other` (the exact total is kept), so a log with millions of paths stays in bounded memory.
    Which keys survive is decided by the counts alone, so it is deterministic for a given stream."""

    def __init__(self, capacity: int = 20000) -> None:
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self.other = 0.0
        self.total = 0.0

    def add(self, key: str, amount: float = 1) -> None:
        self.counts[key] += amount
        self.total += amount
        if len(self.counts) > self.capacity:
            self._fold()

    def update(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.add(key)

    def _fold(self) -> None:
        keep = dict(heapq.nsmallest(self.capacity // 2, self.counts.items(), key=lambda item: (-item[1], item[0])))
        self.other += sum(value for key, value in self.counts.items() if key not in keep)
        self.counts = Counter(keep)
