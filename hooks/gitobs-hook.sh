#!/bin/sh
# gitobs-shim 1 -- written by `gitobs install`, removed by `gitobs uninstall`; edits are overwritten.
#
# Records one raw line-based record per hook run under <common git dir>/obs/spool/, then runs the
# hook it replaced (<hook>.gitobs-chained) with the same arguments, stdin and exit status.
# Only shell builtins run here (no date, no git but for the hint about a chained hook that is not
# executable, no interpreter) and nothing it does on its own
# account can fail the git command: every write is allowed to fail silently.

# reference-transaction runs for every phase of every ref update and only "committed" is recorded:
# the other phases leave before the rest of this file is even parsed, unless a hook is chained
# (git does not mind the stdin left unread).
case ${0##*/}:${1:-} in
    reference-transaction:committed) ;;
    reference-transaction:*) [ -x "$0.gitobs-chained" ] || exit 0 ;;
esac

# A write past `ulimit -f` raises SIGXFSZ, which would kill this hook and fail the git command: the
# shim's own writes may fail, never the hook (the chained hook gets the signal's usual disposition back).
trap '' XFSZ

gitobs_exe='@GITOBS_EXE@'  # the interpreter gitobs was installed with, for the background scan
gitobs_exe_flags='@GITOBS_EXE_FLAGS@'  # -I where gitobs imports isolated (gitobs/interpreter.py)

gitobs_hook=${0##*/}
# GitButler renames the hooks it manages around to <hook>-user, pre-commit to <hook>.legacy.
gitobs_hook=${gitobs_hook%-user}
gitobs_hook=${gitobs_hook%.legacy}
case $0 in */*) gitobs_dir=${0%/*} ;; *) gitobs_dir=. ;; esac
gitobs_chained=$gitobs_dir/$gitobs_hook.gitobs-chained

# Hooks run in the top of the work tree (in the git dir for a bare repository); GIT_DIR is set
# only for some of them. A linked worktree's .git is a file naming its private git dir.
if [ -n "${GIT_DIR:-}" ]; then
    gitobs_gd=$GIT_DIR
elif [ -d .git ]; then
    gitobs_gd=.git
elif [ -f .git ]; then
    IFS= read -r gitobs_gd 2>/dev/null < .git
    gitobs_gd=${gitobs_gd#gitdir: }
elif [ -f HEAD ] && [ -d objects ]; then
    gitobs_gd=.
else
    gitobs_gd=
fi
gitobs_common=$gitobs_gd
gitobs_wt=.  # the main worktree; linked ones by name (git never names one ".")
if [ -n "${GIT_COMMON_DIR:-}" ]; then
    gitobs_common=$GIT_COMMON_DIR
elif [ -n "$gitobs_gd" ] && [ -f "$gitobs_gd/commondir" ]; then
    IFS= read -r gitobs_common 2>/dev/null < "$gitobs_gd/commondir"
    case $gitobs_common in /*) ;; *) gitobs_common=$gitobs_gd/$gitobs_common ;; esac
fi
if [ -n "$gitobs_gd" ] && [ -f "$gitobs_gd/commondir" ]; then
    gitobs_wt=${gitobs_gd%/}
    gitobs_wt=${gitobs_wt##*/}
fi
gitobs_obs=$gitobs_common/obs
gitobs_spool=$gitobs_obs/spool

# Record only where `gitobs install` made a spool, not through a link (a copied .git could point it at a
# folder of the user's), and not while paused. reference-transaction fires for every phase of every ref
# update: only "committed" carries information.
gitobs_on=
if [ -n "$gitobs_gd" ] && [ -d "$gitobs_spool" ] && [ ! -L "$gitobs_obs" ] && [ ! -L "$gitobs_spool" ] \
        && [ ! -e "$gitobs_obs/paused" ]; then
    gitobs_on=1
    case $gitobs_hook in
        reference-transaction) [ "${1:-}" = committed ] || gitobs_on= ;;
    esac
fi

gitobs_has_in=
case $gitobs_hook in pre-push|post-rewrite|reference-transaction) gitobs_has_in=1 ;; esac

# A record is lines: a value holding a newline (a push URL, a worktree's path can) is written with each
# newline as the two characters \n, so that it can never forge a field or the stdin line.
gitobs_nl='
'
gitobs_one_line() {  # $1 -> gitobs_flat
    gitobs_flat=$1
    while :; do
        case $gitobs_flat in
            *"$gitobs_nl"*) gitobs_flat="${gitobs_flat%%"$gitobs_nl"*}\\n${gitobs_flat#*"$gitobs_nl"}" ;;
            *) return 0 ;;
        esac
    done
}

gitobs_file=
gitobs_write() {  # $1: file name suffix, $2: record text; noclobber makes the create exclusive
    set -C
    gitobs_try=$gitobs_spool/$$.$gitobs_hook$1
    if { printf '%s' "$2" > "$gitobs_try"; } 2>/dev/null; then
        gitobs_file=$gitobs_try
    elif { printf '%s' "$2" > "$gitobs_try.x"; } 2>/dev/null; then
        gitobs_file=$gitobs_try.x
    fi
    set +C
}

if [ -n "$gitobs_on" ]; then
    gitobs_head=
    IFS= read -r gitobs_head 2>/dev/null < "$gitobs_gd/HEAD"
    gitobs_one_line "$gitobs_wt"
    gitobs_rec="gitobs-spool 1
hook $gitobs_hook
pid $$
ppid $PPID
wt $gitobs_flat
head $gitobs_head
"
    # pre-commit and commit-msg bracket the message editor. git sets GIT_EDITOR=: for them when no editor
    # will open (-m, -F, --no-edit); the index it commits tells `commit -a` (index.lock) from a commit of what
    # was staged (index). The commit HEAD's ref names now is the one its reflog line will leave (read from
    # the loose ref; a packed one is left out): what ties the commit to this attempt.
    case $gitobs_hook in
        pre-commit|commit-msg)
            [ "${GIT_EDITOR-}" = : ] && gitobs_rec="${gitobs_rec}editor 0
"
            gitobs_rec="${gitobs_rec}index ${GIT_INDEX_FILE##*/}
"
            gitobs_sha=
            case $gitobs_head in
                "ref: refs/"*) IFS= read -r gitobs_sha 2>/dev/null < "$gitobs_common/${gitobs_head#ref: }" ;;
                *) gitobs_sha=$gitobs_head ;;
            esac
            gitobs_rec="${gitobs_rec}headsha $gitobs_sha
"
            ;;
    esac
    # The commit hooks also fire for the commits a rebase, cherry-pick, revert or merge makes.
    case $gitobs_hook in
        pre-commit|prepare-commit-msg|commit-msg|post-commit)
            if [ -d "$gitobs_gd/rebase-merge" ] || [ -d "$gitobs_gd/rebase-apply" ]; then
                gitobs_rec="${gitobs_rec}op rebase
"
            elif [ -f "$gitobs_gd/CHERRY_PICK_HEAD" ]; then
                gitobs_rec="${gitobs_rec}op cherry-pick
"
            elif [ -f "$gitobs_gd/REVERT_HEAD" ]; then
                gitobs_rec="${gitobs_rec}op revert
"
            elif [ -f "$gitobs_gd/MERGE_HEAD" ]; then
                gitobs_rec="${gitobs_rec}op merge
"
            fi
            ;;
    esac
    for gitobs_arg in "$@"; do
        gitobs_one_line "$gitobs_arg"
        gitobs_rec="${gitobs_rec}arg $gitobs_flat
"
    done
    [ -n "$gitobs_has_in" ] && gitobs_rec="${gitobs_rec}stdin
"
    gitobs_write "" "$gitobs_rec"
fi

# Keep the log fresh without anyone running a command: one detached scan at a time, started only
# by hooks that end an operation. The marker file is the throttle; the scan removes it. commit-msg is
# the last hook of a commit in the default set: the scan sleeps at least half a second first, by when
# the commit is written (one still being written is read by the next scan).
# A rebase runs post-checkout as it starts: its post-rewrite, at its end, queues the scan instead of one
# that would compete with the rebase for the CPU.
gitobs_queue_scan() {
    gitobs_queue=$gitobs_hook
    if [ "$gitobs_hook" = post-checkout ] && { [ -d "$gitobs_gd/rebase-merge" ] || [ -d "$gitobs_gd/rebase-apply" ]; }; then
        gitobs_queue=
    fi
    if [ -n "$gitobs_file" ] && [ -z "${GITOBS_NO_BACKGROUND:-}" ] && [ -x "$gitobs_exe" ]; then
        case $gitobs_queue in
            commit-msg|post-commit|post-checkout|post-merge|post-rewrite)
                set -C
                # printf, not ":": a failed redirection on a special builtin would exit the shell
                if { printf "" > "$gitobs_obs/scan.pending"; } 2>/dev/null; then
                    # From /, never from the work tree: `python -m` imports from its current directory, and a
                    # repository may ship a gitobs.py of its own.
                    case $gitobs_common in /*) ;; *) gitobs_common=$PWD/$gitobs_common ;; esac
                    # shellcheck disable=SC2086 # no flag or one
                    (cd / && exec "$gitobs_exe" $gitobs_exe_flags -m gitobs scan --background --git-dir "$gitobs_common") \
                        </dev/null >/dev/null 2>&1 &
                fi
                set +C
                ;;
        esac
    fi
}

# git gives a hint when it finds a hook that is not executable (advice.ignoredHook); it now finds the shim,
# so the shim gives it for the chained hook, in git's words and colour. Only then does it run git. Not in
# another manager's slot (-user, .legacy): git never looked there.
gitobs_ignored_hint() {
    [ "${0##*/}" = "$gitobs_hook" ] && [ -f "$gitobs_chained" ] && [ ! -x "$gitobs_chained" ] || return 0
    [ "$(git config --type=bool advice.ignoredHook 2>/dev/null)" = false ] && return 0
    gitobs_color= gitobs_reset=
    if [ -t 2 ] && [ "$(git config --get-colorbool color.advice true 2>/dev/null)" = true ]; then
        gitobs_color=$(git config --get-color color.advice.hint yellow 2>/dev/null)
        gitobs_reset=$(printf '\033[m')
    fi
    printf '%shint: The '\''%s'\'' hook was ignored because it'\''s not set as executable.%s\n' \
        "$gitobs_color" "$0" "$gitobs_reset" >&2
    printf '%shint: You can disable this warning with `git config advice.ignoredHook false`.%s\n' \
        "$gitobs_color" "$gitobs_reset" >&2
}

# The common case, a hook with no stdin and nothing chained, is done: the rest of this file (stdin copying,
# running the chained hook) is not even parsed.
if [ -z "$gitobs_has_in" ] && { [ ! -f "$gitobs_chained" ] || [ ! -x "$gitobs_chained" ]; }; then
    gitobs_ignored_hint
    gitobs_queue_scan
    exit 0
fi

# stdin goes straight into the record, a line at a time through one open file: linear in its size (8000
# refs of a fetch). A line that could not be written (disk full, ulimit) and all after it stay in memory.
gitobs_copied=  # stdin is in the record: its first $gitobs_written lines, then $gitobs_rest
gitobs_written=0
gitobs_rest=
gitobs_copy_stdin() {
    gitobs_line=
    while IFS= read -r gitobs_line; do
        gitobs_copied=1
        if [ -z "$gitobs_rest" ] && { printf '%s\n' "$gitobs_line" >&3; } 2>/dev/null; then
            gitobs_written=$((gitobs_written + 1))
        else
            gitobs_rest="$gitobs_rest$gitobs_line
"
        fi
        gitobs_line=
    done
    [ -z "$gitobs_line" ] && return 0
    gitobs_copied=1  # a last line without a newline, kept as it came
    if [ -n "$gitobs_rest" ] || ! { printf '%s' "$gitobs_line" >&3; } 2>/dev/null; then
        gitobs_rest="$gitobs_rest$gitobs_line"
    fi
}
if [ -n "$gitobs_has_in" ] && [ -n "$gitobs_file" ]; then
    gitobs_copied=1
    { gitobs_copy_stdin 3>>"$gitobs_file"; } 2>/dev/null || gitobs_copied=
fi

# A chained hook reads stdin back from the record, after the header; the shell's read leaves the offset
# just past the "stdin" line.
gitobs_skip_header() {
    while IFS= read -r gitobs_line && [ "$gitobs_line" != stdin ]; do :; done
}
gitobs_replay_stdin() {  # when a write failed: the lines written, then the ones kept in memory
    gitobs_skip_header
    while [ "$gitobs_written" -gt 0 ] && IFS= read -r gitobs_line; do
        printf '%s\n' "$gitobs_line"
        gitobs_written=$((gitobs_written - 1))
    done
    printf '%s' "$gitobs_rest"
}

# Shell scripts are sourced with $0 set to this hook's own path, because some (husky) find their
# helpers and their hook name from $0; anything else is executed directly.
gitobs_run_chained() {
    gitobs_first=$gitobs_l1  # read by gitobs_is_shim, which always runs first
    gitobs_first=${gitobs_first#\#!}
    gitobs_first=${gitobs_first# }
    gitobs_interp=${gitobs_first%% *}
    # A #! line naming a program that is not there (a CRLF line end makes it "/bin/sh\r"): git cannot start
    # the hook, says so in these words and the hook fails; the shell would name the chained file instead.
    case $gitobs_l1 in
        '#!'?*)
            if [ -n "${gitobs_interp%%	*}" ] && [ ! -e "${gitobs_interp%%	*}" ]; then
                printf 'fatal: cannot run %s: No such file or directory\n' "$0" >&2
                return 1
            fi
            ;;
    esac
    gitobs_opt=
    case $gitobs_first in *' '*) gitobs_opt=${gitobs_first#* } ;; esac
    if [ "$gitobs_interp" = /usr/bin/env ]; then
        gitobs_interp=${gitobs_opt%% *}
        gitobs_opt=
        case ${gitobs_first#* } in *' '*) gitobs_opt=${gitobs_first#* * } ;; esac
    fi
    case ${gitobs_interp##*/}:$gitobs_opt in
        sh:|dash:|bash:|ksh:|sh:-*|dash:-*|bash:-*|ksh:-*)
            # shellcheck disable=SC2086 # the option word is split as the kernel would split it
            "$gitobs_interp" $gitobs_opt -c 'gitobs_chained_file=$1; shift; . "$gitobs_chained_file"' "$0" "$gitobs_chained" "$@"
            ;;
        *)
            # by a path ending in the hook's own name, as git runs it (install links it from .gitobs-chained/):
            # a program that tells the hook by its name (overcommit) sees what it would see without gitobs
            gitobs_named=$gitobs_dir/.gitobs-chained/$gitobs_hook
            [ -x "$gitobs_named" ] || gitobs_named=$gitobs_chained
            "$gitobs_named" "$@"
            ;;
    esac
}

# A chained hook that is itself a gitobs shim (a copy, or a link back) would run this again, forever.
gitobs_is_shim() {
    gitobs_l1= gitobs_l2=
    { IFS= read -r gitobs_l1; IFS= read -r gitobs_l2; } 2>/dev/null < "$1"
    case $gitobs_l2 in "# gitobs-shim "*) return 0 ;; esac
    return 1
}

gitobs_status=0
if [ -f "$gitobs_chained" ] && [ -x "$gitobs_chained" ] && ! gitobs_is_shim "$gitobs_chained"; then
    trap - XFSZ
    if [ -z "$gitobs_copied" ]; then
        gitobs_run_chained "$@"  # stdin untouched
        gitobs_status=$?
    elif [ -z "$gitobs_rest" ]; then
        { gitobs_skip_header; gitobs_run_chained "$@"; } < "$gitobs_file"
        gitobs_status=$?
    else
        gitobs_replay_stdin < "$gitobs_file" | gitobs_run_chained "$@"
        gitobs_status=$?
    fi
    trap '' XFSZ
    if [ -n "$gitobs_file" ]; then
        set -C
        { printf 'status %s\n' "$gitobs_status" > "$gitobs_file.end"; } 2>/dev/null
        set +C
    fi
else
    gitobs_ignored_hint
fi

gitobs_queue_scan
exit "$gitobs_status"
