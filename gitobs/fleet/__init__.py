"""Many repositories, over time: the hooks' background scan, `scan --all`, `gitobs watch` and the
scheduler entry (systemd, cron, launchd). Imports the layers below."""
