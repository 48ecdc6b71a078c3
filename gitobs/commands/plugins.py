"""`gitobs plugins`: what is loaded, from which package and file, and what each provides."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from gitobs import plugins as plugin_loader
from gitobs.commands import console
from gitobs.safe_text import inert


def plugins() -> None:
    """List the loaded plugins: analyzers, renderers and enrichers, with their package, version and file."""
    provided = plugin_loader.load()
    table = Table("plugin", "package", "provides", "from", box=None, title_justify="left")
    for info in provided.plugins:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in (
            ("analyzers", info.analyzers), ("renderers", info.renderers), ("enrichers", info.enrichers)) if names)
        table.add_row(Text(inert(info.name)), Text(inert(f"{info.distribution} {info.version}".strip())),
                      Text(inert(provides or "nothing")),
                      Text(inert(info.location or info.module)))
        if info.error:
            table.add_row("", "", Text(inert(f"error: {info.error}"), style="red"), "")
    console.print(table)
