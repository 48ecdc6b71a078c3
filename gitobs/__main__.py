import sys

from gitobs.early_signals import hold

hold(sys.argv[1:])  # first: a signal while the imports below run must still stop `watch` cleanly
from gitobs.background import wanted  # noqa: E402

git_dir = wanted(sys.argv[1:])
if git_dir is not None:  # the hooks' background scan: no command line to build
    from gitobs.background import main

    main(git_dir)
else:
    from gitobs.cli import main

    main()
