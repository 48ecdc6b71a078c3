"""git's own command names, and which of them only read: the vocabulary of `git.command`'s `command`.

A name git reports that is not here (a `git-foo` on the PATH, a newer git's command) is stored as "other",
so the field stays a short, known list whatever runs.
"""

from __future__ import annotations

# `git --list-cmds=main,builtins` of git 2.39, plus commands newer gits added.
GIT_COMMANDS = frozenset("""
add add--interactive am annotate apply archive backfill bisect bisect--helper blame branch bugreport
bundle cat-file check-attr check-ignore check-mailmap check-ref-format checkout checkout--worker
checkout-index cherry cherry-pick clean clone column commit commit-graph commit-tree config
count-objects credential credential-cache credential-cache--daemon credential-store daemon describe
diagnose diff diff-files diff-index diff-tree difftool difftool--helper env--helper fast-export
fast-import fetch fetch-pack filter-branch fmt-merge-msg for-each-ref for-each-repo format-patch fsck
fsck-objects fsmonitor--daemon gc get-tar-commit-id grep hash-object help hook http-backend http-fetch
http-push imap-send index-pack init init-db instaweb interpret-trailers log ls-files ls-remote ls-tree
mailinfo mailsplit maintenance merge merge-base merge-file merge-index merge-octopus merge-one-file
merge-ours merge-recursive merge-recursive-ours merge-recursive-theirs merge-resolve merge-subtree
merge-tree mergetool mktag mktree multi-pack-index mv name-rev notes pack-objects pack-redundant
pack-refs patch-id pickaxe prune prune-packed pull push quiltimport range-diff read-tree rebase
receive-pack reflog refs remote remote-ext remote-fd remote-ftp remote-ftps remote-http remote-https
repack replace replay request-pull rerere reset restore rev-list rev-parse revert rm scalar send-pack
sh-i18n--envsubst shell shortlog show show-branch show-index show-ref sparse-checkout stage stash status
stripspace submodule submodule--helper subtree switch symbolic-ref tag unpack-file unpack-objects
update-index update-ref update-server-info upload-archive upload-archive--writer upload-pack var
verify-commit verify-pack verify-tag version web--browse whatchanged worktree write-tree
""".split())

# Commands that change nothing a person made (an editor or a prompt runs them by the thousand): sampled.
READING = frozenset("""
blame cat-file check-attr check-ignore check-mailmap check-ref-format cherry count-objects describe diff
diff-files diff-index diff-tree for-each-ref grep help log ls-files ls-tree merge-base name-rev rev-list
rev-parse shortlog show show-branch show-ref status var verify-commit verify-tag version whatchanged
""".split())

# Read with at most this many operands, write with more (`git config key` vs `git config key value`).
READING_UP_TO = {"config": 1, "symbolic-ref": 1}
_CONFIG_READS = frozenset(("--get", "--get-all", "--get-regexp", "--get-urlmatch", "--get-color",
                           "--get-colorbool", "-l", "--list"))
_CONFIG_WRITES = frozenset(("--unset", "--unset-all", "--add", "--replace-all", "--rename-section",
                            "--remove-section", "-e", "--edit"))


def command_name(name: object) -> str:
    return name if isinstance(name, str) and name in GIT_COMMANDS else "other"


def is_reading(command: str, args: list[str]) -> bool:
    """Whether this run of `command` (its arguments after the name) only reads."""
    if command in READING:
        return True
    if command not in READING_UP_TO:
        return False
    if command == "config" and any(arg in _CONFIG_WRITES for arg in args):
        return False
    if command == "config" and any(arg.split("=")[0] in _CONFIG_READS for arg in args):
        return True
    if command == "symbolic-ref" and any(arg in ("-d", "--delete") for arg in args):
        return False
    operands = [arg for arg in args if not arg.startswith("-")]
    return len(operands) <= READING_UP_TO[command]
