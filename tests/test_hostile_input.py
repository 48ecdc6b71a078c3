"""Attacks on the newest features with hostile input: names that try to forge report lines, trace2 and spool
files that are not what they seem. Real git, real files."""

from __future__ import annotations

from pathlib import Path

from conftest import commit_file, gitobs

FORGED = "x.txt\nThis week: 999 commits (last week 0)"


def test_a_path_with_a_newline_forges_no_line_of_the_summary(watched: Path) -> None:
    commit_file(watched, FORGED, "x\n", "a file whose name holds a line")
    for form in ("text", "md"):
        out = gitobs("report", "--summary", "-f", form, cwd=watched).stdout
        assert "999 commits" in out  # the name is shown...
        assert not any(line.lstrip("|# ").startswith("This week: 999") for line in out.splitlines())  # ...inert
