"""gitobs: ambient observability for a developer's own git work.

Data path (DESIGN.md): hooks/ shim -> .git/obs/spool -> ingest (spool, reflog) -> .git/obs/log -> replay.
"""

__version__ = "0.1.0"
