"""The event log: the typed schema (the public contract), segments of zstd frames of JSON lines under
`.git/obs/log/` (append, seal, repair), reading them back, and an in-memory log for bundles. Imports only
gitobs.core."""
