"""The packages follow the data path (docs/architecture.md): each imports only from the layers below it, so
the tree reads in the order data flows and no cycle can form."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "gitobs"
# Lowest first. A package may import itself and anything on a lower line; packages on one line are
# siblings that never import each other.
LAYERS = [
    {"core"},
    {"log"},
    {"capture", "replay"},
    {"share", "export"},
    {"upkeep"},
    {"history"},
    {"fleet"},
    {"cli"},
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
# The root's own modules: the version (gitobs/__init__.py, importable from anywhere), the plugin door and
# the old plugin paths (above replay), the entry point (above everything).
ROOT_MODULES = {"gitobs": -1, "plugin": RANK["replay"] + 0.5, "analysis": RANK["replay"] + 0.5,
                "hookspecs": RANK["replay"] + 0.5, "sections": RANK["replay"] + 0.5, "stats": RANK["replay"] + 0.5,
                "__main__": len(LAYERS)}


def layer_of(module: str) -> float:
    parts = module.split(".")
    if parts == ["gitobs"]:
        return ROOT_MODULES["gitobs"]
    head = parts[1]
    return RANK[head] if head in RANK else ROOT_MODULES[head]


def gitobs_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "gitobs":
                found += [f"gitobs.{alias.name}" if f"gitobs.{alias.name}" != "gitobs.__version__" else "gitobs"
                          for alias in node.names]
            elif node.module.startswith("gitobs."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "gitobs"]
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_package_imports_only_from_below():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        own = importer.split(".")[1] if "." in importer else None
        for imported in gitobs_imports(path):
            target = imported.split(".")[1] if "." in imported else None
            if target == own and own in RANK:
                continue
            if layer_of(imported) >= layer_of(importer) and not (importer == "gitobs" or imported == "gitobs"):
                wrong.append(f"{importer} -> {imported}")
    assert not wrong, "imports that point up the data path or across siblings:\n" + "\n".join(wrong)


def test_every_package_is_in_a_layer():
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert packages == set(RANK)
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules <= set(ROOT_MODULES)


def test_plugins_import_only_the_plugin_door():
    plugins = Path(__file__).parents[1] / "plugins"
    example = Path(__file__).parents[1] / "docs" / "example-plugin" / "gitobs_commit_size"
    for path in [*plugins.glob("*.py"), *example.glob("*.py")]:
        assert set(gitobs_imports(path)) <= {"gitobs.plugin"}, path.name


def test_the_old_plugin_paths_still_work_with_a_warning():
    import importlib
    import sys
    import warnings

    import gitobs.plugin as door

    for old, name in (("analysis", "Analyzer"), ("hookspecs", "hookimpl"), ("sections", "Facts"),
                      ("stats", "percentile")):
        sys.modules.pop(f"gitobs.{old}", None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = importlib.import_module(f"gitobs.{old}")
        assert getattr(module, name) is getattr(door, name)
        assert any(issubclass(w.category, DeprecationWarning) and "gitobs.plugin" in str(w.message) for w in caught)
