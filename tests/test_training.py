"""train / eval / run through the real CLI on a small synthetic data set, with the example bigram model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from asmr_zoo.checkpoints import read_metadata
from tests.conftest import wait_for_cpu

TRIGGERS = "tapping_glass,whispering"


def zoo(
    python: Path, *args: str, cwd: Path, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "asmr_zoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    result = zoo(
        Path(sys.executable), "data", "synth", "--out", "data", "--triggers", TRIGGERS, "--minutes", "0.2", cwd=root
    )
    assert result.returncode == 0, result.stderr
    return root / "data"


def train_args(data: Path, out: str, *extra: str) -> list[str]:
    return [
        "train",
        "bigram",
        "--conditioner",
        "none",
        "--data",
        str(data),
        "--trigger",
        "tapping_glass",
        "--out",
        out,
        "train.eval_every=10",
        "train.checkpoint_every=10",
        "train.lr=0.05",
        "train.warmup=1",
        *extra,
    ]


def test_train_eval_run_register_round_trip(example_venv, data, tmp_path, zoo_home) -> None:
    result = zoo(example_venv, *train_args(data, "m.safetensors", "train.steps=150", "train.lr=0.1"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "trained to step 150; wrote m.safetensors" in result.stderr
    assert "step 10: held-out " in result.stderr and "step 150: held-out " in result.stderr  # every eval_every
    assert "nan" not in result.stderr
    meta = read_metadata(tmp_path / "m.safetensors")
    metrics = json.loads(meta["extra.metrics"])
    assert metrics["uniform_bits_per_sample"] == 8.0
    assert 0 < metrics["test_bits_per_sample"] < 8.0  # it learned something beyond uniform
    assert json.loads(meta["extra.triggers"]) == ["tapping_glass"]
    assert metrics["step"] % 10 == 0 and metrics["step"] <= 150  # the best evaluated step (train.keep_best)
    assert 0 < metrics["train_seconds"] < 600  # wall time spent training, shown on the model card
    assert meta["sample_rate"] == "16000"  # adopted from the data

    report = zoo(example_venv, "eval", "m.safetensors", "--data", str(data), "--json", "--seconds", "0.2", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    scores = json.loads(report.stdout)
    row = scores["triggers"]["tapping_glass"]
    assert list(scores["triggers"]) == ["tapping_glass"]
    assert abs(row["bits"] - metrics["test_bits_per_sample"]) < 1e-6  # the same held-out windows
    assert row["bits"] < 8.0 and row["unigram_bits"] < 8.0
    gen = scores["generation"]["triggers"]["tapping_glass"]
    assert 0 <= gen["recall"] <= 1 and gen["generated"]["clips"] == 4  # classified among the data's 2 triggers
    assert gen["generated"]["flatness"] > 0

    run = zoo(
        example_venv,
        "run",
        "bigram",
        "-t",
        "tapping_glass",
        "--checkpoint",
        "m.safetensors",
        "-s",
        "0.25",
        "-o",
        "x.wav",
        "--batch",
        "2",
        "--sampler",
        "min-p",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert [sf.info(tmp_path / f"x-{i}.wav").frames for i in (1, 2)] == [4000, 4000]

    reg = zoo(example_venv, "register", "m.safetensors", "--id", "my-bigram", cwd=tmp_path)
    assert reg.returncode == 0, reg.stderr
    info = json.loads(zoo(example_venv, "info", "my-bigram", "--json", cwd=tmp_path).stdout)
    assert info["metrics"]["test_bits_per_sample"] == metrics["test_bits_per_sample"]
    assert info["triggers"] == ["tapping_glass"]


def test_killed_run_resumes_to_the_same_weights(example_venv, data, tmp_path) -> None:
    settings = ("train.steps=300", "train.batch_size=16", "train.eval_every=100")
    args = train_args(data, "k.safetensors", *settings)
    straight = zoo(example_venv, *train_args(data, "s.safetensors", *settings), cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr

    proc = subprocess.Popen(
        [str(example_venv), "-m", "asmr_zoo", *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    resume_file = tmp_path / "k.safetensors.resume"
    deadline = time.time() + 120
    while not resume_file.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = read_step(resume_file)
    assert 0 < killed_at < 300, "the run should have been killed mid-way"
    spent_before = float(read_meta(resume_file)["train_seconds"])
    read_metadata(tmp_path / "k.safetensors")  # the last checkpoint is intact

    (tmp_path / ".k.safetensors.abc123.tmp").write_bytes(b"half")  # what a kill mid-write leaves
    again = zoo(example_venv, *args, cwd=tmp_path)
    assert again.returncode != 0 and "--resume" in again.stderr  # never silently restarts over it
    resumed = zoo(example_venv, *args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "trained to step 300" in resumed.stderr
    assert not list(tmp_path.glob(".*.tmp"))
    a, b = load_file(tmp_path / "s.safetensors"), load_file(tmp_path / "k.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    spent = json.loads(read_metadata(tmp_path / "k.safetensors")["extra.metrics"])["train_seconds"]
    assert spent > spent_before > 0  # training time adds up over the killed and the resumed run


def read_meta(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata()


def read_step(path: Path) -> int:
    return int(read_meta(path)["step"])


def test_torchrun_two_processes_on_gloo(example_venv, data, tmp_path) -> None:
    cmd = [
        str(example_venv),
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),  # not a fixed one: another test run on this machine may hold it
        "-m",
        "asmr_zoo",
        *train_args(data, "ddp.safetensors", "train.steps=20"),
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("trained to step 20; wrote ddp.safetensors") == 1  # only rank 0 writes
    assert read_step(tmp_path / "ddp.safetensors.resume") == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.windo=10"], "unknown config key 'model.windo' in the overrides (did you mean 'model.window'?)"),
        (["trian.steps=3"], "unknown config key 'trian' in the overrides (did you mean 'train'?)"),
        (["train.steps=abc"], "bad config value"),
        (["model.sample_rate=22050"], "is at 16000 Hz but model.sample_rate is 22050"),
        (["--trigger", "brushing_mic"], "no data for trigger 'brushing_mic'"),
        (["--conditioner", "gate-bias"], "does not accept conditioner 'gate-bias'; it accepts: none, global"),
        (["--preset", "huge"], "unknown preset 'huge'"),
    ],
)
def test_bad_training_input_is_one_line_and_writes_nothing(example_venv, data, tmp_path, args, message) -> None:
    base = ["train", "bigram", "--data", str(data), "--out", "bad.safetensors", "train.steps=2"]
    result = zoo(example_venv, *base, *args, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_data_directories(example_venv, data, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for where, message in [(tmp_path / "nope", "does not exist"), (empty, "manifest")]:
        result = zoo(example_venv, "train", "bigram", "--data", str(where), "--out", "o.safetensors", cwd=tmp_path)
        assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr

    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    wav = next((broken / "tapping_glass").glob("*.wav"))
    wav.write_bytes(b"RIFF not really a wav")
    result = zoo(example_venv, "train", "bigram", "--data", str(broken), "--out", "o.safetensors", cwd=tmp_path)
    assert result.returncode != 0 and "not a readable audio file" in result.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_checkpoint_for_another_model_is_refused(example_venv, data, tmp_path) -> None:
    assert zoo(example_venv, *train_args(data, "m.safetensors", "train.steps=2"), cwd=tmp_path).returncode == 0
    result = zoo(
        example_venv,
        "run",
        "wavenet",
        "-t",
        "tapping_glass",
        "--checkpoint",
        "m.safetensors",
        "-o",
        "x.wav",
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "m.safetensors is a bigram model, not 'wavenet'" in result.stderr
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.batch_size=0", "train.batch_size must be >= 1"),
        ("train.batch_size=-1", "train.batch_size must be >= 1"),
        ("train.eval_every=0", "train.eval_every must be >= 1"),
        ("train.checkpoint_every=0", "train.checkpoint_every must be >= 1"),
        ("train.eval_windows=0", "train.eval_windows must be >= 1"),
        ("train.steps=0", "train.steps must be >= 1"),
        ("train.threads=-1", "train.threads must be >= 0"),
        ("train.lr=nan", "train.lr must be a finite number > 0"),
        ("model.window=-5", "model.window must be >= 0"),
        ("train.parts=sample", "train.parts must be one of all, prior, got 'sample'"),
        ("train.parts=prior", "train.parts=prior trains a loudness prior: this model has none"),
    ],
)
def test_out_of_range_config_values_are_one_line_errors(example_venv, data, tmp_path, override, message) -> None:
    result = zoo(example_venv, *train_args(data, "bad.safetensors", override), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"error: {message}" + result.stderr.strip().split(message, 1)[1]]
    assert list(tmp_path.iterdir()) == []


def test_resume_without_a_resume_file_refuses_and_keeps_the_checkpoint(example_venv, data, tmp_path) -> None:
    first = zoo(example_venv, *train_args(data, "r.safetensors", "train.steps=20"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "r.safetensors.resume").unlink()
    before = (tmp_path / "r.safetensors").read_bytes()
    again = zoo(example_venv, *train_args(data, "r.safetensors", "train.steps=40"), "--resume", cwd=tmp_path)
    assert again.returncode != 0 and "cannot be continued" in again.stderr
    assert (tmp_path / "r.safetensors").read_bytes() == before


def start_long_run(python: Path, data: Path, cwd: Path, out: str) -> subprocess.Popen:
    args = train_args(data, out, "train.steps=100000", "train.checkpoint_every=100000", "train.eval_every=100000")
    return subprocess.Popen([str(python), "-m", "asmr_zoo", *args], cwd=cwd, stderr=subprocess.PIPE, text=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert path.exists(), "the run did not start"


def test_a_second_run_on_the_same_out_is_refused(example_venv, data, tmp_path) -> None:
    proc = start_long_run(example_venv, data, tmp_path, "c.safetensors")
    try:
        wait_for(tmp_path / ".c.safetensors.lock", proc)
        second = zoo(example_venv, *train_args(data, "c.safetensors", "train.steps=5"), cwd=tmp_path)
        assert second.returncode != 0
        assert "another `asmr-zoo train` is writing c.safetensors" in second.stderr
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_training_saves_a_resumable_checkpoint(example_venv, data, tmp_path, sig) -> None:
    """Before its first periodic checkpoint, Ctrl-C (or SIGTERM) still saves every step done, in one line."""
    proc = start_long_run(example_venv, data, tmp_path, "i.safetensors")
    wait_for(tmp_path / ".i.safetensors.lock", proc)
    wait_for_cpu(proc, 6.0)  # past start-up and some steps (on a busy machine too), no periodic checkpoint yet
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "interrupted at step" in lines[0] and "--resume" in lines[0]
    step = read_step(tmp_path / "i.safetensors.resume")
    assert f"interrupted at step {step}:" in lines[0] and step > 0
    read_metadata(tmp_path / "i.safetensors")
    assert not (tmp_path / ".i.safetensors.lock").exists()
