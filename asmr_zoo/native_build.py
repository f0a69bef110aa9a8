"""Building and loading the project's small C libraries (generation and training loops) on first use.

A library is compiled with ``-O3 -march=native`` (or portable flags where the compiler lacks
``-march=native``) into ``$ASMR_ZOO_CACHE/native`` (default: the platform's user cache dir), named by a key
over the source, the flags, the compiler and the CPU, and written atomically, so one build serves every later
run. Next to each library a ``.sha256`` file records its digest: a cached file that was truncated or changed
since (a full disk, a killed copy) is rebuilt instead of loaded, since mapping a damaged shared object can
crash the process (SIGBUS) rather than raise.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asmr_zoo.errors import UsageError
from asmr_zoo.paths import cache_dir

INCLUDE = Path(__file__).with_name("csrc")  # headers shared by the loops: fastmath.h, pick.h
# -fno-trapping-math: the loops never test floating-point exceptions, and with trapping math GCC keeps the
# clamps of fastmath.h's exp (x < -87 ? -87 : x) as branches and runs the gate loops one float at a time;
# it changes no result (no reassociation, which -ffast-math would allow).
BASE_FLAGS = ("-O3", "-fopenmp-simd", "-fno-trapping-math", "-std=c11", "-shared", "-fPIC")
# Tried in order. 512-bit vectors where the compiler's tuning for this CPU prefers 256 (GCC 12 tunes an
# AVX-512 Zen 4 as Zen 3): the loops' register tiles are sized for 32 vector registers of 16 floats.
FLAG_SETS = (
    ("-march=native", "-mprefer-vector-width=512", *BASE_FLAGS),
    ("-march=native", *BASE_FLAGS),
    BASE_FLAGS,  # compilers without -march=native
)


class NativeUnavailable(RuntimeError):
    """A C library cannot be built or loaded here (no compiler, or it failed)."""


def _cpu_id() -> str:
    """What ``-march=native`` depends on: the machine and, on Linux, the CPU's model and flags."""
    try:
        info = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        info = ""
    return platform.machine() + platform.processor() + info


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _intact(target: Path) -> bool:
    """True when ``target`` and its recorded digest exist and agree."""
    stamp = target.with_suffix(".sha256")
    try:
        return target.is_file() and stamp.read_text().strip() == _digest(target)
    except OSError:
        return False


def build(source: Path, name: str, what: str, compiler: str | None = None, extra_flags: tuple[str, ...] = ()) -> Path:
    """The compiled library for ``source``, built now if no intact cached build matches.

    ``name`` prefixes the file name; ``what`` names the library in errors. Raises ``NativeUnavailable``."""
    compiler = compiler or os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        raise NativeUnavailable(f"no C compiler '{compiler}' on PATH (set CC, or install gcc or clang)")
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise NativeUnavailable(f"cannot run the C compiler '{compiler}': {err}") from None
    try:
        headers = sorted([*source.parent.glob("*.h"), *INCLUDE.glob("*.h")])
        code = b"\0".join(p.read_bytes() for p in [source, *headers])
    except OSError as err:
        raise NativeUnavailable(f"the C source of the {what} is missing: {err}") from None
    errors = []
    for flags in FLAG_SETS:
        flags = (*flags, *extra_flags)
        key = hashlib.sha256(b"\0".join([code, " ".join(flags).encode(), version.encode(), _cpu_id().encode()]))
        target = cache_dir() / "native" / f"{name}-{key.hexdigest()[:16]}.so"
        if _intact(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            out = Path(tmp) / target.name
            result = subprocess.run(
                [compiler, *flags, f"-I{INCLUDE}", str(source), "-o", str(out), "-lm", "-lpthread"],
                capture_output=True,
                text=True,
            )
            if result.returncode == 0:
                stamp = Path(tmp) / "stamp"
                stamp.write_text(_digest(out))
                os.replace(out, target)  # atomic: a concurrent or interrupted build leaves no partial file
                os.replace(stamp, target.with_suffix(".sha256"))
                return target
            errors.append(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    raise NativeUnavailable(f"building the {what} with '{compiler}' failed: {errors[-1]}")


class Loader:
    """Builds and loads one library once per process and flag set, remembering a failure."""

    def __init__(self, source: Path, name: str, what: str, declare: Callable[[ctypes.CDLL], None]) -> None:
        self.source, self.name, self.what, self.declare = source, name, what, declare
        self._loaded: dict[tuple[str, ...], ctypes.CDLL | NativeUnavailable] = {}

    def build(self, compiler: str | None = None, extra_flags: tuple[str, ...] = ()) -> Path:
        return build(self.source, self.name, self.what, compiler, extra_flags)

    def __call__(self, extra_flags: tuple[str, ...] = ()) -> ctypes.CDLL:
        """The loaded library (built on first use). Raises ``NativeUnavailable``."""
        if extra_flags not in self._loaded:
            try:
                lib = ctypes.CDLL(str(self.build(extra_flags=extra_flags)))
            except OSError as err:
                self._loaded[extra_flags] = NativeUnavailable(f"cannot load the {self.what}: {err}")
            except NativeUnavailable as err:
                self._loaded[extra_flags] = err
            else:
                self.declare(lib)
                self._loaded[extra_flags] = lib
        found = self._loaded[extra_flags]
        if isinstance(found, NativeUnavailable):
            raise found
        return found


def native_or(fallback: str, setting: str, library: Callable[[], Any], slower: str) -> str:
    """``"native"`` when ``library()`` builds and loads. Otherwise: the config ``setting`` (e.g.
    ``fast_engine``) asked for native, so a ``UsageError`` that says why; or ``fallback`` with a warning that
    names the ``slower`` path. Callers check ``setting != fallback`` first."""
    try:
        library()
    except NativeUnavailable as err:
        name, value = setting.split("=")
        if value == "native":
            raise UsageError(f"{name}=native: {err}; or use {name}={fallback}") from None
        warnings.warn(f"{err}; {slower}", RuntimeWarning, stacklevel=3)
        return fallback
    return "native"
