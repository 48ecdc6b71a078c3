"""`gitobs plugins`: what is loaded, from which package and file, and what each provides."""

from __future__ import annotations

from rich.text import Text

from gitobs.cli.commands import say
from gitobs.core.safe_text import inert
from gitobs.replay import plugins as plugin_loader


def plugins() -> None:
    """List the plugins of the gitobs entry-point group: what each provides, its package, version and file."""
    provided = plugin_loader.load()
    width = max((len(inert(info.name)) for info in provided.plugins), default=0)
    for info in provided.plugins:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in (
            ("analyzers", info.analyzers), ("renderers", info.renderers), ("enrichers", info.enrichers)) if names)
        line = Text(inert(info.name).ljust(width), style="bold")
        line.append(inert(f"  {info.distribution} {info.version}".rstrip()))
        line.append(f"  {inert(provides or 'nothing')}")
        say(line)
        say(Text(" " * width + f"  from {inert(info.location or info.module)}", style="dim"))
        if info.error:
            say(Text(" " * width + f"  error: {inert(info.error)}", style="red"))
