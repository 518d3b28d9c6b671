"""backbone split over two code locations (``backbone stack``'s workspace): ``pipeline`` (assets, checks, jobs,
schedules, the replay sensor) and ``watchers`` (run-failure telemetry and health events, which watch every
location). ``backbone_assets.definitions`` keeps everything in one location for ``dagster dev`` and compose."""
