"""The HTML page of `--format html` (render_html.py imports it when an HTML report is rendered): the report as a
dashboard in one self-contained file: summary cards, a table of contents,
filters by period, branch and source over the dashboard section's rows (embedded as JSON), the calendar,
hour-of-week and churn charts they drive, then every section with sortable tables and heat grids.

Nothing is loaded from anywhere: one inline stylesheet, one inline script admitted by its hash in the
page's Content-Security-Policy, which forbids everything else (images, fonts, connections, frames, forms).
Names from the log are data: made inert and escaped in the HTML (html_blocks.esc); in the embedded JSON
made inert too, with <, >, & and U+2028/9 written as \\u escapes so no name can end the script element.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

from gitobs_plugins.html_assets import SCRIPT, STYLE, script_hash
from gitobs_plugins.html_blocks import (
    block_html,
    cell_text,
    esc,
    fact_text,
    facts_html,
)

from gitobs.plugin import (
    AnyBlock,
    Facts,
    Report,
    Section,
    Table,
    inert,
)

DASHBOARD = "dashboard"  # the analyzer whose dataset blocks the filters work on (plugins/dashboard.py)
SUMMARY = "summary"  # the analyzer drawn as the overview's sentences and cards, when it ran
DATASET = "dataset"  # the start of a block id holding rows for programs, not for reading
COMPARISON = "week_over_week"  # the summary's block drawn as cards
MAX_CARDS = 12
PERIODS = (("all", "everything"), ("7", "last 7 days"), ("30", "last 30 days"), ("90", "last 90 days"),
           ("365", "last 365 days"))
DASHBOARD_CARDS = (("commits", "commits"), ("imported", "of them imported (gitobs import)"),
                   ("lines", "lines changed in commits"), ("discards", "discards"), ("discarded", "lines discarded"),
                   ("days", "active days"), ("branches", "branches"), ("files", "files (by name)"))
SOURCES = (("all", "recorded and imported"), ("0", "recorded here"), ("1", "imported history"))
JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                              "\u2029": "\\u2029"})


def csp() -> str:
    return (f"default-src 'none'; script-src {script_hash()}; style-src 'unsafe-inline'; base-uri 'none'; "
            "form-action 'none'")


def page(report: Report) -> str:
    dashboard = next((s for s in report.sections if s.name == DASHBOARD and s.error is None and s.blocks), None)
    dataset = _safe_dataset(dashboard, report) if dashboard is not None else None
    summary = next((s for s in report.sections if s.name == SUMMARY and s.error is None and s.blocks), None)
    shown = [section for section in report.sections
             if section is not summary and (section is not dashboard or dataset is None)]
    main = [_overview(report, summary)]
    if dataset is not None:
        main.append(_dashboard(dashboard, report.rollup_days))
    main += [_section(section, anchor) for section, anchor in zip(shown, _anchors(shown))]
    if report.warnings:
        items = "".join(f"<li>{esc(warning)}</li>" for warning in report.warnings)
        main.append(f'<section id="warnings" class="warnings"><h2>Warnings</h2><ul>{items}</ul></section>')
    parts = [_head(), "<body>", '<div class="page">', _toc(report, shown, dataset is not None),
             "<main>", *main, "</main>", "</div>"]
    if dataset is not None:
        parts.append(f'<script type="application/json" id="gitobs-data">{_embed(dataset)}</script>')
    parts += [f"<script>{SCRIPT}</script>", "</body>\n</html>\n"]
    return "\n".join(parts)


def _head() -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp()}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>gitobs report</title>\n<style>{STYLE}</style>\n</head>")


def _toc(report: Report, sections: list[Section], dashboard: bool) -> str:
    entries = [("overview", "Overview")] + ([("dashboard", "Dashboard")] if dashboard else [])
    entries += [(anchor, section.title or section.name) for anchor, section in zip(_anchors(sections), sections)]
    if report.warnings:
        entries.append(("warnings", "Warnings"))
    items = "".join(f'<li><a href="#{esc(anchor)}">{esc(title)}</a></li>' for anchor, title in entries)
    return f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol></nav>'


def _anchors(sections: list[Section]) -> list[str]:
    """An id per section from its name, in letters, digits, _ and - (a plugin's name could hold anything),
    unique in the page."""
    taken = {"overview", "dashboard", "warnings"}
    anchors = []
    for section in sections:
        anchor = base = "section-" + re.sub(r"[^A-Za-z0-9_-]+", "-", section.name)
        number = 1
        while anchor in taken:
            number += 1
            anchor = f"{base}-{number}"
        taken.add(anchor)
        anchors.append(anchor)
    return anchors


def _overview(report: Report, summary: Section | None) -> str:
    """The header's facts, then the summary section (when it ran) as its sentences, facts and cards (a
    comparison table's rows: figure, now, before); else cards of the first facts of each section."""
    parts = ['<section id="overview">', "<h1>gitobs report</h1>", facts_html(_header_items(report))]
    if summary is None:
        facts = [fact for section in report.sections if section.error is None
                 for block in _first_facts(section) for fact in block.items if fact.value is not None]
        parts.append(_cards([(fact_text(fact.label, fact.value, fact.unit), fact.label, "")
                             for fact in facts[:MAX_CARDS]]))
    else:
        parts.append(f"<h2>{esc(summary.title or summary.name)}</h2>")
        for block in summary.blocks:
            if _comparison(block):
                parts.append(_cards([(cell_text(row[1]), cell_text(row[0]), f"{block.columns[2]}: {cell_text(row[2])}")
                                     for row in block.rows]))
            else:
                title = f"<h3>{esc(block.title)}</h3>" if block.title and isinstance(block, Table) else ""
                parts.append(f'<div class="block" data-block="{esc(block.id)}">{title}{block_html(block)}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def _comparison(block: AnyBlock) -> bool:
    """The summary's table of (figure, this week, the week before): drawn as cards."""
    return isinstance(block, Table) and block.id == COMPARISON and len(block.columns) == 3 and \
        all(len(row) == 3 for row in block.rows)


def _cards(cards: list[tuple[str, str, str]]) -> str:
    """Cards of (value, label, a line under it)."""
    items = "".join(f'<div class="card"><div class="value">{esc(value)}</div><div class="label">{esc(label)}</div>'
                    + (f'<div class="before">{esc(under)}</div>' if under else "") + "</div>"
                    for value, label, under in cards)
    return f'<div class="cards">{items}</div>' if items else ""


def _first_facts(section: Section) -> list[Facts]:
    found = [block for block in section.blocks if isinstance(block, Facts) and not block.id.startswith(DATASET)]
    return found[:1]


def _header_items(report: Report) -> list[tuple[str, str]]:
    window = report.window
    parts = [f"{name} {inert(value)}" for name, value in (("since", window.since), ("until", window.until),
                                                           ("path", window.path), ("branch", window.branch))
             if value is not None]
    items = [("now", inert(report.now)), ("local times", f"UTC{inert(report.utc_offset)}"),
             ("window", ", ".join(parts) or "everything recorded"), ("events", str(report.events))]
    if report.rollup_days:
        items.append(("rollups", (f"{report.rollup_days} days from daily rollups: the heatmap, hesitation and "
                                  "counts include them, the other sections see raw events only")))
    return items


def _dashboard(section: Section, rollup_days: int) -> str:
    periods = "".join(f'<option value="{value}">{label}</option>' for value, label in PERIODS)
    sources = "".join(f'<option value="{value}">{label}</option>' for value, label in SOURCES)
    cards = "".join(f'<div class="card" data-card="{key}"><div class="value">-</div><div class="label">{label}'
                    "</div></div>" for key, label in DASHBOARD_CARDS)
    said = _limits({fact.label: fact.value for block in section.blocks if isinstance(block, Facts)
                    for fact in block.items})
    if rollup_days:
        said.append(f"{rollup_days} days of the window come from daily rollups (gitobs gc), which keep no branch or "
                    "hour: they are not in this panel.")
    limit = " ".join(said)
    limit = f'<p class="muted" id="dash-capped">{esc(limit)}</p>' if limit else ""
    return f"""<section id="dashboard">
<h2>Dashboard</h2>
<div class="filters" id="filters">
<label>Period<select id="filter-period">{periods}<option value="dates">from - to</option></select></label>
<label>from<input type="date" id="filter-from"></label><label>to<input type="date" id="filter-to"></label>
<label>Branch<select id="filter-branch"><option value="all">all branches</option></select></label>
<label>Source<select id="filter-source">{sources}</select></label>
<label>Churn by<select id="filter-metric"><option value="lines">lines</option>
<option value="commits">commits</option></select></label>
</div>
<p class="muted">The filters apply to this panel (commits and discards); the sections below cover the whole
report window. Imported history is the commits <code>gitobs import</code> read from git's log.</p>{limit}
<div class="cards">{cards}</div>
<div class="panes">
<div><h3>Commits per day</h3><div class="scroll" id="dash-calendar"></div>
<p class="legend muted" id="dash-calendar-summary"></p></div>
<div><h3>Commits by hour of the week</h3><div class="scroll" id="dash-hours"></div>
<p class="legend muted" id="dash-hours-summary"></p></div>
</div>
<h3>Churn by directory and file</h3>
<p class="crumbs" id="dash-crumbs"></p>
<div id="dash-churn"></div>
<p class="muted" id="dash-churn-summary"></p>
</section>"""


def _limits(notes: dict[str, object]) -> list[str]:
    """What the dashboard's rows leave out, in sentences (its dataset_notes facts, by label)."""
    said = []
    if notes.get("files summed in null-path rows"):
        said.append(f"The {notes.get('files by name')} busiest files are named; "
                    f"{notes['files summed in null-path rows']} others are summed as one.")
    left = [f"{notes[label]} {kind} rows" for label, kind in (("activity rows left out (oldest days)", "activity"),
                                                              ("file rows left out (oldest days)", "file"))
            if notes.get(label)]
    if left:
        said.append(f"Left out, the oldest days first: {' and '.join(left)}.")
    if notes.get("complete from"):
        said.append(f"Complete from {notes['complete from']}: older days were dropped to keep the data bounded.")
    return said


def _section(section: Section, anchor: str) -> str:
    parts = [f'<section id="{anchor}">', f"<h2>{esc(section.title or section.name)}</h2>"]
    if section.error is not None:
        parts.append(f'<p class="failed">failed: {esc(section.error)}</p>')
    elif not section.blocks:
        parts.append('<p class="muted">nothing in this window</p>')
    for block in section.blocks:
        title = f"<h3>{esc(block.title)}</h3>" if block.title else ""
        parts.append(f'<div class="block" data-block="{esc(block.id)}">{title}{block_html(block)}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def _safe_dataset(section: Section, report: Report) -> dict | None:
    """A dashboard section a plugin malformed (or a report time that is no time) leaves the page without
    the dashboard; its section is drawn with the others."""
    try:
        return _dataset(section, report)
    except (ValueError, TypeError, IndexError, AttributeError):
        return None


def _dataset(section: Section, report: Report) -> dict | None:
    """The dashboard's rows made compact for the page: days as numbers (days since 1970-01-01), branches
    and paths as indexes into lists of their inert names. None when its tables are not there."""
    tables = {block.id: block for block in section.blocks if isinstance(block, Table)}
    activity, files = tables.get("dataset_activity"), tables.get("dataset_paths")
    if activity is None or files is None:
        return None
    branches: dict[str | None, int] = {}
    paths: dict[str, int] = {}

    def branch(name: object) -> int:
        return branches.setdefault(None if name is None else str(name), len(branches))

    def path(name: object) -> int:
        return -1 if name is None else paths.setdefault(str(name), len(paths))

    return {
        "today": _report_day(report),
        "activity": [[_day(row[0]), int(row[1]), branch(row[2]), *map(int, row[3:8])] for row in activity.rows],
        "files": [[_day(row[0]), branch(row[1]), int(row[2]), path(row[3]), int(row[4]), int(row[5])]
                  for row in files.rows],
        "branches": ["(no branch)" if name is None else inert(name) for name in branches],
        "paths": [inert(name) for name in paths],
    }


def _day(text: object) -> int:
    return (date.fromisoformat(str(text)) - date(1970, 1, 1)).days


def _report_day(report: Report) -> int:
    """The report's now as a local day: where the periods end."""
    now = datetime.fromisoformat(report.now.replace("Z", "+00:00"))
    sign = -1 if report.utc_offset.startswith("-") else 1
    hours, _, minutes = report.utc_offset.lstrip("+-").partition(":")
    local = now + sign * timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    return (local.date() - date(1970, 1, 1)).days


def _embed(data: dict) -> str:
    """JSON that cannot end its script element nor be read as markup: <, >, & and the line separators JS
    once choked on are \\u escapes (valid JSON, the same strings after JSON.parse)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.translate(JSON_ESCAPES)
