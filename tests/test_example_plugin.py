"""The example third-party plugin package, really pip-installed: its components appear and work."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import soundfile as sf


def zoo(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "ASMR_ZOO_HOME": str(cwd / "home")}
    return subprocess.run([str(python), "-m", "asmr_zoo", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_components_appear_in_list_and_plugins(example_venv, tmp_path) -> None:
    data = json.loads(zoo(example_venv, "list", "--json", cwd=tmp_path).stdout)
    by_kind = {
        kind: {row["name"]: row["plugin"] for row in rows} for kind, rows in data.items() if kind != "checkpoints"
    }
    assert by_kind["models"]["bigram"] == "example"
    assert by_kind["samplers"]["min-p"] == "example"
    assert by_kind["codecs"]["linear8"] == "example"
    assert by_kind["models"]["wavenet"] == "wavenet"  # the built-ins are still there
    plugins = {row["name"]: row for row in json.loads(zoo(example_venv, "plugins", "--json", cwd=tmp_path).stdout)}
    example = plugins["example"]
    assert example["status"] == "loaded" and example["distribution"] == "asmr-zoo-example-plugin"
    assert example["hooks"] == ["register_codecs", "register_commands", "register_models", "register_samplers"]


def test_its_command_and_help(example_venv, tmp_path) -> None:
    result = zoo(example_venv, "example-hello", "--name", "zoo", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "hello zoo from asmr-zoo-example-plugin"
    assert "example-hello" in zoo(example_venv, "--help", cwd=tmp_path).stdout


def test_its_model_trains_and_its_sampler_generates(example_venv, tmp_path) -> None:
    made = zoo(
        example_venv, "data", "synth", "--out", "d", "--triggers", "whispering", "--minutes", "0.1", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    trained = zoo(
        example_venv, "train", "bigram", "--data", "d", "--out", "b.safetensors", "train.steps=5", cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    run = zoo(
        example_venv,
        "run",
        "bigram",
        "-t",
        "whispering",
        "--checkpoint",
        "b.safetensors",
        "--sampler",
        "min-p",
        "--seconds",
        "0.1",
        "-o",
        "b.wav",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert sf.info(tmp_path / "b.wav").frames == 1600


def test_its_codec_round_trips(example_zoo) -> None:
    import torch

    codec = example_zoo.load("codecs", "linear8")()
    codes = torch.arange(256).unsqueeze(-1)
    assert torch.equal(codec.encode(codec.decode(codes)), codes)
