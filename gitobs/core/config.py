"""Layered configuration: built-in defaults < user scope < repository scope < the committed `.gitobs.toml`.

- user scope: $GITOBS_CONFIG_HOME/config.toml, else $XDG_CONFIG_HOME/gitobs/config.toml, else
  ~/.config/gitobs/config.toml: the person's own machine-wide choices;
- repository scope: `.git/obs/config.toml`, this clone's;
- committed: `.gitobs.toml` at the top of the work tree, shared by a team through git.

The trust boundary: a repository's files (the last two) come with the code, possibly from a hostile clone
(or a copied directory, `.git` and all), so they may only make gitobs record or share *less*, or keep
*more*. A key is one of four kinds:
- FREE: harmless (how records are read, analyzer options): any scope;
- USER: anything that sends data somewhere or weakens redaction: user scope only;
- NARROW: a privacy switch (a capture category, redaction) that a repository may turn to the private side
  but never away from it;
- WIDEN: retention, which a repository may raise but never lower: only the user scope decides deletion.
A repository value that tries to cross the boundary is ignored, and said so (`Config.warnings`).
Unknown keys, wrong types and numbers out of range are errors naming the file and the key. A config file
is read only when it is a regular file (a symlink to one is followed) of at most 1 MiB.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from gitobs.core.files import open_regular, read_at_most, write_atomic
from gitobs.core.homes import home
from gitobs.core.repo import GitobsError
from gitobs.core.timespec import MAX_DURATION_S, parse_duration

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FREE, USER, NARROW, WIDEN = "free", "user", "narrow", "widen"
SCOPES = ("default", "user", "repo", "committed")  # lowest precedence first
COMMITTED_FILE = ".gitobs.toml"
MAX_SIZE = 1 << 40  # 1 TiB: beyond any log; a larger size is a typo or a hostile file (2**70, float overflow)
_SIZE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([kmg])ib$")
_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
MAX_FILE_BYTES = 1 << 20  # a config file is a few hundred bytes
MAX_LINE_DOTS = 64  # a line of a config file (comments aside) with more is refused: see _toml


def _duration(raw: object) -> float:
    seconds = _seconds(raw)
    if seconds is None or not 0 <= seconds <= MAX_DURATION_S:  # NaN fails both; ints compare exactly
        raise ValueError('a duration from 0 to 100 years, like "30m" or a number of seconds')
    return float(seconds)


def _seconds(raw: object) -> float | None:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return parse_duration(raw)
        except GitobsError:
            pass
    return None


def _size(raw: object) -> int:
    size = _bytes(raw)
    if size is None or not 1 <= size <= MAX_SIZE:
        raise ValueError('a size from 1 byte to 1 TiB, like "64MiB" or a number of bytes')
    return size


def _bytes(raw: object) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    match = _SIZE.match(raw.strip().lower()) if isinstance(raw, str) else None
    if match is None:
        return None
    size = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
    return int(size) if size <= MAX_SIZE else None  # before int(): 400 digits make float infinity


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    raise ValueError("true or false")


def _text(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError("a string")


def _url(raw: object) -> str:
    text = _text(raw).strip()
    if text and not (text.startswith("http://") or text.startswith("https://")):
        raise ValueError('an http:// or https:// URL, like "http://127.0.0.1:4318"')
    return text.rstrip("/")


def _encoding(raw: object) -> str:
    if raw in ("protobuf", "json"):
        return str(raw)
    raise ValueError('"protobuf" or "json"')


def _headers(raw: object) -> dict[str, str]:
    if isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, str) and k.strip() and "\n" not in k + v
                                     and "\r" not in k + v for k, v in raw.items()):
        return dict(raw)
    raise ValueError('a table of header = "value" strings')


def _names(raw: object) -> list[str]:
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return list(raw)
    raise ValueError("a list of strings")


def _options(raw: object) -> dict[str, str]:
    """`[report.options]` with "heatmap.top" = 30 or heatmap.top = 30 (a nested table): -O's names."""
    if not isinstance(raw, dict):
        raise ValueError('a table of "analyzer.key" = "value"')
    options = {}
    for key, value in flatten(raw).items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or key.count(".") != 1:
            raise ValueError('a table of "analyzer.key" = "value"')
        options[key] = str(value)
    return options


def _budgets(raw: object) -> dict[str, float]:
    """`budgets.hooks = {"pre-commit" = "2s"}`: each hook's p90 budget in seconds (the hooks section)."""
    if not isinstance(raw, dict) or not all(isinstance(hook, str) and hook.strip() for hook in raw):
        raise ValueError('a table of hook = duration, like {"pre-commit" = "2s"}')
    return {hook.strip(): _duration(value) for hook, value in raw.items()}


_ACTORS = ("terminal", "ide", "agent", "gitbutler", "ci", "script", "git")  # capture/actors.py's ACTORS
_RULE_TEXT = re.compile(r"[A-Za-z0-9_.+ ()*=-]{1,64}")


def _actor_rules(raw: object) -> list[dict[str, str]]:
    """`actors.rules`: [{actor = "agent", ancestor = "my-bot"}, {actor = "ci", env = "MY_CI=1"}, ...]."""
    rules = raw if isinstance(raw, list) and len(raw) <= 100 else None
    for rule in rules if rules is not None else [None]:
        if not (isinstance(rule, dict) and rule.get("actor") in _ACTORS and len(rule) == 2
                and any(isinstance(rule.get(kind), str) and _RULE_TEXT.fullmatch(rule[kind])
                        for kind in ("ancestor", "env"))):
            raise ValueError("a list of at most 100 tables {actor = one of " + ", ".join(_ACTORS)
                             + ', ancestor = "process name" or env = "NAME" / "NAME=value"}')
    return [dict(rule) for rule in rules or []]


@dataclass(frozen=True)
class Key:
    name: str  # dotted: section.key
    kind: str  # FREE, USER, NARROW or WIDEN
    parse: Callable[[object], Any]
    default: Any
    help: str
    private: Any = None  # NARROW: the value on the private side


KEYS = {key.name: key for key in (
    Key("scan.undo_window", FREE, _duration, 30 * 60.0, "a reset off a commit younger than this undoes it"),
    Key("scan.stage_burst_gap", FREE, _duration, 30.0, "index writes closer than this are one staging burst"),
    Key("capture.hooks", NARROW, _boolean, True, "record what hooks see (commit attempts, pushes, ...)", False),
    Key("capture.skip_hooks", NARROW, _names, [], "hooks whose records are dropped, by name", None),
    Key("capture.all_hooks", USER, _boolean, False,
        "install also the hooks git runs per ref or per rebased commit (user scope only)"),
    Key("capture.reflog", NARROW, _boolean, True, "record commits, switches, resets, ... from the reflogs", False),
    Key("capture.worktree", NARROW, _boolean, True, "sample the working trees (dirty files, discards)", False),
    Key("capture.gitbutler", NARROW, _boolean, True, "record GitButler's stacks and operations", False),
    Key("capture.paths", NARROW, _boolean, True, "store file paths (false: salted hashes instead)", False),
    Key("actors.rules", USER, _actor_rules, [], "who ran a git command (trace2): rules before the built-in ones"),
    Key("bundle.redact", NARROW, _boolean, True, "bundles hash paths, branches, remotes and emails", True),
    Key("export.otlp.endpoint", USER, _url, "", "OTLP/HTTP collector base URL; set: scans export (user scope only)"),
    Key("export.otlp.encoding", USER, _encoding, "protobuf", "OTLP body encoding: protobuf or json"),
    Key("export.otlp.headers", USER, _headers, {}, 'HTTP headers sent with each export, e.g. {authorization = "..."}'),
    Key("export.otlp.timeout", USER, _duration, 10.0, "how long one OTLP request may take"),
    Key("export.otlp.redact", NARROW, _boolean, True, "OTLP export hashes names as bundles do", True),
    Key("export.prometheus.textfile", USER, _text, "", "node_exporter textfile scans write (user scope only)"),
    Key("export.prometheus.redact", NARROW, _boolean, True, "metric labels hash branch names", True),
    Key("retention.max_age", WIDEN, _duration, 90 * 86400.0, "raw events older than this are rolled up"),
    Key("retention.max_bytes", WIDEN, _size, 64 << 20, "the log's size cap on disk"),
    Key("budgets.hooks", FREE, _budgets, {"pre-commit": 2.0}, "p90 budget per hook for the report's burn alert"),
    Key("report.options", FREE, _options, {}, 'defaults for -O, e.g. "patterns.idle_gap" = "45m"'),
    Key("import.identities", USER, _names, [],
        "your other author emails: gitobs import takes their commits too (user scope only)"),
)}


def user_file() -> Path:
    return home("config") / "config.toml"


@dataclass
class Value:
    value: Any
    origin: str  # a scope name
    source: str = ""  # the file it came from ("" for defaults)


@dataclass
class Config:
    values: dict[str, Value]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value


def flatten(table: dict, prefix: str = "") -> dict[str, object]:
    """{"scan": {"undo_window": "5m"}} -> {"scan.undo_window": "5m"}; a known key's own table stays whole."""
    flat: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in KEYS:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def read_file(path: Path, problems: list[str] | None = None) -> dict[str, object]:
    """The file's keys, checked: an unknown key or a wrong type is an error naming the file and the key;
    with `problems`, it is added there instead and the key ignored (for the committed file: a teammate's
    newer gitobs must not stop this one recording)."""
    try:
        flat = flatten(_toml(path))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # not a small regular file, not UTF-8, not TOML, an int over 4300 digits
        return _problem(problems, f"{path}: {exc}") or {}
    except RecursionError:  # arrays or tables nested past what tomllib or flatten() recurse
        return _problem(problems, f"{path}: nested too deeply, not a config file") or {}
    values = {}
    for name, raw in flat.items():
        key = KEYS.get(name)
        try:
            if key is None:
                raise GitobsError(f"{path}: unknown key {name} (gitobs config list shows the known ones)")
            values[name] = parse_value(key, raw, str(path))
        except GitobsError as exc:
            _problem(problems, str(exc))
    return values


def _toml(path: Path) -> dict[str, Any]:
    text = read_text(path)
    for line in text.split("\n"):
        if line.count(".") > MAX_LINE_DOTS and not line.lstrip().startswith("#"):
            # A key's depth is at most its line's dots + 1, and tomllib takes time quadratic in it (a committed
            # `a.a.a...b = 1` of 1 MiB: 40 minutes in every command). gitobs's deepest key has 3 parts.
            raise ValueError(f"a line with more than {MAX_LINE_DOTS} dots, not a config file")
    return tomllib.loads(text)


def read_text(path: Path) -> str:
    """The text of a config file that is a regular file of at most MAX_FILE_BYTES, else ValueError: a
    committed `.gitobs.toml` may be a symlink to /dev/zero, a FIFO or a huge file, and no command may
    block on it or read it without end (core.files.open_regular)."""
    fd, found = open_regular(path)
    try:
        data = b"" if found.st_size > MAX_FILE_BYTES else read_at_most(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if found.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:  # +1 above: a file that grew is seen
        raise ValueError("larger than 1 MiB, not a config file")
    return data.decode("utf-8")


def _problem(problems: list[str] | None, message: str) -> None:
    if problems is None:
        raise GitobsError(message)
    problems.append(f"{message}; ignored")


def parse_value(key: Key, raw: object, where: str) -> Any:
    try:
        return key.parse(raw)
    except (ValueError, GitobsError) as exc:
        raise GitobsError(f"{where}: {key.name} must be {exc}") from None


def scope_files(common_dir: Path | None, work_tree: Path | None) -> dict[str, Path]:
    files = {"user": user_file()}
    if common_dir is not None:
        files["repo"] = common_dir / "obs" / "config.toml"
    if work_tree is not None:
        files["committed"] = work_tree / COMMITTED_FILE
    return files


def load(common_dir: Path | None = None, work_tree: Path | None = None) -> Config:
    config = Config({name: Value(key.default, "default") for name, key in KEYS.items()})
    for scope, path in scope_files(common_dir, work_tree).items():
        problems = config.warnings if scope == "committed" else None
        for name, value in read_file(path, problems).items():
            _apply(config, KEYS[name], value, scope, str(path))
    return config


def main_work_tree(common_dir: Path) -> Path | None:
    """Where the committed `.gitobs.toml` is read: the main work tree (`<top>/.git`'s parent)."""
    return common_dir.parent if common_dir.name == ".git" else None


def from_cli(key: Key, text: str) -> Any:
    """A value typed on the command line, in the form the TOML file keeps (then checked like one)."""
    if key.parse is _boolean:
        words = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}
        if text.strip().lower() not in words:
            raise GitobsError(f"{key.name} takes true or false, not {text!r}")
        value: Any = words[text.strip().lower()]
    elif key.parse is _names:
        value = [part.strip() for part in text.split(",") if part.strip()]
    elif key.parse is _headers:  # name=value,name=value
        pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise GitobsError(f"{key.name} takes name=value pairs separated by commas")
        value = {name.strip(): content.strip() for name, content in pairs}
    elif key.parse is _size and text.strip().isdecimal() and len(text.strip()) <= 18:  # int() refuses 4301 digits
        value = int(text)
    else:
        value = text
    parse_value(key, value, "the command line")
    return value


def _apply(config: Config, key: Key, value: Any, scope: str, source: str) -> None:
    current = config.values[key.name]
    if scope != "user" and key.kind == USER:
        config.warnings.append(f"{source}: {key.name} is ignored: only your own config "
                               f"({user_file()}) may set it")
        return
    if scope != "user" and key.kind == NARROW:
        if key.private is None:  # a list of things left out: a repository may add to it, never take away
            value = sorted(set(current.value) | set(value))
        elif value != key.private and current.value == key.private:
            config.warnings.append(f"{source}: {key.name} = {shown(value)} is ignored: a repository may only "
                                   f"set it to {shown(key.private)}")
            return
    if scope != "user" and key.kind == WIDEN and value < current.value:
        config.warnings.append(f"{source}: {key.name} = {shown(value)} is ignored: a repository may only raise "
                               f"it above {shown(current.value)}; lowering it is for your own config "
                               f"({user_file()})")
        return
    config.values[key.name] = Value(value, scope, source)


def shown(value: Any) -> str:
    """A value as TOML writes it, on one line (a list or table inline)."""
    if isinstance(value, list):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = [tomli_w.dumps({name: item}).strip() for name, item in value.items()]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    return tomli_w.dumps({"v": value})[4:].strip()


def write_key(path: Path, parts: list[str], value: Any | None) -> bool:
    """Set (or with None remove) the key at `parts` (["scan", "undo_window"]) in the TOML file at `path`,
    atomically. Returns whether it changed. The file is rewritten from its parsed form: comments are lost."""
    try:
        table = _toml(path)
    except FileNotFoundError:
        table = {}
    except (OSError, ValueError) as exc:
        raise GitobsError(f"{path}: {exc}") from None
    except RecursionError:
        raise GitobsError(f"{path}: nested too deeply, not a config file") from None
    *sections, leaf = parts
    nodes = [table]
    for part in sections:
        child = nodes[-1].setdefault(part, {})
        if not isinstance(child, dict):
            raise GitobsError(f"{path}: {part} is not a table")
        nodes.append(child)
    if value is None:
        if leaf not in nodes[-1]:
            return False
        del nodes[-1][leaf]
        for parent, part, child in reversed(list(zip(nodes, sections, nodes[1:]))):  # drop emptied tables
            if not child:
                del parent[part]
    elif nodes[-1].get(leaf) == value:
        return False
    else:
        nodes[-1][leaf] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, tomli_w.dumps(table).encode())
    return True


@dataclass(frozen=True)
class ScanSettings:
    undo_window: float = 30 * 60  # a reset off a commit younger than this undoes it (commit.undone)
    stage_burst_gap: float = 30.0  # index writes closer than this are one index.stage burst
    hooks: bool = True  # capture categories: off means read and dropped, never stored
    skip_hooks: frozenset[str] = frozenset()
    reflog: bool = True
    worktree: bool = True
    gitbutler: bool = True
    paths: bool = True  # off: file paths are stored as salted hashes
    paused: bool = False
    max_age: float = 90 * 86400.0  # retention (gitobs/upkeep/retention.py)
    max_bytes: int = 64 << 20

    @classmethod
    def load(cls, common_dir: Path, paused: bool) -> ScanSettings:
        """What a scan reads of the configuration: how to interpret records, and which capture categories
        are on. Recording paused (`gitobs pause`) turns every category off until it ends."""
        found = load(common_dir, main_work_tree(common_dir))
        return cls(undo_window=found["scan.undo_window"], stage_burst_gap=found["scan.stage_burst_gap"],
                   hooks=found["capture.hooks"] and not paused, skip_hooks=frozenset(found["capture.skip_hooks"]),
                   reflog=found["capture.reflog"] and not paused, worktree=found["capture.worktree"] and not paused,
                   gitbutler=found["capture.gitbutler"] and not paused, paths=found["capture.paths"], paused=paused,
                   max_age=found["retention.max_age"], max_bytes=found["retention.max_bytes"])
