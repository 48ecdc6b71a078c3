"""`gitobs config list|get|set|unset`: the layered configuration (gitobs/core/config.py), every value with where
it came from."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.text import Text

from gitobs.cli.commands import RepoOption, say, warn
from gitobs.core import config as layered
from gitobs.core.repo import GitobsError, NotARepository, Repo, locate
from gitobs.core.safe_text import inert

app = typer.Typer(help="Settings: defaults < your own (--user) < this repository's < the committed .gitobs.toml.",
                  no_args_is_help=True)

OriginOption = typer.Option(False, "--show-origin", help="Say which file each value comes from.")
UserOption = typer.Option(False, "--user", help="Your own config (every repository), not this repository's.")
OPTIONS_KEY = "report.options"


def _repo(path: Path | None) -> Repo | None:
    try:
        return locate(path)
    except NotARepository:
        if path is not None:
            raise
        return None


def _load(path: Path | None) -> layered.Config:
    repo = _repo(path)
    found = layered.load(repo.common_dir if repo else None, repo.work_tree if repo else None)
    for message in found.warnings:
        warn(inert(message))
    return found


def _lines(name: str, value: layered.Value, show_origin: bool) -> list[Text]:
    """`name = value` in TOML's notation (report.options: one line per entry), then `# origin (file)`."""
    origin = f"  # {value.origin}" + (f" ({value.source})" if value.source else "") if show_origin else ""
    if name == OPTIONS_KEY and value.value:
        pairs = [(f"{name}.{option}", text) for option, text in sorted(value.value.items())]
    else:
        pairs = [(name, value.value)]
    return [Text(inert(f"{key} = {layered.shown(shown)}{origin}")) for key, shown in pairs]


@app.command("list")
def list_(repo_dir: Path = RepoOption, show_origin: bool = OriginOption) -> None:
    """Every setting and its value."""
    for name, value in _load(repo_dir).values.items():
        for line in _lines(name, value, show_origin):
            say(line)


@app.command()
def get(key: str, repo_dir: Path = RepoOption, show_origin: bool = OriginOption) -> None:
    """One setting's value."""
    name = _known(key).name
    for line in _lines(name, _load(repo_dir).values[name], show_origin):
        say(line)


@app.command("set")
def set_(key: str, value: str, repo_dir: Path = RepoOption, user: bool = UserOption) -> None:
    """Set a setting in this repository's config (.git/obs/config.toml), or with --user in your own."""
    if key == OPTIONS_KEY:
        raise GitobsError(f"set one entry at a time: gitobs config set {OPTIONS_KEY}.ANALYZER.KEY VALUE")
    name, parts = _parts(key)
    stored = value if name not in layered.KEYS else layered.from_cli(layered.KEYS[name], value)
    path = _file(repo_dir, user, parts)
    changed = layered.write_key(path, parts, stored)
    say(Text(inert(f"{name} set in {path}" if changed else f"{name} already has that value in {path}")))
    _load(repo_dir)  # show what the change makes of the whole (a repository value may be ignored)


@app.command()
def unset(key: str, repo_dir: Path = RepoOption, user: bool = UserOption) -> None:
    """Remove a setting from this repository's config, or with --user from your own."""
    name, parts = _parts(key)
    path = _file(repo_dir, user, parts)
    changed = layered.write_key(path, parts, None)
    say(Text(inert(f"{name} removed from {path}" if changed else f"{name} was not set in {path}")))


def _known(name: str) -> layered.Key:
    key = layered.KEYS.get(name)
    if key is None:
        raise GitobsError(f"unknown setting {name!r} (gitobs config list shows them)")
    return key


def _parts(name: str) -> tuple[str, list[str]]:
    """The setting's name and its path in the TOML file; `report.options.heatmap.top` is one entry of the
    report.options table (its key holds a dot)."""
    if name.startswith(OPTIONS_KEY + ".") and name.count(".") == 3:
        return name, ["report", "options", name[len(OPTIONS_KEY) + 1:]]
    found = _known(name)
    return found.name, found.name.split(".")


def _file(repo_dir: Path | None, user: bool, parts: list[str]) -> Path:
    key = layered.KEYS.get(".".join(parts))
    if user:  # through a link (a dotfile manager's), as git config --global does; a repository's file is not
        return Path(os.path.realpath(layered.user_file()))
    if key is not None and key.kind == layered.USER:
        raise GitobsError(f"{key.name} can only be set in your own config (a repository may never send data "
                          "anywhere): add --user")
    repo = _repo(repo_dir)
    if repo is None:
        raise GitobsError("not in a git repository: use --user for your own config, or -C REPO")
    return repo.common_dir / "obs" / "config.toml"
