"""A built wheel, installed into a fresh virtualenv, carries the registry and checkpoints and works."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import soundfile as sf

from tests.conftest import make_venv

REPO = Path(__file__).resolve().parents[1]


def test_wheel_install_lists_and_runs_shipped_checkpoints(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("asmr_zoo-*.whl")
    assert "asmr_zoo_wavernn/native.c" in zipfile.ZipFile(wheel).namelist()  # the C loop is built from it
    venv = tmp_path / "venv"
    python = str(make_venv(venv))
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "ASMR_ZOO_HOME": str(tmp_path / "home"),
        "ASMR_ZOO_CACHE": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }

    where = subprocess.run(
        [python, "-c", "import asmr_zoo.paths as p; print(p.shipped_registry())"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith("asmr_zoo/shipped/registry.yaml")

    listing = subprocess.run(
        [str(venv / "bin" / "asmr-zoo"), "list", "--json"], capture_output=True, text=True, cwd=work, env=env
    )
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert {"wavernn", "wavenet"} <= {m["name"] for m in data["models"]}
    pairs = {(c["model"], c["conditioner"]) for c in data["checkpoints"]}
    assert pairs == {
        ("wavernn", "none"),
        ("wavernn", "gate-bias"),
        ("wavernn", "concat"),
        ("wavenet", "none"),
        ("wavenet", "global"),
        ("upmix-mask", "none"),
        ("pan-prior", "global"),
    }

    run = subprocess.run(
        [
            str(venv / "bin" / "asmr-zoo"),
            "run",
            "wavenet",
            "--conditioner",
            "global",
            "--trigger",
            "brushing_mic",
            "--seconds",
            "0.25",
            "--seed",
            "0",
            "-o",
            "out.wav",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    info = sf.info(work / "out.wav")
    assert info.samplerate == 16000 and info.frames == 4000

    # WaveRNN through the C loop, compiled on first use from the installed source (no fallback warning)
    run = subprocess.run(
        [str(venv / "bin" / "asmr-zoo"), "run", "wavernn", "-c", "concat", "-t", "tapping_glass", "-s", "0.1"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr and list((tmp_path / "cache" / "native").glob("wavernn-*.so"))
    assert sf.info(work / "wavernn-concat-tapping_glass.wav").frames == 1600  # 0.1 s at 16 kHz
