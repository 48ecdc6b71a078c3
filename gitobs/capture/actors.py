"""Who ran a git command: a person at a terminal, an IDE, a coding agent, GitButler, CI, a script, or git
itself, told from what trace2 gives: the parent process names (`cmd_ancestry`, nearest first) and the
environment variables listed in `trace2.envVars` (`def_param`). docs/events.md has the table.

The rules are ordered and the first that matches wins. The user's own rules (`actors.rules`, user scope
only: a cloned repository cannot relabel its own commands) come before the built-in ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitobs.core import config

ACTORS = ("terminal", "ide", "agent", "gitbutler", "ci", "script", "git")

# Variables the built-in rules read: `gitobs trace2 enable` lists them (and the user's) in trace2.envVars,
# since trace2 reports only the variables named there, by exact name.
AGENT_ENV = ("CLAUDECODE=1", "CODEX_SANDBOX_NETWORK_DISABLED", "GEMINI_CLI")
CI_ENV = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL", "TF_BUILD")
IDE_ENV = ("TERM_PROGRAM=vscode",)
ACTOR_ENV_VARS = tuple(rule.split("=")[0] for rule in AGENT_ENV + CI_ENV + IDE_ENV)

# Process names, lowercased, ".exe" dropped; a trailing * matches a prefix (Linux cuts names at 15 bytes).
AGENT_NAMES = ("claude", "codex", "aider", "cursor-agent", "gemini")
GITBUTLER_NAMES = ("gitbutler*", "but")
SHELL_NAMES = ("bash", "zsh", "fish", "sh", "dash", "ksh", "mksh", "tcsh", "csh", "nu", "xonsh", "pwsh",
               "powershell", "cmd")
IDE_NAMES = ("code", "code helper*", "code - insiders", "codium", "cursor", "windsurf", "zed", "idea*",
             "pycharm*", "webstorm*", "goland*", "clion*", "rider*", "phpstorm*", "rubymine*", "datagrip*",
             "studio*", "fleet", "sublime_text", "sublime_merge", "nvim", "vim", "emacs")
_FALSE = ("", "0", "false", "no", "off")
MAX_USER_RULES = 100


@dataclass(frozen=True)
class Rule:
    actor: str
    env: str = ""  # NAME (set, and not "", 0, false, no, off) or NAME=VALUE (exactly)
    ancestor: str = ""  # a process name anywhere among the ancestors; NAME* for a prefix

    def matches(self, ancestry: list[str], env: dict[str, str]) -> bool:
        if self.env:
            return _env_matches(self.env, env)
        return any(_name_matches(self.ancestor, name) for name in ancestry)


@dataclass(frozen=True)
class ActorRules:
    user: tuple[Rule, ...] = ()

    @classmethod
    def from_config(cls, entries: object) -> ActorRules:
        """`actors.rules` as core/config.py checked it: [{actor, env} | {actor, ancestor}, ...]."""
        rules = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("actor") in ACTORS:
                rules.append(Rule(entry["actor"], str(entry.get("env", "")), str(entry.get("ancestor", ""))))
        return cls(tuple(rules[:MAX_USER_RULES]))

    @classmethod
    def from_user_config(cls) -> ActorRules:
        """The rules of the user's own config file (actors.rules is a user-scope key); GitobsError when that
        file is broken, as for every command."""
        return cls.from_config(config.load()["actors.rules"])

    def env_vars(self) -> list[str]:
        """Every variable a rule reads: what trace2.envVars must list."""
        names = list(ACTOR_ENV_VARS) + [rule.env.split("=")[0] for rule in self.user if rule.env]
        return list(dict.fromkeys(names))

    def actor(self, ancestry: list[str], env: dict[str, str], nested: bool) -> str:
        names = [_process_name(name) for name in ancestry]
        for rule in self.user:
            if rule.matches(names, env):
                return rule.actor
        return builtin_actor(names, env, nested)


def builtin_actor(names: list[str], env: dict[str, str], nested: bool) -> str:
    """The built-in table, in order (docs/events.md, "Who ran it")."""
    if nested:  # a hook or git itself ran it: the command that ran the hook carries the person's actor
        return "git"
    if any(_env_matches(rule, env) for rule in AGENT_ENV) or _any_named(names, AGENT_NAMES):
        return "agent"  # before the shell: an agent runs its commands through one
    if any(_env_matches(rule, env) for rule in CI_ENV):
        return "ci"
    if _any_named(names, GITBUTLER_NAMES):
        return "gitbutler"
    nearest = _nearest(names)
    if nearest is not None:
        return nearest
    if any(_env_matches(rule, env) for rule in IDE_ENV):
        return "ide"  # VS Code's variable, with no known process above: a task or an extension's helper
    return "script"


def _nearest(names: list[str]) -> str | None:
    """The nearest recognised ancestor: a shell that is the direct parent is a person typing (a shell
    further up ran a script first), an IDE or editor anywhere is the IDE, a git parent is git."""
    for depth, name in enumerate(names):
        if _is_named(name, SHELL_NAMES):
            return "terminal" if depth == 0 else "script"
        if _is_named(name, IDE_NAMES):
            return "ide"
        if name == "git" and depth == 0:
            return "git"
    return None


def _process_name(name: object) -> str:
    text = name.strip().lower() if isinstance(name, str) else ""
    return text.removesuffix(".exe")


def _name_matches(pattern: str, name: str) -> bool:
    pattern = pattern.lower()
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def _is_named(name: str, patterns: tuple[str, ...]) -> bool:
    return any(_name_matches(pattern, name) for pattern in patterns)


def _any_named(names: list[str], patterns: tuple[str, ...]) -> bool:
    return any(_is_named(name, patterns) for name in names)


def _env_matches(rule: str, env: dict[str, str]) -> bool:
    name, equals, value = rule.partition("=")
    found = env.get(name)
    if found is None:
        return False
    return found == value if equals else found.strip().lower() not in _FALSE
