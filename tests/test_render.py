"""The built-in renderers (text, md; html where it shares their rules): every block kind, failed sections,
hostile names. The HTML page itself: tests/test_html_dashboard.py."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from conftest import commit_file, git, gitobs
from gitobs_plugins.render_html import HtmlRenderer
from gitobs_plugins.render_markdown import MarkdownRenderer
from gitobs_plugins.render_text import TextRenderer
from gitobs_plugins.report_layout import heat_level, place_labels

from gitobs.replay import plugins
from gitobs.replay.sections import (
    Calendar,
    Fact,
    Facts,
    Grid,
    Note,
    Report,
    Section,
    Table,
    Window,
)

HOSTILE = ["\x1b[31mred", "\x1b]8;;http://evil\x07x", "[bold]x[/bold]", "<script>alert(1)</script>", "a|b"]
INERT = ["\\x1b[31mred", "\\x1b]8;;http://evil\\x07x", "[bold]x[/bold]", "<script>alert(1)</script>", "a|b"]
EVENTS = "42 (with gitobs's own scan records, which gitobs scan does not count)"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own styling, the only escapes allowed in coloured output


def sample(**window: str) -> Report:
    """One of each block kind, a failed section between two good ones, and a warning."""
    blocks = [
        Facts(id="totals", title="Totals", items=[Fact("commits", 12, "commits"), Fact("median gap", 1.5, "s"),
                                                  Fact("unknown", None)]),
        Table(id="by_file", title="By file", columns=["path", "commits", "share"],
              rows=[["src/a.py", 7, 0.583], ["docs/b.md", 5, 0.4]], total_rows=3),
        Grid(id="punchcard", title="Hours", row_labels=["Mon", "Tue"], column_labels=["9", "10", "11", "12"],
             cells=[[0, 1, 3, 5], [8, 0, 0, 2]], unit="commits"),
        # 2026-10-26 is a Monday; 17 days: two full weeks and three days.
        Calendar(id="days", title="Days", first_day="2026-10-26",
                 counts=[0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 0, 0, 0, 0, 0, 2], unit="commits"),
        Note(id="hint", title="Hint", text="two\nlines"),
    ]
    return Report(now="2026-11-30T00:00:00Z", utc_offset="+01:00", window=Window(**window), events=42,
                  sections=[Section(name="demo", title="Demo", blocks=blocks),
                            Section(name="broken", title="Broken", error="ValueError: boom"),
                            Section(name="after", title="After", blocks=[Note(id="tail", text="still here")])],
                  warnings=["analyzer 'broken' failed"])


def hostile() -> Report:
    """Every place a name from the log can reach, filled with escapes, markup and HTML."""
    blocks = [
        Facts(id="facts", items=[Fact(HOSTILE[0], HOSTILE[4], HOSTILE[2])]),
        Table(id="names", title=HOSTILE[3], columns=["name", HOSTILE[4]], rows=[[name, 1] for name in HOSTILE]),
        Grid(id="grid", row_labels=HOSTILE, column_labels=[HOSTILE[2]], cells=[[1.0]] * len(HOSTILE)),
        Note(id="note", text="\n".join(HOSTILE)),
    ]
    return Report(now="2026-11-30T00:00:00Z", utc_offset="+00:00",
                  window=Window(branch=HOSTILE[1], path=HOSTILE[0]), events=1,
                  sections=[Section(name="names", title=HOSTILE[2], blocks=blocks),
                            Section(name="bad", title=HOSTILE[3], error=HOSTILE[1])],
                  warnings=HOSTILE)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


# ---- shared arithmetic ----------------------------------------------------------------------------------

def test_heat_levels_scale_to_the_max_and_any_activity_shows():
    assert [heat_level(v, 8) for v in (0, 0.01, 1, 2, 3, 4, 5, 6, 7, 8, 9)] == [0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    assert heat_level(3, 0) == 0 and heat_level(-1, 8) == 0


def test_axis_labels_that_would_overlap_give_way_to_later_ones():
    assert place_labels([(0, "Oct"), (2, "Nov"), (10, "Dec")], 14) == [(2, "Nov"), (10, "Dec")]
    assert place_labels([(0, "9"), (2, "10"), (4, "11"), (6, "12")], 8) == [(0, "9"), (2, "10"), (6, "12")]


def test_the_renderers_are_registered_under_their_format_names():
    renderers = plugins.load().renderers
    assert {name: (type(r).__name__, r.suffix) for name, (r, _) in renderers.items()
            if name in ("text", "md", "html")} == {"text": ("TextRenderer", ".txt"),
                                                  "md": ("MarkdownRenderer", ".md"),
                                                  "html": ("HtmlRenderer", ".html")}


# ---- text -----------------------------------------------------------------------------------------------

def test_text_without_colour_is_plain():
    out = TextRenderer().render(sample(since="2026-11-01T00:00:00Z", branch="main"), color=False)
    assert "\x1b" not in out
    got = lines(out)
    assert got[:5] == ["gitobs report", "  now          2026-11-30T00:00:00Z", "  local times  UTC+01:00",
                       "  window       since 2026-11-01T00:00:00Z, branch main", f"  events       {EVENTS}"]
    assert ["  commits     12", "  median gap  1.5 s", "  unknown     -"] == got[got.index("Totals") + 1:][:3]


def test_text_table_rows_in_order_with_numbers_right_aligned():
    got = lines(TextRenderer().render(sample(), color=False))
    start = got.index("By file")
    header, rule, first, second, shown = got[start + 1:start + 6]
    assert header.split() == ["path", "commits", "share"]
    assert set(rule.strip()) == {"─"}
    assert first.split() == ["src/a.py", "7", "0.583"] and second.split() == ["docs/b.md", "5", "0.4"]
    assert first.index("7") + 1 == header.index("commits") + len("commits")  # right-aligned under its header
    assert shown == "showing 2 of 3 rows"


def test_text_grid_and_calendar_as_heat_characters():
    got = lines(TextRenderer().render(sample(), color=False))
    grid = got.index("Hours")
    # cells widen to fit their column labels, with a blank column between neighbours
    assert got[grid + 1:grid + 5] == ["    9  10 11 12",
                                      "Mon ·· ░░ ▒▒ ▓▓",
                                      "Tue ██ ·· ·· ░░",
                                      "less ·░▒▓█ more   max 8 commits"]
    days = got.index("Days")
    assert got[days + 1:days + 10] == [
        "      Nov",  # the partial October week gives its label to November
        "Mon ··██··",
        "Tue ░░····",
        "Wed ░░··░░",
        "Thu ▒▒··",
        "Fri ▒▒··",
        "Sat ▓▓··",
        "Sun ▓▓··",
        "less ·░▒▓█ more   total 31 commits on 8 of 17 days; busiest 2026-11-02 (8 commits)"]


def test_text_wide_calendar_wraps_into_bands_and_drops_no_week():
    calendar = Calendar(id="year", first_day="2024-01-01", counts=[1] * (120 * 7))
    report = Report(now="x", utc_offset="+00:00", window=Window(), events=0,
                    sections=[Section(name="s", title="S", blocks=[calendar])])
    got = lines(TextRenderer().render(report, color=False))
    mondays = [line for line in got if line.startswith("Mon ")]
    # 100 columns: 4 for the label, 96 one-character weeks a band; the first band holds the 24 oldest
    assert mondays == ["Mon " + "█" * 24, "Mon " + "█" * 96]
    assert "120 weeks in 2 bands, oldest first: the latest is at the right end of the last" in got


def test_text_failed_section_notes_and_warnings():
    got = lines(TextRenderer().render(sample(), color=False))
    assert got[got.index("Hint") + 1:][:2] == ["two", "lines"]
    assert "failed: ValueError: boom" in got
    assert got.index("failed: ValueError: boom") < got.index("still here")  # later sections still render
    assert got[-2:] == ["warnings", "- analyzer 'broken' failed"]


def test_text_with_colour_uses_background_cells(monkeypatch):
    monkeypatch.setenv("COLORTERM", "truecolor")
    out = TextRenderer().render(sample(), color=True)
    mon = next(line for line in out.splitlines() if "Mon" in line and "48;2;" in line)
    # levels 0..3 of the punchcard's Monday: GitHub's dark ramp as 24-bit backgrounds
    assert re.findall(r"48;2;(\d+;\d+;\d+)m", mon) == ["45;51;59", "14;68;41", "0;109;50", "38;166;65"]
    assert "·" not in mon and "░" not in mon


def test_text_on_a_16_colour_terminal_draws_characters(monkeypatch):
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TERM", "xterm")  # 16 colours: too few for a ramp of backgrounds
    visible = lines(SGR.sub("", TextRenderer().render(sample(), color=True)))
    assert "Mon ·· ░░ ▒▒ ▓▓" in visible


@pytest.mark.parametrize("renderer", [TextRenderer(), MarkdownRenderer(), HtmlRenderer()], ids=lambda r: r.format)
def test_a_block_that_cannot_be_drawn_fails_alone(renderer):
    bad = Calendar(id="bad", first_day="someday", counts=[1])
    report = Report(now="x", utc_offset="+00:00", window=Window(), events=0,
                    sections=[Section(name="s", title="S", blocks=[bad, Note(id="n", text="after the bad one")])])
    out = renderer.render(report, color=False)
    assert "could not be drawn: ValueError: Invalid isoformat string:" in out
    assert out.index("could not be drawn") < out.index("after the bad one")


@pytest.mark.parametrize("color", [False, True])
def test_text_shows_hostile_names_inert(color, monkeypatch):
    monkeypatch.setenv("COLORTERM", "truecolor")
    out = TextRenderer().render(hostile(), color=color)
    assert "\x1b[31mred" not in out and "\x1b]" not in out and "\x07" not in out
    visible = SGR.sub("", out)
    assert "\x1b" not in visible  # every escape in the output is rich's own styling
    for name in INERT:
        assert name in visible, name
    assert "  window       path \\x1b[31mred, branch \\x1b]8;;http://evil\\x07x" in lines(visible)
    assert "failed: \\x1b]8;;http://evil\\x07x" in lines(visible)


# ---- markdown -------------------------------------------------------------------------------------------

def test_markdown_document():
    got = lines(MarkdownRenderer().render(sample(since="2026-11-01T00:00:00Z"), color=False))
    assert got[:6] == ["# gitobs report", "", "- **now:** 2026-11-30T00:00:00Z", "- **local times:** UTC+01:00",
                       "- **window:** since 2026-11-01T00:00:00Z", f"- **events:** {EVENTS}"]
    totals = got.index("### Totals")
    assert got[totals + 2:totals + 5] == ["- commits: 12", "- median gap: 1.5 s", "- unknown: -"]
    table = got.index("### By file")
    assert got[table + 2:table + 8] == ["| path | commits | share |", "| --- | ---: | ---: |",
                                        "| src/a.py | 7 | 0.583 |", "| docs/b.md | 5 | 0.4 |", "",
                                        "_showing 2 of 3 rows_"]
    grid = got.index("### Hours")
    assert got[grid + 2:grid + 8] == ["|  | 9 | 10 | 11 | 12 |", "| --- | ---: | ---: | ---: | ---: |",
                                      "| Mon | 0 | 1 | 3 | 5 |", "| Tue | 8 | 0 | 0 | 2 |", "", "_max 8 commits_"]
    days = got.index("### Days")
    assert got[days + 2:days + 9] == [
        "| week of | Mon | Tue | Wed | Thu | Fri | Sat | Sun | total |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 2026-10-26 | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 21 |",
        "| 2026-11-02 | 8 | 0 | 0 | 0 | 0 | 0 | 0 | 8 |",
        "| 2026-11-09 | 0 | 0 | 2 |  |  |  |  | 2 |", "",
        "_total 31 commits on 8 of 17 days; busiest 2026-11-02 (8 commits)_"]
    hint = got.index("### Hint")
    assert got[hint + 2:hint + 4] == ["two", "lines"]
    assert "two  \nlines" in MarkdownRenderer().render(sample(), color=False)  # a hard line break
    assert got[got.index("## Broken"):got.index("## Broken") + 3] == ["## Broken", "", "**failed:** ValueError: boom"]
    assert got[got.index("## After") + 2] == "still here"
    assert got[-3:] == ["## Warnings", "", "- analyzer 'broken' failed"]


def test_markdown_escapes_what_would_be_markup():
    from gitobs_plugins.render_markdown import md_text
    assert md_text("`code` *em* _u_ ~s~ &lt; \\ [l](x)\n") == \
        "\\`code\\` \\*em\\* \\_u\\_ \\~s\\~ &amp;lt; \\\\ \\[l\\](x)\\\\x0a"
    assert [md_text(t) for t in ("- item", "# h", "1. x", "  + y")] == ["\\- item", "\\# h", "1\\. x", "  \\+ y"]


def test_markdown_shows_hostile_names_inert():
    out = MarkdownRenderer().render(hostile(), color=False)
    assert "\x1b" not in out and "\x07" not in out
    got = lines(out)
    table = got.index("### &lt;script&gt;alert(1)&lt;/script&gt;")
    assert got[table + 2:table + 9] == ["| name | a\\|b |", "| --- | ---: |",
                                        "| \\\\x1b\\[31mred | 1 |",
                                        "| \\\\x1b\\]8;;http://evil\\\\x07x | 1 |",
                                        "| \\[bold\\]x\\[/bold\\] | 1 |",
                                        "| &lt;script&gt;alert(1)&lt;/script&gt; | 1 |",
                                        "| a\\|b | 1 |"]
    assert "- **window:** path \\\\x1b\\[31mred, branch \\\\x1b\\]8;;http://evil\\\\x07x" in got
    assert "## \\[bold\\]x\\[/bold\\]" in got and "**failed:** \\\\x1b\\]8;;http://evil\\\\x07x" in got
    assert "<" not in out and ">" not in out


# The HTML page's tests: tests/test_html_dashboard.py.


# ---- end to end -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("output_format", ["text", "md", "html"])
def test_report_command_renders_a_hostile_branch_name_inert(watched, tmp_path, output_format):
    git(watched, "checkout", "-q", "-b", "feat<b>|x")
    commit_file(watched, "src/a.py", "print(1)\n", "add a")
    out = tmp_path / f"report.{output_format}"
    gitobs("report", "-C", str(watched), "--branch", "feat<b>|x", "--format", output_format, "-o", str(out))
    text = out.read_text(encoding="utf-8")
    expected = {"text": "branch feat<b>|x", "md": "branch feat&lt;b&gt;\\|x", "html": "branch feat&lt;b&gt;|x"}
    assert expected[output_format] in text
    assert "\x1b" not in text


# ---- what text and markdown leave out, and the scale ----------------------------------------------------

def one_section(*blocks) -> Report:
    return Report(now="x", utc_offset="+00:00", window=Window(), events=0,
                  sections=[Section(name="s", title="S", blocks=list(blocks))])


def test_other_rows_do_not_set_the_scale():
    grid = Grid(id="g", row_labels=["a.py", "b.py", "(other)", "(files beyond the cap)"],
                column_labels=["1", "2"], cells=[[4, 2], [1, 0], [400, 0], [0, 900]], unit="events")
    got = lines(TextRenderer().render(one_section(grid), color=False))
    rows = {line[:22].strip(): line[23:] for line in got if line[:1] in ("a", "b", "(")}
    # a.py's 4 is the top of the scale, not 900: "(other)" and the cap's row are drawn against it
    assert rows == {"a.py": "██▒▒", "b.py": "░░··", "(other)": "██··",
                    "(files beyond the cap)": "··██"}
    assert "max 4 events" in TextRenderer().render(one_section(grid), color=False)


def test_rows_and_columns_zero_everywhere_are_left_out_and_said():
    grid = Grid(id="g", row_labels=["busy", "idle"], column_labels=["1", "2"], cells=[[1, 2], [0, 0]])
    table = Table(id="t", columns=["file", "commits", "lines", "discards"], rows=[["a", 1, 3, 0], ["b", 2, 0, 0]])
    for out in (TextRenderer().render(one_section(grid, table), color=False),
                MarkdownRenderer().render(one_section(grid, table), color=False)):
        assert "idle" not in out and "1 row with nothing in any column not shown" in out
        assert "discards" not in out.replace("0 in every row: discards", "")
        assert "not shown, 0 in every row: discards" in out
        assert "lines" in out  # 0 in one row only: shown
    # the days of the week are an axis: a quiet day stays
    week = Grid(id="punchcard", row_labels=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], column_labels=["09"],
                cells=[[1], [1], [1], [1], [1], [0], [0]])
    assert "Sun " in TextRenderer().render(one_section(week), color=False)
    # a figure against another keeps both columns, even when one is 0 everywhere; a row of nothing goes
    weeks = Table(id="w", columns=["figure", "last 7 days", "the 7 before"],
                  rows=[["commits", 3, 0], ["discards", 0, 0], ["median (s)", None, None]])
    for out in (TextRenderer().render(one_section(weeks), color=False),
                MarkdownRenderer().render(one_section(weeks), color=False)):
        assert "the 7 before" in out and "commits" in out
        assert "discards" not in out and "median" not in out and "2 rows with 0 in every column not shown" in out
    # a list of things with one figure each keeps its rows: a revert made at once is still a revert
    reverts = Table(id="r", columns=["sha", "reverted", "age_h"], rows=[["57cf07c", "e04f1b6", 0]])
    for out in (TextRenderer().render(one_section(reverts), color=False),
                MarkdownRenderer().render(one_section(reverts), color=False)):
        assert "57cf07c" in out and "not shown" not in out


def test_a_unit_the_label_already_says_is_not_repeated():
    facts = Facts(id="f", items=[Fact("commits", 11, "commits"), Fact("files touched by commits", 5, "files"),
                                 Fact("window", 600, "s")])
    text = lines(TextRenderer().render(one_section(facts), color=False))
    assert "  commits                   11" in text and "  window                    600 s" in text
    assert "commits commits" not in "\n".join(text)
    md = MarkdownRenderer().render(one_section(facts), color=False)
    assert "- commits: 11\n" in md and "- files touched by commits: 5\n" in md and "- window: 600 s" in md


def test_width_comes_from_the_option_then_columns_then_the_terminal(monkeypatch):
    from gitobs_plugins.render_text import PLAIN_WIDTH, text_width
    monkeypatch.delenv("COLUMNS", raising=False)
    assert text_width(None, False) == PLAIN_WIDTH == 100  # piped: no terminal to ask
    monkeypatch.setenv("COLUMNS", "250")
    assert text_width(None, False) == 250 and text_width(None, True) == 250
    assert text_width(120, False) == 120
    monkeypatch.setenv("COLUMNS", "junk")
    assert text_width(None, False) == 100


def test_a_long_time_grid_is_summed_into_coarser_periods_and_says_so():
    days = [(date(2024, 1, 1) + timedelta(days=n)).isoformat() for n in range(400)]
    grid = Grid(id="g", row_labels=["a.py"], column_labels=days,
                cells=[[1 if n in (0, 399) else 0 for n in range(400)]])
    renderer = TextRenderer()
    renderer.width = 60
    out = renderer.render(one_section(grid), color=False)
    got = lines(out)
    # 58 weeks do not fit either: months
    assert "by month: 400 days do not fit 55 columns, summed into 14 (a" in got
    row = next(line for line in got if line.startswith("a.py "))
    assert row.startswith("a.py █") and row.endswith("█")  # the first and the last day's weeks both show


def test_report_width_and_summary_flags(watched):
    out = gitobs("report", "--summary", "--no-scan", "--width", "60", cwd=watched).stdout
    assert "Summary: the last 7 days" in out and "Activity heatmap" not in out
    assert max(map(len, out.splitlines())) <= 60
    refused = gitobs("report", "--format", "json", "--width", "60", "--no-scan", cwd=watched, ok=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "gitobs: error: --width is for formats drawn to a width (text), not 'json'"]


def test_a_summed_grid_is_shaded_by_its_summed_cells():
    days = [(date(2024, 1, 1) + timedelta(days=n)).isoformat() for n in range(400)]
    grid = Grid(id="g", row_labels=["daily", "once"], column_labels=days,
                cells=[[1] * 400, [5 if n == 40 else 0 for n in range(400)]])
    renderer = TextRenderer()
    renderer.width = 40
    got = lines(renderer.render(one_section(grid), color=False))
    once = next(line for line in got if line.startswith("once "))
    # months hold 28 to 35 of "daily": the 5 of "once" is a pale mark beside them, not the darkest
    assert set(once[6:]) == {"·", "░"} and "max 35" in "\n".join(got)  # five weeks in a month
