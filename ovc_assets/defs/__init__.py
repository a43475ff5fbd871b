"""Dagster definitions by domain: each folder owns its assets, checks, sensors and schedules."""
