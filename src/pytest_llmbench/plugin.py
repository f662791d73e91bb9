"""pytest hooks (being built)."""
