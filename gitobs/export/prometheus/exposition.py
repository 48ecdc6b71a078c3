"""The Prometheus text exposition format, version 0.0.4, written by hand (a page of code against a runtime
dependency): `# HELP` and `# TYPE` once per family, samples grouped under it, label values escaped,
histograms as cumulative `_bucket{le=...}` with `+Inf`, `_sum` and `_count`. No timestamps: node_exporter's
textfile collector refuses them, and a scrape is "now" anyway.

Also the textfile collector's file, written atomically: a temporary file in the same directory, renamed
over the target, so node_exporter never reads half a file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitobs.core.files import fsync_dir
from gitobs.core.repo import GitobsError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXTFILE_SUFFIX = ".prom"  # node_exporter reads only these

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str  # the family's name, or with _bucket, _sum or _count for a histogram
    labels: Labels
    value: float


@dataclass
class Family:
    name: str
    kind: str  # counter, gauge or histogram
    help: str
    samples: list[Sample] = field(default_factory=list)


def histogram(name: str, labels: Labels, bounds: Sequence[float], counts: Sequence[int], total: float
              ) -> list[Sample]:
    """A histogram's samples from its per-bucket counts (the last one beyond every bound, for +Inf)."""
    samples, running = [], 0
    for bound, count in zip([*bounds, math.inf], counts):
        running += count
        samples.append(Sample(f"{name}_bucket", (*labels, ("le", number(bound))), running))
    return [*samples, Sample(f"{name}_sum", labels, total), Sample(f"{name}_count", labels, running)]


def merged(groups: Iterable[list[Family]]) -> list[Family]:
    """Families of several sources as one list: each name once, in the order first seen, samples joined."""
    by_name: dict[str, Family] = {}
    for group in groups:
        for family in group:
            known = by_name.get(family.name)
            if known is None:
                by_name[family.name] = Family(family.name, family.kind, family.help, list(family.samples))
            else:
                known.samples.extend(family.samples)
    return list(by_name.values())


def render(families: Iterable[Family]) -> str:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(_sample_line(sample) for sample in family.samples)
    return "".join(line + "\n" for line in lines)


def _sample_line(sample: Sample) -> str:
    if not sample.labels:
        return f"{sample.name} {number(sample.value)}"
    labels = ",".join(f'{name}="{escape_label(value)}"' for name, value in sample.labels)
    return f"{sample.name}{{{labels}}} {number(sample.value)}"


def escape_label(value: str) -> str:
    """A label value as the format quotes it: backslash, double quote and newline escaped."""
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value  # nearly always: a scrape has thousands of label values
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    """Go's way (what Prometheus itself writes): 3, 0.25, 1e-06, +Inf, NaN."""
    if type(value) is int:
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def write_textfile(path: Path, text: str) -> None:
    """Replace `path` (which must end in .prom) with `text`, atomically: a temporary file beside it, which
    the collector ignores (its name does not end in .prom), synced, then renamed over it."""
    if path.suffix != TEXTFILE_SUFFIX:
        raise GitobsError(f"{path}: a node_exporter textfile's name must end in {TEXTFILE_SUFFIX}")
    if not path.parent.is_dir():
        raise GitobsError(f"{path.parent}: no such directory for the textfile")
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # 0644 before the umask: node_exporter usually runs as another user, and must read it
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with open(fd, "wb") as handle:
            handle.write(text.encode("utf-8", "replace"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
