"""The HTML report's one stylesheet and one script, inlined in the page (nothing is loaded from anywhere).

The script sorts tables and draws the dashboard from the JSON in <script type="application/json"
id="gitobs-data">: it parses it with JSON.parse, builds elements with createElement and shows every name
with textContent (never innerHTML or eval), and its only way to style is the CSSOM (element.style), which a
Content-Security-Policy allows. The page's CSP admits this script by its SHA-256 and nothing else.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa; --accent: #0969da;
        --l0: #ebedf0; --l1: #9be9a8; --l2: #40c463; --l3: #30a14e; --l4: #216e39; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff;
       margin: 0; }
.page { display: grid; grid-template-columns: 14em minmax(0, 1fr); gap: 2em; max-width: 1280px; margin: 0 auto;
        padding: 1.5em 1em; }
nav.toc { position: sticky; top: 1em; align-self: start; font-size: .92em; }
nav.toc ol { list-style: none; padding: 0; margin: .3em 0; }
nav.toc li { margin: .15em 0; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
h1 { font-size: 1.6em; margin: 0 0 .4em; }
h2 { font-size: 1.25em; border-bottom: 1px solid var(--line); padding-bottom: .25em; margin-top: 1.8em; }
h3 { font-size: 1em; margin: 1.2em 0 .4em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15em 1.5em; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11em, 1fr)); gap: .75em; margin: .75em 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6em .8em; background: var(--bg2); }
.card .value { font-size: 1.5em; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .label { color: var(--muted); font-size: .9em; }
.card .before { color: var(--muted); font-size: .8em; }
.sentences p { margin: .3em 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.sortable th, table.sortable td { padding: .25em .75em; border-bottom: 1px solid var(--line); text-align: left;
                                       vertical-align: top; }
table.sortable th { border-bottom: 2px solid var(--line); cursor: pointer; user-select: none; white-space: nowrap; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; font-size: .7em; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; font-size: .7em; }
td.num, th.num { text-align: right; }
.scroll { overflow-x: auto; }
table.heat { border-collapse: separate; border-spacing: 2px; font-size: 10px; color: var(--muted); }
table.heat td { width: 11px; height: 11px; min-width: 11px; padding: 0; border-radius: 2px; }
table.heat td.pad { background: none; }
table.heat th { font-weight: normal; padding: 0 4px 0 0; text-align: right; white-space: nowrap; }
table.heat thead th { text-align: left; padding: 0; }
table.heat th.upright { writing-mode: vertical-rl; transform: rotate(180deg); vertical-align: bottom;
                        padding: 2px 0; }
table.heat th.month { position: relative; height: 14px; }
table.heat th.month span { position: absolute; left: 0; bottom: 1px; }
.l0 { background: var(--l0); } .l1 { background: var(--l1); } .l2 { background: var(--l2); }
.l3 { background: var(--l3); } .l4 { background: var(--l4); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; vertical-align: middle;
            margin-right: 2px; }
.muted { color: var(--muted); }
.failed { color: #d1242f; font-weight: 600; }
.warnings { margin-top: 2em; color: #9a6700; }
.filters { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; padding: .6em .8em; background: var(--bg2);
           border: 1px solid var(--line); border-radius: 6px; }
.filters label { color: var(--muted); }
.filters select { margin-left: .3em; max-width: 22em; }
.panes { display: grid; grid-template-columns: repeat(auto-fit, minmax(22em, 1fr)); gap: 1em 2em; }
ol.bars { list-style: none; padding: 0; margin: .4em 0; }
ol.bars li { display: grid; grid-template-columns: minmax(8em, 18em) minmax(0, 1fr) 6em; gap: .6em;
             align-items: center; margin: 2px 0; }
ol.bars .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; direction: ltr; text-align: left; }
ol.bars button.name { font: inherit; color: var(--accent); background: none; border: 0; padding: 0; cursor: pointer; }
ol.bars .bar { height: 12px; background: var(--l3); border-radius: 2px; min-width: 1px; }
ol.bars .bar.dir { background: var(--accent); }
ol.bars .value { text-align: right; font-variant-numeric: tabular-nums; }
.crumbs button { font: inherit; color: var(--accent); background: none; border: 0; padding: 0 .2em; cursor: pointer; }
code { word-break: break-all; }
@media (max-width: 900px) { .page { grid-template-columns: minmax(0, 1fr); } nav.toc { position: static; } }
"""

SCRIPT = r"""
(function () {
  'use strict';
  var DAY_MS = 86400000;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function dayText(day) { return new Date(day * DAY_MS).toISOString().slice(0, 10); }
  function weekday(day) { return (day + 3) % 7; }  /* 1970-01-01 was a Thursday; Monday is 0 */
  function level(value, top) { return value <= 0 || top <= 0 ? 0 : Math.min(4, Math.ceil(4 * value / top)); }
  function number(value) { return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  var WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  /* ---- sortable tables: a click (or Enter) on a header sorts by it, numbers by value, empty cells last */
  function sortKey(cell, numeric) {
    if (!cell) { return null; }
    if (numeric) { return cell.hasAttribute('data-sort') ? parseFloat(cell.getAttribute('data-sort')) : null; }
    return cell.textContent;
  }
  function sortBy(header) {
    var row = header.parentNode, table = row.closest('table'), body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(row.children, header);
    var numeric = header.classList.contains('num');
    var ascending = header.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(row.children, function (other) { other.removeAttribute('aria-sort'); });
    header.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows).map(function (tr) {
      return {tr: tr, key: sortKey(tr.cells[index], numeric)};
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) { return (a.key === null) - (b.key === null); }
      var order = numeric ? a.key - b.key : a.key.localeCompare(b.key);
      return ascending ? order : -order;
    });
    rows.forEach(function (item) { body.appendChild(item.tr); });
  }
  document.querySelectorAll('table.sortable thead th').forEach(function (header) {
    header.addEventListener('click', function () { sortBy(header); });
    header.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); sortBy(header); }
    });
  });

  /* ---- the dashboard: filters by period and branch over the embedded rows */
  var source = document.getElementById('gitobs-data');
  var root = document.getElementById('dashboard');
  if (!source || !root) { return; }
  var data = JSON.parse(source.textContent);
  var A_DAY = 0, A_HOUR = 1, A_BRANCH = 2, A_IMPORTED = 3, A_COMMITS = 4, A_LINES = 5, A_DISCARDS = 6,
    A_DISCARDED = 7;
  var F_DAY = 0, F_BRANCH = 1, F_IMPORTED = 2, F_PATH = 3, F_COMMITS = 4, F_LINES = 5;
  var periodSelect = document.getElementById('filter-period');
  var branchSelect = document.getElementById('filter-branch');
  var sourceSelect = document.getElementById('filter-source');
  var metricSelect = document.getElementById('filter-metric');
  var fromInput = document.getElementById('filter-from'), toInput = document.getElementById('filter-to');
  var directory = '';

  data.branches.forEach(function (name, index) { branchSelect.appendChild(new Option(name, String(index))); });

  function dayOf(text) { return Math.floor(Date.parse(text + 'T00:00:00Z') / DAY_MS); }
  function chosen() {
    var period = periodSelect.value, branch = branchSelect.value;
    var first = -Infinity, last = data.today;
    if (period === 'dates') {
      first = fromInput.value ? dayOf(fromInput.value) : -Infinity;
      last = toInput.value ? dayOf(toInput.value) : data.today;
    } else if (period !== 'all') {
      first = data.today - parseInt(period, 10) + 1;
    }
    return {first: first, last: last, branch: branch === 'all' ? -1 : parseInt(branch, 10),
            imported: sourceSelect.value === 'all' ? -1 : parseInt(sourceSelect.value, 10)};
  }
  function keep(filter, day, branch, imported) {
    return day >= filter.first && day <= filter.last && (filter.branch < 0 || branch === filter.branch) &&
      (filter.imported < 0 || imported === filter.imported);
  }

  function render() {
    var filter = chosen();
    var activity = data.activity.filter(function (r) { return keep(filter, r[A_DAY], r[A_BRANCH], r[A_IMPORTED]); });
    var files = data.files.filter(function (r) { return keep(filter, r[F_DAY], r[F_BRANCH], r[F_IMPORTED]); });
    cards(activity, files);
    calendar(activity, filter);
    hours(activity);
    churn(files);
  }

  function cards(activity, files) {
    var sums = {commits: 0, imported: 0, lines: 0, discards: 0, discarded: 0};
    var days = {}, branches = {}, paths = {};
    activity.forEach(function (r) {
      sums.commits += r[A_COMMITS]; sums.lines += r[A_LINES];
      if (r[A_IMPORTED]) { sums.imported += r[A_COMMITS]; }
      sums.discards += r[A_DISCARDS]; sums.discarded += r[A_DISCARDED];
      days[r[A_DAY]] = true; branches[r[A_BRANCH]] = true;
    });
    files.forEach(function (r) { if (r[F_PATH] >= 0) { paths[r[F_PATH]] = true; } });
    var values = {commits: sums.commits, imported: sums.imported, lines: sums.lines, discards: sums.discards,
                  discarded: sums.discarded,
                  days: Object.keys(days).length, branches: Object.keys(branches).length,
                  files: Object.keys(paths).length};
    Object.keys(values).forEach(function (key) {
      var card = root.querySelector('[data-card="' + key + '"] .value');
      if (card) { card.textContent = number(values[key]); }
    });
  }

  function heatTable(className, columns, rows, top, tip) {
    var table = el('table', 'heat ' + className), head = el('tr');
    head.appendChild(el('td'));
    columns.forEach(function (label) {
      var th = el('th', label.month ? 'month' : ''), span = el('span', '', label.text);
      th.appendChild(span);
      head.appendChild(th);
    });
    table.appendChild(el('thead')).appendChild(head);
    var body = el('tbody');
    rows.forEach(function (row) {
      var tr = el('tr');
      tr.appendChild(el('th', 'label', row.label));
      row.cells.forEach(function (cell) {
        var td = el('td', cell === null ? 'pad' : 'l' + level(cell.value, top));
        if (cell !== null) { td.title = tip(cell); }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  function calendar(activity, filter) {
    var counts = {}, last = filter.last, earliest = last;
    activity.forEach(function (r) {
      counts[r[A_DAY]] = (counts[r[A_DAY]] || 0) + r[A_COMMITS];
      earliest = Math.min(earliest, r[A_DAY]);
    });
    var wanted = isFinite(filter.first) ? filter.first : earliest;
    var first = Math.max(wanted, last - 370);  /* at most the latest 53 weeks */
    var start = first - weekday(first), weeks = Math.max(0, Math.floor((last - start) / 7) + 1);
    var rows = WEEKDAYS.map(function (label) { return {label: label, cells: []}; });
    var columns = [], top = 0, total = 0, active = 0, previous = '';
    for (var week = 0; week < weeks; week++) {
      var month = MONTHS[new Date(Math.max(first, start + week * 7) * DAY_MS).getUTCMonth()];
      columns.push({text: month !== previous ? month : '', month: true});
      previous = month;
      for (var d = 0; d < 7; d++) {
        var day = start + week * 7 + d;
        var inside = day >= first && day <= last;
        var value = counts[day] || 0;
        rows[d].cells.push(inside ? {day: day, value: value} : null);
        if (inside) { top = Math.max(top, value); total += value; active += value > 0 ? 1 : 0; }
      }
    }
    document.getElementById('dash-calendar').replaceChildren(heatTable('calendar', columns, rows, top, function (cell) {
      return dayText(cell.day) + ' ' + WEEKDAYS[weekday(cell.day)] + ': ' + cell.value + ' commits';
    }));
    document.getElementById('dash-calendar-summary').textContent = last < first ? 'no days in this period'
      : total + ' commits on ' + active + ' of ' + (last - first + 1) + ' days, ' + dayText(first) + ' to ' +
        dayText(last) + (first > wanted ? ' (the latest 53 weeks)' : '');
  }

  function hours(activity) {
    var week = [], top = 0, total = 0;
    for (var i = 0; i < 168; i++) { week.push(0); }
    activity.forEach(function (r) { week[weekday(r[A_DAY]) * 24 + r[A_HOUR]] += r[A_COMMITS]; });
    week.forEach(function (value) { top = Math.max(top, value); total += value; });
    var columns = [];
    for (var h = 0; h < 24; h++) { columns.push({text: h % 3 === 0 ? String(h).padStart(2, '0') : ''}); }
    var rows = WEEKDAYS.map(function (label, d) {
      return {label: label, cells: week.slice(d * 24, d * 24 + 24).map(function (value, h) {
        return {day: d, hour: h, value: value};
      })};
    });
    document.getElementById('dash-hours').replaceChildren(heatTable('hours', columns, rows, top, function (cell) {
      return WEEKDAYS[cell.day] + ' ' + String(cell.hour).padStart(2, '0') + ':00: ' + cell.value + ' commits';
    }));
    document.getElementById('dash-hours-summary').textContent = total + ' commits; busiest hour ' + top + ' commits';
  }

  function churn(files) {
    var metric = metricSelect.value === 'commits' ? F_COMMITS : F_LINES;
    var prefix = directory ? directory + '/' : '';
    var children = {}, other = 0;
    files.forEach(function (r) {
      if (r[F_PATH] < 0) { other += r[metric]; return; }
      var path = data.paths[r[F_PATH]];
      if (path.lastIndexOf(prefix, 0) !== 0) { return; }
      var rest = path.slice(prefix.length), cut = rest.indexOf('/');
      var name = cut < 0 ? rest : rest.slice(0, cut), key = (cut < 0 ? 'f' : 'd') + name;
      children[key] = (children[key] || 0) + r[metric];
    });
    var ranked = Object.keys(children).map(function (key) {
      return {dir: key[0] === 'd', name: key.slice(1), value: children[key]};
    }).filter(function (item) { return item.value > 0; });
    ranked.sort(function (a, b) { return b.value - a.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0); });
    if (!directory && other > 0) { ranked.push({other: true, name: '(other files, summed)', value: other}); }
    var top = ranked.reduce(function (m, item) { return Math.max(m, item.value); }, 0);
    var list = el('ol', 'bars');
    ranked.slice(0, 30).forEach(function (item) {
      var li = el('li');
      var name = item.dir ? el('button', 'name', item.name + '/') : el('span', 'name', item.name);
      name.title = prefix + item.name;
      if (item.dir) {
        name.type = 'button';
        name.addEventListener('click', function () { directory = prefix + item.name; render(); });
      }
      var track = el('div'), bar = el('div', item.dir ? 'bar dir' : 'bar');
      bar.style.width = (top > 0 ? 100 * item.value / top : 0).toFixed(1) + '%';
      track.appendChild(bar);
      li.appendChild(name); li.appendChild(track); li.appendChild(el('span', 'value', number(item.value)));
      list.appendChild(li);
    });
    document.getElementById('dash-churn').replaceChildren(list);
    document.getElementById('dash-churn-summary').textContent = ranked.length === 0 ? 'nothing in this selection'
      : ranked.length > 30 ? 'the 30 largest of ' + ranked.length : '';
    crumbs();
  }

  function crumbs() {
    var place = document.getElementById('dash-crumbs'), parts = directory ? directory.split('/') : [];
    var items = [el('span', 'muted', 'in ')];
    var top = el('button', '', '(top)');
    top.type = 'button';
    top.addEventListener('click', function () { directory = ''; render(); });
    items.push(top);
    parts.forEach(function (part, index) {
      items.push(el('span', 'muted', '/'));
      var button = el('button', '', part);
      button.type = 'button';
      button.addEventListener('click', function () { directory = parts.slice(0, index + 1).join('/'); render(); });
      items.push(button);
    });
    place.replaceChildren.apply(place, items);
  }

  periodSelect.addEventListener('change', function () {
    if (periodSelect.value !== 'dates') { fromInput.value = ''; toInput.value = ''; }
    render();
  });
  [fromInput, toInput].forEach(function (input) {
    input.addEventListener('change', function () { periodSelect.value = 'dates'; render(); });
  });
  branchSelect.addEventListener('change', render);
  sourceSelect.addEventListener('change', render);
  metricSelect.addEventListener('change', render);
  render();
}());
"""


def script_hash() -> str:
    """The CSP source that admits SCRIPT, and only it."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii") + "'"
