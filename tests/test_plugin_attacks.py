"""A repository's working tree against gitobs's plugin loading: nothing it ships is declared as a plugin or
imported, however gitobs is started inside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _plant(tree: Path) -> None:
    """A plugin declared by a `.dist-info` in the tree, and a package shadowing the built-in plugins'; each
    leaves a marker file when imported."""
    meta = tree / "planted-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: planted\nVersion: 1.0\n")
    (meta / "entry_points.txt").write_text("[gitobs]\nplanted = planted_plugin\n")
    (tree / "planted_plugin.py").write_text("open('RAN-planted', 'w').close()\n")
    (tree / "gitobs_plugins").mkdir()
    (tree / "gitobs_plugins" / "__init__.py").write_text("open('RAN-shadow', 'w').close()\n")


def test_python_m_gitobs_inside_a_repository_loads_nothing_it_ships(repo):
    _plant(repo)
    listing = subprocess.run([sys.executable, "-m", "gitobs", "plugins"], cwd=repo, capture_output=True,
                             text=True, check=True).stdout
    assert "summary" in listing and "planted" not in listing
    assert sorted(p.name for p in repo.glob("RAN-*")) == []
