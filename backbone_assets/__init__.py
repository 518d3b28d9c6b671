"""Backbone's Dagster code location: assets by layer, checks, jobs, schedules and the CLI over them."""
