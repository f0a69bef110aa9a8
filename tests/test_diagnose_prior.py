"""scripts/diagnose_prior.py on a shipped band checkpoint: a row per trigger, floor shares that are shares,
and a checkpoint without a band prior refused in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asmr_zoo.triggers import COMMON_TRIGGERS

REPO = Path(__file__).resolve().parents[1]


def diagnose(checkpoint: str, data: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, str(REPO / "scripts" / "diagnose_prior.py"), str(REPO / "checkpoints" / checkpoint)]
    return subprocess.run(
        [*args, "--data", str(data), "--clips", "1", "--seconds", "2", *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    args = ["data", "synth", "--out", str(out), "--triggers", ",".join(COMMON_TRIGGERS), "--minutes", "0.2"]
    result = subprocess.run([sys.executable, "-m", "asmr_zoo", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def drawn_shares(stdout: str) -> list[str]:
    return [line.split(" | ")[1] for line in stdout.splitlines()[2:]]


def test_diagnose_prior_scores_real_and_drawn_band_tracks(data) -> None:
    result = diagnose("wavernn-concat-bands-long.safetensors", data)
    assert result.returncode == 0, result.stderr
    colder = diagnose("wavernn-concat-bands-long.safetensors", data, "--temperature", "0.05")
    assert colder.returncode == 0, colder.stderr
    assert drawn_shares(colder.stdout) != drawn_shares(result.stdout)  # the prior's draws follow --temperature
    assert diagnose("wavernn-concat-bands-long.safetensors", data, "--temperature", "0").returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith("band tracks rendered as noise, recognised: real ")
    rows = {line.split()[0]: line for line in lines[2:]}
    assert sorted(rows) == sorted(COMMON_TRIGGERS)
    for line in rows.values():
        left, drawn = line.split(" | ")
        _, real_recall, prior_recall, *real = left.split()
        assert all(v.endswith("%") and 0 <= int(v[:-1]) <= 100 for v in (real_recall, prior_recall))
        shares = [float(v) for v in [*real, *drawn.split()] if v != "-"]
        assert len(drawn.split()) == 8 and all(0.0 <= v <= 1.0 for v in shares)


def test_diagnose_prior_refuses_a_model_without_band_prior(data) -> None:
    result = diagnose("wavenet-global.safetensors", data)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"{REPO / 'checkpoints' / 'wavenet-global.safetensors'} has no band prior (model.envelope_bands > 1)"
    ]
