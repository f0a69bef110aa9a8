"""Where things live: the shipped registry and checkpoints, and the user's asmr-zoo home."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_registry() -> Path | None:
    """The shipped ``registry.yaml``: inside the package in a wheel, at the repo root in a checkout."""
    for candidate in (PACKAGE_DIR / "shipped" / "registry.yaml", PACKAGE_DIR.parent / "registry.yaml"):
        if candidate.is_file():
            return candidate
    return None


def user_home() -> Path:
    """``$ASMR_ZOO_HOME``, or the platform's user data dir: holds the user registry and checkpoints."""
    env = os.environ.get("ASMR_ZOO_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("asmr-zoo"))


def cache_dir() -> Path:
    """``$ASMR_ZOO_CACHE``, or the platform's user cache dir: holds the compiled C loops."""
    env = os.environ.get("ASMR_ZOO_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("asmr-zoo"))


def user_registry() -> Path:
    return user_home() / "registry.yaml"
