"""Small, deterministic statistics for analyzers: percentiles, bounded counters, top-K with the rest."""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

import msgspec

RESERVOIR_SIZE = 200_000
Number = int | float  # kept as it came: an int stays an int (its rendering differs from a float's)


class ReservoirState(msgspec.Struct, array_like=True):
    """A Reservoir as the report cache keeps it (Reservoir.save, Reservoir.load)."""

    capacity: int
    values: list[Number]
    beyond: int = 0
    dropped_max: Number | None = None
    rng: list[int] | None = None  # the sampler's Mersenne Twister state, once it has sampled


class SketchState(msgspec.Struct, array_like=True):
    """A QuantileSketch as the report cache keeps it."""

    bins: dict[int, int]
    zeros: int
    count: int
    max: Number | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when there are none. No interpolation, so
    the answer is always a value that was seen."""
    return _ranked(sorted(values), q)


def _ranked(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def micros(seconds: float) -> int:
    """Seconds as whole microseconds, for sums: integers add up to the same total in any order and in any
    number of parts (float sums do not), so a report merged from two processes matches one made in one."""
    return round(seconds * 1_000_000)


def seconds_of(total_micros: int) -> float:
    return total_micros / 1_000_000


def top_k(counts: dict[str, float], k: int) -> tuple[list[tuple[str, float]], float]:
    """The k largest entries (ties broken by key, so the choice is stable) and the sum of the rest."""
    top = heapq.nsmallest(k, counts.items(), key=lambda item: (-item[1], item[0]))
    return top, sum(counts.values()) - sum(value for _, value in top)


def add_counts(into: dict, other: dict) -> None:
    """Add `other`'s numbers to `into`, key by key (merging two analyzers' counters)."""
    for key, value in other.items():
        into[key] = into.get(key, 0) + value


def add_rows(into: dict, other: dict) -> None:
    """Add `other`'s rows (lists of numbers) to `into`'s, column by column; a row `into` lacks is taken."""
    for key, row in other.items():
        mine = into.get(key)
        if mine is None:
            into[key] = row
        else:
            for index, value in enumerate(row):
                mine[index] += value


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


class Reservoir:
    """Values kept for percentiles in bounded memory. Exact up to `capacity` values; beyond that a uniform
    sample (reservoir sampling, algorithm R) drawn with random.Random(0), so the same stream always keeps the
    same sample and gives the same percentiles. `count` and `max` stay exact. Which value a draw replaces
    depends on the order of those kept, so they are sorted when sampling starts: before that their order
    counts for nothing, and a state saved sorted (save) loads sorted, which quantile() then sorts in one pass."""

    __slots__ = ("_rng", "beyond", "capacity", "dropped_max", "values")

    def __init__(self, capacity: int = RESERVOIR_SIZE) -> None:
        self.capacity = capacity
        self.values: list[float] = []
        self.beyond = 0  # values offered once full
        self.dropped_max: float | None = None  # the largest value sampling has let go
        self._rng = random.Random(0)

    def add(self, value: float) -> None:
        if len(self.values) < self.capacity:  # the common case: one append
            self.values.append(value)
        else:
            self._sample(value)

    def _sample(self, value: float) -> None:
        if not self.beyond:  # the first draw: from one order, however the values came (see the class)
            self.values.sort()
        self.beyond += 1
        slot = self._rng.randrange(self.capacity + self.beyond)
        if slot < self.capacity:
            value, self.values[slot] = self.values[slot], value
        if self.dropped_max is None or value > self.dropped_max:
            self.dropped_max = value

    @property
    def count(self) -> int:
        return len(self.values) + self.beyond

    @property
    def max(self) -> float | None:
        found = [v for v in (max(self.values, default=None), self.dropped_max) if v is not None]
        return max(found, default=None)

    def extend(self, other: Reservoir) -> None:
        """Fold another reservoir's kept values in (exact when neither was sampled down)."""
        room = max(0, self.capacity - len(self.values))
        self.values.extend(other.values[:room])  # in C: what add() would append one by one
        for value in other.values[room:]:
            self._sample(value)
        self.beyond += other.beyond
        if other.dropped_max is not None and (self.dropped_max is None or other.dropped_max > self.dropped_max):
            self.dropped_max = other.dropped_max

    def save(self) -> ReservoirState:
        """Its state for the report cache: loaded, it samples on exactly as this one would."""
        rng = None
        if self.beyond:
            version, internal, gauss = self._rng.getstate()
            rng = [version, *internal] if gauss is None else None
            if rng is None:  # never: randrange draws no gauss; kept exact all the same by not caching
                raise ValueError("a reservoir sampler with a pending gauss value")
        if not self.beyond:
            self.values.sort()  # their order counts only once sampling starts
        return ReservoirState(self.capacity, list(self.values), self.beyond, self.dropped_max, rng)

    @classmethod
    def load(cls, state: ReservoirState) -> Reservoir:
        reservoir = cls(state.capacity)
        reservoir.values, reservoir.beyond, reservoir.dropped_max = state.values, state.beyond, state.dropped_max
        if state.rng is not None:
            reservoir._rng.setstate((state.rng[0], tuple(state.rng[1:]), None))
        return reservoir

    def quantile(self, q: float) -> float | None:
        self.values.sort()  # in place: a report asks several quantiles of one reservoir; sorted, a sort is one pass
        return _ranked(self.values, q)


class QuantileSketch:
    """Quantiles in bounded memory that merge exactly (DDSketch's log-spaced buckets): a quantile it
    returns is within RELATIVE_ERROR of the value of that rank, whatever was added and merged in what
    order. The count and the max stay exact; values below MIN_VALUE share one bucket (about zero)."""

    RELATIVE_ERROR = 0.01
    MIN_VALUE = 1e-6
    _GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
    _LOG_GAMMA = math.log(_GAMMA)

    __slots__ = ("bins", "count", "max", "zeros")

    @classmethod
    def from_stored(cls, stored) -> QuantileSketch:
        """A sketch as a rollup stored it (schema.Sketch)."""
        sketch = cls()
        sketch.bins, sketch.zeros, sketch.count, sketch.max = dict(stored.bins), stored.zeros, stored.count, stored.max
        return sketch

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.zeros = 0
        self.count = 0
        self.max: float | None = None

    def save(self) -> SketchState:
        return SketchState(dict(self.bins), self.zeros, self.count, self.max)

    @classmethod
    def load(cls, state: SketchState) -> QuantileSketch:
        return cls.from_stored(state)

    def add(self, value: float) -> None:
        self.count += 1
        if self.max is None or value > self.max:
            self.max = value
        if value < self.MIN_VALUE:
            self.zeros += 1
            return
        index = math.ceil(math.log(value) / self._LOG_GAMMA)
        self.bins[index] = self.bins.get(index, 0) + 1

    def merge(self, other: QuantileSketch) -> None:
        add_counts(self.bins, other.bins)
        self.zeros += other.zeros
        self.count += other.count
        if other.max is not None and (self.max is None or other.max > self.max):
            self.max = other.max

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-th percentile, within RELATIVE_ERROR (the max itself at the top rank)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q / 100 * self.count))
        if rank >= self.count:
            return self.max
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return min(2 * self._GAMMA ** index / (self._GAMMA + 1), self.max)
        return self.max
