"""Workflows over run logs: inspect, diff, rescore, baselines and gates (no pytest here)."""
