"""Errors the CLI reports as one clear line (and a non-zero exit), never as a traceback."""

from __future__ import annotations


class AsmrZooError(Exception):
    """Base class: the message says what was wrong and how to fix it."""

    exit_code = 1


class UsageError(AsmrZooError):
    """Bad input from the user: an unknown name, a bad option, a missing file."""

    exit_code = 2


class PluginError(AsmrZooError):
    """A plugin failed to load, broke a rule, or clashed with another plugin."""


class RegistryError(AsmrZooError):
    """A registry file or entry is malformed or does not match its checkpoint."""


class CheckpointError(AsmrZooError):
    """A checkpoint file is missing, corrupt, or not what it claims to be."""


class DataError(AsmrZooError):
    """Input data (audio, manifests, metadata) is missing or malformed."""
