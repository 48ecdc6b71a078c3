"""Bidirectional controls, line separators and invisible characters in names are shown as escapes, like the
other control characters: `rtl<U+202E>gnp.exe` must not read as `rtlexe.png`, a U+2028 split a one-line
output, nor `ma<U+200B>in` pass for `main`."""

from __future__ import annotations

import json

import pytest
from conftest import commit_file, git, gitobs

from gitobs.core.safe_text import inert

REORDERING = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
              "\u200e", "\u200f", "\u061c", "\u2028", "\u2029")
BRANCH = "rtl\u202egnp.exe"
PATH = "dir\u2066/a\u2028b\u200f.txt"


def test_inert_escapes_every_reordering_character():
    for char in REORDERING:
        assert inert(f"a{char}b") == f"a\\u{ord(char):04x}b"
    assert inert("feat/ünïcode-\u200d👩\u200d💻") == "feat/ünïcode-\u200d👩\u200d💻"  # joiners do not reorder


INVISIBLE = ("\u200b", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\ufeff")


def test_inert_escapes_characters_that_show_as_nothing():
    for char in INVISIBLE:
        assert inert(f"ma{char}in") == f"ma\\u{ord(char):04x}in"
    assert inert("ma\xadin") == "ma\\xadin"  # the soft hyphen, shown only where a line breaks
    assert inert("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ: Persian


def test_a_branch_with_a_zero_width_space_does_not_pass_for_another(watched):
    git(watched, "switch", "-q", "-c", "ma\u200bin")
    out = gitobs("events", cwd=watched).stdout
    assert "\u200b" not in out and "main -> ma\\u200bin" in out


def shows_none_raw(text: str) -> bool:
    return not any(char in text for char in REORDERING)


@pytest.fixture
def hostile(watched):
    git(watched, "switch", "-q", "-c", BRANCH)
    commit_file(watched, PATH, "x\n", "hostile names")
    git(watched, "switch", "-q", "main")  # a branch left shows in the branches section
    return watched


def test_events_show_bidi_controls_as_escapes(hostile):
    out = gitobs("events", cwd=hostile).stdout
    assert shows_none_raw(out)
    assert "main -> rtl\\u202egnp.exe" in out and "on rtl\\u202egnp.exe:" in out
    lines = gitobs("events", "--no-scan", "--format", "jsonl", cwd=hostile).stdout.splitlines()
    switch = [json.loads(line) for line in lines if '"branch.switch"' in line][0]
    assert switch["data"]["to"] == BRANCH  # JSON keeps the name as it is: a reader decodes it


@pytest.mark.parametrize("output_format", ["text", "md", "html"])
def test_reports_show_bidi_controls_as_escapes(hostile, tmp_path, output_format):
    out = tmp_path / f"report.{output_format}"
    gitobs("report", "-C", str(hostile), "--heatmap", "--branches", "--format", output_format, "-o", str(out))
    text = out.read_text(encoding="utf-8")
    assert shows_none_raw(text)
    assert "\\u202e" in text and "\\u2066" in text and "\\u2028" in text
