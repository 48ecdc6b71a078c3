"""gitobs/replay/entry_points.py reads the same entry points as importlib.metadata, without importing it,
and never from the current directory."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from gitobs.replay import plugins
from gitobs.replay.entry_points import entry_points


def _distribution(site: Path, dir_name: str, name: str, version: str, entry_text: str | None,
                  metadata_file: str = "METADATA") -> None:
    meta = site / dir_name
    meta.mkdir(parents=True)
    (meta / metadata_file).write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n\nbody\n")
    if entry_text is not None:
        (meta / "entry_points.txt").write_text(entry_text)


def _site(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    _distribution(first, "Gitobs_Extra-1.2.dist-info", "gitobs-extra", "1.2",
                  "[console_scripts]\nx = y:z\n\n[gitobs]\n# a comment\nextra = extra_plugin\n"
                  "deep = extra_plugin:holder.plugin\n[other]\nnot = this\n")
    _distribution(first, "old_style.egg-info", "Old.Style", "0.9", "[gitobs]\nold=old_plugin\n", "PKG-INFO")
    _distribution(first, "no_entries-3.0.dist-info", "no-entries", "3.0", None)
    _distribution(first, "broken-1.0.dist-info", "broken", "1.0", "[gitobs\nnonsense\n= \n")
    # shadowed: the same distribution (another spelling) later on the path
    _distribution(second, "gitobs.extra-0.1.dist-info", "gitobs.extra", "0.1", "[gitobs]\nstale = stale_plugin\n")
    _distribution(second, "later-2.0.dist-info", "later", "2.0", "[gitobs]\nlater = later_plugin\n")
    return first, second


def test_the_same_entry_points_as_importlib_metadata(tmp_path):
    path = [str(directory) for directory in _site(tmp_path)]
    ours = [(ep.name, ep.value, ep.distribution, ep.version) for ep in entry_points("gitobs", path)]
    assert ours == [("deep", "extra_plugin:holder.plugin", "gitobs-extra", "1.2"),
                    ("extra", "extra_plugin", "gitobs-extra", "1.2"),
                    ("later", "later_plugin", "later", "2.0"),
                    ("old", "old_plugin", "Old.Style", "0.9")]
    oracle = sorted((ep.name, ep.value, ep.dist.metadata["Name"], ep.dist.version)
                    for ep in _unique_entry_points(importlib.metadata.distributions(path=path)))
    assert ours == oracle


def _unique_entry_points(distributions) -> list:
    """importlib.metadata.entry_points()'s own rule, over chosen paths: the first distribution of a name."""
    seen, found = set(), []
    for dist in distributions:
        key = dist.metadata["Name"].replace("-", "_").replace(".", "_").lower()
        if key not in seen:
            seen.add(key)
            found += [ep for ep in dist.entry_points if ep.group == "gitobs"]
    return found


def test_installed_plugins_match_importlib_metadata():
    ours = [(ep.name, ep.value, ep.distribution, ep.version) for ep in entry_points("gitobs")]
    theirs = sorted({(ep.name, ep.value, ep.dist.metadata["Name"], ep.dist.version)
                     for ep in importlib.metadata.entry_points(group="gitobs")})
    assert ours == theirs
    assert len(ours) >= 15  # the built-in analyzers and renderers


def test_loading_follows_the_attribute_path(tmp_path, monkeypatch):
    first, _ = _site(tmp_path)
    (first / "extra_plugin.py").write_text("class holder:\n    plugin = 'the plugin'\n")
    monkeypatch.syspath_prepend(str(first))
    found = {ep.name: ep for ep in entry_points("gitobs", [str(first)])}
    assert found["deep"].load() == "the plugin"
    assert found["extra"].load().__name__ == "extra_plugin"


def test_a_plugin_planted_in_the_current_directory_is_never_found(tmp_path, monkeypatch):
    _distribution(tmp_path, "planted-1.0.dist-info", "planted", "1.0", "[gitobs]\nplanted = planted_plugin\n")
    (tmp_path / "planted_plugin.py").write_text("raise SystemExit('ran a repository file')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", ".", *sys.path])
    assert "planted" not in {ep.name for ep in entry_points("gitobs")}
    loaded = plugins.load()
    assert "planted" not in {info.name for info in loaded.plugins}
    assert not loaded.failures()


def test_loading_plugins_imports_no_importlib_metadata():
    code = "import sys\nfrom gitobs.replay import plugins\nplugins.load()\nprint('importlib.metadata' in sys.modules)"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert done.stdout.strip() == "False"


def test_name_and_version_are_the_first_headers_not_the_body(tmp_path):
    """As importlib.metadata (the email parser) reads them: the headers end at the first blank line, the first
    of a repeated header counts, a folded line continues the header above it, and an empty METADATA gives way
    to PKG-INFO."""
    site = tmp_path / "site"
    _distribution(site, "body-1.0.dist-info", "body", "1.0", "[gitobs]\nbody = body_plugin\n")
    (site / "body-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: body\nVersion: 1.0\nVersion: 6.6\nLicense: MIT\n        Name: folded\n"
        "\nName: fake\nVersion: 9.9\n")
    _distribution(site, "empty-2.0.dist-info", "empty", "2.0", "[gitobs]\nempty = empty_plugin\n", "PKG-INFO")
    (site / "empty-2.0.dist-info" / "METADATA").write_text("")
    _distribution(site, "late-3.0.dist-info", "late", "3.0", "[gitobs]\nlate = late_plugin\n")
    (site / "late-3.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\n" + "Classifier: Topic :: Software Development\n" * 60 + "Name: late\nVersion: 3.0\n")
    ours = [(ep.name, ep.distribution, ep.version) for ep in entry_points("gitobs", [str(site)])]
    assert ours == [("body", "body", "1.0"), ("empty", "empty", "2.0"), ("late", "late", "3.0")]
    oracle = sorted((ep.name, ep.dist.metadata["Name"], ep.dist.version)
                    for ep in _unique_entry_points(importlib.metadata.distributions(path=[str(site)])))
    assert ours == oracle


def test_sections_are_named_as_importlib_metadata_names_them(tmp_path):
    """importlib.metadata strips the brackets, not the spaces: "[ gitobs ]" is another group, "[[gitobs]]" this
    one; its suffix match is case-blind."""
    site = tmp_path / "site"
    _distribution(site, "spaced-1.0.dist-info", "spaced", "1.0", "[ gitobs ]\nspaced = spaced_plugin\n")
    _distribution(site, "doubled-1.0.dist-info", "doubled", "1.0", "[[gitobs]]\ndoubled = doubled_plugin\n")
    _distribution(site, "Shouting-1.0.DIST-INFO", "Shouting", "1.0", "[gitobs]\nshouting = shouting_plugin\n")
    ours = [(ep.name, ep.distribution) for ep in entry_points("gitobs", [str(site)])]
    assert ours == [("doubled", "doubled"), ("shouting", "Shouting")]
    oracle = sorted((ep.name, ep.dist.metadata["Name"])
                    for ep in _unique_entry_points(importlib.metadata.distributions(path=[str(site)])))
    assert ours == oracle


def test_an_entry_point_with_extras_loads_as_importlib_metadata_loads_it(tmp_path, monkeypatch):
    """`name = module:attribute [extra]` (setuptools writes extras, deprecated but valid): the extras are not
    part of the attribute path."""
    site = tmp_path / "site"
    _distribution(site, "extras-1.0.dist-info", "extras", "1.0",
                  "[gitobs]\nwith_attr = extras_plugin:holder.plugin [fast]\nbare = extras_plugin[fast, small]\n")
    (site / "extras_plugin.py").write_text("class holder:\n    plugin = 'the plugin'\n")
    monkeypatch.syspath_prepend(str(site))
    found = {ep.name: ep for ep in entry_points("gitobs", [str(site)])}
    theirs = {ep.name: ep for ep in importlib.metadata.entry_points(group="gitobs", name="with_attr")
              if ep.dist and ep.dist.metadata["Name"] == "extras"}
    assert found["with_attr"].load() == theirs["with_attr"].load() == "the plugin"
    assert found["bare"].load().__name__ == "extras_plugin"


def test_another_package_can_neither_replace_nor_hide_a_built_in(tmp_path, monkeypatch):
    # Its plugin named "summary", and its plugin "aaa" with an analyzer named "heatmap": both sort before
    # the built-ins they collide with, by name and module.
    _distribution(tmp_path, "taker-1.0.dist-info", "taker", "1.0", "[gitobs]\nsummary = aaa_summary\naaa = aaa_plugin\n")
    analyzer = ("from gitobs.plugin import Analyzer, hookimpl\n"
                "class Taker(Analyzer):\n    name, title, consumes = {name!r}, 'Taken', ('*',)\n"
                "    def feed(self, events): pass\n    def result(self): return []\n"
                "@hookimpl\ndef gitobs_analyzers():\n    return [Taker]\n")
    (tmp_path / "aaa_summary.py").write_text("open('IMPORTED', 'w').close()\n" + analyzer.format(name="taken"))
    (tmp_path / "aaa_plugin.py").write_text(analyzer.format(name="heatmap"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    loaded = plugins.load()
    titles = {cls.name: cls.title for cls, _ in loaded.analyzers}
    assert titles["summary"] != "Taken" and titles["heatmap"] == "Activity heatmap" and "taken" not in titles
    errors = {(info.name, info.distribution): info.error for info in loaded.plugins}
    assert errors[("summary", "gitobs")] is None and errors[("heatmap", "gitobs")] is None
    assert errors[("summary", "taker")] == "the name is taken by plugin 'summary' of gitobs " + _built_in_version(loaded)
    assert errors[("aaa", "taker")].startswith("analyzer 'heatmap' is taken by plugin 'heatmap' of gitobs")
    assert not (tmp_path / "IMPORTED").exists()  # the plugin left out by its name is not even imported


def _built_in_version(loaded: plugins.Provided) -> str:
    return next(info.version for info in loaded.plugins if info.distribution == "gitobs")
