"""The pytest-free core of pytest-llmbench: schema, endpoint client, verifiers, run log."""
