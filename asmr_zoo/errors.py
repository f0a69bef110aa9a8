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


def is_out_of_memory(exc: BaseException) -> bool:
    """A failed allocation: Python's MemoryError, or torch's allocator refusing (a RuntimeError)."""
    return isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) or "out of memory" in str(exc)


def out_of_memory_line(exc: BaseException) -> str:
    """An allocation failure as one line: how much was asked for, when torch says, and what to lower."""
    import re

    asked = re.search(r"allocate (\d+) bytes", str(exc))
    size = f" ({int(asked.group(1)) / 1e9:.1f} GB asked for)" if asked else ""
    return (
        f"out of memory{size}: lower what sets the size of the work: --seconds, --batch or --clips; "
        f"train.batch_size or the window; the model's sizes"
    )


def one_line(message: str) -> str:
    """``message`` as one printable line: control characters and line breaks (``\\n``, ``\\f``, U+2028 ...), as
    user-given names and paths may hold them, are shown as escapes instead of breaking or hiding the line."""
    import unicodedata

    def shown(char: str) -> str:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return repr(char)[1:-1]
        return char

    return "".join(shown(char) for char in message)
