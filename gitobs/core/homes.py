"""Where gitobs keeps what is the user's, not a repository's: each home is $GITOBS_<KIND>_HOME, else
$XDG_<KIND>_HOME/gitobs (an absolute one: the XDG spec says a relative one is ignored), else its XDG default.

- config: config.toml, the user scope of gitobs/core/config.py (~/.config/gitobs);
- data: repos.json, the registry of installed repositories (~/.local/share/gitobs);
- state: git's trace2 directory and its lock (~/.local/state/gitobs);
- cache: what can be made again, the report cache of bundles (~/.cache/gitobs).
"""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULTS = {"config": (".config",), "data": (".local", "share"), "state": (".local", "state"), "cache": (".cache",)}


def home(kind: str) -> Path:
    explicit = os.environ.get(f"GITOBS_{kind.upper()}_HOME")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get(f"XDG_{kind.upper()}_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home().joinpath(*_DEFAULTS[kind])) / "gitobs"


def data_home() -> Path:
    return home("data")


def state_home() -> Path:
    return home("state")


def cache_home() -> Path:
    return home("cache")
