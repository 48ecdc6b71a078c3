import sys

from gitobs.core.early_signals import hold

hold(sys.argv[1:])  # first: a signal while the imports below run must still stop `watch` cleanly
from gitobs.cli.main import background_git_dir, main  # noqa: E402

git_dir = background_git_dir(sys.argv[1:])
if git_dir is not None:  # the hooks' background scan: no command line to build
    from gitobs.fleet.background import main as scan_in_background

    scan_in_background(git_dir)
else:
    main()
