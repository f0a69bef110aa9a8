"""Core commands (filled in below)."""
