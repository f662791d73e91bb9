"""Observation helpers shipped into the sandbox (package data)."""
