"""The third-party example of docs/plugins.md, installed the way a user installs it, shows up in
`gitobs plugins` and as a section of `gitobs report`, with the right numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs

EXAMPLE = Path(__file__).parent.parent / "docs" / "example-plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example package pip-installed into a directory of its own (no network: setuptools is local)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True, capture_output=True, timeout=300)
    return target


def test_a_third_party_analyzer_installs_and_appears_in_the_report(installed, watched, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(installed))
    commit_file(watched, "a.py", "".join(f"{i}\n" for i in range(30)), "thirty lines")
    git(watched, "switch", "-q", "-c", "topic")
    commit_file(watched, "b.py", "x\n", "one line")
    commit_file(watched, "b.py", "x\ny\nz\n", "two more")

    listing = gitobs("plugins").stdout
    assert "commit_size" in listing and "gitobs-commit-size 0.1.0" in listing

    built = json.loads(gitobs("report", "-C", str(watched), "--format", "json", "--now", "2030-01-01").stdout)
    [section] = [s for s in built["sections"] if s["name"] == "commit_size"]
    assert section["plugin"] == "commit_size" and "error" not in section
    summary, by_branch = section["blocks"]
    # main: the README (1 line, committed before install, found in the reflog) and a.py (30); topic: 1 and 2
    assert summary["items"] == [["commits", 4, ""], ["median size", 1, "lines"], ["small commits", 3, ""],
                                ["large commits", 0, ""]]
    assert by_branch["rows"] == [["main", 2, 1, 30], ["topic", 2, 1, 2]]
    # the built-in sections render alongside it
    assert {"heatmap", "branches"} <= {s["name"] for s in built["sections"]}
