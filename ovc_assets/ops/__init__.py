"""Operating the pipeline: operator alerts, self-repair of missed alerts, the daily data-quality view."""
