"""`--format html` (plugins/render_html.py, html_page.py, html_blocks.py, html_assets.py) and the dashboard analyzer
(plugins/dashboard.py) it draws from: a self-contained page, names kept as data, and in headless Chromium the
filters, drill-down and sorting doing what they should on a log of known events, with no console error and
no request leaving the page."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import commit_file, git, gitobs, require_system_package
from gitobs_plugins import dashboard
from gitobs_plugins.html_assets import SCRIPT
from gitobs_plugins.html_blocks import grid_html
from gitobs_plugins.render_html import HtmlRenderer
from gitobs_plugins.render_markdown import MarkdownRenderer
from gitobs_plugins.render_text import TextRenderer
from logfactory import LogBuilder, at, block, report

from gitobs.core.repo import ObsPaths
from gitobs.log import schema
from gitobs.log.eventlog import EventLog
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
    encode_json,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
F = schema.FileChange
# A branch and a path that try every way out of the page: markup, a script end, an attribute, a terminal
# escape and a bidi override.
EVIL_BRANCH = "x</script><img src=x onerror=alert(1)>\x1b[31m\u202eevil"
EVIL_PATH = '"onerror=alert(2)<b>.py'


def known_log(tmp_path: Path, frames: bool = False) -> EventLog:
    """Known events, now 2026-11-30 (a Monday): main 3 commits (16 lines, a merge of 0), feat 1 commit of 20
    lines and a discard of 4, a hostile branch 1 commit of 1 line in October. With `frames`, one append (a
    frame) per event, as scans write them, into small segments, in .git/obs/log under `tmp_path`."""
    builder = LogBuilder(ObsPaths(tmp_path / ".git").log if frames else tmp_path / "log")
    commit = schema.CommitCreated
    builder.add("commit.created", commit(sha="a" * 40, branch="main",
                                         files=[F("src/app/a.py", 3, 1), F("docs/b.md", 2, 0)]), "2026-11-02 09:30")
    builder.add("commit.created", commit(sha="b" * 40, branch="main", files=[F("src/app/a.py", 5, 5)]),
                "2026-11-27 10:00")
    builder.add("commit.created", commit(sha="c" * 40, branch="feat", files=[F("src/lib/c.py", 20, 0)]),
                "2026-11-28 14:00")
    builder.add("edit.discarded", schema.EditDiscarded(how="checkout", branch="feat", files=[F("src/lib/c.py", 4, 0)]),
                "2026-11-29 15:00")
    builder.add("commit.created", commit(sha="d" * 40, branch="main", merge=True, files=[F("src/lib/c.py", 20, 0)]),
                "2026-11-29 16:00")
    builder.add("commit.created", commit(sha="e" * 40, branch=EVIL_BRANCH, files=[F(EVIL_PATH, 1, 0)]),
                "2026-10-01 12:00")
    if not frames:
        return builder.write()
    log = EventLog(builder.directory, seal_bytes=1 << 9, sealed_level=3)  # small: sealed segments too
    for event in builder.events:
        log.append([schema.encode(event)])
    return log


def known_report(tmp_path: Path) -> Report:
    built = report(known_log(tmp_path), [])
    # A table to sort: numbers that sort differently as text, an empty cell, and names.
    built.sections.append(Section(name="sorting", title="Sorting", blocks=[
        Table(id="numbers", columns=["name", "count"], rows=[["b", 10], ["c", 9], ["a", 100], ["d", None]])]))
    return built


class Page(HTMLParser):
    """Tags with their attributes, the text, and the contents of each script element."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.data.append(data)

    def ids(self) -> set[str | None]:
        return {attrs.get("id") for _, attrs in self.tags if attrs.get("id")}

    def text(self) -> list[str]:
        return [chunk.strip() for chunk in self.data if chunk.strip()]


def csp_of(page: Page) -> str:
    [found] = [a["content"] for n, a in page.tags if n == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    return found


def assert_self_contained(page: Page) -> None:
    """No element that loads anything, no handler attribute, links only to the page's own anchors, one
    script (admitted by its hash) and one JSON data block."""
    assert all(name not in ("link", "img", "iframe", "object", "embed", "base", "form") for name, _ in page.tags)
    for name, attrs in page.tags:
        assert not {"src", "xlink:href", "srcset", "action", "formaction", "background"} & attrs.keys(), name
        assert all(not key.startswith("on") for key in attrs), (name, attrs)
        assert (attrs.get("href") or "#").startswith("#"), attrs
    code = [text for attrs, text in page.scripts if "type" not in attrs]
    assert len(code) == 1 and len(page.scripts) <= 2
    assert all(attrs == {"type": "application/json", "id": "gitobs-data"} for attrs, _ in page.scripts if attrs)
    digest = base64.b64encode(hashlib.sha256(code[0].encode()).digest()).decode()
    assert csp_of(page) == (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
                            "base-uri 'none'; form-action 'none'")


def embedded(page: Page) -> dict:
    [blob] = [text for attrs, text in page.scripts if attrs.get("type") == "application/json"]
    return json.loads(blob)


# ---- the dashboard analyzer -----------------------------------------------------------------------------

def test_the_dashboard_rows_per_day_hour_branch_and_file(tmp_path):
    built = report(known_log(tmp_path), ["dashboard"])
    activity = block(built, "dashboard", "dataset_activity")
    assert activity.columns == ["day", "hour", "branch", "imported", "commits", "lines", "discards",
                                "lines discarded"]
    assert activity.rows == [["2026-10-01", 12, EVIL_BRANCH, 0, 1, 1, 0, 0], ["2026-11-02", 9, "main", 0, 1, 6, 0, 0],
                             ["2026-11-27", 10, "main", 0, 1, 10, 0, 0], ["2026-11-28", 14, "feat", 0, 1, 20, 0, 0],
                             ["2026-11-29", 15, "feat", 0, 0, 0, 1, 4],
                             ["2026-11-29", 16, "main", 0, 1, 0, 0, 0]]  # a merge: a commit of 0 lines
    files = block(built, "dashboard", "dataset_paths")
    assert files.columns == ["day", "branch", "imported", "path", "commits", "lines"]
    assert files.rows == [["2026-10-01", EVIL_BRANCH, 0, EVIL_PATH, 1, 1], ["2026-11-02", "main", 0, "docs/b.md", 1, 2],
                          ["2026-11-02", "main", 0, "src/app/a.py", 1, 4],
                          ["2026-11-27", "main", 0, "src/app/a.py", 1, 10],
                          ["2026-11-28", "feat", 0, "src/lib/c.py", 1, 20],
                          ["2026-11-29", "main", 0, "src/lib/c.py", 1, 0]]
    assert files.total_rows is None and activity.total_rows is None


def test_the_dashboard_keeps_its_newest_days_and_says_from_when(tmp_path, monkeypatch):
    monkeypatch.setattr(dashboard, "HELD_ROWS", 4)
    built = report(known_log(tmp_path), ["dashboard"])
    notes = {fact.label: fact.value for fact in block(built, "dashboard", "dataset_notes").items}
    # Six activity rows, at most 4 held: the newest days whose rows add up to 4 at most (11-27 to 11-29);
    # 11-02 would make 5, so the rows are complete from the day after it.
    assert notes["complete from"] == "2026-11-03"
    activity = block(built, "dashboard", "dataset_activity")
    assert [row[:3] for row in activity.rows] == [["2026-11-27", 10, "main"], ["2026-11-28", 14, "feat"],
                                                  ["2026-11-29", 15, "feat"], ["2026-11-29", 16, "main"]]
    files = block(built, "dashboard", "dataset_paths")  # both tables cover the same days
    assert [[row[0], row[1], row[3]] for row in files.rows] == [["2026-11-27", "main", "src/app/a.py"],
                                               ["2026-11-28", "feat", "src/lib/c.py"],
                                               ["2026-11-29", "main", "src/lib/c.py"]]


def test_the_page_gets_the_newest_rows_and_is_told_how_many_were_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(dashboard, "SHOWN_ROWS", 2)
    built = report(known_log(tmp_path), ["dashboard"])
    notes = {fact.label: fact.value for fact in block(built, "dashboard", "dataset_notes").items}
    assert "complete from" not in notes
    activity = block(built, "dashboard", "dataset_activity")
    assert [row[:3] for row in activity.rows] == [["2026-11-29", 15, "feat"], ["2026-11-29", 16, "main"]]
    assert activity.total_rows == 6
    assert notes["activity rows"] == 2 and notes["activity rows left out (oldest days)"] == 4
    assert notes["file rows"] == 2 and notes["file rows left out (oldest days)"] == 4
    page = HtmlRenderer().render(built, color=False)
    assert "Left out, the oldest days first: 4 activity rows and 4 file rows." in page


def test_a_day_cut_by_the_page_limit_keeps_its_last_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(dashboard, "SHOWN_ROWS", 4)
    files = block(report(known_log(tmp_path), ["dashboard"]), "dashboard", "dataset_paths")
    # the flat list's last four: 2026-11-02 has two rows (docs/b.md, src/app/a.py), of which the second
    assert [[row[0], row[1], row[3]] for row in files.rows] == [["2026-11-02", "main", "src/app/a.py"],
                                               ["2026-11-27", "main", "src/app/a.py"],
                                               ["2026-11-28", "feat", "src/lib/c.py"],
                                               ["2026-11-29", "main", "src/lib/c.py"]]
    assert files.total_rows == 6


def test_files_beyond_the_busiest_are_summed_per_day_and_branch(tmp_path, monkeypatch):
    monkeypatch.setattr(dashboard, "TOP_PATHS", 1)
    built = report(known_log(tmp_path), ["dashboard"])
    files = block(built, "dashboard", "dataset_paths")
    assert files.rows == [["2026-10-01", EVIL_BRANCH, 0, None, 1, 1], ["2026-11-02", "main", 0, None, 2, 6],
                          ["2026-11-27", "main", 0, None, 1, 10], ["2026-11-28", "feat", 0, "src/lib/c.py", 1, 20],
                          ["2026-11-29", "main", 0, "src/lib/c.py", 1, 0]]
    notes = {fact.label: fact.value for fact in block(built, "dashboard", "dataset_notes").items}
    assert notes["files by name"] == 1 and notes["files summed in null-path rows"] == 3


def test_the_report_cache_keeps_the_dashboard_state_and_it_loads(tmp_path, monkeypatch):
    """The checkpoint's dashboard state decodes as its state_type, and loaded into a new instance gives the
    section the report showed (a state that would not load makes every report replay the whole log)."""
    import msgspec
    import zstandard

    from gitobs.replay import cache, plugins
    from gitobs.replay.analysis import Context
    from gitobs.replay.report import build_report

    monkeypatch.setenv("GITOBS_CONFIG_HOME", str(tmp_path / "config-home"))
    obs = ObsPaths(tmp_path / ".git")
    log = known_log(tmp_path, frames=True)
    context = Context(now=at("2026-11-30") / 1e9)
    built = build_report(log, plugins.load(), ["dashboard"], context, print, workers=1, cache=True)
    [path] = (obs.root / cache.DIRECTORY).glob(f"*{cache.SUFFIX}")
    data = zstandard.ZstdDecompressor().decompress(path.read_bytes()[len(cache.MAGIC):])
    [saved] = msgspec.msgpack.decode(data, type=cache.Checkpoint).states
    assert saved.name == "dashboard" and saved.error is None
    loaded = dashboard.DashboardAnalyzer(context)
    loaded.load_state(msgspec.msgpack.decode(saved.state, type=dashboard.DashboardState))
    [section] = built.sections
    assert loaded.result() == section.blocks


def test_text_and_markdown_leave_the_dataset_out_and_json_keeps_it(tmp_path):
    built = report(known_log(tmp_path), [])
    assert "Dashboard data" not in TextRenderer().render(built, color=False)
    assert "Dashboard data" not in MarkdownRenderer().render(built, color=False)
    sections = json.loads(encode_json(built))["sections"]
    [found] = [section for section in sections if section["name"] == "dashboard"]
    assert [b["id"] for b in found["blocks"]] == ["dataset_notes", "dataset_activity", "dataset_paths"]


# ---- the page, as HTML ----------------------------------------------------------------------------------

def sample() -> Report:
    """One of each block kind, a failed section between two good ones, and a warning; no dashboard."""
    blocks = [
        Facts(id="totals", title="Totals", items=[Fact("commits", 12, "commits"), Fact("median gap", 1.5, "s"),
                                                  Fact("unknown", None)]),
        Table(id="by_file", title="By file", columns=["path", "commits", "share"],
              rows=[["src/a.py", 7, 0.583], ["docs/b.md", 5, 0.4]], total_rows=3),
        Grid(id="by_week", title="Weeks", row_labels=["a.py", "b.py", "(other)", "c.py"],
             column_labels=["w1", "w2", "w3"], cells=[[0, 1, 0], [0, 2, 0], [0, 40, 0], [0, 0, 0]], unit="commits"),
        Grid(id="punchcard", title="Hours", row_labels=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
             column_labels=["09", "10"], cells=[[0, 4]] + [[0, 0]] * 6),
        # 2026-10-26 is a Monday; 17 days: two full weeks and three days.
        Calendar(id="days", title="Days", first_day="2026-10-26",
                 counts=[0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 0, 0, 0, 0, 0, 2], unit="commits"),
        Note(id="hint", title="Hint", text="two\nlines"),
    ]
    return Report(now="2026-11-30T00:00:00Z", utc_offset="+01:00", window=Window(branch="main"), events=42,
                  sections=[Section(name="demo", title="Demo", blocks=blocks),
                            Section(name="broken", title="Broken", error="ValueError: boom"),
                            Section(name="after", title="After", blocks=[Note(id="tail", text="still here")])],
                  warnings=["analyzer 'broken' failed"])


def cells(text: str, block_id: str) -> list[list[str]]:
    """The heat classes of a heat table's rows."""
    table = re.search(f'<table class="heat[^"]*" data-block="{block_id}">(.*?)</table>', text).group(1)
    return [re.findall(r'<td class="(l\d|pad)"', row) for row in re.findall(r"<tr><th.*?</tr>", table)]


def test_the_page_without_a_dashboard():
    text = HtmlRenderer().render(sample(), color=False)
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>") and not re.search("https?:|url[(]", text)
    assert_self_contained(page)
    assert [attrs["id"] for name, attrs in page.tags if name == "section"] == [
        "overview", "section-demo", "section-broken", "section-after", "warnings"]
    toc = [attrs["href"][1:] for name, attrs in page.tags if name == "a"]
    assert toc == ["overview", "section-demo", "section-broken", "section-after", "warnings"]
    # cards: the first facts of each section, those with a value
    assert re.findall(r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', text) == [
        ("12", "commits"), ("1.5 s", "median gap")]  # a unit the label says already is not said again
    assert "<dt>commits</dt><dd>12</dd><dt>median gap</dt><dd>1.5 s</dd><dt>unknown</dt><dd>-</dd>" in text
    data = page.text()
    assert data[data.index("window") + 1] == "branch main"
    assert ["path", "commits", "share", "src/a.py", "7", "0.583"] == data[data.index("By file") + 1:][:6]
    assert '<td class="num" data-sort="7.0">7</td>' in text and '<th class="num" scope="col" tabindex="0">' in text
    assert "showing 2 of 3 rows" in data and "two" in data and "lines" in data
    assert data.index("failed: ValueError: boom") < data.index("still here")
    assert data[-2:] == ["Warnings", "analyzer 'broken' failed"]


def test_heat_grids_leave_out_what_is_empty_and_keep_other_out_of_the_scale():
    text = HtmlRenderer().render(sample(), color=False)
    # w1, w3 and c.py are zero everywhere; the scale is a.py's and b.py's, so "(other)" is at the top
    assert cells(text, "by_week") == [["l2"], ["l4"], ["l4"]]
    assert "max 2 commits; not shown: 1 empty rows, 2 empty columns" in text
    # a week of hours is drawn whole, like a clock
    assert cells(text, "punchcard") == [["l0", "l4"]] + [["l0", "l0"]] * 6
    # the calendar: Monday first, weeks of 2026-10-26, 2026-11-02 and 2026-11-09 (three days, then padding)
    assert cells(text, "days") == [["l0", "l4", "l0"], ["l1", "l0", "l0"], ["l1", "l0", "l1"], ["l2", "l0", "pad"],
                                   ["l2", "l0", "pad"], ["l3", "l0", "pad"], ["l3", "l0", "pad"]]
    assert 'title="2026-11-02 Mon: 8 commits"' in text
    assert '<th scope="col">w2</th>' in text  # short column labels lie flat; long ones stand upright
    assert '<th scope="col" class="upright">2026-11-02</th>' in grid_html(
        Grid(id="g", row_labels=["a"], column_labels=["2026-11-02"], cells=[[1]]))
    assert "total 31 commits on 8 of 17 days; busiest 2026-11-02 (8 commits)" in text


def test_a_block_that_cannot_be_drawn_fails_alone():
    bad = Calendar(id="bad", first_day="someday", counts=[1])
    built = Report(now="x", utc_offset="+00:00", window=Window(), events=0,
                   sections=[Section(name="s", title="S", blocks=[bad, Note(id="n", text="after the bad one")])])
    out = HtmlRenderer().render(built, color=False)
    assert "could not be drawn: ValueError: Invalid isoformat string:" in out
    assert out.index("could not be drawn") < out.index("after the bad one")


def test_the_summary_section_is_the_overview():
    summary = Section(name="summary", title="Summary", blocks=[
        Note(id="brief", text="This week: 3 commits (last week 1)."),
        Table(id="week_over_week", columns=["figure", "last 7 days", "the 7 before"],
              rows=[["commits", 3, 1], ["median message time (s)", None, 2.5]]),
        Table(id="busiest_files", title="Busiest files", columns=["file", "commits", "lines"], rows=[["a.py", 2, 9]])])
    built = sample()
    built.sections.insert(0, summary)
    text = HtmlRenderer().render(built, color=False)
    overview = text[text.index('<section id="overview">'):text.index("</section>")]
    assert "This week: 3 commits (last week 1)." in overview
    assert re.findall(r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>'
                      r'<div class="before">([^<]*)</div>', overview) == [
        ("3", "commits", "the 7 before: 1"), ("-", "median message time (s)", "the 7 before: 2.5")]
    assert '<h3>Busiest files</h3><div class="scroll"><table class="sortable">' in overview  # a table stays one
    assert 'id="section-summary"' not in text  # shown once, as the overview


HOSTILE = ["\x1b[31mred", "\x1b]8;;http://evil\x07x", "[bold]x[/bold]", "<script>alert(1)</script>", "a|b",
           '"onerror=alert(1) x="', "rtl\u202egnp.exe"]
INERT = ["\\x1b[31mred", "\\x1b]8;;http://evil\\x07x", "[bold]x[/bold]", "<script>alert(1)</script>", "a|b",
         '"onerror=alert(1) x="', "rtl\\u202egnp.exe"]


def test_hostile_names_everywhere_a_name_can_go_are_text():
    blocks = [Facts(id="facts", items=[Fact(HOSTILE[0], HOSTILE[4], HOSTILE[2])]),
              Table(id="names", title=HOSTILE[3], columns=["name", HOSTILE[5]], rows=[[name, 1] for name in HOSTILE]),
              Grid(id="grid", row_labels=HOSTILE, column_labels=[HOSTILE[5]], cells=[[1.0]] * len(HOSTILE)),
              Note(id="note", text="\n".join(HOSTILE))]
    built = Report(now="2026-11-30T00:00:00Z", utc_offset="+00:00", window=Window(branch=HOSTILE[1], path=HOSTILE[0]),
                   events=1, sections=[Section(name=HOSTILE[5], title=HOSTILE[2], blocks=blocks),
                                       Section(name="bad", title=HOSTILE[3], error=HOSTILE[1])], warnings=HOSTILE)
    text = HtmlRenderer().render(built, color=False)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert text.count("<script") == 1 and "<script>alert" not in text
    page = Page(text)
    assert_self_contained(page)
    data = "\n".join(page.data)
    for name in INERT:
        assert name in data, name
    assert "failed: \\x1b]8;;http://evil\\x07x" in data
    assert [attrs["id"] for name, attrs in page.tags if name == "section"] == [
        "overview", "section--onerror-alert-1-x-", "section-bad", "warnings"]


def test_the_dashboard_page_embeds_its_rows_as_inert_escaped_json(tmp_path):
    text = HtmlRenderer().render(known_report(tmp_path), color=False)
    page = Page(text)
    assert_self_contained(page)
    assert "dashboard" in page.ids() and "section-dashboard" not in page.ids()
    [blob] = [body for attrs, body in page.scripts if attrs.get("type")]
    assert not set("<>&\u2028\u2029\x1b\u202e") & set(blob)
    data = embedded(page)
    assert data["today"] == 20787  # 2026-11-30 as days since 1970-01-01
    evil = "x</script><img src=x onerror=alert(1)>\\x1b[31m\\u202eevil"
    assert data["branches"] == [evil, "main", "feat"]
    assert data["paths"] == [EVIL_PATH, "docs/b.md", "src/app/a.py", "src/lib/c.py"]
    assert data["activity"][0] == [20787 - 60, 12, 0, 0, 1, 1, 0, 0]  # 2026-10-01
    # outside the JSON the names are escaped text
    assert "x&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;\\x1b[31m\\u202eevil" in text
    assert "&quot;onerror=alert(2)&lt;b&gt;.py" in text
    assert text.count("<script") == 2 and text.count("</script>") == 2


def test_the_dashboard_says_rolled_up_days_are_not_in_it(tmp_path):
    built = known_report(tmp_path)
    assert "daily rollups (gitobs gc)" not in HtmlRenderer().render(built, color=False)
    built.rollup_days = 3
    text = HtmlRenderer().render(built, color=False)
    assert ('<p class="muted" id="dash-capped">3 days of the window come from daily rollups (gitobs gc), which keep '
            "no branch or hour: they are not in this panel.</p>") in text


def test_the_same_log_and_now_give_the_same_page(tmp_path):
    log = known_log(tmp_path)
    pages = {HtmlRenderer().render(report(log, []), color=False) for _ in range(2)}
    assert len(pages) == 1


# ---- the page in headless Chromium ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver, its console kept (skipped where Debian's packages are
    missing, but not in CI)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]' (.ci/run does)")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    require_system_package(not missing, " and ".join(missing), "apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_page(driver, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    driver.get_log("browser")  # what earlier pages logged
    driver.get(path.as_uri())


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def cards(driver) -> dict[str, str]:
    return driver.execute_script("""return Object.fromEntries(Array.from(document.querySelectorAll('[data-card]'))
        .map(card => [card.dataset.card, card.querySelector('.value').textContent]));""")


def choose(driver, select_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, select_id)).select_by_visible_text(text)


def churn(driver) -> list[tuple[str, str]]:
    return [tuple(pair) for pair in driver.execute_script("""return Array.from(
        document.querySelectorAll('#dash-churn li')).map(li => [li.children[0].textContent,
        li.children[2].textContent]);""")]


def test_the_filters_change_what_the_dashboard_shows(browser, tmp_path):
    from selenium.webdriver.common.by import By
    open_page(browser, tmp_path / "report.html", HtmlRenderer().render(known_report(tmp_path), color=False))
    everything = {"commits": "5", "imported": "0", "lines": "37", "discards": "1", "discarded": "4", "days": "5",
                  "branches": "3", "files": "4"}
    assert cards(browser) == everything
    choose(browser, "filter-branch", "feat")
    assert cards(browser) == {"commits": "1", "imported": "0", "lines": "20", "discards": "1", "discarded": "4",
                              "days": "2", "branches": "1", "files": "1"}
    assert churn(browser) == [("src/", "20")]
    choose(browser, "filter-branch", "main")
    choose(browser, "filter-period", "last 7 days")  # 2026-11-24 to 2026-11-30
    assert cards(browser) == {"commits": "2", "imported": "0", "lines": "10", "discards": "0", "discarded": "0",
                              "days": "2", "branches": "1", "files": "2"}
    hours = browser.execute_script("""return Array.from(document.querySelectorAll('#dash-hours td[class^=l]'))
        .filter(td => td.className !== 'l0').map(td => td.title);""")
    assert hours == ["Fri 10:00: 1 commits", "Sun 16:00: 1 commits"]
    calendar = browser.execute_script("""return Array.from(document.querySelectorAll('#dash-calendar td'))
        .filter(td => td.title).map(td => td.title + ' ' + td.className);""")
    assert len(calendar) == 7
    assert "2026-11-27 Fri: 1 commits l4" in calendar and "2026-11-28 Sat: 0 commits l0" in calendar
    choose(browser, "filter-branch", "all branches")
    browser.execute_script("""for (const [id, day] of [['filter-from', '2026-11-27'], ['filter-to', '2026-11-28']]) {
        const input = document.getElementById(id); input.value = day; input.dispatchEvent(new Event('change')); }""")
    assert cards(browser) == {"commits": "2", "imported": "0", "lines": "30", "discards": "0", "discarded": "0",
                              "days": "2", "branches": "2", "files": "2"}
    assert browser.find_element(By.ID, "dash-calendar-summary").text == \
        "2 commits on 2 of 2 days, 2026-11-27 to 2026-11-28"
    choose(browser, "filter-period", "everything")
    assert cards(browser) == everything
    assert browser.execute_script("return document.getElementById('filter-from').value") == ""
    assert console_errors(browser) == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_imported_history_is_counted_apart_and_filtered_by_source(browser, tmp_path):
    builder = LogBuilder(tmp_path / "log")
    commit = schema.CommitCreated
    builder.add("commit.created", commit(sha="a" * 40, branch="main", files=[F("old/x.py", 7, 0)]),
                "2026-09-15 10:00", src="import")
    builder.add("commit.created", commit(sha="b" * 40, branch="main", files=[F("new/y.py", 2, 1)]),
                "2026-11-20 10:00")
    built = report(builder.write(), [])
    activity = block(built, "dashboard", "dataset_activity")
    assert [row[:5] for row in activity.rows] == [["2026-09-15", 10, "main", 1, 1], ["2026-11-20", 10, "main", 0, 1]]
    open_page(browser, tmp_path / "report.html", HtmlRenderer().render(built, color=False))
    assert {key: cards(browser)[key] for key in ("commits", "imported", "lines")} == \
        {"commits": "2", "imported": "1", "lines": "10"}
    choose(browser, "filter-source", "recorded here")
    assert {key: cards(browser)[key] for key in ("commits", "imported", "lines")} == \
        {"commits": "1", "imported": "0", "lines": "3"}
    assert churn(browser) == [("new/", "3")]
    choose(browser, "filter-source", "imported history")
    assert churn(browser) == [("old/", "7")]
    assert console_errors(browser) == []


def test_churn_ranks_directories_and_drills_down(browser, tmp_path):
    from selenium.webdriver.common.by import By
    open_page(browser, tmp_path / "report.html", HtmlRenderer().render(known_report(tmp_path), color=False))
    assert churn(browser) == [("src/", "34"), ("docs/", "2"), (EVIL_PATH, "1")]
    browser.find_element(By.CSS_SELECTOR, "#dash-churn button.name").click()  # src/
    assert churn(browser) == [("lib/", "20"), ("app/", "14")]
    assert browser.find_element(By.ID, "dash-crumbs").text == "in (top)/src"
    browser.find_element(By.CSS_SELECTOR, "#dash-churn button.name").click()  # lib/
    assert churn(browser) == [("c.py", "20")]
    choose(browser, "filter-metric", "commits")
    assert churn(browser) == [("c.py", "2")]
    browser.find_element(By.XPATH, "//p[@id='dash-crumbs']/button[text()='(top)']").click()
    assert churn(browser) == [("src/", "4"), (EVIL_PATH, "1"), ("docs/", "1")]  # ties by name
    assert console_errors(browser) == []


def test_tables_sort_by_a_clicked_header(browser, tmp_path):
    from selenium.webdriver.common.by import By
    open_page(browser, tmp_path / "report.html", HtmlRenderer().render(known_report(tmp_path), color=False))
    table = browser.find_element(By.CSS_SELECTOR, "[data-block=numbers] table")
    name, count = table.find_elements(By.TAG_NAME, "th")

    def column(index: int) -> list[str]:
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        return [row.find_elements(By.TAG_NAME, "td")[index].text for row in rows]

    count.click()
    assert column(1) == ["9", "10", "100", "-"]  # by value, the empty cell last
    assert count.get_attribute("aria-sort") == "ascending"
    count.click()
    assert column(1) == ["100", "10", "9", "-"]
    name.click()
    assert column(0) == ["a", "b", "c", "d"] and count.get_attribute("aria-sort") is None
    assert console_errors(browser) == []


def test_hostile_names_render_as_text_and_nothing_leaves_the_page(browser, tmp_path):
    open_page(browser, tmp_path / "report.html", HtmlRenderer().render(known_report(tmp_path), color=False))
    assert browser.execute_script("return document.images.length + document.querySelectorAll('b').length") == 0
    options = browser.execute_script("""return Array.from(document.querySelectorAll('#filter-branch option'))
        .map(option => option.textContent);""")
    assert options == ["all branches", "x</script><img src=x onerror=alert(1)>\\x1b[31m\\u202eevil", "main", "feat"]
    assert browser.execute_script("return document.body.innerText").count(EVIL_PATH) >= 2  # chart and tables
    assert console_errors(browser) == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_the_policy_blocks_an_image_planted_in_the_page(browser, tmp_path):
    """Were a name ever to reach the page as markup, the CSP would still keep it from loading anything."""
    target = tmp_path / "pixel.svg"
    target.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    text = HtmlRenderer().render(sample(), color=False)
    planted = text.replace("<main>", f'<main><img id="planted" src="{target.as_uri()}">', 1)
    open_page(browser, tmp_path / "report.html", planted)
    assert browser.execute_script("return document.getElementById('planted').naturalWidth") == 0
    errors = console_errors(browser)
    assert errors and all("violates the following Content Security Policy" in entry["message"] for entry in errors)
    # the same page without its policy does load it: the check above can tell
    unguarded = re.sub('<meta http-equiv="Content-Security-Policy"[^>]*>', "", planted)
    open_page(browser, tmp_path / "unguarded.html", unguarded)
    assert browser.execute_script("return document.getElementById('planted').naturalWidth") == 1


def test_the_report_command_writes_a_working_dashboard(browser, watched, tmp_path):
    """A real repository: the first commit (README.md, 1 line) and two more on main, one on a branch merged
    into main (a merge commit: 0 lines, its changes were counted where they were made); the page's branch
    filter splits them."""
    commit_file(watched, "src/a.py", "a\nb\n", "on main")
    git(watched, "checkout", "-q", "-b", "topic")
    commit_file(watched, "src/deep/b.py", "1\n2\n3\n", "on topic")
    git(watched, "checkout", "-q", "main")
    commit_file(watched, "src/a.py", "a\n", "on main again")
    git(watched, "merge", "-q", "--no-ff", "--no-edit", "topic")
    out = tmp_path / "report.html"
    gitobs("report", "-C", str(watched), "--format", "html", "-o", str(out))
    open_page(browser, tmp_path / "opened.html", out.read_text(encoding="utf-8"))
    overview = browser.execute_script("""return Array.from(document.querySelectorAll('#overview .card'))
        .map(card => card.querySelector('.label').textContent + ' ' + card.querySelector('.value').textContent);""")
    assert "commits 5" in overview  # the summary's week against the one before, as cards
    assert cards(browser)["commits"] == "5" and cards(browser)["lines"] == "7"
    choose(browser, "filter-branch", "topic")
    assert cards(browser)["commits"] == "1" and cards(browser)["lines"] == "3"
    choose(browser, "filter-branch", "main")
    assert cards(browser)["commits"] == "4" and cards(browser)["lines"] == "4"
    assert console_errors(browser) == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert SCRIPT in out.read_text(encoding="utf-8")


def test_the_contents_sit_beside_the_page_or_above_it_on_a_narrow_screen(browser, tmp_path):
    open_page(browser, tmp_path / "report.html", HtmlRenderer().render(known_report(tmp_path), color=False))
    boxes = """const nav = document.querySelector('nav.toc').getBoundingClientRect();
        const main = document.querySelector('main').getBoundingClientRect();
        return [nav.right <= main.left, nav.bottom <= main.top];"""
    try:
        assert browser.execute_script(boxes) == [True, False]
        browser.set_window_size(700, 900)
        browser.execute_script("window.scrollTo(0, 1500)")  # scrolled, the contents do not follow over the page
        assert browser.execute_script(boxes) == [False, True]
    finally:
        browser.set_window_size(1200, 900)
