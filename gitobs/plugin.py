"""The one module a plugin author imports: `from gitobs.plugin import hookimpl, Analyzer, Facts`.

Everything an analyzer, enricher or renderer needs is here: the `hookimpl` marker, the base classes and the
report context, the section blocks a report is made of, the statistics helpers the built-in analyzers use,
and the few names of the log and of text that plugins meet. The built-in plugins in `plugins/` use only this
module, as a third-party one would; docs/plugins.md shows a whole plugin. The rest of gitobs is internal.
"""

from gitobs.core.repo import GitobsError
from gitobs.core.safe_text import inert
from gitobs.log.schema import HESITATION_COUNTS, IMPORTED, ROLLUP, day_start
from gitobs.replay.analysis import (
    DAY_S,
    Analyzer,
    Context,
    Enricher,
    Renderer,
    utc_text,
)
from gitobs.replay.hookspecs import hookimpl
from gitobs.replay.sections import (
    REPORT_FORMAT,
    AnyBlock,
    Block,
    Calendar,
    Cell,
    Fact,
    Facts,
    Grid,
    Note,
    Report,
    Section,
    Table,
    Window,
    encode_json,
)
from gitobs.replay.stats import (
    BoundedCounter,
    QuantileSketch,
    Reservoir,
    ReservoirState,
    SketchState,
    add_counts,
    add_rows,
    micros,
    percentile,
    rounded,
    seconds_of,
    top_k,
)

__all__ = [
    # plugging in
    "hookimpl", "Analyzer", "Enricher", "Renderer", "Context", "GitobsError",
    # a report's parts
    "Report", "Section", "Window", "Block", "AnyBlock", "Cell", "Fact", "Facts", "Table", "Grid", "Calendar",
    "Note", "encode_json", "REPORT_FORMAT",
    # statistics
    "percentile", "rounded", "micros", "seconds_of", "top_k", "add_counts", "add_rows", "BoundedCounter",
    "Reservoir", "QuantileSketch", "ReservoirState", "SketchState",
    # time, text and the log
    "DAY_S", "utc_text", "inert", "ROLLUP", "IMPORTED", "HESITATION_COUNTS", "day_start",
]
