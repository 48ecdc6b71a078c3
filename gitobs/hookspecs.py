"""Deprecated: plugins import from `gitobs.plugin`. This path keeps working until the next release."""

import warnings

from gitobs.replay.hookspecs import *  # noqa: F403 - the old path's names, unchanged
from gitobs.replay.hookspecs import __doc__ as _doc  # noqa: F401

warnings.warn("gitobs.hookspecs is deprecated: import from gitobs.plugin", DeprecationWarning, stacklevel=2)
