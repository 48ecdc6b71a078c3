"""Keeping a repository's log: the whole scan (lock, ingest, retention, the exports after it), retention
(rolling old days up, the size cap) and purge. Above the exporters, because a Prometheus counter must see
events before retention rolls them up."""
