"""The plugin API: what a gitobs plugin can provide. These docstrings are the reference; docs/plugins.md
shows a whole plugin.

A plugin is a module (or object) with functions marked `@hookimpl`, registered through the `gitobs`
entry-point group:

    [project.entry-points.gitobs]
    myplugin = "my_package.my_module"

The built-in analyzers and renderers in `plugins/` are registered the same way; they have no private door.
Each hook returns a list of classes (analyzers, enrichers) or instances (renderers); `gitobs plugins` lists
what each plugin provided.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("gitobs")
hookimpl = pluggy.HookimplMarker("gitobs")


@hookspec
def gitobs_analyzers() -> list[type]:
    """Analyzer classes (subclasses of `gitobs.replay.analysis.Analyzer`).

    One instance is made per report, with the report's `Context`. Replay calls its `feed(events)` with
    batches of the event types named in its `consumes` (thousands at a time, in log order), then calls
    `result()` once for the section's blocks (`gitobs.replay.sections`). `name` must be unique: it is the
    section's key in the JSON report and the `--only` name.
    """


@hookspec
def gitobs_enrichers() -> list[type]:
    """Enricher classes (subclasses of `gitobs.replay.analysis.Enricher`).

    Made once per replay like analyzers and run on each batch before any analyzer sees it. `enrich(events)`
    returns the batch to hand on: the same events, some changed, or with new events of the plugin's own
    `x.<plugin>.<name>` types added (for example a session id, or a label derived from a branch name).
    """


@hookspec
def gitobs_renderers() -> list[object]:
    """Renderer instances (subclasses of `gitobs.replay.analysis.Renderer`) for `gitobs report --format NAME`.

    `render(report, color)` returns the whole document as text. A renderer must show names from the log
    (branches, paths) as data: escaped for its format, never interpreted as markup or terminal control.
    """
