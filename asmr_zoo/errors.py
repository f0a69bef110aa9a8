"""Errors the CLI reports as one clear line (and a non-zero exit), never as a traceback."""

from __future__ import annotations

import errno


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


# errno -> what to do about it, for the one-line message of an OS error
_FIXES = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free some space or write somewhere else",
    errno.EFBIG: "the file would exceed the size limit: write a shorter clip or lift the limit (ulimit -f)",
    errno.EROFS: "that file system is read-only: write somewhere else",
    errno.EACCES: "permission denied: write somewhere you may write, or fix the permissions",
    errno.EPERM: "not permitted: write somewhere you may write, or fix the permissions",
    errno.EISDIR: "that is a directory: give a file name",
    errno.ENOTDIR: "a part of that path is a file, not a directory: fix the path",
    errno.ENOENT: "no such file or directory: check the path",
    errno.EMFILE: "too many open files: lift the limit (ulimit -n) or use fewer workers",
}


def os_error_line(exc: OSError) -> str:
    """An OS error as one line: the path it concerns (a rename's target, not its temporary source) and what
    to do about it."""
    path = exc.filename2 or exc.filename
    what = _FIXES.get(exc.errno or -1) or (exc.strerror or exc.__class__.__name__).lower()
    return f"cannot write or read {path}: {what}" if path else what
