"""Checks shared by every reader of untrusted input: files (JSON, YAML) and command-line values.

The parsers here raise only ``ValueError`` (``json``) or ``yaml.YAMLError`` (``yaml``), whatever the input,
so a caller's one ``except`` clause covers a file nested deeper than Python's stack as well as one that is not
JSON at all. The value checks raise ``UsageError`` with a one-line message naming the option or key.
This module must not import torch or numpy.
"""

from __future__ import annotations

import json
import math
from typing import Any

from asmr_zoo.errors import UsageError

SEED_MAX = 2**64 - 1  # torch and numpy both take seeds in [0, 2**64)


def load_json(text: str | bytes) -> Any:
    """``json.loads``, raising ``ValueError`` (never ``RecursionError``) for anything that is not JSON it can
    hold: a document nested deeper than the interpreter's stack is refused like a syntax error."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, raising ``yaml.YAMLError`` (never ``RecursionError``) for anything it cannot read."""
    import yaml

    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply to read") from None


def is_int(value: Any) -> bool:
    """An integer, not a bool (YAML and JSON read ``true`` as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Refuse a setting ``name`` whose ``value`` is not one of ``choices``."""
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got '{value}'")


def check_seed(seed: Any, name: str = "--seed") -> int | None:
    """A random seed: None (fresh randomness) or an integer in [0, 2**64)."""
    if seed is None:
        return None
    if not is_int(seed) or not 0 <= seed <= SEED_MAX:
        raise UsageError(f"{name} must be an integer in [0, 2**64), got {seed!r}")
    return seed
