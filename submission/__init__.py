"""Submitting one track at a time: aicrowd.json, pre-push checks, tags, time projections."""
