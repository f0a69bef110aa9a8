"""Shared fixtures: running the real CLI in a subprocess, and installing throwaway plugin distributions."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def zoo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ASMR_ZOO_HOME (user registry and checkpoints) for this test."""
    home = tmp_path / "zoo-home"
    home.mkdir()
    monkeypatch.setenv("ASMR_ZOO_HOME", str(home))
    return home


def cli_runner(
    default_cwd: Path, base_env: dict[str, str] | None = None, memory_limit: int | None = None
) -> Callable[..., subprocess.CompletedProcess]:
    """A function running ``python -m asmr_zoo ARGS`` in a subprocess (cwd: ``default_cwd``), returning the
    result; ``base_env`` is added to the environment of every call; ``memory_limit``: the address space each
    command may use (bytes), so a command that balloons fails instead of taking the machine down."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300):
        full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(base_env or {}), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "asmr_zoo", *args],
            capture_output=True,
            text=True,
            errors="replace",
            env=full_env,
            cwd=cwd or default_cwd,
            timeout=timeout,
            preexec_fn=limit if memory_limit else None,
        )

    return run


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m asmr_zoo ARGS`` in a subprocess (cwd: a fresh temp dir), return the result."""
    return cli_runner(tmp_path)


@pytest.fixture(scope="module")
def module_zoo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty ASMR_ZOO_HOME shared by one test module (module-scoped fixtures cannot use ``zoo_home``)."""
    return tmp_path_factory.mktemp("zoo-home")


@pytest.fixture(scope="module")
def module_cli(
    module_zoo_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess]:
    """``cli`` for module-scoped fixtures and the tests that share them: the subprocess's ASMR_ZOO_HOME is
    ``module_zoo_home``, so it never reads the developer's own user registry (cwd: a fresh temp dir)."""
    return cli_runner(tmp_path_factory.mktemp("cli"), {"ASMR_ZOO_HOME": str(module_zoo_home)})


def make_plugin_dist(site: Path, dist: str, module: str, source: str, entry_name: str | None = None) -> None:
    """Write a minimal installed distribution (dist-info + module) into ``site`` with one asmr_zoo plugin."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[asmr_zoo]\n{entry_name or module} = {module}\n")


EXAMPLE_PLUGIN = REPO / "examples" / "asmr-zoo-example-plugin"


@pytest.fixture
def example_zoo(monkeypatch: pytest.MonkeyPatch):
    """A Zoo with the installed plugins plus the example plugin (imported from its source folder)."""
    from importlib.metadata import EntryPoint, entry_points

    from asmr_zoo.plugins import Zoo

    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    zoo = Zoo()
    zoo.load_entry_points(
        [*entry_points(group="asmr_zoo"), EntryPoint("example", "asmr_zoo_example.plugin", "asmr_zoo")]
    )
    return zoo


def make_venv(path: Path) -> Path:
    """A fresh virtualenv at ``path`` that also sees this interpreter's packages; returns its python.

    ``--system-site-packages`` would expose the *base* interpreter's packages, which is wrong when the tests
    themselves run inside a venv; instead a ``.pth`` file adds this interpreter's site directories (their own
    ``.pth`` files, editable installs included, are processed), after the new venv's own site-packages."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    child_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = [d for d in [*site.getsitepackages(), site.getusersitepackages()] if Path(d).is_dir()]
    line = "import site; " + "; ".join(f"site.addsitedir({d!r})" for d in dirs)
    (Path(child_site) / "zz_parent_env.pth").write_text(line + "\n")
    return python


@pytest.fixture(scope="session")
def example_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv (seeing this environment's packages) with the example plugin really pip-installed.

    Returns the venv's python."""
    python = make_venv(tmp_path_factory.mktemp("example-venv"))
    wheels = tmp_path_factory.mktemp("example-wheel")
    # Build with this environment's setuptools (a fresh venv's seeded one may be too old), then pip install.
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run([*pip, str(EXAMPLE_PLUGIN)], check=True, capture_output=True)
    (wheel,) = wheels.glob("*.whl")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True
    )
    return python


@pytest.fixture
def one_thread():
    """Tiny models gain nothing from threads, and OpenMP threads crawl on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def without_compiler(tmp_path: Path) -> Callable[[str], dict[str, str]]:
    """Run a Python script template with ``{engine}`` set to ``auto`` and to ``native`` where no C compiler
    exists (``CC=no-such-cc``, an empty build cache); returns each run's stdout."""

    def run(template: str) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "CC": "no-such-cc", "ASMR_ZOO_CACHE": str(tmp_path / "cache")}
        outputs = {}
        for engine in ("auto", "native"):
            result = subprocess.run(
                [sys.executable, "-c", template.format(engine=engine)], capture_output=True, text=True, env=env
            )
            assert result.returncode == 0, result.stderr
            outputs[engine] = result.stdout.strip()
        return outputs

    return run


def wait_for_cpu(proc: subprocess.Popen, seconds: float) -> None:
    """Wait until ``proc`` has used ``seconds`` of CPU time (Linux /proc), however loaded the machine is."""
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") >= seconds:
            return
        time.sleep(0.1)
    raise AssertionError("the training run ended or did not get CPU time")
